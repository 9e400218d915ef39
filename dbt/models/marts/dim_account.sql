-- One row per account: the days it holds data for, and the heart-rate anchors that training
-- load (TRIMP) and heart-rate zones are computed from.

{%- set max_hr_override = var('max_heart_rate_bpm', none) %}

with days as (

    select * from {{ ref('int_account_days') }}

),

accounts as (

    select account, min(calendar_date) as first_date, max(calendar_date) as last_date
    from days
    where is_covered
    group by account

),

-- The highest heart rate ever seen: in an activity (list or FIT session) or over a whole day.
max_hr as (

    select account, max(max_heart_rate_bpm) as max_heart_rate_bpm
    from days
    group by account

),

-- The median of every daily resting heart rate, from its own dataset and from the summaries.
typical_resting_hr as (

    select account, median(resting_heart_rate_bpm) as resting_heart_rate_bpm
    from (
        select account, resting_heart_rate_bpm from days
        union all
        select account, summary_resting_heart_rate_bpm from days
    )
    group by account

)

select
    accounts.account,
    accounts.first_date,
    accounts.last_date,
    datediff('day', accounts.first_date, accounts.last_date) + 1 as days_covered,
    {%- if max_hr_override is not none %}
    cast({{ max_hr_override }} as double) as max_heart_rate_bpm,
    'var' as max_heart_rate_source,
    {%- else %}
    cast(max_hr.max_heart_rate_bpm as double) as max_heart_rate_bpm,
    'observed' as max_heart_rate_source,
    {%- endif %}
    cast(typical_resting_hr.resting_heart_rate_bpm as double) as typical_resting_heart_rate_bpm
from accounts
left join max_hr using (account)
left join typical_resting_hr using (account)
