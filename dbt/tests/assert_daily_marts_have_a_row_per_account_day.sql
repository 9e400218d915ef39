-- The daily marts take their rows from the date spine: every account has exactly one row per
-- day from its first to its last, in fct_daily_health and in fct_training_load alike.
-- Returns the accounts whose row counts disagree with dim_account.days_covered.
-- Several models feed it: Dagster shows it as a check on fct_daily_health.
{{ config(meta={'dagster': {'ref': {'name': 'fct_daily_health'}}}) }}

with counts as (

    select account, 'fct_daily_health' as model, count(*) as days
    from {{ ref('fct_daily_health') }}
    group by account
    union all
    select account, 'fct_training_load', count(*)
    from {{ ref('fct_training_load') }}
    group by account

)

select dim_account.account, counts.model, counts.days, dim_account.days_covered
from {{ ref('dim_account') }} as dim_account
left join counts using (account)
where counts.days is distinct from dim_account.days_covered
