-- kpi_spending_daily
-- grain: one row per business date (Asia/Tokyo), card design and support target
-- filters: none
-- formula: gmv_jpy = captures - refunds; capture_count = captures;
--          average_ticket_jpy = captured amount / captures;
--          active_cardholders = members with at least one capture that day
-- owner: data-platform (cardlake)
select
    business_date,
    card_design,
    support_target,
    sum(signed_amount_jpy) as gmv_jpy,
    countif(txn_type = 'capture') as capture_count,
    safe_divide(
        sum(if(txn_type = 'capture', amount_jpy, 0)), countif(txn_type = 'capture')
    ) as average_ticket_jpy,
    count(distinct if(txn_type = 'capture', member_id, null)) as active_cardholders
from `{{ project }}.{{ stg_dataset }}.int_transactions_enriched`
group by business_date, card_design, support_target
