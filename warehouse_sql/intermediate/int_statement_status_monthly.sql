with statements as (
    select
        statement_id,
        card_id,
        member_id,
        closing_date,
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

bounds as (
    select
        cast(date_trunc(min(s.closing_date), month) as date) as first_month,
        any_value(a.as_of_date) as as_of_date
    from statements as s
    cross join data_as_of as a
),

month_ends as (
    select last_day(month_start) as as_of_month_end
    from bounds
    cross join
        unnest(generate_date_array(bounds.first_month, bounds.as_of_date, interval 1 month))
            as month_start
    where last_day(month_start) <= bounds.as_of_date
),

statement_month_ends as (
    select
        s.statement_id,
        s.card_id,
        s.member_id,
        s.due_date,
        s.billed_amount_jpy,
        m.as_of_month_end
    from statements as s
    cross join month_ends as m
    where s.closing_date <= m.as_of_month_end
),

repaid as (
    select
        sme.statement_id,
        sme.as_of_month_end,
        coalesce(sum(r.amount_jpy), 0) as repaid_jpy
    from statement_month_ends as sme
    left join repayments as r
        on sme.statement_id = r.statement_id and sme.as_of_month_end >= r.paid_date
    group by sme.statement_id, sme.as_of_month_end
),

balances as (
    select
        sme.statement_id,
        sme.card_id,
        sme.member_id,
        sme.as_of_month_end,
        sme.due_date,
        sme.billed_amount_jpy,
        greatest(sme.billed_amount_jpy - r.repaid_jpy, 0) as balance_jpy
    from statement_month_ends as sme
    inner join repaid as r
        on sme.statement_id = r.statement_id and sme.as_of_month_end = r.as_of_month_end
)

select
    statement_id,
    card_id,
    member_id,
    as_of_month_end,
    due_date,
    billed_amount_jpy,
    balance_jpy,
    if(
        balance_jpy > 0, greatest(date_diff(as_of_month_end, due_date, day), 0), 0
    ) as days_past_due,
    case
        when balance_jpy <= 0 then 'paid'
        when as_of_month_end <= due_date then 'current'
        when date_diff(as_of_month_end, due_date, day) < 30 then 'dpd_1_29'
        when date_diff(as_of_month_end, due_date, day) < 60 then 'dpd_30_59'
        when date_diff(as_of_month_end, due_date, day) < 90 then 'dpd_60_89'
        else 'dpd_90_plus'
    end as dpd_bucket
from balances
