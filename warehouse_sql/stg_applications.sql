-- stg_applications
-- grain: one row per card application (application_id)
-- filters: none
-- formula: application_date = applied_at in Asia/Tokyo;
--          hours_to_decision = (decided_at - applied_at) in hours, null while pending
-- owner: data-platform (cardlake)
select
    application_id,
    member_id,
    requested_card_design_id,
    channel,
    employment_type,
    annual_income as annual_income_jpy,
    applied_at,
    business_date as application_date,
    status,
    decided_at,
    credit_limit as credit_limit_jpy,
    rejection_reason,
    timestamp_diff(decided_at, applied_at, microsecond) / 3600000000 as hours_to_decision
from `{{ project }}.{{ raw_dataset }}.applications`
