with gmv as (
    select
        period_start,
        is_complete,
        gmv_jpy,
        capture_count,
        average_ticket_jpy
    from `{{ project }}.{{ stg_dataset }}.int_gmv_by_period`
    where period_grain = 'day' and breakdown = 'total'
)

select
    period_start as business_date,
    is_complete,
    gmv_jpy,
    capture_count,
    average_ticket_jpy
from gmv
