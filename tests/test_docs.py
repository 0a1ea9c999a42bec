"""docs generate: catalog.json from Spark's schemas, column lineage as data, the static site and serve."""

from __future__ import annotations

import json
import threading
import urllib.request

import pandas as pd
import pytest
from click.testing import CliRunner

import sparkmodels
from sparkmodels.app.api import docs_generate
from sparkmodels.app.cli import cli
from sparkmodels.report.docs.serve import make_server

FILES = {
    "models/sources.yml": """
        version: 2
        sources:
          - name: raw
            tables:
              - name: events
                description: "Raw events <script>alert('src')</script>"
                external:
                  location: data/events.parquet
                  format: parquet
        models:
          - name: events_view
            description: |
              Events **cleaned**. <script>alert("x")</script> <img src=x onerror=alert(1)>
              [docs](javascript:alert(2)) and [site](https://example.com)
            columns:
              - name: event_id
                description: "the <b>id</b>"
                tests: [unique, not_null]
    """,
    "seeds/kinds.csv": "kind,label\na,Alpha\nb,Beta\nc,Gamma\n",
    "models/events_view.sql": "select id as event_id, kind, amount * 2 as amount2 from {{ source('raw', 'events') }}",
    "models/by_kind.sql": """
        {{ config(materialized='table') }}
        select v.kind, k.label, sum(v.amount2) as total
        from {{ ref('events_view') }} v join {{ ref('kinds') }} k on v.kind = k.kind
        group by v.kind, k.label
    """,
    "models/eph.sql": "{{ config(materialized='ephemeral') }} select kind, total from {{ ref('by_kind') }}",
    "models/from_eph.sql": "select kind as k, total from {{ ref('eph') }}",
    "models/py_enriched.py": """
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType

        shout = F.udf(lambda s: s.upper() if s else s, StringType())

        def model(ctx):
            v = ctx.ref("events_view")
            k = ctx.ref("kinds")
            return (v.join(k, "kind")
                    .select(F.col("event_id").alias("id"), shout("label").alias("loud_label"),
                            (F.col("amount2") + 1).alias("amount3"), "kind"))
    """,
}


def _project(make_project):
    root = make_project(FILES)
    (root / "data").mkdir()
    pd.DataFrame({"id": [1, 2, 3, 4], "kind": ["a", "b", "a", "c"], "amount": [1.5, 2.0, 3.0, 4.0]}).to_parquet(
        root / "data" / "events.parquet")
    return root


@pytest.mark.slow
def test_catalog_views_tables_seeds_sources_and_python_lineage(make_project, spark):
    root = _project(make_project)
    result = sparkmodels.seed(root, spark=spark)
    assert result.success
    # by_kind (a table) is not built: its schema still comes from spark.sql(compiled).schema
    res = docs_generate(root, spark=spark, stats=True)
    cat = json.loads((root / "target" / "catalog.json").read_text())
    assert cat["errors"] == {}
    nodes, sources = cat["nodes"], cat["sources"]
    view = nodes["model.demo.events_view"]
    assert view["materialized"] == "view" and view["stats"] is None
    assert {c: v["type"] for c, v in view["columns"].items()} == {"event_id": "bigint", "kind": "string",
                                                                   "amount2": "double"}
    table = nodes["model.demo.by_kind"]
    assert table["materialized"] == "table"
    assert {c: v["type"] for c, v in table["columns"].items()} == {"kind": "string", "label": "string",
                                                                    "total": "double"}
    assert table["stats"] == {"rows": None, "bytes": None, "built_at": None, "built": False}
    seed = nodes["seed.demo.kinds"]
    assert list(seed["columns"]) == ["kind", "label"] and seed["stats"]["rows"] == 3 and seed["stats"]["bytes"] > 0
    src = sources["source.demo.raw.events"]
    assert src["columns"]["amount"]["type"] == "double" and src["stats"]["rows"] == 4
    assert nodes["model.demo.eph"]["columns"]["total"]["type"] == "double"
    assert list(nodes["model.demo.py_enriched"]["columns"]) == ["id", "loud_label", "amount3", "kind"]

    lin = cat["column_lineage"]

    def ups(uid, col):
        return sorted((e["node"], e["column"], e["kind"]) for e in lin[uid]["columns"][col])

    assert ups("model.demo.events_view", "event_id") == [("source.demo.raw.events", "id", "renamed")]
    assert ups("model.demo.by_kind", "total") == [("model.demo.events_view", "amount2", "aggregated")]
    assert ups("model.demo.by_kind", "label") == [("seed.demo.kinds", "label", "passthrough")]
    # ephemeral models are inlined: lineage looks through them to the relation read
    assert ups("model.demo.from_eph", "k") == [("model.demo.by_kind", "kind", "renamed")]
    # the Python model, from the analyzed plan; the UDF is seen through to its input column
    assert ups("model.demo.py_enriched", "loud_label") == [("seed.demo.kinds", "label", "transformed")]
    assert ups("model.demo.py_enriched", "id") == [("model.demo.events_view", "event_id", "renamed")]
    assert ups("model.demo.py_enriched", "amount3") == [("model.demo.events_view", "amount2", "transformed")]
    kind = ups("model.demo.py_enriched", "kind")
    assert ("model.demo.events_view", "kind", "passthrough") in kind

    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["nodes"]["model.demo.by_kind"]["column_lineage"]["columns"]["total"][0]["kind"] == "aggregated"
    assert res.site.name == "index.html" and (root / "target" / "docs" / "data.js").is_file()

    # after a build the table's stats are real
    assert sparkmodels.build(root, spark=spark).success
    docs_generate(root, spark=spark, stats=True)
    cat = json.loads((root / "target" / "catalog.json").read_text())
    stats = cat["nodes"]["model.demo.by_kind"]["stats"]
    assert stats["built"] and stats["rows"] == 3 and stats["bytes"] > 0 and stats["built_at"]


def test_catalog_records_a_broken_model_and_goes_on(make_project, spark):
    root = make_project({"models/ok.sql": "select 1 as x", "models/bad.sql": "select nope from {{ ref('ok') }}",
                         "models/after.sql": "select x from {{ ref('ok') }}"})
    res = docs_generate(root, spark=spark)
    assert "model.demo.bad" in res.catalog["errors"]
    assert res.catalog["nodes"]["model.demo.after"]["columns"]["x"]["type"] == "int"


def _data_js(root) -> dict:
    text = (root / "target" / "docs" / "data.js").read_text()
    prefix = "window.SPARKMODELS_DOCS = "
    assert text.startswith(prefix)
    return json.loads(text[len(prefix):].rstrip().rstrip(";"))


def test_catalog_of_a_hive_target_comes_from_the_metastore(make_project, spark):
    """catalog: hive: columns, types, comments and stats are the metastore's (what a BI tool sees),
    also where the project's SQL has changed since the build. The test session's catalog (in
    memory) takes the same statements as a Hive metastore."""
    root = make_project({
        "project.yml": """
            name: demo
            version: '1'
            target: h
            targets:
              h: {catalog: hive, schema: dshop}
            models:
              demo:
                +materialized: table
                +persist_docs: {relation: true, columns: true}
        """,
        "models/orders.sql": "select id, cast(id * 2 as bigint) as amount from range(4)",
        "models/v.sql": "{{ config(materialized='view') }}\nselect id from {{ ref('orders') }}",
        "models/schema.yml": """
            models:
              - name: orders
                description: Orders.
                columns:
                  - name: amount
                    description: Amount in cents.
        """,
    })
    try:
        assert sparkmodels.build(root, spark=spark).success
        spark.sql("ANALYZE TABLE dshop.orders COMPUTE STATISTICS")  # rows recorded in the metastore
        (root / "models" / "orders.sql").write_text("select id, 1 as amount, 'x' as not_built from range(4)")
        cat = docs_generate(root, spark=spark, stats=True).catalog
        orders, v = cat["nodes"]["model.demo.orders"], cat["nodes"]["model.demo.v"]
        assert {c: e["type"] for c, e in orders["columns"].items()} == {"id": "bigint", "amount": "bigint"}
        assert orders["columns"]["amount"]["comment"] == "Amount in cents."
        assert orders["metadata"]["type"] == "EXTERNAL" and orders["metadata"]["comment"] == "Orders."
        assert orders["metadata"]["source"] == "metastore" and orders["metadata"]["location"]
        assert orders["stats"]["rows"] == 4 and "rows" in orders["stats"]["from_metastore"]
        assert orders["stats"]["bytes"] > 0 and orders["stats"]["built"] is True
        assert v["metadata"]["type"] == "VIEW" and list(v["columns"]) == ["id"]
    finally:
        spark.sql("DROP DATABASE IF EXISTS dshop CASCADE")  # external: the files stay


def test_no_catalog_site_from_manifest_alone(make_project):
    root = _project(make_project)
    out = CliRunner().invoke(cli, ["docs", "generate", "--no-catalog", "--project-dir", str(root)])
    assert out.exit_code == 0, out.output
    assert not (root / "target" / "catalog.json").exists()
    for name in ("index.html", "app.js", "app.css", "data.js"):
        assert (root / "target" / "docs" / name).is_file()
    html = (root / "target" / "docs" / "index.html").read_text()
    assert "http" not in html.replace("http-equiv", "")  # nothing fetched from the network
    data = _data_js(root)
    assert data["has_catalog"] is False
    by_name = {n["name"]: n for n in data["nodes"]}
    assert set(by_name) == {"events", "kinds", "events_view", "by_kind", "eph", "from_eph", "py_enriched"}
    view = by_name["events_view"]
    assert view["mat"] == "view" and view["type"] == "model" and "source('raw', 'events')" in view["raw"]
    assert "`raw__events`" in view["compiled"]
    assert [c["name"] for c in view["cols"]] == ["event_id", "kind", "amount2"]  # YAML first, then from the SQL
    assert [data["tests"][i]["test"] for i in view["tests"]] == ["not_null", "unique"]
    assert data["nodes"][view["lineage"]["event_id"][0][0]]["name"] == "events"
    # layout: every node sits right of its parents
    for n in data["nodes"]:
        assert all(data["nodes"][d]["layer"] < n["layer"] for d in n["deps"])
    # descriptions are data: the site escapes them at render time (see test_docs_browser), never pre-renders
    assert "<script>" in view["desc"]


def test_docs_serve_binds_loopback_and_serves_the_site(make_project):
    root = _project(make_project)
    assert CliRunner().invoke(cli, ["docs", "generate", "--no-catalog", "--project-dir", str(root)]).exit_code == 0
    server = make_server(root / "target" / "docs", port=0)
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert b"data.js" in urllib.request.urlopen(url, timeout=10).read()
        assert urllib.request.urlopen(url + "data.js", timeout=10).read().startswith(b"window.SPARKMODELS_DOCS")
    finally:
        server.shutdown()
        server.server_close()
    bare = make_project({"models/a.sql": "select 1 as x"}, name="bare")  # never generated
    out = CliRunner().invoke(cli, ["docs", "serve", "--project-dir", str(bare)])
    assert out.exit_code == 2 and "docs generate" in out.output
