"""{% docs %} blocks and doc() in descriptions, and analyses compiled into target/ (no Spark)."""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.errors import SparkModelsError

FILES = {
    "models/docs.md": ("{% docs trips %}\nOne row per **trip**.\n\nDeduplicated.\n{% enddocs %}\n"
                       "{% docs trip_id %}The trip's key.{% enddocs %}\n"),
    "models/trips.sql": "select 1 as trip_id",
    "models/schema.yml": ("models:\n  - name: trips\n    description: '{{ doc(\"trips\") }}'\n"
                          "    columns:\n      - name: trip_id\n        description: 'Key: {{ doc(\"trip_id\") }}'\n"),
    "analyses/peek.sql": "select count(*) as n from {{ ref('trips') }} where {{ dbt.date_trunc('day', 'now()') }} is not null",
}


def test_doc_blocks_fill_descriptions_and_the_docs_site(make_project):
    root = make_project(FILES)
    from sparkmodels.app.api import docs_generate

    docs_generate(str(root), catalog=False)
    project = sparkmodels.load_project(root)
    node = project.manifest.nodes["model.demo.trips"]
    assert node.description == "One row per **trip**.\n\nDeduplicated."
    assert node.columns["trip_id"].description == "Key: The trip's key."
    site = "".join(p.read_text(encoding="utf-8") for p in (root / "target" / "docs").rglob("*.js"))
    assert "One row per **trip**." in site and "Key: The trip's key." in site


def test_unknown_doc_and_duplicate_blocks_are_located_errors(make_project):
    bad = {**FILES, "models/schema.yml": "models:\n  - name: trips\n    description: '{{ doc(\"trip\") }}'\n"}
    with pytest.raises(SparkModelsError, match=r"doc\('trip'\) names no docs block.*trips") as err:
        sparkmodels.load_project(make_project(bad))
    assert err.value.path == "models/schema.yml"
    twice = {**FILES, "models/more.md": "{% docs trips %}again{% enddocs %}"}
    with pytest.raises(SparkModelsError, match="defined twice: in models/docs.md and models/more.md"):
        sparkmodels.load_project(make_project(twice, name="twice"))


def test_analyses_are_compiled_into_target_and_never_run(make_project):
    root = make_project(FILES)
    result = sparkmodels.compile(str(root))
    out = root / "target" / "compiled" / "demo" / "analyses" / "peek.sql"
    assert out.read_text() == "select count(*) as n from `trips` where date_trunc('day', now()) is not null"
    assert "analysis.demo.peek" in result.compiled
    from sparkmodels.app.api import plan_for

    plan = plan_for(result.project, None, None, ("model", "seed", "test", "analysis"))
    assert [s.node.name for s in plan.steps] == ["trips"]  # analyses are compiled, not run
