with gmv as (
    select
        period_start,
        is_complete,
        breakdown,
        support_target_id,
        support_target,
        support_category,
        contribution_rate,
        gmv_jpy
    from `{{ project }}.{{ stg_dataset }}.int_gmv_by_period`
    where period_grain = 'month' and breakdown in ('support_target', 'total')
),

fan_cards as (
    select
        period_start,
        is_complete,
        support_target,
        support_category,
        contribution_rate,
        gmv_jpy
    from gmv
    where breakdown = 'support_target' and support_target_id is not null
),

totals as (
    select
        period_start,
        gmv_jpy as total_gmv_jpy
    from gmv
    where breakdown = 'total'
)

select
    f.period_start as spend_month,
    f.is_complete,
    f.support_target,
    f.support_category,
    f.contribution_rate,
    f.gmv_jpy as fan_card_gmv_jpy,
    round(f.gmv_jpy * f.contribution_rate, 0) as contribution_jpy,
    safe_divide(f.gmv_jpy, t.total_gmv_jpy) as share_of_total_gmv
from fan_cards as f
inner join totals as t on f.period_start = t.period_start
