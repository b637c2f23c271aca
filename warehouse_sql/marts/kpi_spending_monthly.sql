with gmv as (
    select
        period_start,
        is_complete,
        card_design,
        support_target,
        gmv_jpy,
        capture_count,
        average_ticket_jpy,
        active_cardholders
    from `{{ project }}.{{ stg_dataset }}.int_gmv_by_period`
    where period_grain = 'month' and breakdown = 'card_design'
)

select
    period_start as spend_month,
    is_complete,
    card_design,
    support_target,
    gmv_jpy,
    capture_count,
    average_ticket_jpy,
    active_cardholders
from gmv
