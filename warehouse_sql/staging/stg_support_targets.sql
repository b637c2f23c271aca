with support_targets as (
    select
        support_target_id,
        name,
        category,
        contribution_rate
    from `{{ project }}.{{ raw_dataset }}.support_targets`
)

select
    support_target_id,
    name as support_target,
    category as support_category,
    contribution_rate
from support_targets
