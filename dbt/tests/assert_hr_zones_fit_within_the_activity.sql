-- Time in heart-rate zones cannot exceed the activity's elapsed time: each sample counts
-- for the gap to the next one (at most 10 s), so the zones add up to at most the samples'
-- span plus one sample. Returns the activities whose zones hold more time than that.
-- A plausibility test (a device's gaps and clock make it fail on real data): it warns.
{{ config(severity='warn') }}

select
    activity_id,
    elapsed_duration_s,
    duration_s,
    coalesce(hr_zone_1_s, 0) + coalesce(hr_zone_2_s, 0) + coalesce(hr_zone_3_s, 0)
        + coalesce(hr_zone_4_s, 0) + coalesce(hr_zone_5_s, 0) as zones_s
from {{ ref('fct_activities') }}
where coalesce(hr_zone_1_s, 0) + coalesce(hr_zone_2_s, 0) + coalesce(hr_zone_3_s, 0)
        + coalesce(hr_zone_4_s, 0) + coalesce(hr_zone_5_s, 0)
    > greatest(coalesce(elapsed_duration_s, 0), coalesce(duration_s, 0)) + 10
