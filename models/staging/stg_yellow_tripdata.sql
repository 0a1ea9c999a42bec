{{ config(materialized='view') }}

with tripdata as (
    select
        *,
        row_number() over (partition by vendorid, tpep_pickup_datetime order by tpep_pickup_datetime) as rn
    from {{ source('raw', 'yellow_tripdata') }}
    where vendorid is not null
)

select
    -- identifiers
    {{ surrogate_key(['vendorid', 'tpep_pickup_datetime']) }} as tripid,
    cast(vendorid as int) as vendorid,
    cast(ratecodeid as int) as ratecodeid,
    cast(pulocationid as int) as pickup_locationid,
    cast(dolocationid as int) as dropoff_locationid,

    -- timestamps
    cast(tpep_pickup_datetime as timestamp) as pickup_datetime,
    cast(tpep_dropoff_datetime as timestamp) as dropoff_datetime,

    -- trip info
    store_and_fwd_flag,
    cast(passenger_count as int) as passenger_count,
    cast(trip_distance as double) as trip_distance,
    1 as trip_type,

    -- payment info
    cast(fare_amount as double) as fare_amount,
    cast(extra as double) as extra,
    cast(mta_tax as double) as mta_tax,
    cast(tip_amount as double) as tip_amount,
    cast(tolls_amount as double) as tolls_amount,
    cast(0 as double) as ehail_fee,
    cast(improvement_surcharge as double) as improvement_surcharge,
    cast(total_amount as double) as total_amount,
    cast(congestion_surcharge as double) as congestion_surcharge,
    cast(payment_type as int) as payment_type,
    {{ get_payment_type_description('payment_type') }} as payment_type_description
from tripdata
where rn = 1
