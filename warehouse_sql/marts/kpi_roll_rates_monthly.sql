with statement_status as (
    select
        statement_id,
        as_of_month_end,
        balance_jpy,
        dpd_bucket
    from `{{ project }}.{{ stg_dataset }}.int_statement_status_monthly`
),

transitions as (
    select
        cur.as_of_month_end,
        prev.dpd_bucket as from_bucket,
        cur.dpd_bucket as to_bucket,
        prev.balance_jpy
    from statement_status as prev
    inner join statement_status as cur
        on
            prev.statement_id = cur.statement_id
            and last_day(date_add(prev.as_of_month_end, interval 1 day)) = cur.as_of_month_end
    where prev.dpd_bucket != 'paid'
)

select
    as_of_month_end,
    from_bucket,
    to_bucket,
    count(*) as statements,
    sum(balance_jpy) as balance_jpy,
    safe_divide(
        sum(balance_jpy), sum(sum(balance_jpy)) over (partition by as_of_month_end, from_bucket)
    ) as roll_rate
from transitions
group by as_of_month_end, from_bucket, to_bucket
