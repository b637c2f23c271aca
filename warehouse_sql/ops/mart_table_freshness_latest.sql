with finished_runs as (
    select
        table_name,
        outcome,
        kind,
        finished_at,
        error,
        rows_in_warehouse,
        data_quality
    from `{{ project }}.{{ ops_dataset }}.run_records`
    where outcome != 'running'
),

newest as (
    select
        table_name,
        finished_at as last_run_at,
        outcome as last_outcome,
        error as last_error
    from finished_runs
    qualify row_number() over (partition by table_name order by finished_at desc) = 1
),

newest_success as (
    select
        table_name,
        finished_at as last_success_at,
        kind as last_success_kind,
        rows_in_warehouse,
        data_quality
    from finished_runs
    where outcome = 'succeeded'
    qualify row_number() over (partition by table_name order by finished_at desc) = 1
)

select
    n.table_name,
    n.last_run_at,
    n.last_outcome,
    n.last_error,
    s.last_success_at,
    s.last_success_kind,
    s.rows_in_warehouse,
    s.data_quality
from newest as n
left join newest_success as s on n.table_name = s.table_name
