with repayments as (
    select
        paid_date,
        channel,
        amount_jpy
    from `{{ project }}.{{ stg_dataset }}.stg_repayments`
)

select
    cast(date_trunc(paid_date, month) as date) as repayment_month,
    channel,
    count(*) as repayments,
    sum(amount_jpy) as repaid_amount_jpy,
    safe_divide(sum(amount_jpy), count(*)) as average_repayment_jpy
from repayments
group by repayment_month, channel
