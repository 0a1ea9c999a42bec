"""Linking (project/linker.py): ref()/source() calls become depends_on, located did-you-mean errors,
disabled models (no Spark)."""

from __future__ import annotations

import json

import pytest

import sparkmodels
from sparkmodels.errors import CompilationError

SOURCES = """
version: 2
sources:
  - name: raw
    tables:
      - name: events
      - name: users
"""


def _load(make_project, files, **kw):
    return sparkmodels.load_project(make_project(files), **kw)


def test_refs_and_sources_become_depends_on(make_project):
    p = _load(make_project, {
        "models/sources.yml": SOURCES,
        "models/stg_events.sql": "select * from {{ source('raw', 'events') }}",
        "models/stg_users.sql": "select * from {{ source('raw', 'users') }}",
        "models/joined.sql": ("select * from {{ ref('stg_events') }} e\n"
                              "join {{ ref('stg_users') }} u using (id)\n"
                              "join {{ ref('stg_users') }} u2 using (id)\n"
                              "join {{ ref('lookup') }} l using (code)"),
        "seeds/lookup.csv": "code,label\n1,a\n",
    })
    nodes = p.manifest.nodes
    assert nodes["model.demo.stg_events"].depends_on == ("source.demo.raw.events",)
    # each dependency once, in first-use order
    assert nodes["model.demo.joined"].depends_on == (
        "model.demo.stg_events", "model.demo.stg_users", "seed.demo.lookup")
    assert [c.line for c in nodes["model.demo.joined"].calls] == [1, 2, 3, 4]
    manifest = p.manifest.to_dict()
    assert manifest["parent_map"]["model.demo.joined"] == list(nodes["model.demo.joined"].depends_on)
    assert "model.demo.joined" in manifest["child_map"]["seed.demo.lookup"]
    assert set(manifest["sources"]) == {"source.demo.raw.events", "source.demo.raw.users"}
    json.dumps(manifest)  # serialisable


def test_unknown_ref_names_model_file_line_and_suggests(make_project):
    with pytest.raises(CompilationError) as info:
        _load(make_project, {
            "models/staging/stg_orders.sql": "select 1 as id",
            "models/marts/orders.sql": "select *\n\nfrom {{ ref('stg_order') }}\n",
        })
    err = info.value
    assert (err.node, err.path, err.line) == ("orders", "models/marts/orders.sql", 3)
    assert "ref('stg_order')" in err.message and "Did you mean 'stg_orders'" in err.message
    assert str(err).startswith("Compilation error in orders (models/marts/orders.sql:3):")


def test_unknown_source_names_model_file_line_and_suggests(make_project):
    with pytest.raises(CompilationError) as info:
        _load(make_project, {
            "models/sources.yml": SOURCES,
            "models/a.sql": "select 1\n\nfrom {{ source('raw', 'event') }}",
        })
    err = info.value
    assert (err.node, err.path, err.line) == ("a", "models/a.sql", 3)
    assert "source('raw', 'event') is not defined" in err.message and "'raw.events'" in err.message


def test_self_reference(make_project):
    with pytest.raises(CompilationError, match="refers to itself") as info:
        _load(make_project, {"models/a.sql": "select 1\nfrom {{ ref('a') }}"})
    assert info.value.line == 2


@pytest.mark.parametrize("how", ["inline", "yaml", "tree"])
def test_disabled_model_excluded_and_ref_to_it_is_an_error(make_project, how):
    files = {"models/off/a.sql": "select 1", "models/c.sql": "select 3"}
    if how == "inline":
        files["models/off/a.sql"] = "{{ config(enabled=false) }}select 1"
    elif how == "yaml":
        files["models/s.yml"] = "models:\n  - name: a\n    config:\n      enabled: false\n"
    else:
        files["project.yml"] = "name: demo\nmodels:\n  demo:\n    off:\n      +enabled: false\n"
    p = _load(make_project, files)
    assert "model.demo.a" not in p.manifest.nodes and "model.demo.c" in p.manifest.nodes

    files["models/b.sql"] = "select 1\nfrom {{ ref('a') }}"
    with pytest.raises(CompilationError, match="depends on 'a', which is disabled") as info:
        _load(make_project, files, )
    assert (info.value.node, info.value.path, info.value.line) == ("b", "models/b.sql", 2)


def test_disabled_model_may_ref_missing_models(make_project):
    p = _load(make_project, {
        "models/old.sql": "{{ config(enabled=false) }}select * from {{ ref('gone') }}",
        "models/a.sql": "select 1",
    })
    assert set(p.manifest.nodes) == {"model.demo.a"}
