-- kpi_daily_gmv
-- grain: one row per business date (Asia/Tokyo) with at least one transaction
-- filters: none
-- formula: gmv_jpy = sum(captured amount) - sum(refunded amount);
--          capture_count = number of captures; average_ticket_jpy = captured amount / captures
-- owner: data-platform (cardlake)
select
    business_date,
    sum(signed_amount_jpy) as gmv_jpy,
    countif(txn_type = 'capture') as capture_count,
    safe_divide(
        sum(if(txn_type = 'capture', amount_jpy, 0)), countif(txn_type = 'capture')
    ) as average_ticket_jpy
from `{{ project }}.{{ stg_dataset }}.stg_transactions`
group by business_date
