with applications as (
    select
        application_id,
        application_date,
        status,
        hours_to_decision
    from `{{ project }}.{{ stg_dataset }}.stg_applications`
),

cards as (
    select
        application_id,
        activated_within_30_days
    from `{{ project }}.{{ stg_dataset }}.stg_cards`
),

decisions as (
    select
        application_date,
        application_id,
        status,
        percentile_cont(hours_to_decision, 0.5)
            over (partition by application_date)
            as median_hours_to_decision
    from applications
),

issued as (
    select
        application_id,
        count(*) as cards_issued,
        countif(activated_within_30_days) as cards_activated_30d
    from cards
    group by application_id
)

select
    d.application_date,
    count(*) as applications,
    countif(d.status = 'approved') as approved,
    countif(d.status = 'rejected') as rejected,
    countif(d.status = 'pending') as pending,
    safe_divide(
        countif(d.status = 'approved'), countif(d.status in ('approved', 'rejected'))
    ) as approval_rate,
    any_value(d.median_hours_to_decision) as median_hours_to_decision,
    coalesce(sum(i.cards_issued), 0) as cards_issued,
    safe_divide(sum(i.cards_activated_30d), sum(i.cards_issued)) as activation_rate_30d
from decisions as d
left join issued as i on d.application_id = i.application_id
group by d.application_date
