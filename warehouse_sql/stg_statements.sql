-- stg_statements
-- grain: one row per monthly card statement (statement_id)
-- filters: none
-- formula: billed_amount_jpy = captures minus refunds of the statement month
-- owner: data-platform (cardlake)
select
    statement_id,
    card_id,
    member_id,
    statement_month,
    closing_date,
    due_date,
    billed_amount as billed_amount_jpy,
    minimum_due as minimum_due_jpy
from `{{ project }}.{{ raw_dataset }}.statements`
