-- int_data_as_of
-- grain: one row: the newest business date the warehouse holds
-- filters: none
-- formula: as_of_date = max(business_date) of transactions; month-end, 30-day and
--          vintage KPIs stop there instead of at today's date, so they never report
--          days the data has not reached yet
-- owner: data-platform (cardlake)
select max(business_date) as as_of_date
from `{{ project }}.{{ stg_dataset }}.stg_transactions`
