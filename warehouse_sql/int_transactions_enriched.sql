-- int_transactions_enriched
-- grain: one row per card transaction (transaction_id)
-- filters: none
-- formula: each transaction with its card's design and that design's support target;
--          support_target = '(none)' for designs that support no one
-- owner: data-platform (cardlake)
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
from `{{ project }}.{{ stg_dataset }}.stg_transactions` as t
left join `{{ project }}.{{ stg_dataset }}.stg_cards` as c
    on t.card_id = c.card_id
left join `{{ project }}.{{ stg_dataset }}.stg_card_designs` as d
    on c.card_design_id = d.card_design_id
left join `{{ project }}.{{ stg_dataset }}.stg_support_targets` as s
    on d.support_target_id = s.support_target_id
