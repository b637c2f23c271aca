with card_designs as (
    select
        card_design_id,
        name,
        brand,
        support_target_id,
        annual_fee
    from `{{ project }}.{{ raw_dataset }}.card_designs`
)

select
    card_design_id,
    name as card_design,
    brand,
    support_target_id,
    annual_fee as annual_fee_jpy,
    support_target_id is not null as is_fan_design
from card_designs
