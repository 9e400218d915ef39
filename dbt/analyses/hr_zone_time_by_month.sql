-- Time in heart-rate zones per month: for each account and calendar month, the hours its
-- activities spent in zones 1-5 (shares of the maximum heart rate, see fct_activities) and
-- each zone's share of the time with heart rate.

with monthly as (

    select
        account,
        date_trunc('month', activity_date)::date as month_start,
        count(*) as activities,
        sum(hr_zone_1_s) as zone_1_s,
        sum(hr_zone_2_s) as zone_2_s,
        sum(hr_zone_3_s) as zone_3_s,
        sum(hr_zone_4_s) as zone_4_s,
        sum(hr_zone_5_s) as zone_5_s
    from {{ ref('fct_activities') }}
    group by account, month_start

),

totals as (

    select
        *,
        nullif(
            coalesce(zone_1_s, 0) + coalesce(zone_2_s, 0) + coalesce(zone_3_s, 0)
            + coalesce(zone_4_s, 0) + coalesce(zone_5_s, 0),
            0
        ) as zones_s
    from monthly

)

select
    account,
    month_start,
    activities,
    round(zone_1_s / 3600, 2) as zone_1_h,
    round(zone_2_s / 3600, 2) as zone_2_h,
    round(zone_3_s / 3600, 2) as zone_3_h,
    round(zone_4_s / 3600, 2) as zone_4_h,
    round(zone_5_s / 3600, 2) as zone_5_h,
    round(zone_1_s / zones_s, 3) as zone_1_share,
    round(zone_2_s / zones_s, 3) as zone_2_share,
    round(zone_3_s / zones_s, 3) as zone_3_share,
    round(zone_4_s / zones_s, 3) as zone_4_share,
    round(zone_5_s / zones_s, 3) as zone_5_share
from totals
order by account, month_start
