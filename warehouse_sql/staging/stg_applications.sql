with applications as (
    select
        application_id,
        member_id,
        requested_card_design_id,
        channel,
        employment_type,
        annual_income,
        applied_at,
        business_date,
        status,
        decided_at,
        credit_limit,
        rejection_reason
    from `{{ project }}.{{ raw_dataset }}.applications`
)

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
from applications
