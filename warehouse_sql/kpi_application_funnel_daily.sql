-- kpi_application_funnel_daily
-- grain: one row per application date (Asia/Tokyo) with at least one application
-- filters: none
-- formula: approval_rate = approved / (approved + rejected), pending excluded;
--          median_hours_to_decision = median of decided_at - applied_at over decided ones;
--          cards_issued = cards issued from that day's applications;
--          activation_rate_30d = cards activated within 30 days of issue / cards issued
--          (the latest 30 days are still maturing)
-- owner: data-platform (cardlake)
with applications as (
    select
        a.application_date,
        a.application_id,
        a.status,
        percentile_cont(a.hours_to_decision, 0.5)
            over (partition by a.application_date)
            as median_hours_to_decision
    from `{{ project }}.{{ stg_dataset }}.stg_applications` as a
),

cards as (
    select
        application_id,
        count(*) as cards_issued,
        countif(activated_within_30_days) as cards_activated_30d
    from `{{ project }}.{{ stg_dataset }}.stg_cards`
    group by application_id
)

select
    a.application_date,
    count(*) as applications,
    countif(a.status = 'approved') as approved,
    countif(a.status = 'rejected') as rejected,
    countif(a.status = 'pending') as pending,
    safe_divide(
        countif(a.status = 'approved'), countif(a.status in ('approved', 'rejected'))
    ) as approval_rate,
    any_value(a.median_hours_to_decision) as median_hours_to_decision,
    coalesce(sum(c.cards_issued), 0) as cards_issued,
    safe_divide(sum(c.cards_activated_30d), sum(c.cards_issued)) as activation_rate_30d
from applications as a
left join cards as c on a.application_id = c.application_id
group by a.application_date
