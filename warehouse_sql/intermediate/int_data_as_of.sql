with transactions as (
    select business_date
    from `{{ project }}.{{ stg_dataset }}.stg_transactions`
)

select max(business_date) as as_of_date
from transactions
