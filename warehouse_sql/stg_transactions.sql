-- stg_transactions
-- grain: one row per card transaction (transaction_id)
-- filters: every transaction type is kept; the date filter only satisfies the raw table's
--          require_partition_filter (ad-hoc queries must name dates, this layer reads all)
-- formula: signed_amount_jpy = amount for captures, -amount for refunds, 0 otherwise
--          (authorizations are not yet money moved, declines never are)
-- owner: data-platform (cardlake)
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
from `{{ project }}.{{ raw_dataset }}.transactions`
where business_date >= date '2000-01-01'
