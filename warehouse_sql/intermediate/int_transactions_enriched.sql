with transactions as (
    select
        transaction_id,
        card_id,
        member_id,
        business_date,
        txn_type,
        amount_jpy,
        signed_amount_jpy
    from `{{ project }}.{{ stg_dataset }}.stg_transactions`
),

cards as (
    select
        card_id,
        card_design_id
    from `{{ project }}.{{ stg_dataset }}.stg_cards`
),

card_designs as (
    select
        card_design_id,
        card_design,
        support_target_id
    from `{{ project }}.{{ stg_dataset }}.stg_card_designs`
),

support_targets as (
    select
        support_target_id,
        support_target,
        support_category,
        contribution_rate
    from `{{ project }}.{{ stg_dataset }}.stg_support_targets`
)

select
    t.transaction_id,
    t.card_id,
    t.member_id,
    t.business_date,
    t.txn_type,
    t.amount_jpy,
    t.signed_amount_jpy,
    c.card_design_id,
    d.support_target_id,
    s.contribution_rate,
    coalesce(d.card_design, '(unknown)') as card_design,
    coalesce(s.support_target, '(none)') as support_target,
    coalesce(s.support_category, '(none)') as support_category
from transactions as t
left join cards as c
    on t.card_id = c.card_id
left join card_designs as d
    on c.card_design_id = d.card_design_id
left join support_targets as s
    on d.support_target_id = s.support_target_id
