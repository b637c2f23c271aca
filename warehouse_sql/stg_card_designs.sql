-- stg_card_designs
-- grain: one row per card design
-- filters: none
-- formula: is_fan_design = the design contributes to a support target
-- owner: data-platform (cardlake)
select
    card_design_id,
    name as card_design,
    brand,
    support_target_id,
    annual_fee as annual_fee_jpy,
    support_target_id is not null as is_fan_design
from `{{ project }}.{{ raw_dataset }}.card_designs`
