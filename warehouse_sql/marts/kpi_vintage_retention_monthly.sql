with members as (
    select
        member_id,
        signup_month
    from `{{ project }}.{{ stg_dataset }}.stg_members`
),

member_activity as (
    select
        member_id,
        activity_month
    from `{{ project }}.{{ stg_dataset }}.int_member_activity_monthly`
),

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
),

cohorts as (
    select
        signup_month,
        count(*) as cohort_members
    from members
    group by signup_month
),

grid as (
    select
        c.signup_month,
        c.cohort_members,
        months_since_signup,
        last_day(date_add(c.signup_month, interval months_since_signup month), month)
        < a.as_of_date as is_complete
    from cohorts as c
    cross join data_as_of as a
    cross join unnest(
        generate_array(
            0, date_diff(cast(date_trunc(a.as_of_date, month) as date), c.signup_month, month)
        )
    ) as months_since_signup
),

activity as (
    select
        m.signup_month,
        date_diff(act.activity_month, m.signup_month, month) as months_since_signup,
        count(*) as active_members
    from member_activity as act
    inner join members as m
        on act.member_id = m.member_id
    group by m.signup_month, months_since_signup
)

select
    g.signup_month,
    g.months_since_signup,
    g.is_complete,
    g.cohort_members,
    coalesce(act.active_members, 0) as active_members,
    safe_divide(coalesce(act.active_members, 0), g.cohort_members) as retention_rate
from grid as g
left join activity as act
    on g.signup_month = act.signup_month and g.months_since_signup = act.months_since_signup
