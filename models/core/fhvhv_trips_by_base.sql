-- base_id() is the Python UDF in udfs/base_id.py, registered before any model runs.

select
    base_id(dispatching_base_num) as base_id,
    count(*) as total_trips
from {{ ref('stg_fhvhv_tripdata') }}
group by 1
