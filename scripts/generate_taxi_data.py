"""Synthetic NYC TLC trip data generator for the nyc_taxi example project.

Writes green, yellow and fhvhv trip records with the real TLC column names and
Parquet types (via pyarrow) to ``<out>/<colour>/<year>/<month:02d>/part-N.parquet``.
Output is deterministic for the same arguments: every file draws from its own
numpy Generator seeded with (seed, colour, year, month, part).

Example:
    python scripts/generate_taxi_data.py --rows 3000 --months 2020-01:2020-06 --out data/ --seed 42
"""
from __future__ import annotations

import argparse
import calendar
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COLOURS = ("green", "yellow", "fhvhv")
MAX_ROWS_PER_FILE = 1_000_000
TS = pa.timestamp("us")
F64 = pa.float64()
I64 = pa.int64()

SCHEMAS = {
    "green": pa.schema([
        ("VendorID", I64), ("lpep_pickup_datetime", TS), ("lpep_dropoff_datetime", TS),
        ("store_and_fwd_flag", pa.string()), ("RatecodeID", F64), ("PULocationID", I64),
        ("DOLocationID", I64), ("passenger_count", F64), ("trip_distance", F64),
        ("fare_amount", F64), ("extra", F64), ("mta_tax", F64), ("tip_amount", F64),
        ("tolls_amount", F64), ("ehail_fee", F64), ("improvement_surcharge", F64),
        ("total_amount", F64), ("payment_type", F64), ("trip_type", F64),
        ("congestion_surcharge", F64),
    ]),
    "yellow": pa.schema([
        ("VendorID", I64), ("tpep_pickup_datetime", TS), ("tpep_dropoff_datetime", TS),
        ("passenger_count", F64), ("trip_distance", F64), ("RatecodeID", F64),
        ("store_and_fwd_flag", pa.string()), ("PULocationID", I64), ("DOLocationID", I64),
        ("payment_type", I64), ("fare_amount", F64), ("extra", F64), ("mta_tax", F64),
        ("tip_amount", F64), ("tolls_amount", F64), ("improvement_surcharge", F64),
        ("total_amount", F64), ("congestion_surcharge", F64), ("airport_fee", F64),
    ]),
    "fhvhv": pa.schema([
        ("hvfhs_license_num", pa.string()), ("dispatching_base_num", pa.string()),
        ("pickup_datetime", TS), ("dropoff_datetime", TS), ("PULocationID", I64),
        ("DOLocationID", I64), ("SR_Flag", pa.string()),
    ]),
}

# Popular zones per service (Manhattan core for yellow, outer boroughs for green).
HOTSPOTS = {
    "yellow": [237, 236, 161, 162, 186, 230, 170, 142, 48, 234, 239, 163, 132, 138, 68, 79, 107, 100],
    "green": [74, 75, 41, 42, 7, 82, 166, 97, 129, 95, 181, 244, 65, 43, 260, 255, 25, 152],
    "fhvhv": [132, 61, 138, 79, 37, 76, 231, 161, 230, 225, 48, 39, 188, 181, 7, 17, 36, 89],
}
# hvfhs_license_num -> dispatching bases (HV0002 Juno, HV0003 Uber, HV0004 Via, HV0005 Lyft).
HV_BASES = {
    "HV0002": ["B02907", "B02914"],
    "HV0003": ["B02764", "B02765", "B02869", "B02870", "B02871", "B02872", "B02875",
               "B02877", "B02879", "B02882", "B02883"],
    "HV0004": ["B02800"],
    "HV0005": ["B02510"],
}
HV_PROBS = [0.03, 0.70, 0.04, 0.23]
# Relative pickup volume by hour of day (0..23).
HOUR_WEIGHTS = np.array([3, 2, 1.5, 1, 1, 1.5, 3, 5, 6, 6, 5.5, 5.5, 6, 6, 6.5, 6.5,
                         7, 8, 8.5, 8, 7, 6.5, 5.5, 4.5])


def zone_weights(colour: str) -> np.ndarray:
    """Fixed, skewed pickup/dropoff probabilities over zones 1..265."""
    base = np.random.default_rng(2019).lognormal(0.0, 1.0, 265)
    base[[0, 102, 103, 104]] = 0.01              # EWR, Governor's/Ellis/Liberty Island: rare
    base[[263, 264]] = 0.0                       # Unknown zones handled separately
    for rank, zone in enumerate(HOTSPOTS[colour]):
        base[zone - 1] += 60.0 / (1 + rank * 0.3)
    base /= base.sum()
    unknown = 0.003                              # ~0.3% of trips land in 264/265
    base *= 1 - unknown
    base[[263, 264]] = unknown / 2
    return base


def parse_months(spec: str) -> list[tuple[int, int]]:
    """Parse 'YYYY-MM:YYYY-MM' (or a single 'YYYY-MM') into an inclusive month list."""
    start, _, end = spec.partition(":")
    (y0, m0), (y1, m1) = (map(int, s.split("-")) for s in (start, end or start))
    out, y, m = [], y0, m0
    while (y, m) <= (y1, m1):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if not out:
        raise SystemExit(f"empty month range: {spec}")
    return out


def pickup_times(rng: np.random.Generator, n: int, year: int, month: int) -> np.ndarray:
    """Pickup timestamps (second precision) inside the month, with a daily profile."""
    days = calendar.monthrange(year, month)[1]
    start = np.datetime64(f"{year:04d}-{month:02d}-01T00:00:00", "s")
    secs = (rng.integers(0, days, n) * 86400
            + rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()) * 3600
            + rng.integers(0, 3600, n))
    return (start + secs.astype("timedelta64[s]")).astype("datetime64[us]")


def trips_core(rng: np.random.Generator, n: int, colour: str, year: int, month: int) -> dict:
    """Columns shared by all services: times and locations."""
    w = zone_weights(colour)
    pickup = pickup_times(rng, n, year, month)
    minutes = np.clip(2 + rng.gamma(2.0, 7.0, n), 2, 60)
    dropoff = pickup + (minutes * 60).astype("timedelta64[s]").astype("timedelta64[us]")
    pu = rng.choice(np.arange(1, 266), n, p=w)
    do = rng.choice(np.arange(1, 266), n, p=w)
    return {"pickup": pickup, "dropoff": dropoff, "pu": pu, "do": do, "minutes": minutes}


def fares(rng: np.random.Generator, n: int, colour: str, year: int, month: int) -> dict:
    """Distance, rate code, payment type and fare components; total is their sum."""
    dist = np.round(np.clip(rng.lognormal(0.55 if colour == "yellow" else 0.8, 0.8, n), 0.01, 60), 2)
    ratecode = rng.choice([1, 2, 3, 4, 5], n, p=[0.965, 0.02, 0.004, 0.003, 0.008]).astype(float)
    fare = np.round(np.maximum(2.5, 2.5 + 2.5 * dist + rng.normal(0, 1.5, n)), 1)
    fare = np.where(ratecode == 2, 52.0, fare)
    payment = rng.choice([1, 2, 3, 4, 5], n, p=[0.66, 0.31, 0.018, 0.01, 0.002])
    extra = rng.choice([0.0, 0.5, 1.0, 2.5], n, p=[0.45, 0.3, 0.2, 0.05])
    mta = np.where(ratecode == 5, 0.0, 0.5)
    tip = np.where(payment == 1, np.round(fare * rng.uniform(0.1, 0.3, n), 2), 0.0)
    tolls = np.where(rng.random(n) < 0.05, 6.12, 0.0)
    improvement = np.full(n, 0.3)
    congestion_on = (year, month) >= (2019, 2)
    if colour == "yellow":
        congestion = np.where(rng.random(n) < 0.9, 2.5, 0.0) * congestion_on
    else:
        congestion = np.where(rng.random(n) < 0.1, 2.75, 0.0) * congestion_on
    # ~0.1% refunds: every component negated, as in the real TLC files.
    sign = np.where(rng.random(n) < 0.001, -1.0, 1.0)
    payment = np.where(sign < 0, rng.choice([3, 4], n), payment)
    cols = {"fare_amount": fare, "extra": extra, "mta_tax": mta, "tip_amount": tip,
            "tolls_amount": tolls, "improvement_surcharge": improvement,
            "congestion_surcharge": congestion}
    cols = {k: v * sign for k, v in cols.items()}
    cols["total_amount"] = np.round(sum(cols.values()), 2)
    cols.update(trip_distance=dist, RatecodeID=ratecode, payment_type=payment,
                passenger_count=rng.choice([0, 1, 2, 3, 4, 5, 6], n,
                                           p=[0.01, 0.72, 0.13, 0.05, 0.03, 0.04, 0.02]).astype(float),
                store_and_fwd_flag=np.where(rng.random(n) < 0.01, "Y", "N").astype(object),
                VendorID=rng.choice([1, 2], n, p=[0.3, 0.7]))
    return cols


def arr(values, typ, mask=None) -> pa.Array:
    """numpy -> pyarrow array of the given type with an optional null mask."""
    return pa.array(values, type=typ, mask=mask, from_pandas=False)


def build_table(rng: np.random.Generator, n: int, colour: str, year: int, month: int) -> pa.Table:
    """One chunk of trips for a colour and month, as a pyarrow Table."""
    c = trips_core(rng, n, colour, year, month)
    order = np.argsort(c["pickup"], kind="stable")
    if colour == "fhvhv":
        lic = np.array(list(HV_BASES))[rng.choice(4, n, p=HV_PROBS)]
        base = np.empty(n, dtype=object)
        for key, bases in HV_BASES.items():
            sel = lic == key
            base[sel] = np.array(bases, dtype=object)[rng.integers(0, len(bases), sel.sum())]
        sr = rng.choice(np.array(["N", "Y"], dtype=object), n, p=[0.6, 0.4])
        cols = {"hvfhs_license_num": lic.astype(object), "dispatching_base_num": base,
                "pickup_datetime": c["pickup"], "dropoff_datetime": c["dropoff"],
                "PULocationID": c["pu"], "DOLocationID": c["do"], "SR_Flag": sr}
        masks = {"SR_Flag": rng.random(n) < 0.9}
    else:
        f = fares(rng, n, colour, year, month)
        p = "lpep" if colour == "green" else "tpep"
        cols = dict(f, PULocationID=c["pu"], DOLocationID=c["do"])
        cols[f"{p}_pickup_datetime"], cols[f"{p}_dropoff_datetime"] = c["pickup"], c["dropoff"]
        masks = {}
        if colour == "green":
            cols["payment_type"] = f["payment_type"].astype(float)
            cols["trip_type"] = rng.choice([1.0, 2.0], n, p=[0.97, 0.03])
            cols["ehail_fee"] = np.zeros(n)
            masks["ehail_fee"] = np.ones(n, dtype=bool)
            no_vendor = rng.random(n) < 0.02      # dispatched trips: sparse metadata
            for col in ("VendorID", "store_and_fwd_flag", "RatecodeID", "passenger_count",
                        "payment_type", "trip_type", "congestion_surcharge"):
                masks[col] = no_vendor
        else:
            airport = np.isin(c["pu"], [132, 138]) * 1.25
            cols["airport_fee"] = airport * np.sign(f["fare_amount"])
            masks["airport_fee"] = np.full(n, (year, month) < (2021, 1))
            cols["total_amount"] = np.round(f["total_amount"] + np.where(
                masks["airport_fee"], 0.0, cols["airport_fee"]), 2)
            no_payment = rng.random(n) < 0.005
            for col in ("payment_type", "store_and_fwd_flag", "RatecodeID",
                        "passenger_count", "congestion_surcharge"):
                masks[col] = no_payment
        hidden = masks["congestion_surcharge"]  # a null surcharge is not in the total
        cols["total_amount"] = np.round(
            cols["total_amount"] - np.where(hidden, cols["congestion_surcharge"], 0.0), 2)
        # ~0.5% exact duplicate rows (same VendorID and pickup time, and everything else).
        k = int(n * 0.005)
        if k:
            src, dst = rng.choice(n, k, replace=False), rng.choice(n, k, replace=False)
            arrays = {id(a): a for a in list(cols.values()) + list(masks.values())}
            for target in arrays.values():            # each array copied exactly once
                if isinstance(target, np.ndarray) and target.shape == (n,):
                    target[dst] = target[src]
            order = np.argsort(cols[f"{p}_pickup_datetime"], kind="stable")
    schema = SCHEMAS[colour]
    arrays = []
    for field in schema:
        values = np.asarray(cols[field.name])[order]
        mask = masks.get(field.name)
        arrays.append(arr(values, field.type, None if mask is None else mask[order]))
    return pa.Table.from_arrays(arrays, schema=schema)


def split(total: int, parts: int) -> list[int]:
    """Spread total rows over parts as evenly as possible."""
    q, r = divmod(total, parts)
    return [q + (i < r) for i in range(parts)]


def generate(rows: int, months: list[tuple[int, int]], out: Path, seed: int,
             colours: list[str]) -> dict[str, int]:
    """Write every colour/month/part file; return rows written per colour."""
    written = {}
    for colour in colours:
        cidx = COLOURS.index(colour)
        written[colour] = 0
        for (year, month), n_month in zip(months, split(rows, len(months)), strict=True):
            folder = out / colour / f"{year:04d}" / f"{month:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("part-*.parquet"):
                stale.unlink()
            n_parts = max(1, -(-n_month // MAX_ROWS_PER_FILE))
            for part, n in enumerate(split(n_month, n_parts)):
                rng = np.random.default_rng([seed, cidx, year, month, part])
                table = build_table(rng, n, colour, year, month)
                pq.write_table(table, folder / f"part-{part}.parquet", compression="snappy")
                written[colour] += n
    return written


def main() -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, required=True, help="rows per colour, spread over months")
    ap.add_argument("--months", default="2019-01:2020-12", help="YYYY-MM:YYYY-MM inclusive")
    ap.add_argument("--out", type=Path, default=Path("data"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--colours", default="green,yellow,fhvhv")
    args = ap.parse_args()
    colours = [c.strip() for c in args.colours.split(",") if c.strip()]
    unknown = set(colours) - set(COLOURS)
    if unknown:
        ap.error(f"unknown colours: {sorted(unknown)} (choose from {COLOURS})")
    t0 = time.perf_counter()
    written = generate(args.rows, parse_months(args.months), args.out, args.seed, colours)
    for colour, n in written.items():
        print(f"{colour}: {n} rows -> {args.out / colour}")
    print(f"done in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
