-- Best 5 km efforts: each account's ten fastest 5 km stretches within its runs, with the
-- run they belong to, where in it they started and the pace they hold.

with efforts as (

    select
        efforts.account,
        efforts.activity_id,
        efforts.activity_date,
        activities.activity_name,
        efforts.activity_type,
        efforts.effort_s,
        efforts.pace_s_per_km,
        efforts.start_offset_m,
        row_number() over (
            partition by efforts.account order by efforts.effort_s, efforts.activity_id
        ) as fastest
    from {{ ref('fct_best_efforts') }} as efforts
    inner join {{ ref('fct_activities') }} as activities using (account, activity_id)
    where efforts.effort_distance_m = 5000
        and efforts.activity_type like '%running%'

)

select
    account,
    fastest as rank,
    activity_date,
    activity_id,
    activity_name,
    activity_type,
    effort_s,
    printf('%d:%02d', round(effort_s)::integer // 60, round(effort_s)::integer % 60) as effort_time,
    pace_s_per_km,
    start_offset_m
from efforts
where fastest <= 10
order by account, rank
