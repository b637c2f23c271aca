with transactions as (
    select
        member_id,
        business_date
    from `{{ project }}.{{ stg_dataset }}.stg_transactions`
    where txn_type = 'capture'
),

data_as_of as (
    select as_of_date
    from `{{ project }}.{{ stg_dataset }}.int_data_as_of`
),

member_days as (
    select distinct
        member_id,
        business_date
    from transactions
),

calendar as (
    select
        calendar_date,
        calendar_date < bounds.as_of_date as is_complete
    from (
        select
            min(md.business_date) as first_date,
            any_value(a.as_of_date) as as_of_date
        from member_days as md
        cross join data_as_of as a
    ) as bounds
    cross join unnest(generate_date_array(bounds.first_date, bounds.as_of_date)) as calendar_date
),

active as (
    select
        c.calendar_date,
        count(distinct if(md.business_date = c.calendar_date, md.member_id, null))
            as daily_active_cardholders,
        count(distinct md.member_id) as active_cardholders_30d
    from calendar as c
    cross join member_days as md
    where md.business_date between date_sub(c.calendar_date, interval 29 day) and c.calendar_date
    group by c.calendar_date
)

select
    c.calendar_date as business_date,
    c.is_complete,
    coalesce(a.daily_active_cardholders, 0) as daily_active_cardholders,
    coalesce(a.active_cardholders_30d, 0) as active_cardholders_30d
from calendar as c
left join active as a on c.calendar_date = a.calendar_date
