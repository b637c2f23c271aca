with transactions as (
    select
        business_date,
        card_id,
        member_id,
        txn_type,
        amount_jpy,
        card_design,
        support_target_id,
        support_target,
        support_category,
        contribution_rate
    from `{{ project }}.{{ stg_dataset }}.int_transactions_enriched`
),

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
),

periods as (
    select
        'day' as period_grain,
        business_date as period_start,
        card_id,
        member_id,
        txn_type,
        amount_jpy,
        card_design,
        support_target_id,
        support_target,
        support_category,
        contribution_rate
    from transactions
    union all
    select
        'month' as period_grain,
        cast(date_trunc(business_date, month) as date) as period_start,
        card_id,
        member_id,
        txn_type,
        amount_jpy,
        card_design,
        support_target_id,
        support_target,
        support_category,
        contribution_rate
    from transactions
),

totals as (
    select
        period_grain,
        period_start,
        card_id,
        card_design,
        support_target_id,
        support_target,
        support_category,
        case
            when grouping(card_design) = 0 then 'card_design'
            when grouping(support_target_id) = 0 then 'support_target'
            when grouping(card_id) = 0 then 'card'
            else 'total'
        end as breakdown,
        if(grouping(support_target_id) = 0, any_value(contribution_rate), null)
            as contribution_rate,
        sum(if(txn_type = 'capture', amount_jpy, 0)) as captured_amount_jpy,
        sum(if(txn_type = 'refund', amount_jpy, 0)) as refunded_amount_jpy,
        countif(txn_type = 'capture') as capture_count,
        count(distinct if(txn_type = 'capture', member_id, null)) as active_cardholders
    from periods
    group by grouping sets (
        (period_grain, period_start),
        (period_grain, period_start, card_design, support_target),
        (period_grain, period_start, support_target_id, support_target, support_category),
        (period_grain, period_start, card_id)
    )
)

select
    period_grain,
    period_start,
    breakdown,
    card_id,
    card_design,
    support_target_id,
    support_target,
    support_category,
    contribution_rate,
    captured_amount_jpy,
    refunded_amount_jpy,
    capture_count,
    active_cardholders,
    if(
        period_grain = 'day',
        period_start,
        last_day(period_start, month)
    ) < (select a.as_of_date from data_as_of as a) as is_complete,
    captured_amount_jpy - refunded_amount_jpy as gmv_jpy,
    safe_divide(captured_amount_jpy, capture_count) as average_ticket_jpy
from totals
