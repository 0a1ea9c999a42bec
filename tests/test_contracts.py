"""Model contracts (dbt 1.5+): load-time rules, the column/type check and not_null/check on real Spark."""

from __future__ import annotations

import json

import pytest

import sparkmodels
from sparkmodels.errors import ProjectError

SCHEMA = """
    version: 2
    models:
      - name: dim
        config:
          materialized: table
          contract: {enforced: true}
        constraints:
          - type: primary_key
            columns: [id]
        columns:
          - name: id
            data_type: integer
            constraints:
              - type: not_null
          - name: label
            data_type: varchar(20)
          - name: amount
            data_type: decimal(18,4)
            constraints:
              - type: check
                expression: "amount >= 0"
                name: amount_positive
      - name: v
        config: {materialized: view, contract: {enforced: true}}
        columns:
          - {name: a, data_type: bigint}
"""
GOOD = "select 'x' as label, cast(1.5 as decimal(10,2)) as amount, 1 as id union all select 'y', 2.25, 2"


def _project(make_project, dim_sql=GOOD, schema=SCHEMA, extra=None):
    return make_project({"models/dim.sql": dim_sql, "models/v.sql": "select 1L as a",
                         "models/schema.yml": schema, **(extra or {})})


def _failure(result, name="dim"):
    [r] = [r for r in result.results if r.name == name]
    assert r.status == "error", r.message
    return r.error


def test_contract_passes_reorders_columns_and_is_in_the_manifest(make_project, spark):
    root = _project(make_project)
    project = sparkmodels.load_project(root)
    warned = [w for w in project.manifest.warnings if "primary_key" in w]
    assert len(warned) == 1 and "not enforced" in warned[0] and "models/schema.yml:8" in warned[0]
    result = sparkmodels.run(root, spark=spark)
    assert result.success, [(r.name, r.message) for r in result.results]
    df = spark.read.parquet(str(root / "warehouse/demo/dim"))
    # dbt's int/integer, decimal(10,2)/decimal(18,4) and varchar/string match; the contract's order wins
    assert df.columns == ["id", "label", "amount"]
    assert sorted(r.id for r in df.collect()) == [1, 2]
    manifest = json.loads((root / "target/manifest.json").read_text())
    node = manifest["nodes"]["model.demo.dim"]
    assert node["contract"]["enforced"] is True and len(node["contract"]["checksum"]) == 64
    assert node["constraints"] == [{"type": "primary_key", "name": None, "expression": None,
                                    "warn_unenforced": True, "warn_unsupported": True, "to": None,
                                    "to_columns": [], "columns": ["id"]}]
    assert node["columns"]["amount"]["constraints"][0]["expression"] == "amount >= 0"
    assert node["columns"]["id"]["data_type"] == "integer"


def test_column_and_type_mismatches_fail_before_anything_is_written(make_project, spark):
    root = _project(make_project)
    assert sparkmodels.run(root, spark=spark, select=["dim"]).success
    before = sorted(p.name for p in (root / "warehouse/demo").iterdir())
    # id is a string now, label is missing, extra is not in the contract
    (root / "models/dim.sql").write_text("select '1' as id, 1.5 as amount, true as extra")
    result = sparkmodels.run(root, spark=spark, select=["dim"])
    err = _failure(result)
    assert err.kind == "Contract error" and err.path == "models/schema.yml" and err.line == 3
    text = str(err)
    assert "| column_name | definition_type | contract_type | mismatch_reason       |" in text
    assert "| id          | STRING          | INT           | data type mismatch    |" in text
    assert "| label       |                 | STRING        | missing in definition |" in text
    assert "| extra       | BOOLEAN         |               | missing in contract   |" in text
    assert "amount" not in text.split("mismatch_reason")[1]  # decimal(2,1) vs decimal(18,4): no mismatch
    # the previous table is intact and no version folder was left behind
    assert sorted(p.name for p in (root / "warehouse/demo").iterdir()) == before
    assert sorted(r.id for r in spark.read.parquet(str(root / "warehouse/demo/dim")).collect()) == [1, 2]


def test_not_null_and_check_violations_publish_nothing(make_project, spark):
    root = _project(make_project)
    assert sparkmodels.run(root, spark=spark, select=["dim"]).success
    link = root / "warehouse/demo/dim"
    old_version = link.resolve()
    (root / "models/dim.sql").write_text(
        "select cast(null as int) as id, 'a' as label, cast(-1 as decimal(5,1)) as amount\n"
        "union all select 3, 'b', cast(null as decimal(5,1))\n"
        "union all select null, 'c', cast(-2 as decimal(5,1))")
    err = _failure(sparkmodels.run(root, spark=spark, select=["dim"]))
    assert err.kind == "Contract error" and err.path == "models/schema.yml"
    assert "not_null on id: 2 rows" in err.message
    # a null amount passes the check (SQL's rule); two negative ones break it
    assert "check (amount >= 0) on amount (amount_positive): 2 rows" in err.message
    assert "Nothing was published" in err.message
    assert link.resolve() == old_version
    assert sorted(r.id for r in spark.read.parquet(str(link)).collect()) == [1, 2]
    leftovers = [p for p in old_version.parent.iterdir() if p != old_version and p.is_dir() and not p.name.startswith("_")]
    assert leftovers == []


def test_view_contract_checks_names_and_types(make_project, spark):
    root = _project(make_project, extra={"models/v.sql": "select 1 as a"})  # int, the contract says bigint
    err = _failure(sparkmodels.run(root, spark=spark, select=["v"]), "v")
    assert "| a           | INT             | BIGINT        | data type mismatch |" in str(err)


def test_incremental_contract_checks_the_new_rows(make_project, spark):
    schema = """
        version: 2
        models:
          - name: inc
            config: {materialized: incremental, contract: {enforced: true}, on_schema_change: append_new_columns}
            columns:
              - name: id
                data_type: int
                constraints: [{type: not_null}]
    """
    sql = "select {{ var('id') }} as id"
    root = make_project({"models/inc.sql": sql, "models/schema.yml": schema})
    assert sparkmodels.run(root, spark=spark, vars={"id": "1"}).success
    assert sparkmodels.run(root, spark=spark, vars={"id": "2"}).success
    err = _failure(sparkmodels.run(root, spark=spark, vars={"id": "cast(null as int)"}), "inc")
    assert "not_null on id: 1 row" in err.message
    assert sorted(r.id for r in spark.read.parquet(str(root / "warehouse/demo/inc")).collect()) == [1, 2]


@pytest.mark.parametrize(("config", "sql_name", "expected"), [
    ("materialized: ephemeral", "m.sql", "ephemeral"),
    ("materialized: table", "m.py", "SQL models only"),
    ("materialized: incremental", "m.sql", "on_schema_change: ignore"),
])
def test_contracts_dbt_refuses_at_load(make_project, config, sql_name, expected):
    code = ("def model(ctx):\n    return ctx.spark.range(1)\n" if sql_name.endswith(".py") else "select 1 as id")
    root = make_project({f"models/{sql_name}": code, "models/schema.yml": f"""
        version: 2
        models:
          - name: m
            config: {{{config}, contract: {{enforced: true}}}}
            columns: [{{name: id, data_type: int}}]
    """})
    with pytest.raises(ProjectError) as info:
        sparkmodels.load_project(root)
    assert expected in str(info.value) and info.value.path == "models/schema.yml" and info.value.line == 3


def test_contract_needs_typed_columns_and_known_constraint_types(make_project):
    files = {"models/m.sql": "select 1 as id", "project.yml": "name: demo\nversion: '1'\nmodels:\n  demo:\n    +contract: {enforced: true}\n    +materialized: table\n"}
    untyped = make_project({**files, "models/schema.yml": "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n"},
                           name="untyped")
    with pytest.raises(ProjectError, match="needs a data_type for every column; missing for: id") as info:
        sparkmodels.load_project(untyped)
    assert info.value.line == 5
    bad = make_project({**files, "models/schema.yml": "version: 2\nmodels:\n  - name: m\n    columns:\n"
                        "      - name: id\n        data_type: int\n        constraints:\n          - type: not_nul\n"},
                       name="badtype")
    with pytest.raises(ProjectError, match="invalid constraint type 'not_nul'.*Did you mean 'not_null'") as info:
        sparkmodels.load_project(bad)
    assert info.value.line == 8


def test_bad_data_types_and_check_expressions_fail_before_writing(make_project, spark):
    schema = """
        version: 2
        models:
          - name: typo
            config: {materialized: table, contract: {enforced: true}}
            columns:
              - {name: id, data_type: integr}
          - name: badcheck
            config: {materialized: table, contract: {enforced: true}}
            columns:
              - name: id
                data_type: int
                constraints: [{type: check, expression: "nope > 0"}]
    """
    root = make_project({"models/typo.sql": "select 1 as id", "models/badcheck.sql": "select 1 as id",
                         "models/schema.yml": schema})
    result = sparkmodels.run(root, spark=spark)
    typo, bad = _failure(result, "typo"), _failure(result, "badcheck")
    assert "column 'id' has data_type 'integr', which is not a Spark SQL type" in typo.message
    assert (typo.path, typo.line) == ("models/schema.yml", 6)
    assert "the check constraint `nope > 0` cannot be evaluated" in bad.message and "`nope`" in bad.message
    assert bad.line == 12
    assert not (root / "warehouse/demo/typo").exists() and not (root / "warehouse/demo/badcheck").exists()
