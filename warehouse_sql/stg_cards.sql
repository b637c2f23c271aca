-- stg_cards
-- grain: one row per issued card (card_id)
-- filters: none; the PAN token and display digits stay in raw
-- formula: issue_date = issued_at in Asia/Tokyo;
--          activated_within_30_days = activation no later than 30 x 24 h after issue
-- owner: data-platform (cardlake)
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
from `{{ project }}.{{ raw_dataset }}.cards`
