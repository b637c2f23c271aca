with statement_status as (
    select
        as_of_month_end,
        card_id,
        balance_jpy,
        days_past_due,
        dpd_bucket
    from `{{ project }}.{{ stg_dataset }}.int_statement_status_monthly`
)

select
    as_of_month_end,
    sum(balance_jpy) as outstanding_balance_jpy,
    sum(if(dpd_bucket = 'current', balance_jpy, 0)) as current_balance_jpy,
    sum(if(dpd_bucket = 'dpd_1_29', balance_jpy, 0)) as dpd_1_29_balance_jpy,
    sum(if(dpd_bucket = 'dpd_30_59', balance_jpy, 0)) as dpd_30_59_balance_jpy,
    sum(if(dpd_bucket = 'dpd_60_89', balance_jpy, 0)) as dpd_60_89_balance_jpy,
    sum(if(dpd_bucket = 'dpd_90_plus', balance_jpy, 0)) as dpd_90_plus_balance_jpy,
    sum(if(days_past_due > 0, balance_jpy, 0)) as delinquent_balance_jpy,
    count(distinct if(days_past_due > 0, card_id, null)) as delinquent_cards,
    safe_divide(sum(if(days_past_due > 0, balance_jpy, 0)), sum(balance_jpy)) as delinquency_rate
from statement_status
group by as_of_month_end
