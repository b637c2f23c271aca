-- stg_members
-- grain: one row per registered member
-- filters: none; identifiers stay in raw as tokens, only generalized attributes come here
-- formula: signup_date = registration date in Asia/Tokyo;
--          signup_month = first day of that month
-- owner: data-platform (cardlake)
select
    member_id,
    created_at as signed_up_at,
    business_date as signup_date,
    cast(date_trunc(business_date, month) as date) as signup_month,
    birth_date_age_band as age_band,
    gender,
    prefecture
from `{{ project }}.{{ raw_dataset }}.members`
