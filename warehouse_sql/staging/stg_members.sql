with members as (
    select
        member_id,
        created_at,
        business_date,
        birth_date_age_band,
        gender,
        prefecture
    from `{{ project }}.{{ raw_dataset }}.members`
)

select
    member_id,
    created_at as signed_up_at,
    business_date as signup_date,
    cast(date_trunc(business_date, month) as date) as signup_month,
    birth_date_age_band as age_band,
    gender,
    prefecture
from members
