with cards as (
    select
        card_id,
        member_id,
        application_id,
        card_design_id,
        status,
        issued_at,
        business_date,
        activated_at
    from `{{ project }}.{{ raw_dataset }}.cards`
)

select
    card_id,
    member_id,
    application_id,
    card_design_id,
    status,
    issued_at,
    business_date as issue_date,
    activated_at,
    coalesce(
        timestamp_diff(activated_at, issued_at, second) <= 30 * 86400, false
    ) as activated_within_30_days
from cards
