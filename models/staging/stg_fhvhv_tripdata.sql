{{ config(materialized='view') }}

select
    hvfhs_license_num,
    dispatching_base_num,
    cast(pickup_datetime as timestamp) as pickup_datetime,
    cast(dropoff_datetime as timestamp) as dropoff_datetime,
    cast(pulocationid as int) as pickup_locationid,
    cast(dolocationid as int) as dropoff_locationid,
    sr_flag
from {{ source('raw', 'fhvhv_tripdata') }}
