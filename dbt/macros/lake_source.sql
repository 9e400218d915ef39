{#
    A lake dataset as a relation: `source('lake', name)` when it has partitions, otherwise an
    empty relation with the same typed columns (taken from the generated sources YAML), so a
    dataset nobody has produced yet (no pool swim, no nap) does not break the build.
#}
{% macro lake_source(name) -%}
    {%- set has_files = true -%}
    {%- if execute -%}
        {#- Where the lake is, and the glob of a dataset's files below its folder: vars the
            pipeline passes (garmin_pipeline/warehouse/dbt_project.py, `dbt_vars`). -#}
        {%- if not var("lake_dir", "") -%}
            {{ exceptions.raise_compiler_error(
                "the dbt var lake_dir (where the lake is) is not set: the pipeline passes it; "
                ~ "by hand, pass --vars \"$(python -m garmin_pipeline.warehouse.dbt_project)\""
            ) }}
        {%- endif -%}
        {%- set pattern = var("lake_dir") ~ "/" ~ name ~ "/" ~ var("lake_files") -%}
        {#- A path is a SQL string literal here: quotes doubled ("it's data"). -#}
        {%- set found = run_query("select count(*) from glob(" ~ sql_string(pattern) ~ ")") -%}
        {%- set has_files = found.columns[0].values()[0] > 0 -%}
    {%- endif -%}
    {%- if has_files -%}
        {{ source('lake', name) }}
    {%- else -%}
        {%- set node = graph.sources["source." ~ project_name ~ ".lake." ~ name] -%}
        (
            select
                null::varchar as account,
                null::date as "date"
                {%- for column in node.columns.values() %},
                null::{{ column.data_type }} as {{ adapter.quote(column.name) }}
                {%- endfor %}
            where false
        )
    {%- endif -%}
{%- endmacro %}


{#- `value` as a SQL string literal: in quotes, its own quotes doubled. -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
