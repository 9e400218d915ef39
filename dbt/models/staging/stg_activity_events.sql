-- One row per FIT event message.
-- An activity file may have none of these messages, so the lake may hold
-- no activity_events partition at all: then this is an empty relation with the key columns.
{%- set files = 1 -%}
{%- if execute -%}
    {%- set pattern = var("data_dir") ~ "/lake/activity_events/*/*/part-0.parquet" -%}
    {%- set files = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
{%- endif %}
{% if files > 0 %}
with source as (

    select * from {{ source('lake', 'activity_events') }}

)

-- The hive column `date` is the activity's local start date.
select account, "date" as activity_date, * exclude (account, "date")
from source
{% else %}
select
    null::varchar as account,
    null::date as activity_date,
    null::bigint as activity_id,
    null::uinteger as event_index
where false
{% endif %}
