-- kpi_repayments_monthly
-- grain: one row per calendar month of payment (Asia/Tokyo) and repayment channel
-- filters: none
-- formula: repayments = count; repaid_amount_jpy = sum of amounts;
--          average_repayment_jpy = repaid_amount_jpy / repayments
-- owner: data-platform (cardlake)
select
    cast(date_trunc(paid_date, month) as date) as repayment_month,
    channel,
    count(*) as repayments,
    sum(amount_jpy) as repaid_amount_jpy,
    safe_divide(sum(amount_jpy), count(*)) as average_repayment_jpy
from `{{ project }}.{{ stg_dataset }}.stg_repayments`
group by repayment_month, channel
