with statement_status as (
    select
        statement_id,
        as_of_month_end,
        balance_jpy,
        dpd_bucket
    from `{{ project }}.{{ stg_dataset }}.int_statement_status_monthly`
),

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
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
),

rolls as (
    select
        as_of_month_end,
        from_bucket,
        to_bucket,
        count(*) as statements,
        sum(balance_jpy) as balance_jpy,
        safe_divide(
            sum(balance_jpy),
            sum(sum(balance_jpy)) over (partition by as_of_month_end, from_bucket)
        ) as roll_rate
    from transitions
    group by as_of_month_end, from_bucket, to_bucket
),

ordered as (
    select
        as_of_month_end,
        from_bucket,
        to_bucket,
        statements,
        balance_jpy,
        roll_rate,
        case from_bucket
            when 'current' then 0
            when 'dpd_1_29' then 1
            when 'dpd_30_59' then 2
            when 'dpd_60_89' then 3
            when 'dpd_90_plus' then 4
        end as from_bucket_order,
        case to_bucket
            when 'current' then 0
            when 'dpd_1_29' then 1
            when 'dpd_30_59' then 2
            when 'dpd_60_89' then 3
            when 'dpd_90_plus' then 4
        end as to_bucket_order
    from rolls
),

flagged as (
    select
        o.as_of_month_end,
        o.from_bucket,
        o.from_bucket_order,
        o.to_bucket,
        o.statements,
        o.balance_jpy,
        o.roll_rate,
        o.as_of_month_end < a.as_of_date as is_complete,
        coalesce(o.to_bucket_order = o.from_bucket_order + 1, false) as is_roll_forward
    from ordered as o
    cross join data_as_of as a
)

select
    as_of_month_end,
    is_complete,
    from_bucket,
    from_bucket_order,
    to_bucket,
    is_roll_forward,
    statements,
    balance_jpy,
    roll_rate
from flagged
