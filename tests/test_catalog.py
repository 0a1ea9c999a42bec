"""`catalog: hive` (execute/catalog): every model kind published by name to an embedded Derby metastore.

Real processes only: a Hive-enabled JVM cannot share the test session's catalog-free one, so the
builds run the real CLI and a second process reads the metastore as another engine would.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sparkmodels
from sparkmodels.execute.catalog import NoCatalog, embedded_home, qualify
from sparkmodels.execute.spark.launch import session_conf
from sparkmodels.execute.storage import open_warehouse
from sparkmodels.project.config import Target, load_config
from tests.conftest import write_files

PROJECT = {
    "project.yml": """
        name: shop
        version: "1.0"
        target: hive
        targets:
          hive:
            master: "local[1]"
            schema: shop
            catalog: hive
            conf: {spark.sql.shuffle.partitions: "1", spark.ui.enabled: "false"}
        models:
          shop:
            +materialized: table
            +persist_docs: {relation: true, columns: true}
    """,
    "seeds/customers.csv": "id,name\n1,ann\n2,bob\n3,cid\n",
    "models/schema.yml": """
        sources:
          - name: raw
            tables:
              - name: orders
                external: {location: data/orders/*.parquet, format: parquet}
        models:
          - name: orders_by_day
            description: Orders per day.
            columns:
              - name: n
                description: How many orders.
                tests:
                  - accepted_values:
                      values: [1]
                      config: {store_failures: true, severity: warn}
    """,
    "models/orders_by_day.sql": """
        {{ config(partition_by=['day']) }}
        select day, count(*) as n from {{ source('raw', 'orders') }} group by day
    """,
    "models/customer_names.sql": "{{ config(materialized='view') }}\nselect name from {{ ref('customers') }}",
    "models/order_view.sql": "{{ config(materialized='view') }}\nselect * from {{ source('raw', 'orders') }}",
    "models/orders_log.sql": """
        {{ config(materialized='incremental') }}
        select id, day from {{ source('raw', 'orders') }}
        {% if is_incremental() %} where id > (select max(id) from {{ this }}) {% endif %}
    """,
    "snapshots/customers_snap.sql": """
        {% snapshot customers_snap %}
        {{ config(unique_key='id', strategy='check', check_cols='all') }}
        select * from {{ ref('customers') }}
        {% endsnapshot %}
    """,
}

READER = """
import json, sys, time
from pyspark.sql import SparkSession
wh = sys.argv[1]
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.catalogImplementation", "hive")
         .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                 f"jdbc:derby:;databaseName={wh}/.metastore/metastore_db;create=false")
         .config("spark.sql.warehouse.dir", f"{wh}/.spark-warehouse").getOrCreate())
if len(sys.argv) > 2:  # hold the embedded metastore until told to let go
    spark.sql("show databases").collect()
    print("HOLDING", flush=True)
    sys.stdin.readline()
    sys.exit(0)
out = {}
for t in spark.catalog.listTables("shop"):
    out[t.name] = {"type": t.tableType, "rows": spark.table(f"shop.{t.name}").count()}
out["comment"] = spark.sql("describe table extended shop.orders_by_day").where("col_name = 'Comment'").collect()[0][1]
out["n_comment"] = [r.description for r in spark.catalog.listColumns("shop.orders_by_day") if r.name == "n"][0]
out["partitions"] = spark.sql("show partitions shop.orders_by_day").count()
out["seed"] = spark.table("shop_seeds.customers").count() if "shop_seeds" in [d.name for d in spark.catalog.listDatabases()] else spark.table("shop.customers").count()
dbs = [d.name for d in spark.catalog.listDatabases()]
out["audit"] = ({t.name: spark.table(f"shop_dbt_test__audit.{t.name}").count()
                 for t in spark.catalog.listTables("shop_dbt_test__audit")} if "shop_dbt_test__audit" in dbs else {})
print("RESULT " + json.dumps(out), flush=True)
"""


def _write_orders(root: Path, rows: list[tuple[int, str]], name: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "data" / "orders").mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": [r[0] for r in rows], "day": [r[1] for r in rows]})
    pq.write_table(table, root / "data" / "orders" / f"{name}.parquet")


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparkmodels", *args, "--project-dir", str(root)],
                          capture_output=True, text=True, cwd=root, timeout=300)


def _read(root: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", READER, str(root / "warehouse")], capture_output=True,
                          text=True, cwd=root, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, proc.stderr[-3000:]
    return json.loads(line[7:])


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    for rel, text in PROJECT.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    _write_orders(tmp_path, [(1, "2024-01-01"), (2, "2024-01-01"), (3, "2024-01-02")], "a")
    return tmp_path


@pytest.mark.slow
def test_every_kind_is_registered_and_read_by_another_process(shop: Path):
    first = _cli(shop, "build")
    assert first.returncode == 0, first.stdout + first.stderr
    assert not (shop / "metastore_db").exists() and not (shop / "derby.log").exists()
    assert (shop / "warehouse" / ".metastore" / "metastore_db").is_dir()
    # Derby was shut down as the run exited: its lock is gone even while the JVM still dumps its class
    # archive (the first runs on a machine), so the next run does not find the metastore held
    assert not (shop / "warehouse" / ".metastore" / "metastore_db" / "dbex.lck").exists()
    seen = _read(shop)
    assert seen["orders_by_day"] == {"type": "EXTERNAL", "rows": 2}
    assert seen["orders_log"] == {"type": "EXTERNAL", "rows": 3}
    assert seen["customers_snap"]["rows"] == 3
    assert seen["customer_names"] == {"type": "VIEW", "rows": 3}  # a view over a catalog table
    assert seen["order_view"] == {"type": "VIEW", "rows": 3}  # a view over an external source's files
    assert seen["seed"] == 3
    assert seen["comment"] == "Orders per day." and seen["n_comment"] == "How many orders."
    assert seen["partitions"] == 2
    # a test's store_failures table is registered too, in <schema>_dbt_test__audit (the day with n = 2)
    assert list(seen["audit"].values()) == [1] and next(iter(seen["audit"])).startswith("accepted_values_")

    # New data: the next run publishes new versions, and the other process sees them by the same names.
    _write_orders(shop, [(4, "2024-01-03")], "b")
    second = _cli(shop, "build")
    assert second.returncode == 0, second.stdout + second.stderr
    seen = _read(shop)
    assert seen["orders_by_day"]["rows"] == 3 and seen["partitions"] == 3
    assert seen["orders_log"]["rows"] == 4  # the incremental table's new version
    assert seen["order_view"]["rows"] == 4


@pytest.mark.slow
def test_a_metastore_held_by_another_process_is_one_clear_error(shop: Path):
    assert _cli(shop, "seed").returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", READER, str(shop / "warehouse"), "hold"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, cwd=shop)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = holder.stdout.readline()
            if not line or line.startswith("HOLDING"):
                break
        blocked = _cli(shop, "run")
        assert blocked.returncode == 2, blocked.stdout + blocked.stderr
        text = blocked.stdout + blocked.stderr
        assert "in use by another process" in text and ".metastore" in text
        assert "Traceback" not in text and "at org.apache" not in text
    finally:
        with contextlib.suppress(BrokenPipeError):
            holder.stdin.write("\n")
            holder.stdin.flush()
        holder.wait(timeout=60)
    # nothing was written by the refused run: the seed's table is the only version
    assert _cli(shop, "run").returncode == 0


def test_catalog_option_is_validated_and_defaults_off(tmp_path: Path):
    (tmp_path / "project.yml").write_text("name: p\ntargets:\n  x:\n    catalog: glue\n")
    with pytest.raises(Exception, match="catalog must be none or hive"):
        load_config(tmp_path, target="x")
    (tmp_path / "project.yml").write_text("name: p\n")
    assert load_config(tmp_path).target.catalog == "none"
    assert NoCatalog().enabled is False


def test_qualify_names_catalog_relations_but_not_ctes():
    sql = ("with __dbt__cte__e as (select * from `a`) "
           "select * from __dbt__cte__e join b on 1=1 join raw__o on 1=1 join other.c on 1=1")
    out = qualify(sql, {"a": ("s", "a"), "b": ("s", "b"), "raw__o": ("parquet", "/d/*.parquet"),
                        "__dbt__cte__e": ("s", "e"), "c": ("s", "c")})
    assert "`s`.`a`" in out and "`s`.`b`" in out and "`parquet`.`/d/*.parquet`" in out
    assert "`s`.`e`" not in out and "other.c" in out


def test_hadoop_warehouse_moves_the_registered_location_to_each_new_version(tmp_path: Path, spark):
    """A hadoop warehouse has no stable link: each publish moves the table's location in the catalog
    to the new version in one ALTER TABLE ... SET LOCATION. Here through Hadoop's LocalFileSystem
    (a file:// warehouse on hadoop storage) and the test session's own (in-memory) catalog, which
    takes the same statements as a Hive metastore."""
    root = write_files(tmp_path / "p", {
        "project.yml": f"""
            name: shop
            target: h
            targets:
              h:
                schema: hshop
                catalog: hive
                warehouse: "file://{tmp_path / 'wh'}"
                warehouse_storage: hadoop
            models:
              shop:
                +materialized: table
        """,
        "models/t.sql": "select id from range({{ var('n') }})",
        "models/tp.sql": "{{ config(partition_by=['k']) }}\nselect id, id % 2 as k from range({{ var('n') }})",
    })
    store = open_warehouse(f"file://{tmp_path / 'wh'}", "hadoop").connect(spark)

    def partition_locations() -> dict[str, str]:
        out = {}
        for (spec,) in spark.sql("show partitions hshop.tp").collect():
            k, _, v = spec.partition("=")
            rows = spark.sql(f"describe table extended hshop.tp partition ({k} = {v})").where(
                "col_name = 'Location'").collect()
            out[spec] = rows[0][1].rstrip("/").removeprefix("file:").lstrip("/")
        return out

    def partitions_follow() -> None:
        # each registered partition is in the current version, and reading by name gives its rows
        current = str(store.table("hshop", "tp").current()).removeprefix("file:").lstrip("/")
        assert all(loc == f"{current}/{spec}" for spec, loc in partition_locations().items()), (
            current, partition_locations())

    def registered_location() -> str:
        rows = spark.sql("describe table extended hshop.t").where("col_name = 'Location'").collect()
        return rows[0][1].rstrip("/")

    try:
        assert sparkmodels.run(root, spark=spark, vars={"n": 3}).success
        first = store.table("hshop", "t").current()
        assert registered_location().removeprefix("file:").lstrip("/") == str(first).removeprefix("file:").lstrip("/")
        assert spark.table("hshop.t").count() == 3
        assert sparkmodels.run(root, spark=spark, vars={"n": 5}).success
        second = store.table("hshop", "t").current()
        assert second != first
        assert registered_location().removeprefix("file:").lstrip("/") == str(second).removeprefix("file:").lstrip("/")
        assert spark.table("hshop.t").count() == 5  # the new version, Spark's cached listing refreshed
        # A partition's location is its own: it must move too (else the new rows stay unseen, and the
        # reads fail once the old version is cleaned), and one the new version lacks is dropped.
        partitions_follow()
        assert spark.table("hshop.tp").count() == 5 and set(partition_locations()) == {"k=0", "k=1"}
        assert sparkmodels.run(root, spark=spark, vars={"n": 1}).success  # the first version is cleaned now
        partitions_follow()
        assert set(partition_locations()) == {"k=0"} and spark.table("hshop.tp").count() == 1
    finally:
        spark.sql("DROP DATABASE IF EXISTS hshop CASCADE")  # external: the files stay


def test_a_file_uri_warehouse_keeps_its_embedded_metastore_beside_the_data(tmp_path: Path):
    for wh in (f"file://{tmp_path}/wh", f"file:{tmp_path}/wh", str(tmp_path / "wh")):
        target = Target(warehouse=wh, warehouse_storage="hadoop", catalog="hive")
        assert embedded_home(target) == tmp_path / "wh" / ".metastore"
        assert f"databaseName={tmp_path}/wh/.metastore/metastore_db" in \
            session_conf(target)["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert embedded_home(Target(warehouse="hdfs://nn/wh", catalog="hive")) is None
    remote = Target(catalog="hive", conf={"spark.hadoop.hive.metastore.uris": "thrift://m:9083"})
    assert embedded_home(remote) is None
    assert "spark.hadoop.javax.jdo.option.ConnectionURL" not in session_conf(remote)


def test_registration_follows_columns_comments_and_kind_and_leaves_an_unchanged_table_alone(tmp_path: Path, spark):
    """A rebuild with the same columns and comments changes nothing in the catalog (the stable link
    moved); changed comments or columns re-create the entry, and a model turned view (or back) swaps
    the kind. The schema's definitions are read in one call per run (execute/catalog/known.py)."""
    root = write_files(tmp_path / "p", {
        "project.yml": """
            name: shop
            target: h
            targets:
              h: {schema: cshop, catalog: hive}
            models:
              shop:
                +materialized: table
                +persist_docs: {relation: true, columns: true}
        """,
        "models/t.sql": "select 1 as a",
        "models/schema.yml": "models:\n  - name: t\n    description: One.\n",
    })

    def created() -> str:
        return spark.sql("describe table extended cshop.t").where("col_name = 'Created Time'").collect()[0][1]

    def kind_comment_columns():
        table = spark.catalog.getTable("cshop.t")
        return table.tableType, table.description, [c.name for c in spark.catalog.listColumns("cshop.t")]

    try:
        assert sparkmodels.run(root, spark=spark).success
        assert kind_comment_columns() == ("EXTERNAL", "One.", ["a"])
        first = created()
        time.sleep(1.1)  # Created Time has a resolution of seconds
        assert sparkmodels.run(root, spark=spark, full_refresh=True).success
        assert created() == first  # same definition: not dropped and created again
        (root / "models" / "schema.yml").write_text("models:\n  - name: t\n    description: Two.\n")
        assert sparkmodels.run(root, spark=spark).success
        assert kind_comment_columns() == ("EXTERNAL", "Two.", ["a"])
        (root / "models" / "t.sql").write_text("select 1 as a, 2 as b")
        assert sparkmodels.run(root, spark=spark).success
        assert kind_comment_columns() == ("EXTERNAL", "Two.", ["a", "b"])
        assert spark.table("cshop.t").collect()[0].asDict() == {"a": 1, "b": 2}
        (root / "models" / "t.sql").write_text("{{ config(materialized='view') }}\nselect 3 as a")
        assert sparkmodels.run(root, spark=spark).success
        assert kind_comment_columns()[0] == "VIEW" and spark.table("cshop.t").collect()[0].a == 3
        (root / "models" / "t.sql").write_text("select 4 as a")
        assert sparkmodels.run(root, spark=spark).success
        assert kind_comment_columns()[0] == "EXTERNAL" and spark.table("cshop.t").collect()[0].a == 4
    finally:
        spark.sql("DROP DATABASE IF EXISTS cshop CASCADE")


@pytest.mark.slow
def test_a_dbt_session_profile_publishes_to_the_metastore_and_docs_read_it(tmp_path: Path):
    """A dbt project whose profile output is dbt-spark's `method: session` (no catalog: key) lands
    its models in the Hive metastore, and `docs generate` describes them from it."""
    root = write_files(tmp_path / "dbt", {
        "dbt_project.yml": """
            name: shop
            version: '1'
            profile: shop
            models:
              shop:
                +materialized: table
                +persist_docs: {relation: true, columns: true}
        """,
        "profiles.yml": """
            shop:
              target: dev
              outputs:
                dev:
                  type: spark
                  method: session
                  host: NA
                  schema: dbtshop
                  master: "local[1]"
                  server_side_parameters: {spark.sql.shuffle.partitions: "1", spark.ui.enabled: "false"}
        """,
        "seeds/people.csv": "id,name\n1,ann\n2,bob\n",
        "models/names.sql": "select id, upper(name) as name from {{ ref('people') }}",
        "models/schema.yml": """
            version: 2
            models:
              - name: names
                description: Names in capitals.
                columns:
                  - name: name
                    description: The name.
        """,
    })
    built = _cli(root, "build", "--profiles-dir", str(root))
    assert built.returncode == 0, built.stdout + built.stderr
    assert (root / "warehouse" / ".metastore" / "metastore_db").is_dir()
    docs = _cli(root, "docs", "generate", "--profiles-dir", str(root))
    assert docs.returncode == 0, docs.stdout + docs.stderr
    cat = json.loads((root / "target" / "catalog.json").read_text())
    names, people = cat["nodes"]["model.shop.names"], cat["nodes"]["seed.shop.people"]
    assert names["metadata"]["source"] == "metastore" and names["metadata"]["type"] == "EXTERNAL"
    assert names["metadata"]["comment"] == "Names in capitals."
    assert {c: (e["type"], e["comment"]) for c, e in names["columns"].items()} == \
        {"id": ("bigint", None), "name": ("string", "The name.")}
    assert people["metadata"]["source"] == "metastore" and list(people["columns"]) == ["id", "name"]
