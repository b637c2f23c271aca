-- kpi_spending_monthly
-- grain: one row per calendar month (Asia/Tokyo), card design and support target
-- filters: none; the current month is partial until it ends
-- formula: gmv_jpy = captures - refunds; capture_count = captures;
--          average_ticket_jpy = captured amount / captures;
--          active_cardholders = members with at least one capture in the month
-- owner: data-platform (cardlake)
select
    cast(date_trunc(business_date, month) as date) as spend_month,
    card_design,
    support_target,
    sum(signed_amount_jpy) as gmv_jpy,
    countif(txn_type = 'capture') as capture_count,
    safe_divide(
        sum(if(txn_type = 'capture', amount_jpy, 0)), countif(txn_type = 'capture')
    ) as average_ticket_jpy,
    count(distinct if(txn_type = 'capture', member_id, null)) as active_cardholders
from `{{ project }}.{{ stg_dataset }}.int_transactions_enriched`
group by spend_month, card_design, support_target
