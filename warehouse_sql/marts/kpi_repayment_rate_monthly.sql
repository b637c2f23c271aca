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

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
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
),

monthly as (
    select
        s.statement_month,
        max(s.due_date) as due_date,
        count(*) as statements,
        sum(s.billed_amount_jpy) as billed_amount_jpy,
        coalesce(sum(r.repaid_jpy), 0) as repaid_amount_jpy,
        coalesce(sum(r.repaid_on_time_jpy), 0) as repaid_on_time_amount_jpy
    from statements as s
    left join repaid as r on s.statement_id = r.statement_id
    group by s.statement_month
),

flagged as (
    select
        m.statement_month,
        m.statements,
        m.billed_amount_jpy,
        m.repaid_amount_jpy,
        m.repaid_on_time_amount_jpy,
        m.due_date < a.as_of_date as is_complete,
        safe_divide(m.repaid_amount_jpy, m.billed_amount_jpy) as repayment_rate,
        safe_divide(m.repaid_on_time_amount_jpy, m.billed_amount_jpy) as on_time_repayment_rate
    from monthly as m
    cross join data_as_of as a
)

select
    statement_month,
    is_complete,
    statements,
    billed_amount_jpy,
    repaid_amount_jpy,
    repaid_on_time_amount_jpy,
    repayment_rate,
    on_time_repayment_rate
from flagged
