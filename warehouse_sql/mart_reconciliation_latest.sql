-- mart_reconciliation_latest
-- grain: one row per raw table: its latest reconciliation against the source
-- filters: the newest check of each table
-- formula: partitions_checked = partitions compared; partitions_mismatched = partitions
--          where any metric differs; status = ok | mismatch
-- owner: data-platform (cardlake)
with latest as (
    select
        table_name,
        max(checked_at) as checked_at
    from `{{ project }}.{{ ops_dataset }}.reconciliation`
    group by table_name
)

select
    r.table_name,
    r.checked_at,
    any_value(r.run_id) as run_id,
    countif(r.metric = 'rows') as partitions_checked,
    count(distinct if(not r.matches, coalesce(cast(r.business_date as string), '-'), null))
        as partitions_mismatched,
    sum(if(r.metric = 'rows', r.source_value, 0)) as source_rows,
    sum(if(r.metric = 'rows', r.warehouse_value, 0)) as warehouse_rows,
    if(logical_and(r.matches), 'ok', 'mismatch') as status
from `{{ project }}.{{ ops_dataset }}.reconciliation` as r
inner join latest as l on r.table_name = l.table_name and r.checked_at = l.checked_at
group by r.table_name, r.checked_at
