"""End to end on the NYC taxi example: build, artifacts, and equality with hand-written PySpark."""

from __future__ import annotations

import json

from pyspark.sql import Window
from pyspark.sql import functions as F


def hand_written_revenue(spark, root):
    """dim_monthly_zone_revenue written directly in PySpark, the way the Spark course does it."""
    def staged(colour, pickup, dropoff, trip_type):
        df = spark.read.parquet(str(root / f"data/{colour}/*/*/*.parquet")).where("VendorID is not null")
        w = Window.partitionBy("VendorID", pickup).orderBy(pickup)
        df = df.withColumn("rn", F.row_number().over(w)).where("rn = 1")
        return df.select(
            F.md5(F.concat_ws("|", F.coalesce(F.col("VendorID").cast("string"), F.lit("_null_")),
                              F.coalesce(F.col(pickup).cast("string"), F.lit("_null_")))).alias("tripid"),
            F.col("PULocationID").cast("int").alias("pickup_locationid"),
            F.col("DOLocationID").cast("int").alias("dropoff_locationid"),
            F.col(pickup).cast("timestamp").alias("pickup_datetime"),
            F.col("passenger_count").cast("int").alias("passenger_count"),
            F.col("trip_distance").cast("double").alias("trip_distance"),
            *[F.col(c).cast("double").alias(c) for c in (
                "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount")],
            (F.col("ehail_fee").cast("double") if colour == "green" else F.lit(0.0)).alias("ehail_fee"),
            *[F.col(c).cast("double").alias(c) for c in (
                "improvement_surcharge", "total_amount", "congestion_surcharge")],
            F.lit(colour).alias("service_type"),
        )

    trips = staged("green", "lpep_pickup_datetime", "lpep_dropoff_datetime", "trip_type").unionByName(
        staged("yellow", "tpep_pickup_datetime", "tpep_dropoff_datetime", None))
    zones = (spark.read.option("header", True).csv(str(root / "seeds/taxi_zone_lookup.csv"))
             .withColumn("locationid", F.col("locationid").cast("int")).where("borough != 'Unknown'"))
    pu = zones.select(F.col("locationid").alias("pu_id"), F.col("zone").alias("pickup_zone"))
    do = zones.select(F.col("locationid").alias("do_id"))
    joined = (trips.join(pu, trips.pickup_locationid == pu.pu_id)
              .join(do, trips.dropoff_locationid == do.do_id))
    sums = ["fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "ehail_fee",
            "improvement_surcharge", "total_amount", "congestion_surcharge"]
    names = {"fare_amount": "revenue_monthly_fare"}
    return joined.groupBy(
        F.col("pickup_zone").alias("revenue_zone"),
        F.date_trunc("month", "pickup_datetime").alias("revenue_month"),
        "service_type",
    ).agg(
        *[F.sum(c).alias(names.get(c, f"revenue_monthly_{c}")) for c in sums],
        F.count("tripid").alias("total_monthly_trips"),
        F.avg("passenger_count").alias("avg_monthly_passenger_count"),
        F.avg("trip_distance").alias("avg_monthly_trip_distance"),
    )


def test_dim_monthly_zone_revenue_equals_hand_written_pyspark(built_example, spark):
    ours = spark.read.parquet(str(built_example / "warehouse/nyc_taxi/dim_monthly_zone_revenue"))
    theirs = hand_written_revenue(spark, built_example).select(*ours.columns)
    assert ours.count() > 100
    # row for row: both differences are empty (doubles rounded against summation-order noise)
    def rounded(df):
        return df.select(*[F.round(c, 6).alias(c) if t == "double" else F.col(c) for c, t in df.dtypes])
    assert rounded(ours).exceptAll(rounded(theirs)).count() == 0
    assert rounded(theirs).exceptAll(rounded(ours)).count() == 0


def test_example_artifacts(built_example):
    manifest = json.loads((built_example / "target/manifest.json").read_text())
    node = manifest["nodes"]["model.nyc_taxi.dim_monthly_zone_revenue"]
    assert node["config"]["materialized"] == "table"
    assert node["depends_on"]["nodes"] == ["model.nyc_taxi.trips_data"]
    assert "{{ ref('trips_data') }}" in node["raw_code"]
    assert "`trips_data`" in node["compiled_code"]
    assert node["original_file_path"] == "models/core/dim_monthly_zone_revenue.sql"
    assert len(node["checksum"]["checksum"]) == 64
    assert "source.nyc_taxi.raw.green_tripdata" in manifest["sources"]
    stg = manifest["nodes"]["model.nyc_taxi.stg_green_tripdata"]
    assert stg["depends_on"]["macros"] == ["macro.nyc_taxi.get_payment_type_description",
                                           "macro.nyc_taxi.surrogate_key"]
    assert stg["columns"]["tripid"]["description"]

    results = json.loads((built_example / "target/build_run_results.json").read_text())
    assert results["metadata"]["dbt_schema_version"].endswith("run-results/v1.json")
    by_id = {r["unique_id"]: r for r in results["results"]}
    rev = by_id["model.nyc_taxi.dim_monthly_zone_revenue"]
    assert rev["status"] == "success" and rev["adapter_response"]["rows_affected"] > 100
    assert rev["timing"][0]["started_at"] and rev["execution_time"] > 0
    assert by_id["seed.nyc_taxi.taxi_zone_lookup"]["adapter_response"]["rows_affected"] == 265
    assert (built_example / "target/compiled/nyc_taxi/models/staging/stg_green_tripdata.sql").exists()


def test_seed_keeps_apostrophes(built_example, spark):
    zones = spark.read.parquet(str(built_example / "warehouse/nyc_taxi_seeds/taxi_zone_lookup"))
    names = {r.zone for r in zones.collect()}
    assert "Prince's Bay/Rossville" in names or any("Prince's Bay" in (n or "") for n in names)
    assert dict(zones.dtypes)["locationid"] == "int"


def test_fct_trips_monthly_reprocesses_one_month(built_example, spark):
    """The example's microbatch model: built month by month, then June again with --event-time-*."""
    import sparkmodels

    link = built_example / "warehouse/nyc_taxi/fct_trips_monthly"
    months = {r.pickup_month for r in spark.read.parquet(str(link)).select("pickup_month").distinct().collect()}
    assert months == {f"2020-0{m}" for m in range(1, 7)}
    before = {p.relative_to(link.resolve()).as_posix(): p.stat().st_ino for p in link.resolve().rglob("part-*")}
    result = sparkmodels.run(built_example, spark=spark, select=["fct_trips_monthly"],
                             event_time_start="2020-06-01", event_time_end="2020-07-01")
    [r] = result.results
    assert r.status == "success", r.message
    assert [b["start"] for b in r.extra["batches"]] == ["2020-06-01 00:00:00"]
    after = {p.relative_to(link.resolve()).as_posix(): p.stat().st_ino for p in link.resolve().rglob("part-*")}
    untouched = {k: v for k, v in before.items() if not k.startswith("pickup_month=2020-06")}
    assert untouched and all(after.get(k) == v for k, v in untouched.items())  # shared, never copied
