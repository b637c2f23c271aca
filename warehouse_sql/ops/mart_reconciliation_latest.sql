with reconciliation as (
    select
        run_id,
        checked_at,
        table_name,
        business_date,
        metric,
        source_value,
        warehouse_value,
        matches
    from `{{ project }}.{{ ops_dataset }}.reconciliation`
),

latest as (
    select
        table_name,
        max(checked_at) as checked_at
    from reconciliation
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
from reconciliation as r
inner join latest as l on r.table_name = l.table_name and r.checked_at = l.checked_at
group by r.table_name, r.checked_at
