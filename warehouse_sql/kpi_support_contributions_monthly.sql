-- kpi_support_contributions_monthly
-- grain: one row per calendar month (Asia/Tokyo) and support target with fan-card spend
-- filters: transactions on fan designs only (designs with a support target)
-- formula: fan_card_gmv_jpy = captures - refunds on the target's fan cards;
--          contribution_jpy = round(fan_card_gmv_jpy * contribution_rate);
--          share_of_total_gmv = fan_card_gmv_jpy / the month's GMV on all cards
-- owner: data-platform (cardlake)
with monthly as (
    select
        cast(date_trunc(business_date, month) as date) as spend_month,
        support_target_id,
        support_target,
        support_category,
        any_value(contribution_rate) as contribution_rate,
        sum(signed_amount_jpy) as gmv_jpy
    from `{{ project }}.{{ stg_dataset }}.int_transactions_enriched`
    group by spend_month, support_target_id, support_target, support_category
),

totals as (
    select
        spend_month,
        sum(gmv_jpy) as total_gmv_jpy
    from monthly
    group by spend_month
)

select
    m.spend_month,
    m.support_target,
    m.support_category,
    m.contribution_rate,
    m.gmv_jpy as fan_card_gmv_jpy,
    round(m.gmv_jpy * m.contribution_rate, 0) as contribution_jpy,
    safe_divide(m.gmv_jpy, t.total_gmv_jpy) as share_of_total_gmv
from monthly as m
inner join totals as t on m.spend_month = t.spend_month
where m.support_target_id is not null
