"""Loading project files into the Manifest: each resource's nodes, located errors, the CLI's ls and compile (no Spark)."""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.errors import GraphError, ProjectError


def _load(make_project, files, **kw):
    return sparkmodels.load_project(make_project(files), **kw)


@pytest.mark.parametrize("files, other", [
    ({"models/a.sql": "select 1", "models/sub/a.sql": "select 2"}, "models/sub/a.sql"),
    ({"models/a.sql": "select 1", "seeds/a.csv": "x\n1\n"}, "seeds/a.csv"),
    ({"models/a.sql": "select 1", "models/x/a.py": "def model(dbt, session):\n    return None\n"}, "models/x/a.py"),
])
def test_duplicate_names_name_both_files(make_project, files, other):
    with pytest.raises(ProjectError, match="two resources are named 'a'") as info:
        _load(make_project, files)
    assert "models/a.sql" in info.value.message and other in info.value.message


def test_cycle_names_every_model_and_file(make_project):
    with pytest.raises(GraphError) as info:
        _load(make_project, {
            "models/a.sql": "select * from {{ ref('b') }}",
            "models/b.sql": "select * from {{ ref('c') }}",
            "models/sub/c.sql": "select * from {{ ref('a') }}",
            "models/d.sql": "select * from {{ ref('a') }}",  # downstream of the cycle, not on it
        })
    msg = str(info.value)
    for part in ("a (models/a.sql)", "b (models/b.sql)", "c (models/sub/c.sql)"):
        assert part in msg
    assert "d (" not in msg
    assert "a -> c -> b -> a" in msg or "a -> b -> c -> a" in msg or "dependency cycle" in msg


@pytest.mark.parametrize("rel, text, line", [
    ("models/schema.yml", "version: 2\nmodels:\n  - name: a\n    description: [unclosed\n  - name: b\n", 5),
    ("project.yml", "name: demo\nmodels:\n  demo:\n    +materialized: table\n  bad: : x\n", 5),
    ("models/schema.yml", "version: 2\nmodels:\n\t- name: a\n", 3),
])
def test_bad_yaml_names_file_and_line(make_project, rel, text, line):
    with pytest.raises(ProjectError, match="invalid YAML") as info:
        _load(make_project, {"models/a.sql": "select 1", rel: text})
    assert (info.value.path, info.value.line) == (rel, line)


def test_schema_file_must_be_a_mapping(make_project):
    with pytest.raises(ProjectError, match="must be a YAML mapping") as info:
        _load(make_project, {"models/schema.yml": "- just\n- a list\n"})
    assert info.value.path == "models/schema.yml"


def test_schema_yml_descriptions_and_columns(example_project):
    p = sparkmodels.load_project(example_project)
    zones = p.manifest.nodes["model.nyc_taxi.dim_zones"]
    assert zones.description.startswith("TLC taxi zones")
    assert list(zones.columns) == ["locationid", "borough", "zone", "service_zone"]
    assert zones.columns["locationid"].description == "TLC taxi zone id (1..265)."
    assert tuple(zones.columns["locationid"].tests) == ("unique", "not_null")
    assert zones.patch_path == "models/core/schema.yml"
    green = p.manifest.nodes["source.nyc_taxi.raw.green_tripdata"]
    assert green.description == "Green (boro) taxi trip records."
    data = p.manifest.to_dict()
    assert data["nodes"]["model.nyc_taxi.dim_zones"]["columns"]["zone"]["description"] == "Taxi zone name."


def test_seed_column_types_from_yaml(make_project):
    p = _load(make_project, {
        "seeds/lookup.csv": "id,name\n1,a\n",
        "seeds/other.csv": "id\n1\n",
        "seeds/props.yml": """
            seeds:
              - name: lookup
                description: the lookup
                config:
                  column_types:
                    id: bigint
              - name: other
                column_types:
                  id: string
        """,
    })
    lookup = p.manifest.nodes["seed.demo.lookup"]
    assert dict(lookup.config["column_types"]) == {"id": "bigint"}
    assert lookup.description == "the lookup" and lookup.materialized == "seed"
    assert dict(p.manifest.nodes["seed.demo.other"].config["column_types"]) == {"id": "string"}


def test_example_seed_column_types(example_project):
    seed = sparkmodels.load_project(example_project).manifest.nodes["seed.nyc_taxi.taxi_zone_lookup"]
    assert dict(seed.config["column_types"]) == {"locationid": "int"}
    assert seed.config["schema"] == "seeds"


def test_external_source_location_is_absolute(example_project):
    p = sparkmodels.load_project(example_project)
    ext = p.manifest.nodes["source.nyc_taxi.raw.yellow_tripdata"].external
    assert ext["location"] == str(example_project.resolve() / "data/yellow/*/*/*.parquet")
    assert ext["format"] == "parquet"
    assert p.compiler.compile("model.nyc_taxi.stg_yellow_tripdata").sql.count("`raw__yellow_tripdata`") == 1


def test_python_models_are_scanned_not_imported(make_project):
    p = _load(make_project, {
        "models/a.sql": "select 1 as id",
        "models/py_model.py": (
            "import this_module_does_not_exist\n\n"
            "def model(dbt, session):\n"
            "    dbt.config(materialized='table')\n"
            "    return dbt.ref('a')\n"
        ),
    })
    node = p.manifest.nodes["model.demo.py_model"]
    assert node.language == "python" and node.depends_on == ("model.demo.a",)
    assert node.materialized == "table"


def test_yaml_describing_a_missing_model_is_a_warning(make_project):
    p = _load(make_project, {"models/a.sql": "select 1",
                             "models/s.yml": "models:\n  - name: a\n  - name: ghost\n    description: x\n"})
    assert len(p.manifest.warnings) == 1
    assert "models/s.yml:3" in p.manifest.warnings[0] and "'ghost'" in p.manifest.warnings[0]


def test_hidden_files_and_other_suffixes_are_ignored(make_project):
    p = _load(make_project, {"models/a.sql": "select 1", "models/.b.sql": "select 2",
                             "models/.hidden/c.sql": "select 3", "models/notes.md": "# x"})
    assert set(p.manifest.nodes) == {"model.demo.a"}


# -- `sparkmodels ls` / `compile`: load and render only, never a JVM --------------------------------

def test_cli_ls_lists_nodes(example_project):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    res = CliRunner().invoke(cli, ["ls", "--project-dir", str(example_project)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    for expected in ("nyc_taxi.core.dim_zones", "nyc_taxi.staging.stg_green_tripdata",
                     "source:nyc_taxi.raw.green_tripdata", "nyc_taxi.taxi_zone_lookup"):
        assert expected in lines
    assert lines.index("nyc_taxi.taxi_zone_lookup") < lines.index("nyc_taxi.core.dim_zones")  # graph order

    res = CliRunner().invoke(cli, ["ls", "--project-dir", str(example_project), "-s", "+dim_monthly_zone_revenue",
                                   "--resource-type", "model", "-o", "name"])
    assert res.exit_code == 0, res.output
    assert res.output.split() == ["dim_zones", "stg_green_tripdata", "stg_yellow_tripdata", "trips_data",
                                  "dim_monthly_zone_revenue"]

    res = CliRunner().invoke(cli, ["ls", "--project-dir", str(example_project), "-s", "trips_dat"])
    assert res.exit_code == 0 and "matched nothing. Did you mean 'trips_data'" in res.output

    res = CliRunner().invoke(cli, ["ls", "--project-dir", str(example_project), "-s", "a,,b"])
    assert res.exit_code == 2 and "Selection error" in res.output and "Traceback" not in res.output


def test_cli_compile_writes_compiled_sql_and_manifest(example_project):
    import json

    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    res = CliRunner().invoke(cli, ["compile", "--project-dir", str(example_project)])
    assert res.exit_code == 0, res.output
    compiled = example_project / "target" / "compiled" / "nyc_taxi" / "models"
    sql = (compiled / "core" / "dim_zones.sql").read_text()
    assert "from `taxi_zone_lookup`" in sql and "{{" not in sql
    green = (compiled / "staging" / "stg_green_tripdata.sql").read_text()
    assert "`raw__green_tripdata`" in green and "when 1 then 'Credit card'" in green
    manifest = json.loads((example_project / "target" / "manifest.json").read_text())
    node = manifest["nodes"]["model.nyc_taxi.trips_data"]
    assert node["config"]["materialized"] == "table"
    assert "model.nyc_taxi.dim_zones" in node["depends_on"]["nodes"]
    assert "`dim_zones`" in node["compiled_code"]

    res = CliRunner().invoke(cli, ["compile", "--project-dir", str(example_project), "-s", "dim_monthly_zone_revenue"])
    assert res.exit_code == 0 and "Compiled" in res.output
    if "Compiled 1 node " in res.output:  # one node: its SQL is echoed
        assert "from trips_data" in res.output


def test_cli_compile_error_is_one_located_paragraph(make_project):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    root = make_project({"models/a.sql": "select 1\nfrom {{ ref('nope') }}\n"})
    res = CliRunner().invoke(cli, ["compile", "--project-dir", str(root)])
    assert res.exit_code == 2
    assert "Compilation error in a (models/a.sql:2): ref('nope')" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("command", [["ls"], ["compile"], ["ls", "-o", "json"], ["--help"]])
def test_ls_and_compile_never_import_pyspark(example_project, command):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sparkmodels.app.cli import cli\n"
        "try:\n"
        f"    cli({[*command, *(['--project-dir', str(example_project)] if command[0] != '--help' else [])]!r},"
        " prog_name='sparkmodels')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('PYSPARK_IMPORTED' if 'pyspark' in sys.modules or 'py4j' in sys.modules else 'NO_PYSPARK')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "NO_PYSPARK"
