"""`sparkmodels build` with tests: gates, skips, warn, fail-fast, indirect selection, the example."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import sparkmodels
from sparkmodels.app.cli import cli

SCHEMA = """\
version: 2
models:
  - name: orders
    columns:
      - name: id
        data_tests: [unique]
      - name: status
        data_tests:
          - accepted_values: {values: [new], config: {severity: warn}}
      - name: customer_id
        data_tests:
          - relationships: {to: ref('customers'), field: id}
  - name: customers
    columns:
      - name: id
        data_tests: [not_null]
"""

FILES = {
    "models/orders.sql": "{{ config(materialized='table') }}\n"
                         "select * from values (1, 'new', 1), (1, 'old', 2) as t(id, status, customer_id)\n",
    "models/customers.sql": "{{ config(materialized='table') }}\nselect * from values (1), (2) as t(id)\n",
    "models/order_report.sql": "{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('orders') }}\n",
    "models/customer_report.sql": "{{ config(materialized='table') }}\n"
                                  "select count(*) as n from {{ ref('customers') }}\n",
    "models/schema.yml": SCHEMA,
}


def _by_name(result):
    return {r.name: r for r in result.results}


def test_failed_test_skips_downstream_and_warn_does_not_block(make_project, spark):
    root = make_project(FILES)
    result = sparkmodels.build(root, spark=spark)
    r = _by_name(result)
    assert r["unique_orders_id"].status == "fail"
    assert r["accepted_values_orders_status__new"].status == "warn"
    assert r["order_report"].status == "skipped" and "unique_orders_id" in r["order_report"].message
    assert r["customer_report"].status == "success"  # its model's tests passed
    assert r["relationships_orders_customer_id__id__ref_customers_"].status == "pass"
    names = [x.name for x in result.results]
    assert names.index("unique_orders_id") < names.index("order_report")
    assert not result.success
    assert not (root / "warehouse" / "demo" / "order_report").exists()


def test_build_runs_a_models_tests_right_after_it(make_project, spark):
    root = make_project({**FILES, "models/orders.sql": "{{ config(materialized='table') }}\n"
                         "select * from values (1, 'new', 1), (2, 'new', 2) as t(id, status, customer_id)\n"})
    result = sparkmodels.build(root, spark=spark, threads=1)
    assert result.success, [(x.name, x.status, x.message) for x in result.results]
    names = [x.name for x in result.results]
    tests_of_orders = [n for n in names if "orders" in n and n != "orders"]
    after = names[names.index("orders") + 1:]
    # customers sorts first, so all three tests of orders (relationships too) follow it directly
    assert len(tests_of_orders) == 3 and set(after[:3]) == set(tests_of_orders)
    assert names.index("order_report") > max(names.index(n) for n in tests_of_orders)


def test_fail_fast_stops_everything_after_the_first_failure(make_project, spark):
    root = make_project({
        "models/a_bad.sql": "{{ config(materialized='table') }}\nselect 1 as id union all select 1\n",
        "models/b_other.sql": "{{ config(materialized='table') }}\nselect 2 as id\n",
        "models/schema.yml": "version: 2\nmodels:\n  - name: a_bad\n    columns:\n      - name: id\n"
                             "        data_tests: [unique]\n",
    })
    res = CliRunner().invoke(cli, ["build", "--project-dir", str(root), "--fail-fast", "--threads", "1"])
    assert res.exit_code == 1
    assert "FAIL 1 unique_a_bad_id" in res.output
    assert "SKIP b_other" in res.output and "skipped (fail-fast)" in res.output
    assert not (root / "warehouse" / "demo" / "b_other").exists()


def _names(root, select=None, exclude=None, command_types=("test",), indirect="eager"):
    project = sparkmodels.load_project(root)
    plan = sparkmodels.app.api.plan_for(project, select, exclude, command_types, indirect)
    return sorted(s.name for s in plan.steps if s.node.resource_type == "test")


def test_selecting_a_model_selects_its_tests(make_project):
    root = make_project(FILES)
    assert _names(root, ["customers"]) == ["not_null_customers_id",
                                          "relationships_orders_customer_id__id__ref_customers_"]
    assert _names(root, ["orders"], exclude=["unique_orders_id"]) == [
        "accepted_values_orders_status__new", "relationships_orders_customer_id__id__ref_customers_"]
    assert _names(root, ["test_name:unique"]) == ["unique_orders_id"]
    assert _names(root, None, exclude=["orders"]) == ["not_null_customers_id"]


def test_build_runs_relationships_only_when_both_ends_are_built(make_project):
    root = make_project(FILES)
    build = ("seed", "model", "test")
    assert "relationships_orders_customer_id__id__ref_customers_" not in _names(
        root, ["orders"], command_types=build, indirect="buildable")
    assert "relationships_orders_customer_id__id__ref_customers_" in _names(
        root, ["orders customers"], command_types=build, indirect="buildable")


@pytest.mark.slow
def test_example_project_tests_pass_with_a_warning(built_example, spark):
    result = sparkmodels.test(built_example, spark=spark)
    r = _by_name(result)
    assert result.success, [(x.name, x.status, x.message) for x in result.results if x.status not in ("pass", "warn")]
    assert (r["not_null_stg_yellow_tripdata_payment_type"].status,
            r["not_null_stg_yellow_tripdata_payment_type"].failures) == ("warn", 14)
    assert r["assert_no_negative_zone_revenue"].status == "pass"
    assert r["dedup_keeps_one_trip_per_vendor_and_pickup_time"].status == "pass"
    assert r["revenue_sums_trips_per_zone_month_and_service"].status == "pass"
    assert any(x.name.startswith("relationships_stg_green") for x in result.results)
    assert any(x.name.startswith("accepted_range_") for x in result.results)
