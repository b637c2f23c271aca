with transactions as (
    select
        member_id,
        business_date,
        amount_jpy
    from `{{ project }}.{{ stg_dataset }}.stg_transactions`
    where txn_type = 'capture'
)

select
    member_id,
    cast(date_trunc(business_date, month) as date) as activity_month,
    count(*) as captures,
    sum(amount_jpy) as captured_amount_jpy
from transactions
group by member_id, activity_month
