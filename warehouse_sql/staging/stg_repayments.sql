with repayments as (
    select
        repayment_id,
        statement_id,
        member_id,
        channel,
        store_chain,
        amount,
        paid_at,
        business_date
    from `{{ project }}.{{ raw_dataset }}.repayments`
)

select
    repayment_id,
    statement_id,
    member_id,
    channel,
    store_chain,
    amount as amount_jpy,
    paid_at,
    business_date as paid_date
from repayments
