"""dbt profiles: where profiles.yml is found, profile/target choice, dbt-spark methods, dbt-spark's defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

import sparkmodels
from sparkmodels.errors import ProjectError
from sparkmodels.execute.spark.launch import session_conf
from sparkmodels.project.config import load_config
from tests.conftest import write_files

PROFILE = """
shop:
  target: dev
  outputs:
    dev:
      type: spark
      method: session
      host: NA
      schema: {schema}
      threads: 3
      server_side_parameters:
        spark.sql.shuffle.partitions: "4"
    remote:
      type: spark
      method: connect
      host: spark.example.com
      port: 15010
      token: "{{{{ env_var('SM_TEST_CONNECT_TOKEN') }}}}"
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home folder (no ~/.dbt/), and no profile or target variables from the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("DBT_PROFILES_DIR", "DBT_TARGET", "SPARKMODELS_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SM_TEST_CONNECT_TOKEN", "tok123")
    return home


def dbt_project(root: Path, files: dict | None = None) -> Path:
    return write_files(root, {"dbt_project.yml": "name: shop\nversion: '1'\nprofile: shop\n", **(files or {})})


def profiles(folder: Path, schema: str) -> Path:
    return write_files(folder, {"profiles.yml": PROFILE.format(schema=schema)})


def test_profiles_dir_order(tmp_path, home, monkeypatch):
    """--profiles-dir, then $DBT_PROFILES_DIR, then the project folder, then ~/.dbt/ (dbt's order)."""
    root = dbt_project(tmp_path / "p")
    profiles(home / ".dbt", "from_home")
    assert load_config(root).target.schema == "from_home"
    profiles(root, "from_project")
    assert load_config(root).target.schema == "from_project"
    profiles(tmp_path / "env", "from_env")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path / "env"))
    assert load_config(root).target.schema == "from_env"
    profiles(tmp_path / "flag", "from_flag")
    assert load_config(root, profiles_dir=tmp_path / "flag").target.schema == "from_flag"


def test_profiles_dir_without_a_file_is_an_error(tmp_path, home, monkeypatch):
    root = dbt_project(tmp_path / "p")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectError, match="--profiles-dir points at .*empty, which has no profiles.yml"):
        load_config(root, profiles_dir=tmp_path / "empty")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path / "empty"))
    with pytest.raises(ProjectError, match="DBT_PROFILES_DIR points at"):
        load_config(root)


def test_session_method_is_a_local_classic_target(tmp_path, home):
    root = dbt_project(tmp_path / "p")
    profiles(root, "analytics")
    target = load_config(root).target
    assert (target.name, target.master, target.remote, target.schema, target.threads) == \
        ("dev", "local[*]", None, "analytics", 3)
    assert target.profile_name == "shop" and target.type == "spark"
    assert target.conf["spark.sql.shuffle.partitions"] == "4"
    assert session_conf(target)["spark.sql.shuffle.partitions"] == "4"


def test_session_method_uses_the_hive_catalog_as_dbt_spark_does(tmp_path, home):
    """dbt-spark's session method runs on a Hive-enabled session; `catalog: none` opts out, and a
    Connect output or our own target keys keep the catalog-free default."""
    root = dbt_project(tmp_path / "p", {"profiles.yml": """
        shop:
          target: dev
          outputs:
            dev: {type: spark, method: session, schema: s}
            off: {type: spark, method: session, schema: s, catalog: none}
            remote: {type: spark, method: connect, host: h}
            ours: {master: "local[1]", schema: s}
    """})
    target = load_config(root).target
    assert target.catalog == "hive"
    conf = session_conf(target)
    assert conf["spark.sql.catalogImplementation"] == "hive"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith(
        f"jdbc:derby:;databaseName={root.resolve() / 'warehouse' / '.metastore' / 'metastore_db'}")
    assert load_config(root, target="off").target.catalog == "none"
    assert "spark.sql.catalogImplementation" not in session_conf(load_config(root, target="off").target)
    assert load_config(root, target="remote").target.catalog == "none"
    assert load_config(root, target="ours").target.catalog == "none"


def test_connect_method_builds_a_spark_connect_url(tmp_path, home):
    root = dbt_project(tmp_path / "p")
    profiles(root, "analytics")
    target = load_config(root, target="remote").target
    assert target.remote == "sc://spark.example.com:15010/;token=tok123"
    assert target.master is None and target.name == "remote"
    assert target.schema == "shop"  # no schema: the project name, as for our own targets


def test_connect_default_port_and_url_host(tmp_path, home):
    root = dbt_project(tmp_path / "p", {"profiles.yml": """
        shop:
          target: a
          outputs:
            a: {type: spark, method: connect, host: "sc://h:1234"}
            b: {type: spark, method: connect, host: h2}
            c: {type: spark, method: connect}
    """})
    assert load_config(root).target.remote == "sc://h:1234"
    assert load_config(root, target="b").target.remote == "sc://h2:15002"
    with pytest.raises(ProjectError, match="method: connect needs a host"):
        load_config(root, target="c")


@pytest.mark.parametrize("method", ["thrift", "http", "odbc"])
def test_other_dbt_spark_methods_say_what_to_use(tmp_path, home, method):
    root = dbt_project(tmp_path / "p", {"profiles.yml": f"""
        shop:
          target: dev
          outputs:
            dev: {{type: spark, method: {method}, host: h, schema: s}}
    """})
    with pytest.raises(ProjectError) as err:
        load_config(root)
    text = str(err.value)
    assert f"method: {method}" in text and "method: session" in text and "method: connect" in text
    assert "profiles.yml" in text


def test_non_spark_profile_type_is_an_error(tmp_path, home):
    root = dbt_project(tmp_path / "p", {"profiles.yml": """
        shop:
          target: dev
          outputs:
            dev: {type: postgres, host: h, schema: s}
    """})
    with pytest.raises(ProjectError, match="type: postgres; sparkmodels runs dbt-spark profiles"):
        load_config(root)


def test_target_choice_and_env_var_in_profile(tmp_path, home, monkeypatch):
    monkeypatch.setenv("SM_TEST_TARGET", "b")
    monkeypatch.setenv("SM_TEST_SCHEMA", "envschema")
    root = dbt_project(tmp_path / "p", {"profiles.yml": """
        shop:
          target: "{{ env_var('SM_TEST_TARGET') }}"
          outputs:
            a: {type: spark, method: session, schema: a_schema, threads: 1}
            b:
              type: spark
              method: "{{ env_var('SM_TEST_METHOD', 'session') }}"
              schema: "{{ env_var('SM_TEST_SCHEMA') }}"
              threads: "{{ env_var('SM_TEST_THREADS', '2') }}"
        other:
          target: x
          outputs:
            x: {type: spark, method: session, schema: wrong}
    """})
    b = load_config(root).target
    assert (b.name, b.schema, b.threads) == ("b", "envschema", 2)
    assert load_config(root, target="a").target.schema == "a_schema"
    monkeypatch.setenv("DBT_TARGET", "a")
    assert load_config(root).target.name == "a"
    with pytest.raises(ProjectError, match="known targets: a, b"):
        load_config(root, target="x")  # outputs of another profile are not this project's


def test_profile_without_target_uses_default_output(tmp_path, home):
    root = dbt_project(tmp_path / "p", {"profiles.yml": """
        shop:
          outputs:
            default: {type: spark, method: session, schema: dflt}
    """})
    assert load_config(root).target.schema == "dflt"


def test_target_variables_in_jinja(tmp_path, home):
    root = dbt_project(tmp_path / "p", {
        "models/m.sql": "select '{{ target.type }}|{{ target.name }}|{{ target.schema }}|{{ target.threads }}"
                        "|{{ target.profile_name }}' as t\n",
    })
    profiles(root, "analytics")
    res = sparkmodels.compile(root)
    assert "'spark|dev|analytics|3|shop' as t" in next(iter(res.compiled.values()))


def test_dbt_project_with_dbt_profile_runs_ansi_off_and_dbt_seed_typing(tmp_path, home):
    root = dbt_project(tmp_path / "p")
    profiles(root, "analytics")
    target = load_config(root).target
    assert target.conf["spark.sql.ansi.enabled"] == "false"
    assert session_conf(target)["spark.sql.ansi.enabled"] == "false"
    assert target.seed_typing == "dbt"


def test_dbt_spark_defaults_opt_out(tmp_path, home):
    root = dbt_project(tmp_path / "p", {"profiles.yml": """
        shop:
          target: dev
          outputs:
            dev:
              type: spark
              method: session
              schema: s
              seed_typing: spark
              server_side_parameters: {spark.sql.ansi.enabled: "true"}
    """})
    target = load_config(root).target
    assert target.conf["spark.sql.ansi.enabled"] == "true" and target.seed_typing == "spark"


def test_no_dbt_defaults_for_our_own_targets(tmp_path, home):
    """A project.yml project, or an output without type: (our own target keys), keeps Spark's defaults."""
    ours = write_files(tmp_path / "ours", {"project.yml": "name: shop\nversion: '1'\nprofile: shop\n"})
    profiles(ours, "s")
    target = load_config(ours).target
    assert "spark.sql.ansi.enabled" not in target.conf and target.seed_typing == "spark"
    plain = dbt_project(tmp_path / "plain", {"profiles.yml": """
        shop:
          target: dev
          outputs:
            dev: {master: "local[1]", schema: s}
    """})
    target = load_config(plain).target
    assert "spark.sql.ansi.enabled" not in target.conf and target.seed_typing == "spark"


def test_unknown_profile_falls_back_to_local(tmp_path, home):
    root = write_files(tmp_path / "p", {"dbt_project.yml": "name: shop\nversion: '1'\nprofile: nothere\n"})
    profiles(root, "s")
    assert load_config(root).target.name == "local"


SEED = """\
id,amount,ratio,day,at,iso_at,flag,label,code,empty
1,10,1.5,2024-01-31,2024-01-31 10:11:12,2024-01-31T10:11:12Z,true,a,007,
2,20,2.25,2024-02-29,2024-02-29 00:00:00,2024-02-29T00:00:00,false,b,010,
3,,3,,,,,c,,
"""


def test_seed_types_as_dbt_infers_them(tmp_path, home, spark):
    root = dbt_project(tmp_path / "p", {
        "seeds/s.csv": SEED,
        "seeds/props.yml": "version: 2\nseeds:\n  - name: s\n    config:\n      column_types: {code: string}\n",
    })
    profiles(root, "analytics")
    result = sparkmodels.seed(root, spark=spark)
    assert result.success
    config = load_config(root)
    df = spark.read.parquet(str(Path(config.target.warehouse) / "analytics" / "s"))
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert types == {"id": "bigint", "amount": "bigint", "ratio": "double", "day": "date", "at": "timestamp",
                     "iso_at": "timestamp", "flag": "boolean", "label": "string", "code": "string",
                     "empty": "bigint"}
    rows = {r["id"]: r for r in df.collect()}
    assert rows[1]["code"] == "007" and rows[2]["ratio"] == 2.25 and rows[3]["amount"] is None
    assert str(rows[2]["day"]) == "2024-02-29" and rows[1]["flag"] is True
    # a session profile publishes to the session's catalog (catalog: hive; this session's is in memory)
    try:
        assert spark.table("analytics.s").count() == 3
    finally:
        spark.sql("DROP DATABASE IF EXISTS analytics CASCADE")  # external: the files stay


def test_cli_profiles_dir_flag(tmp_path, home, monkeypatch):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    monkeypatch.setenv("DBT_PROFILES_DIR", "")  # the flag sets it for the process; restored after the test
    root = dbt_project(tmp_path / "p", {"models/m.sql": "select '{{ target.schema }}' as s\n"})
    profiles(tmp_path / "flag", "from_flag")
    out = CliRunner().invoke(cli, ["compile", "--project-dir", str(root), "--profiles-dir", str(tmp_path / "flag")])
    assert out.exit_code == 0, out.output
    assert "'from_flag' as s" in out.output
