-- stg_repayments
-- grain: one row per repayment (repayment_id)
-- filters: none
-- formula: paid_date = paid_at in Asia/Tokyo; store_chain is set for convenience-store ATMs
-- owner: data-platform (cardlake)
select
    repayment_id,
    statement_id,
    member_id,
    channel,
    store_chain,
    amount as amount_jpy,
    paid_at,
    business_date as paid_date
from `{{ project }}.{{ raw_dataset }}.repayments`
