{#
    Incremental marts rebuild a trailing window of days on every run: per account, the days
    from `lookback_days` (dbt_project.yml) before the last day the mart holds for it, that day
    capped at tomorrow so one wrongly dated row cannot freeze the window in the future.
    Everything else stays as it is. An account the mart does not hold yet is built whole.

    A run that changed days older than the window has to be a --full-refresh; the pipeline's
    dbt command line (garmin_pipeline.warehouse.dbt_project.build_args) makes sure of that.

    The windows are read once when the model compiles and written into its SQL as literals:
    a literal filter on a hive partition column (the staging views' calendar_date and
    activity_date) lets DuckDB skip whole lake partitions instead of opening every file.
#}

{#- {account: first day of its window} for the model being built; {} on a full build. -#}
{% macro lookback_windows(date_column) %}
    {%- set windows = {} -%}
    {%- if execute and is_incremental() -%}
        {%- set found = run_query(
            "select account, cast(least(max(" ~ date_column ~ "), current_date + 1) - "
            ~ var('lookback_days') ~ " as date) as window_start from " ~ this
            ~ " group by account order by account"
        ) -%}
        {%- for row in found.rows -%}
            {%- do windows.update({row[0]: row[1] | string}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(windows) -}}
{% endmacro %}


{#-
    SQL condition: the row's day lies in its account's window, or (when given) is one of
    `extra_days[account]`; accounts without a window are built whole. A CASE on the account
    keeps it cheap to test against every partition's hive values.
-#}
{% macro in_lookback_window(windows, date_column, account_column='account', pad_days=0, extra_days={}) -%}
    {%- if not windows -%}
        true
    {%- else -%}
        (case {{ account_column }}
        {%- for account, start in windows.items() %}
            when {{ account_literal(account) }} then {{ date_column }} >= date '{{ start }}'
            {{- ' - ' ~ pad_days if pad_days else '' }}
            {%- if extra_days.get(account) %} or {{ date_column }} in (
                {%- for day in extra_days[account] -%}
                    date '{{ day }}'{{ ', ' if not loop.last }}
                {%- endfor -%}
            )
            {%- endif %}
        {%- endfor %}
            else true
        end)
    {%- endif -%}
{%- endmacro %}


{% macro account_literal(account) -%}
    {{ sql_string(account) }}
{%- endmacro %}


{#-
    The incremental strategy `lookback_window`: delete the rows in each account's window (so a
    row that disappeared from the lake disappears here too) and the rows whose unique_key the
    new rows carry (a row rebuilt from outside the window, or moved to another day), then
    insert the new rows. The model names its day column in `meta.lookback_column`.
-#}
{% macro get_incremental_lookback_window_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set date_column = config.meta_require('lookback_column') -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {#- The same windows the model compiled with: the target is unchanged until this runs. -#}
    {%- set windows = lookback_windows(date_column) -%}

    delete from {{ target }} as existing
    where {{ in_lookback_window(windows, 'existing.' ~ date_column, 'existing.account') }}
    {%- if keys %}
        or exists (
            select 1 from {{ source }} as rebuilt
            where {% for key in keys -%}
                rebuilt.{{ key }} = existing.{{ key }}{{ ' and ' if not loop.last }}
            {%- endfor %}
        )
    {%- endif %};

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
{% endmacro %}


{#- {account: [day, ...]} from a query result whose rows are (account, day). -#}
{% macro days_by_account(result) %}
    {%- set days = {} -%}
    {%- for row in result.rows -%}
        {%- if row[0] not in days -%}
            {%- do days.update({row[0]: []}) -%}
        {%- endif -%}
        {%- do days[row[0]].append(row[1] | string) -%}
    {%- endfor -%}
    {{- return(days) -}}
{% endmacro %}
