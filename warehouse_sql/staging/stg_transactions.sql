with transactions as (
    select
        transaction_id,
        card_id,
        member_id,
        business_date,
        transacted_at,
        txn_type,
        merchant_name,
        mcc,
        currency,
        amount
    from `{{ project }}.{{ raw_dataset }}.transactions`
    where business_date >= date '2000-01-01'
)

select
    transaction_id,
    card_id,
    member_id,
    business_date,
    transacted_at,
    txn_type,
    merchant_name,
    mcc,
    currency,
    amount as amount_jpy,
    case txn_type
        when 'capture' then amount
        when 'refund' then -amount
        else 0
    end as signed_amount_jpy
from transactions
