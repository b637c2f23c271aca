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

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
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

decision_time as (
    select cast(ceil(max(p95_hours) / 24) as int64) as maturity_days
    from (
        select percentile_cont(hours_to_decision, 0.95) over () as p95_hours
        from applications
        where status in ('approved', 'rejected') and hours_to_decision is not null
    ) as decided
),

issued as (
    select
        application_id,
        count(*) as cards_issued,
        countif(activated_within_30_days) as cards_activated_30d
    from cards
    group by application_id
),

daily as (
    select
        d.application_date,
        count(*) as applications,
        countif(d.status = 'approved') as approved,
        countif(d.status = 'rejected') as rejected,
        countif(d.status = 'pending') as pending,
        any_value(d.median_hours_to_decision) as median_hours_to_decision,
        coalesce(sum(i.cards_issued), 0) as cards_issued,
        sum(i.cards_activated_30d) as cards_activated_30d
    from decisions as d
    left join issued as i on d.application_id = i.application_id
    group by d.application_date
),

flagged as (
    select
        d.application_date,
        d.applications,
        d.approved,
        d.rejected,
        d.pending,
        d.median_hours_to_decision,
        d.cards_issued,
        d.application_date < a.as_of_date as is_complete,
        coalesce(date_diff(a.as_of_date, d.application_date, day) > t.maturity_days, false)
            as is_mature,
        coalesce(
            date_diff(a.as_of_date, d.application_date, day) > t.maturity_days + 7 + 30, false
        ) as is_activation_mature,
        safe_divide(d.approved, d.approved + d.rejected) as approval_rate,
        safe_divide(d.cards_activated_30d, d.cards_issued) as activation_rate_30d
    from daily as d
    cross join data_as_of as a
    cross join decision_time as t
)

select
    application_date,
    is_complete,
    is_mature,
    is_activation_mature,
    applications,
    approved,
    rejected,
    pending,
    approval_rate,
    median_hours_to_decision,
    cards_issued,
    activation_rate_30d
from flagged
