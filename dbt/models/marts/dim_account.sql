-- One row per account: the days it holds data for, and the heart-rate anchors that training
-- load (TRIMP) and heart-rate zones are computed from.

{%- set max_hr_override = var('max_heart_rate_bpm', none) %}

with days as (

    select account, min(calendar_date) as first_date, max(calendar_date) as last_date
    from {{ ref('stg_daily_summary') }} group by account
    union all
    select account, min(calendar_date), max(calendar_date)
    from {{ ref('stg_daily_steps') }} group by account
    union all
    select account, min(calendar_date), max(calendar_date)
    from {{ ref('stg_sleep') }} group by account
    union all
    select account, min(calendar_date), max(calendar_date)
    from {{ ref('stg_heart_rate') }} group by account
    union all
    select account, min(calendar_date), max(calendar_date)
    from {{ ref('stg_hrv') }} group by account
    union all
    select account, min(calendar_date), max(calendar_date)
    from {{ ref('stg_resting_heart_rate') }} group by account
    union all
    select account, min(calendar_date), max(calendar_date)
    from {{ ref('stg_weigh_ins') }} group by account
    union all
    select account, min(calendar_date), max(calendar_date)
    from {{ ref('stg_training_status') }} group by account
    union all
    select account, min(activity_date), max(activity_date)
    from {{ ref('stg_activities') }} group by account

),

-- The highest heart rate ever seen: in an activity (list or FIT session) or over a whole day.
observed_max_hr as (

    select account, max(max_heart_rate_bpm) as max_heart_rate_bpm
    from {{ ref('stg_activities') }} group by account
    union all
    select account, max(max_heart_rate_bpm)
    from {{ ref('stg_activity_sessions') }} group by account
    union all
    select account, max(max_heart_rate_bpm)
    from {{ ref('stg_daily_summary') }} group by account

),

resting_hr as (

    select account, resting_heart_rate_bpm
    from {{ ref('stg_resting_heart_rate') }}
    union all
    select account, resting_heart_rate_bpm
    from {{ ref('stg_daily_summary') }}

),

accounts as (

    select account, min(first_date) as first_date, max(last_date) as last_date
    from days
    where first_date is not null
    group by account

),

max_hr as (

    select account, max(max_heart_rate_bpm) as max_heart_rate_bpm
    from observed_max_hr
    group by account

),

typical_resting_hr as (

    select account, median(resting_heart_rate_bpm) as resting_heart_rate_bpm
    from resting_hr
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
