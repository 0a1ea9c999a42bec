"""Predicted trip duration per trip, computed in batches on the executors (mapInPandas).

The course does this with RDD mapPartitions and a pickled model; here the "model" is a fixed
linear formula so the output is deterministic, but the batch mechanics are the real thing.
"""

import pandas as pd

OUTPUT_SCHEMA = """
    tripid string, service_type string, pickup_datetime timestamp,
    pickup_locationid int, dropoff_locationid int, trip_distance double,
    actual_duration_minutes double, predicted_duration_minutes double
"""

MINUTES_PER_MILE = 5.0
BASE_MINUTES = 2.0


def predict_duration(batch: pd.DataFrame) -> pd.DataFrame:
    """Minutes from the trip distance; a stand-in for model.predict(features)."""
    out = batch[["tripid", "service_type", "pickup_datetime", "pickup_locationid",
                 "dropoff_locationid", "trip_distance"]].copy()
    out["actual_duration_minutes"] = (
        (batch["dropoff_datetime"] - batch["pickup_datetime"]).dt.total_seconds() / 60.0
    )
    out["predicted_duration_minutes"] = BASE_MINUTES + MINUTES_PER_MILE * batch["trip_distance"].fillna(0.0)
    return out


def model(ctx):
    ctx.config(materialized="table")
    trips = ctx.ref("trips_data").select(
        "tripid", "service_type", "pickup_datetime", "dropoff_datetime",
        "pickup_locationid", "dropoff_locationid", "trip_distance",
    )
    return ctx.map_batches(trips, predict_duration, schema=OUTPUT_SCHEMA)
