-- int_member_monthly_activity
-- grain: one row per member and calendar month (Asia/Tokyo) with at least one capture
-- filters: captures only (declines, authorizations and refunds are not activity)
-- formula: captures = number of captures; captured_amount_jpy = their amount
-- owner: data-platform (cardlake)
select
    member_id,
    cast(date_trunc(business_date, month) as date) as activity_month,
    count(*) as captures,
    sum(amount_jpy) as captured_amount_jpy
from `{{ project }}.{{ stg_dataset }}.stg_transactions`
where txn_type = 'capture'
group by member_id, activity_month
