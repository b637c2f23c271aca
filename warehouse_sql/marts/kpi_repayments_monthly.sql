with repayments as (
    select
        paid_date,
        channel,
        amount_jpy
    from `{{ project }}.{{ stg_dataset }}.stg_repayments`
),

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
),

monthly as (
    select
        channel,
        cast(date_trunc(paid_date, month) as date) as repayment_month,
        count(*) as repayments,
        sum(amount_jpy) as repaid_amount_jpy
    from repayments
    group by repayment_month, channel
),

flagged as (
    select
        m.repayment_month,
        m.channel,
        m.repayments,
        m.repaid_amount_jpy,
        last_day(m.repayment_month, month) < a.as_of_date as is_complete,
        safe_divide(m.repaid_amount_jpy, m.repayments) as average_repayment_jpy
    from monthly as m
    cross join data_as_of as a
)

select
    repayment_month,
    is_complete,
    channel,
    repayments,
    repaid_amount_jpy,
    average_repayment_jpy
from flagged
