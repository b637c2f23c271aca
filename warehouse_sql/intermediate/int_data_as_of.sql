with transactions as (
    select
        business_date,
        transacted_at
    from `{{ project }}.{{ stg_dataset }}.stg_transactions`
)

select
    max(transacted_at) as as_of_at,
    max(business_date) as as_of_date
from transactions
