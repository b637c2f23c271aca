with statements as (
    select
        statement_id,
        card_id,
        member_id,
        statement_month,
        closing_date,
        due_date,
        billed_amount,
        minimum_due
    from `{{ project }}.{{ raw_dataset }}.statements`
)

select
    statement_id,
    card_id,
    member_id,
    statement_month,
    closing_date,
    due_date,
    billed_amount as billed_amount_jpy,
    minimum_due as minimum_due_jpy
from statements
