-- stg_support_targets
-- grain: one row per support target (a sports team or artist that fan cards support)
-- filters: none
-- formula: contribution_rate is the share of fan-card spend given to the target
-- owner: data-platform (cardlake)
select
    support_target_id,
    name as support_target,
    category as support_category,
    contribution_rate
from `{{ project }}.{{ raw_dataset }}.support_targets`
