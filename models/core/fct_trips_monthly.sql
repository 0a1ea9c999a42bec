-- Trips per pickup zone, service and day, built month by month (microbatch on the pickup time).
-- `sparkmodels build --event-time-start 2020-06-01 --event-time-end 2020-07-01` reprocesses June
-- only; the other months' files are shared with the previous version.
{{ config(
    materialized='incremental',
    incremental_strategy='microbatch',
    event_time='pickup_datetime',
    batch_size='month',
    begin='2020-01-01',
    lookback=1,
    partition_by=['pickup_month']
) }}

select
    service_type,
    pickup_zone,
    date_trunc('day', pickup_datetime) as pickup_datetime,
    date_format(pickup_datetime, 'yyyy-MM') as pickup_month,
    count(*) as trips,
    sum(total_amount) as total_amount
from {{ ref('trips_data') }}
group by 1, 2, 3, 4
