"""The athlete's profile and heart-rate zones: state without history, like devices and gear.

Both are read once per sync and kept on its last day (`snapshot_date`), from either source: the
Personal API covers them (`get_user_profile_settings`, `get_heart_rate_zones`), and Garmin
Connect serves the same bodies (`get_userprofile_settings`; the zones through garminconnect's
generic `connectapi`, which has no wrapper for them). Shapes: the zones item is the recorded
`/biometric-service/heartRateZones` one (garth core/test_put.yaml); the profile settings body is
not recorded and is read as Connect's recorded `user-settings` body plus a top-level `timeZone`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from garmin_pipeline.domains.fetching import snapshot
from garmin_pipeline.domains.fitness import SNAPSHOT_DATE, VO2MAX
from garmin_pipeline.domains.frames import date_prefix, day_literal, json_frame, typed
from garmin_pipeline.feeds import SAME_AS_CONNECT, Dataset, Feed, Fetch, Shape
from garmin_pipeline.lake.parsers import json_object, json_objects, parse_json_day
from garmin_pipeline.lake.schema import Column, empty_frame, in_range

HEART_RATE = in_range(20, 250)
RESTING_HEART_RATE = in_range(20, 150)
LACTATE_THRESHOLD = in_range(60, 230)
HR_ZONE = in_range(1, 5)
SECONDS_OF_DAY = in_range(0, 86_400)
HEART_RATE_ZONES_CONNECT_PATH = "/biometric-service/heartRateZones"

# ---------------------------------------------------------------------- profile
PROFILE = Dataset(
    name="profile",
    description=(
        "The user profile settings as of a sync (kept on its last day): one row. Garmin sends "
        "the weight in grams, stored here in kg."
    ),
    key=("snapshot_date",),
    columns=(
        SNAPSHOT_DATE,
        Column("time_zone", pl.String, "The account's IANA time zone, e.g. Europe/Paris."),
        Column("gender", pl.String, "As set in the profile: MALE or FEMALE."),
        Column("birth_date", pl.Date, "Date of birth.", "local"),
        Column("height_cm", pl.Float64, "Height set in the profile.", "cm", in_range(50, 260)),
        Column("weight_kg", pl.Float64, "Weight set in the profile.", "kg", in_range(20, 400)),
        Column("measurement_system", pl.String, "Display units: metric, statute_us or statute_uk."),
        Column(
            "lactate_threshold_heart_rate_bpm",
            pl.Int32,
            "Lactate threshold heart rate (detected or entered; null when none).",
            "bpm",
            LACTATE_THRESHOLD,
        ),
        Column(
            "vo2max_running_ml_kg_min", pl.Float64, "Current running VO2max.", "ml/kg/min", VO2MAX
        ),
        Column(
            "vo2max_cycling_ml_kg_min", pl.Float64, "Current cycling VO2max.", "ml/kg/min", VO2MAX
        ),
        Column(
            "moderate_intensity_hr_zone",
            pl.Int32,
            "The heart-rate zone from which time counts as moderate intensity minutes.",
            "zone",
            HR_ZONE,
        ),
        Column(
            "vigorous_intensity_hr_zone",
            pl.Int32,
            "The heart-rate zone from which time counts as vigorous intensity minutes.",
            "zone",
            HR_ZONE,
        ),
        Column(
            "sleep_time_s",
            pl.Int32,
            "Usual bedtime set in the profile, seconds after local midnight.",
            "s",
            SECONDS_OF_DAY,
        ),
        Column(
            "wake_time_s",
            pl.Int32,
            "Usual wake-up time set in the profile, seconds after local midnight.",
            "s",
            SECONDS_OF_DAY,
        ),
    ),
)
USER_DATA_FIELDS = {
    "gender": "gender",
    "birth_date": "birthDate",
    "height_cm": "height",
    "weight_kg": "weight",
    "measurement_system": "measurementSystem",
    "lactate_threshold_heart_rate_bpm": "lactateThresholdHeartRate",
    "vo2max_running_ml_kg_min": "vo2MaxRunning",
    "vo2max_cycling_ml_kg_min": "vo2MaxCycling",
    "moderate_intensity_hr_zone": "moderateIntensityMinutesHrZone",
    "vigorous_intensity_hr_zone": "vigorousIntensityMinutesHrZone",
}
USER_SLEEP_FIELDS = {"sleep_time_s": "sleepTime", "wake_time_s": "wakeTime"}


def build_profile(payload: Mapping[str, Any] | None, day: date) -> pl.DataFrame:
    payload = json_object(payload, "the payload")
    if not payload:
        return empty_frame(PROFILE.columns)
    user = json_object(payload.get("userData"), "userData")
    sleep = json_object(payload.get("userSleep"), "userSleep")
    frame = pl.concat(
        [
            json_frame([payload], {"time_zone": "timeZone"}),
            json_frame([user], USER_DATA_FIELDS, "userData"),
            json_frame([sleep], USER_SLEEP_FIELDS, "userSleep"),
        ],
        how="horizontal",
    )
    return typed(
        frame,
        PROFILE,
        snapshot_date=day_literal(day),
        birth_date=date_prefix("birth_date"),
        weight_kg=pl.col("weight_kg").cast(pl.Float64) / 1000,
    )


# ---------------------------------------------------------------------- heart-rate zones
HEART_RATE_ZONES = Dataset(
    name="heart_rate_zones",
    description=(
        "The heart-rate zones as of a sync (kept on its last day): one row per zone set, i.e. "
        "per sport (DEFAULT applies to every sport without its own). A floor is the lowest "
        "heart rate counted in its zone; zone 5 runs up to the maximum."
    ),
    key=("sport",),
    columns=(
        SNAPSHOT_DATE,
        Column(
            "sport",
            pl.String,
            "The sport the zones apply to: DEFAULT, RUNNING, CYCLING...",
            nullable=False,
        ),
        Column(
            "training_method",
            pl.String,
            "How the floors are set: HR_MAX (% of maximum), HR_RESERVE (% of heart rate "
            "reserve) or LACTATE_THRESHOLD (% of lactate threshold).",
        ),
        Column(
            "resting_heart_rate_bpm",
            pl.Int32,
            "Resting heart rate the zones use.",
            "bpm",
            RESTING_HEART_RATE,
        ),
        Column(
            "max_heart_rate_bpm", pl.Int32, "Maximum heart rate the zones use.", "bpm", HEART_RATE
        ),
        Column(
            "lactate_threshold_heart_rate_bpm",
            pl.Int32,
            "Lactate threshold heart rate the zones use (null unless set).",
            "bpm",
            LACTATE_THRESHOLD,
        ),
        *(
            Column(
                f"zone{n}_floor_bpm", pl.Int32, f"Lowest heart rate of zone {n}.", "bpm", HEART_RATE
            )
            for n in range(1, 6)
        ),
        Column(
            "resting_hr_auto_update",
            pl.Boolean,
            "Whether Garmin updates the resting heart rate used from the watch's readings.",
        ),
    ),
)
ZONE_FIELDS = {
    "sport": "sport",
    "training_method": "trainingMethod",
    "resting_heart_rate_bpm": "restingHeartRateUsed",
    "max_heart_rate_bpm": "maxHeartRateUsed",
    "lactate_threshold_heart_rate_bpm": "lactateThresholdHeartRateUsed",
    **{f"zone{n}_floor_bpm": f"zone{n}Floor" for n in range(1, 6)},
    "resting_hr_auto_update": "restingHrAutoUpdateUsed",
}


def build_heart_rate_zones(entries: Sequence[Mapping[str, Any]] | None, day: date) -> pl.DataFrame:
    entries = json_objects(entries, "the payload")
    if not entries:
        return empty_frame(HEART_RATE_ZONES.columns)
    return typed(
        json_frame(entries, ZONE_FIELDS), HEART_RATE_ZONES, snapshot_date=day_literal(day)
    ).sort("sport")


# ---------------------------------------------------------------------- feeds
def _snapshot_feed(
    dataset: Dataset,
    build: Any,
    connect: tuple[str, Fetch],
    personal_api: tuple[str, Fetch],
    shape: Shape,
) -> Feed:
    """A snapshot feed both sources serve; each `(endpoint, fetch)` yields the same payload."""
    (connect_endpoint, connect_fetch), (personal_endpoint, personal_fetch) = connect, personal_api
    return Feed(
        name=dataset.name,
        description=(
            f"GET {connect_endpoint}, once per sync (state without history). "
            f"Personal API: GET {personal_endpoint}."
        ),
        fetch=connect_fetch,
        parse=parse_json_day(f"{dataset.name}.json", build, dataset.name),
        datasets=(dataset,),
        snapshot=True,
        personal_api=personal_fetch,
        shape=shape,
    )


FEEDS = (
    _snapshot_feed(
        PROFILE,
        build_profile,
        connect=(
            "userprofile-service/userprofile/settings (get_userprofile_settings)",
            snapshot("get_userprofile_settings", "profile.json"),
        ),
        personal_api=(
            "userprofile-service/userprofile/settings (get_user_profile_settings)",
            snapshot("get_user_profile_settings", "profile.json"),
        ),
        shape=Shape(
            recorded=("user_settings.json", "user_settings_garth.json"),
            assumed="userprofile/settings is not recorded; it is taken to be the recorded "
            "user-settings body (which the login reads) plus a top-level timeZone",
            personal_api=SAME_AS_CONNECT,
        ),
    ),
    _snapshot_feed(
        HEART_RATE_ZONES,
        build_heart_rate_zones,
        connect=(
            "biometric-service/heartRateZones (connectapi)",
            snapshot(
                "connectapi",
                "heart_rate_zones.json",
                args=lambda source: (HEART_RATE_ZONES_CONNECT_PATH,),
            ),
        ),
        personal_api=(
            "biometric-service/heartRateZones/v2 (get_heart_rate_zones)",
            snapshot("get_heart_rate_zones", "heart_rate_zones.json"),
        ),
        shape=Shape(
            recorded=("heart_rate_zones.json",),
            personal_api="heartRateZones/v2 is taken to answer the recorded Connect items",
        ),
    ),
)
