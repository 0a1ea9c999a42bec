"""Hand-written PySpark version of the example taxi pipeline, the way the Spark course writes it.

    python bench/taxi_baseline.py PROJECT_DIR OUT_DIR

Reads PROJECT_DIR/data/{green,yellow}/*/*/*.parquet and seeds/taxi_zone_lookup.csv; writes Parquet
OUT_DIR/{taxi_zone_lookup,dim_zones,trips_data,dim_monthly_zone_revenue}: the same tables with the same
columns as `sparkmodels build` of the example project (the fhvhv staging view is not part of it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

LOG4J = Path(__file__).resolve().parent.parent / "sparkmodels" / "include" / "log4j2.properties"

PAYMENT_TYPES = {1: "Credit card", 2: "Cash", 3: "No charge", 4: "Dispute", 5: "Unknown", 6: "Voided trip"}
MONEY = ("fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "ehail_fee",
         "improvement_surcharge", "total_amount", "congestion_surcharge")


def payment_description(col):
    expr = None
    for code, text in PAYMENT_TYPES.items():
        cond = col.cast("int") == code
        expr = F.when(cond, text) if expr is None else expr.when(cond, text)
    return expr.otherwise("EMPTY")


def staging(df, prefix: str, green: bool):
    df = (df.withColumnRenamed("VendorID", "vendorid")
            .withColumnRenamed("RatecodeID", "ratecodeid")
            .withColumnRenamed("PULocationID", "pickup_locationid")
            .withColumnRenamed("DOLocationID", "dropoff_locationid")
            .withColumnRenamed(f"{prefix}_pickup_datetime", "pickup_datetime")
            .withColumnRenamed(f"{prefix}_dropoff_datetime", "dropoff_datetime"))
    # Keep one trip per (vendor, pickup time), as the staging models do.
    window = Window.partitionBy("vendorid", "pickup_datetime").orderBy("pickup_datetime")
    df = df.filter(F.col("vendorid").isNotNull()).withColumn("rn", F.row_number().over(window)).filter("rn = 1")
    key = F.md5(F.concat_ws("|", *[F.coalesce(F.col(c).cast("string"), F.lit("_null_"))
                                   for c in ("vendorid", "pickup_datetime")]))
    money = [F.col(c).cast("double").alias(c) for c in MONEY]
    if not green:
        money[MONEY.index("ehail_fee")] = F.lit(0).cast("double").alias("ehail_fee")
    return df.select(
        key.alias("tripid"),
        F.col("vendorid").cast("int").alias("vendorid"),
        F.col("ratecodeid").cast("int").alias("ratecodeid"),
        F.col("pickup_locationid").cast("int").alias("pickup_locationid"),
        F.col("dropoff_locationid").cast("int").alias("dropoff_locationid"),
        F.col("pickup_datetime").cast("timestamp").alias("pickup_datetime"),
        F.col("dropoff_datetime").cast("timestamp").alias("dropoff_datetime"),
        "store_and_fwd_flag",
        F.col("passenger_count").cast("int").alias("passenger_count"),
        F.col("trip_distance").cast("double").alias("trip_distance"),
        (F.col("trip_type").cast("int") if green else F.lit(1)).alias("trip_type"),
        *money,
        F.col("payment_type").cast("int").alias("payment_type"),
        payment_description(F.col("payment_type")).alias("payment_type_description"),
    )


def main(project: str, out: str) -> None:
    spark = (SparkSession.builder.master("local[*]").appName("baseline taxi")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.extraJavaOptions",
                     f"-Dlog4j2.configurationFile={LOG4J} {os.environ.get('SMBENCH_CLASS_ARCHIVE_OPTS', '')}")
             .getOrCreate())
    data = f"{project}/data"

    zones_csv = (spark.read.option("header", "true").option("inferSchema", "true")
                 .csv(f"{project}/seeds/taxi_zone_lookup.csv")
                 .withColumn("locationid", F.col("locationid").cast("int")))
    zones_csv.write.mode("overwrite").parquet(f"{out}/taxi_zone_lookup")
    dim_zones = (spark.read.parquet(f"{out}/taxi_zone_lookup")
                 .withColumn("service_zone", F.regexp_replace("service_zone", "Boro", "Green")))
    dim_zones.write.mode("overwrite").parquet(f"{out}/dim_zones")

    df_green = staging(spark.read.parquet(f"{data}/green/*/*/*.parquet"), "lpep", green=True)
    df_yellow = staging(spark.read.parquet(f"{data}/yellow/*/*/*.parquet"), "tpep", green=False)
    trips = (df_green.withColumn("service_type", F.lit("green"))
             .unionAll(df_yellow.withColumn("service_type", F.lit("yellow"))))
    trips.createOrReplaceTempView("trips_unioned")

    zones = spark.read.parquet(f"{out}/dim_zones").filter(F.col("borough") != "Unknown")
    pu = zones.select(F.col("locationid").alias("pu_id"), F.col("borough").alias("pickup_borough"),
                      F.col("zone").alias("pickup_zone"))
    do = zones.select(F.col("locationid").alias("do_id"), F.col("borough").alias("dropoff_borough"),
                      F.col("zone").alias("dropoff_zone"))
    t = spark.table("trips_unioned")
    trips_data = (t.join(pu, t.pickup_locationid == pu.pu_id).join(do, t.dropoff_locationid == do.do_id)
                  .select("tripid", "vendorid", "service_type", "ratecodeid", "pickup_locationid",
                          "pickup_borough", "pickup_zone", "dropoff_locationid", "dropoff_borough", "dropoff_zone",
                          "pickup_datetime", "dropoff_datetime", "store_and_fwd_flag", "passenger_count",
                          "trip_distance", "trip_type", *MONEY, "payment_type", "payment_type_description"))
    trips_data.write.mode("overwrite").parquet(f"{out}/trips_data")

    trips_data = spark.read.parquet(f"{out}/trips_data")
    revenue = (trips_data.groupBy(F.col("pickup_zone").alias("revenue_zone"),
                                  F.date_trunc("month", "pickup_datetime").alias("revenue_month"), "service_type")
               .agg(*[F.sum(c).alias(f"revenue_monthly_{'fare' if c == 'fare_amount' else c}")
                      for c in MONEY],
                    F.count("tripid").alias("total_monthly_trips"),
                    F.avg("passenger_count").alias("avg_monthly_passenger_count"),
                    F.avg("trip_distance").alias("avg_monthly_trip_distance")))
    revenue.write.mode("overwrite").parquet(f"{out}/dim_monthly_zone_revenue")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
