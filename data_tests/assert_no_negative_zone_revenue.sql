-- Singular test: every row returned is a failure.
-- The sample has a few refunds (negative total_amount on single trips); they must never turn a
-- whole zone's month negative, which would mean refunds were booked to the wrong zone or month.
select
    revenue_zone,
    revenue_month,
    service_type,
    revenue_monthly_total_amount
from {{ ref('dim_monthly_zone_revenue') }}
where revenue_monthly_total_amount < 0
