"""Column-level lineage from compiled SQL (no Spark): renames, expressions, aggregates, joins, unions, CTEs, *."""

from __future__ import annotations

import json

from click.testing import CliRunner

import sparkmodels
from sparkmodels.app.cli import cli
from sparkmodels.report.lineage.columns import column_tree, project_column_lineage, sql_column_lineage

REL = {"orders": "model.p.orders", "customers": "model.p.customers", "raw__events": "source.p.raw.events"}
SCHEMA = {"orders": ["order_id", "customer_id", "amount", "status"], "customers": ["customer_id", "name"]}


def edges(result, column):
    return sorted((e["node"].split(".")[-1], e["column"], e["kind"]) for e in result.columns[column])


def test_passthrough_rename_expression_aggregate():
    res = sql_column_lineage(
        """
        select customer_id, status as order_status, amount * 1.2 as gross, upper(status) as s2,
               sum(amount) as total, count(*) as n, sum(amount) over (partition by status) as running
        from orders group by customer_id, status, amount
        """, REL, SCHEMA)
    assert edges(res, "customer_id") == [("orders", "customer_id", "passthrough")]
    assert edges(res, "order_status") == [("orders", "status", "renamed")]
    assert edges(res, "gross") == [("orders", "amount", "transformed")]
    assert edges(res, "s2") == [("orders", "status", "transformed")]
    assert edges(res, "total") == [("orders", "amount", "aggregated")]
    assert edges(res, "n") == []  # count(*) reads no column
    # a window function is per-row: transformed, not aggregated
    assert edges(res, "running") == [("orders", "amount", "transformed"), ("orders", "status", "transformed")]
    assert res.complete and res.error is None


def test_joins_ctes_and_aliases_resolve_to_the_right_relation():
    res = sql_column_lineage(
        """
        with big as (select order_id, customer_id, amount as amt from orders where amount > 10)
        select b.order_id, c.name as customer_name, b.amt, concat(c.name, b.order_id) as label
        from big as b join customers c on b.customer_id = c.customer_id
        """, REL, SCHEMA)
    assert edges(res, "order_id") == [("orders", "order_id", "passthrough")]
    assert edges(res, "customer_name") == [("customers", "name", "renamed")]
    assert edges(res, "amt") == [("orders", "amount", "renamed")]
    assert edges(res, "label") == [("customers", "name", "transformed"), ("orders", "order_id", "transformed")]


def test_unions_match_columns_by_position():
    res = sql_column_lineage(
        "select order_id as id, amount from orders union all select customer_id, 0 from customers", REL, SCHEMA)
    assert edges(res, "id") == [("customers", "customer_id", "renamed"), ("orders", "order_id", "renamed")]
    assert edges(res, "amount") == [("orders", "amount", "passthrough")]


def test_star_with_and_without_known_schema():
    known = sql_column_lineage("select *, amount + 1 as a1 from orders", REL, SCHEMA)
    assert list(known.columns) == ["order_id", "customer_id", "amount", "status", "a1"] and known.complete
    assert edges(known, "status") == [("orders", "status", "passthrough")]
    unknown = sql_column_lineage(
        "with t as (select *, 1 as one from raw__events) select id, cast(ts as date) as day from t", REL, {})
    assert edges(unknown, "id") == [("events", "id", "passthrough")]
    assert edges(unknown, "day") == [("events", "ts", "transformed")]
    bare = sql_column_lineage("select * from raw__events", REL, {})
    assert bare.columns == {} and not bare.complete


def test_unparseable_sql_is_reported_not_raised():
    res = sql_column_lineage("select from where (", REL, SCHEMA)
    assert res.columns == {} and res.error


def test_example_project_column_lineage(example_project):
    project = sparkmodels.load_project(example_project)
    compiled = project.compiled(project.manifest.nodes)
    data = project_column_lineage(project.manifest, compiled)
    rev = data["model.nyc_taxi.dim_monthly_zone_revenue"]
    assert edges(rev, "revenue_monthly_fare") == [("trips_data", "fare_amount", "aggregated")]
    assert edges(rev, "revenue_zone") == [("trips_data", "pickup_zone", "renamed")]
    trips = data["model.nyc_taxi.trips_data"]
    # union of two CTEs over `select *` (columns inferred from the staging models' SQL)
    assert edges(trips, "fare_amount") == [("stg_green_tripdata", "fare_amount", "passthrough"),
                                           ("stg_yellow_tripdata", "fare_amount", "passthrough")]
    assert edges(trips, "pickup_borough") == [("dim_zones", "borough", "renamed")]
    assert edges(trips, "service_type") == []  # a literal per branch
    green = data["model.nyc_taxi.stg_green_tripdata"]
    assert edges(green, "fare_amount") == [("green_tripdata", "fare_amount", "transformed")]
    assert edges(green, "pickup_datetime") == [("green_tripdata", "lpep_pickup_datetime", "transformed")]
    assert edges(green, "tripid") == [("green_tripdata", "lpep_pickup_datetime", "transformed"),
                                      ("green_tripdata", "vendorid", "transformed")]
    tree = column_tree(data, "model.nyc_taxi.dim_monthly_zone_revenue", "revenue_monthly_fare")
    leaves = set()

    def walk(item):
        if not item["children"]:
            leaves.add((item["node"], item["column"]))
        for kid in item["children"]:
            walk(kid)

    walk(tree)
    assert leaves == {("source.nyc_taxi.raw.green_tripdata", "fare_amount"),
                      ("source.nyc_taxi.raw.yellow_tripdata", "fare_amount")}
    down = column_tree(data, "source.nyc_taxi.raw.yellow_tripdata", "fare_amount", upstream=False, depth=2)
    assert [k["node"] for k in down["children"]] == ["model.nyc_taxi.stg_yellow_tripdata"]
    assert [k["node"] for k in down["children"][0]["children"]] == ["model.nyc_taxi.trips_data"]
    assert down["children"][0]["children"][0]["children"] == []  # depth 2 stops here


def test_lineage_command_tree_and_json(example_project):
    runner = CliRunner()
    res = runner.invoke(cli, ["lineage", "dim_monthly_zone_revenue.revenue_monthly_fare",
                              "--project-dir", str(example_project)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("dim_monthly_zone_revenue.revenue_monthly_fare")
    assert any("trips_data.fare_amount" in ln and "aggregated" in ln for ln in lines)
    assert any("raw.green_tripdata.fare_amount" in ln and "transformed" in ln for ln in lines)
    assert any("raw.yellow_tripdata.fare_amount" in ln for ln in lines)

    res = runner.invoke(cli, ["lineage", "stg_green_tripdata", "--downstream", "--depth", "1", "-o", "json",
                              "--project-dir", str(example_project)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["direction"] == "downstream" and data["column"] is None
    assert [k["name"] for k in data["tree"]["children"]] == ["trips_data"]
    assert data["tree"]["children"][0]["children"] == []

    res = runner.invoke(cli, ["lineage", "no_such_model", "--project-dir", str(example_project)])
    assert res.exit_code == 2 and "no_such_model" in res.output
