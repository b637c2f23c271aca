with statements as (
    select
        statement_id,
        statement_month,
        due_date,
        billed_amount_jpy
    from `{{ project }}.{{ stg_dataset }}.stg_statements`
),

repayments as (
    select
        statement_id,
        paid_date,
        amount_jpy
    from `{{ project }}.{{ stg_dataset }}.stg_repayments`
),

repaid as (
    select
        s.statement_id,
        sum(r.amount_jpy) as repaid_jpy,
        sum(if(r.paid_date <= s.due_date, r.amount_jpy, 0)) as repaid_on_time_jpy
    from repayments as r
    inner join statements as s
        on r.statement_id = s.statement_id
    group by s.statement_id
)

select
    s.statement_month,
    count(*) as statements,
    sum(s.billed_amount_jpy) as billed_amount_jpy,
    coalesce(sum(r.repaid_jpy), 0) as repaid_amount_jpy,
    coalesce(sum(r.repaid_on_time_jpy), 0) as repaid_on_time_amount_jpy,
    safe_divide(sum(r.repaid_jpy), sum(s.billed_amount_jpy)) as repayment_rate,
    safe_divide(sum(r.repaid_on_time_jpy), sum(s.billed_amount_jpy)) as on_time_repayment_rate
from statements as s
left join repaid as r on s.statement_id = r.statement_id
group by s.statement_month
