with statement_status as (
    select
        as_of_month_end,
        card_id,
        balance_jpy,
        dpd_bucket
    from `{{ project }}.{{ stg_dataset }}.int_statement_status_monthly`
),

statements as (
    select
        card_id,
        statement_month,
        closing_date
    from `{{ project }}.{{ stg_dataset }}.stg_statements`
),

card_months as (
    select
        card_id,
        period_start as txn_month,
        gmv_jpy
    from `{{ project }}.{{ stg_dataset }}.int_gmv_by_period`
    where period_grain = 'month' and breakdown = 'card'
),

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
),

month_ends as (
    select
        a.as_of_date,
        last_day(month_start, month) as as_of_month_end
    from (select min(c.txn_month) as first_month from card_months as c) as bounds
    cross join data_as_of as a
    cross join
        unnest(
            generate_date_array(
                bounds.first_month, a.as_of_date, interval 1 month
            )
        ) as month_start
    where last_day(month_start, month) <= a.as_of_date
),

unbilled as (
    select
        m.as_of_month_end,
        sum(cm.gmv_jpy) as unbilled_balance_jpy
    from month_ends as m
    inner join card_months as cm
        on m.as_of_month_end >= cm.txn_month
    left join statements as s
        on
            cm.card_id = s.card_id
            and cm.txn_month = s.statement_month
            and m.as_of_month_end >= s.closing_date
    where s.card_id is null
    group by m.as_of_month_end
),

billed as (
    select
        as_of_month_end,
        sum(balance_jpy) as billed_outstanding_jpy,
        sum(if(dpd_bucket = 'current', balance_jpy, 0)) as current_balance_jpy,
        sum(if(dpd_bucket = 'dpd_1_29', balance_jpy, 0)) as dpd_1_29_balance_jpy,
        sum(if(dpd_bucket = 'dpd_30_59', balance_jpy, 0)) as dpd_30_59_balance_jpy,
        sum(if(dpd_bucket = 'dpd_60_89', balance_jpy, 0)) as dpd_60_89_balance_jpy,
        sum(if(dpd_bucket = 'dpd_90_plus', balance_jpy, 0)) as dpd_90_plus_balance_jpy,
        count(
            distinct if(
                dpd_bucket in ('dpd_30_59', 'dpd_60_89', 'dpd_90_plus') and balance_jpy > 0,
                card_id,
                null
            )
        ) as delinquent_cards
    from statement_status
    group by as_of_month_end
),

positions as (
    select
        m.as_of_month_end,
        m.as_of_month_end < m.as_of_date as is_complete,
        coalesce(b.billed_outstanding_jpy, 0) as billed_outstanding_jpy,
        coalesce(u.unbilled_balance_jpy, 0) as unbilled_balance_jpy,
        coalesce(b.current_balance_jpy, 0) as current_balance_jpy,
        coalesce(b.dpd_1_29_balance_jpy, 0) as dpd_1_29_balance_jpy,
        coalesce(b.dpd_30_59_balance_jpy, 0) as dpd_30_59_balance_jpy,
        coalesce(b.dpd_60_89_balance_jpy, 0) as dpd_60_89_balance_jpy,
        coalesce(b.dpd_90_plus_balance_jpy, 0) as dpd_90_plus_balance_jpy,
        coalesce(b.delinquent_cards, 0) as delinquent_cards
    from month_ends as m
    left join billed as b on m.as_of_month_end = b.as_of_month_end
    left join unbilled as u on m.as_of_month_end = u.as_of_month_end
),

totals as (
    select
        as_of_month_end,
        is_complete,
        billed_outstanding_jpy,
        unbilled_balance_jpy,
        current_balance_jpy,
        dpd_1_29_balance_jpy,
        dpd_30_59_balance_jpy,
        dpd_60_89_balance_jpy,
        dpd_90_plus_balance_jpy,
        delinquent_cards,
        billed_outstanding_jpy + unbilled_balance_jpy as receivables_jpy,
        dpd_1_29_balance_jpy
        + dpd_30_59_balance_jpy
        + dpd_60_89_balance_jpy
        + dpd_90_plus_balance_jpy as dpd_1_plus_balance_jpy,
        dpd_30_59_balance_jpy
        + dpd_60_89_balance_jpy
        + dpd_90_plus_balance_jpy as dpd_30_plus_balance_jpy
    from positions
)

select
    as_of_month_end,
    is_complete,
    receivables_jpy,
    billed_outstanding_jpy,
    unbilled_balance_jpy,
    current_balance_jpy,
    dpd_1_29_balance_jpy,
    dpd_30_59_balance_jpy,
    dpd_60_89_balance_jpy,
    dpd_90_plus_balance_jpy,
    dpd_1_plus_balance_jpy,
    dpd_30_plus_balance_jpy,
    delinquent_cards,
    safe_divide(dpd_30_plus_balance_jpy, receivables_jpy) as delinquency_rate,
    safe_divide(dpd_1_plus_balance_jpy, receivables_jpy) as dpd_1_plus_rate
from totals
