"""Profile and heart-rate zones: emulator → both sources → feed → lake frames.

Both feeds are snapshots served by Garmin Connect (garminconnect) and by the Personal API
(Garmin's own client): each source is asked once per sync, the two payloads are byte for byte
the same, and the parsed rows carry the synthetic athlete's own values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import pytest

from garmin_emulator import personal_routes
from garmin_pipeline.domains import profile
from garmin_pipeline.feeds import CONNECT, PERSONAL_API, Feed, RawPayload
from garmin_pipeline.lake.build import build_lake, rejected_dataset_name
from garmin_pipeline.lake.store import PartitionStore
from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.settings import Settings
from garmin_pipeline.sources.personal_api import PersonalApiSource

FEEDS = {feed.name: feed for feed in profile.FEEDS}
SOURCES = (CONNECT, PERSONAL_API)
TOKEN_PATH = personal_routes.TOKEN_PATH
# (feed, source) → the one request a sync costs
PATHS = {
    ("profile", CONNECT): "/userprofile-service/userprofile/settings",
    ("profile", PERSONAL_API): "/personal-api/userprofile-service/userprofile/settings",
    ("heart_rate_zones", CONNECT): "/biometric-service/heartRateZones",
    ("heart_rate_zones", PERSONAL_API): "/personal-api/biometric-service/heartRateZones/v2",
}
ACCOUNT = "test"


@dataclass
class Fetched:
    payloads: list[RawPayload]
    paths: list[str]  # the data requests it cost (the token exchange left out)


@pytest.fixture(scope="module")
def sources(emulator, connect_source, tmp_path_factory):
    """Each source, logged in: the Personal API one reads the emulator's key from the env."""
    root = tmp_path_factory.mktemp("personal")
    settings = Settings.from_env(
        {
            "GARMIN_API_URL": emulator.base_url,
            "GARMIN_TOKENS": str(root / "tokens"),
            "GARMIN_DATA_DIR": str(root / "data"),
            "GARMIN_PERSONAL_API_KEY_FILE": str(root / "key"),
        }
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GARMIN_PERSONAL_API_KEY", emulator.personal_api_key)
        personal = PersonalApiSource(settings)
        personal.check_key()  # the key is read (and exchanged) now, while the env holds it
        connect_source.json("device last used", "get_device_last_used")  # logs in
    return {CONNECT: connect_source, PERSONAL_API: personal}


def fetch(feed: Feed, source_name: str, source, emulator, days: list[date]) -> Fetched:
    emulator.clear_request_log()
    payloads = list(feed.fetchers[source_name](source, days, lambda day, name: None))
    paths = [r.path for r in emulator.request_log if r.path != TOKEN_PATH]
    return Fetched(payloads, paths)


@pytest.fixture(scope="module")
def fetched(sources, emulator, athlete) -> dict[tuple[str, str], Fetched]:
    """Both feeds from both sources over the last days of the athlete's history."""
    days = athlete.history()[-3:]
    return {
        (name, source): fetch(feed, source, sources[source], emulator, days)
        for name, feed in FEEDS.items()
        for source in SOURCES
    }


def frame(feed: Feed, payload: RawPayload) -> pl.DataFrame:
    parsed = feed.parse({payload.name: payload.payload}, payload.day)
    assert not parsed.rejected, parsed.rejected
    result = parsed.frames[feed.name]
    feed.datasets[0].schema.validate(result)
    return result


def only_row(feed_name: str, source: str, fetched) -> dict:
    (payload,) = fetched[(feed_name, source)].payloads
    (row,) = frame(FEEDS[feed_name], payload).to_dicts()
    return row


# ---------------------------------------------------------------------- fetching
@pytest.mark.fast
def test_both_feeds_are_served_by_both_sources():
    for feed in FEEDS.values():
        assert set(feed.fetchers) == set(SOURCES), feed.name
        assert feed.snapshot, feed.name


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", sorted(FEEDS))
def test_one_request_per_sync_kept_on_its_last_day(fetched, athlete, name, source):
    run = fetched[(name, source)]
    assert run.paths == [PATHS[(name, source)]]
    assert [(p.day, p.name, p.reason) for p in run.payloads] == [
        (athlete.last_day, f"{name}.json", None)
    ]


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_the_two_sources_send_byte_identical_payloads(fetched, name):
    (connect,) = fetched[(name, CONNECT)].payloads
    (personal,) = fetched[(name, PERSONAL_API)].payloads
    assert connect.payload == personal.payload
    assert len(connect.payload) > 100


@pytest.mark.parametrize("source", SOURCES)
def test_snapshots_without_days_ask_nothing(sources, emulator, source):
    for feed in FEEDS.values():
        run = fetch(feed, source, sources[source], emulator, [])
        assert (run.payloads, run.paths) == ([], []), feed.name


# ---------------------------------------------------------------------- values
@pytest.mark.parametrize("source", SOURCES)
def test_profile_rows_carry_the_athletes_settings(fetched, athlete, source):
    row = only_row("profile", source, fetched)
    p = athlete.profile
    settings = athlete.user_settings()
    assert row["snapshot_date"] == athlete.last_day
    assert row["time_zone"] == athlete.personal_information()["timeZone"] == "Europe/Paris"
    assert (row["gender"], row["birth_date"], row["height_cm"]) == (
        p.gender,
        p.birth_date,
        p.height_cm,
    )
    assert row["weight_kg"] == settings["userData"]["weight"] / 1000
    assert row["weight_kg"] == pytest.approx(p.weight_kg)
    assert row["measurement_system"] == "metric"
    assert row["lactate_threshold_heart_rate_bpm"] is None  # the athlete has none set
    assert row["vo2max_running_ml_kg_min"] == p.vo2max_running
    assert row["vo2max_cycling_ml_kg_min"] == p.vo2max_cycling
    assert (row["moderate_intensity_hr_zone"], row["vigorous_intensity_hr_zone"]) == (3, 4)
    assert (row["sleep_time_s"], row["wake_time_s"]) == (
        settings["userSleep"]["sleepTime"],
        settings["userSleep"]["wakeTime"],
    )


@pytest.mark.parametrize("source", SOURCES)
def test_heart_rate_zone_rows_carry_the_athletes_zones(fetched, athlete, source):
    row = only_row("heart_rate_zones", source, fetched)
    (zones,) = personal_routes.heart_rate_zones(athlete)
    p = athlete.profile
    assert row == {
        "snapshot_date": athlete.last_day,
        "sport": "DEFAULT",
        "training_method": "HR_MAX",
        "resting_heart_rate_bpm": p.rest_hr_base,
        "max_heart_rate_bpm": p.max_hr,
        "lactate_threshold_heart_rate_bpm": None,
        **{f"zone{n}_floor_bpm": zones[f"zone{n}Floor"] for n in range(1, 6)},
        "resting_hr_auto_update": False,
    }
    floors = [row[f"zone{n}_floor_bpm"] for n in range(1, 6)]
    assert p.rest_hr_base < floors[0] and floors == sorted(set(floors)) and floors[-1] < p.max_hr


@pytest.mark.fast
def test_zone_sets_are_one_row_per_sport_in_sport_order():
    """The emulator serves one set; Garmin sends one per sport that has its own zones."""
    day = date(2024, 6, 30)
    entries = [
        {"sport": "RUNNING", "trainingMethod": "LACTATE_THRESHOLD", "zone1Floor": 120},
        {"sport": "DEFAULT", "trainingMethod": "HR_MAX", "zone1Floor": 95},
    ]
    result = profile.build_heart_rate_zones(entries, day)
    profile.HEART_RATE_ZONES.schema.validate(result)
    assert result["sport"].to_list() == ["DEFAULT", "RUNNING"]
    assert result["zone1_floor_bpm"].to_list() == [95, 120]


def test_the_lake_keeps_each_snapshot_on_its_day(fetched, athlete, tmp_path):
    raw, lake = RawStore(tmp_path / "raw"), PartitionStore(tmp_path / "lake")
    quarantine = PartitionStore(tmp_path / "quarantine")
    for name, feed in FEEDS.items():
        (payload,) = fetched[(name, PERSONAL_API)].payloads
        raw.put(name, ACCOUNT, payload.day, payload.name, payload.payload)
        report = build_lake(feed, raw, lake, quarantine, ACCOUNT, [payload.day])
        assert report.days_built == [athlete.last_day] and not report.rejected_payloads
        stored = lake.read(name)
        assert stored["snapshot_date"].to_list() == [athlete.last_day]


# ---------------------------------------------------------------------- bad shapes
@pytest.mark.fast
@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        (
            "heart_rate_zones",
            b'{"zones": []}',
            "the payload is an object, expected an array of objects",
        ),
        ("heart_rate_zones", b"[7]", "the payload[0] is a number (7), expected an object"),
        ("heart_rate_zones", b'[{"sport": "DEFAULT", "zone1Floor": {"bpm": 90}}]', "zone1Floor"),
        (
            "heart_rate_zones",
            b'[{"sport": "DEFAULT", "maxHeartRateUsed": "fast"}]',
            "max_heart_rate_bpm cannot be read as Int32",
        ),
        ("profile", b"[]", "the payload is an array, expected an object"),
        ("profile", b'{"userData": [1]}', "userData is an array, expected an object"),
        ("profile", b'{"userSleep": "late"}', "userSleep is a string ('late'), expected an object"),
        ("profile", b'{"userData": {"weight": "heavy"}}', "weight_kg cannot be read as Float64"),
    ],
)
def test_a_malformed_body_is_rejected_with_its_reason(name, body, reason):
    payload = f"{name}.json"
    parsed = FEEDS[name].parse({payload: body}, date(2024, 6, 30))
    assert parsed.frames == {}
    assert parsed.rejected[payload].startswith(f"cannot parse {payload}: ")
    assert reason in parsed.rejected[payload]
    assert "\n" not in parsed.rejected[payload]


@pytest.mark.fast
def test_a_malformed_body_is_quarantined_by_the_lake(tmp_path):
    raw, lake = RawStore(tmp_path / "raw"), PartitionStore(tmp_path / "lake")
    quarantine = PartitionStore(tmp_path / "quarantine")
    feed, day = FEEDS["heart_rate_zones"], date(2024, 6, 30)
    raw.put(feed.name, ACCOUNT, day, "heart_rate_zones.json", b'{"zones": "none"}')
    report = build_lake(feed, raw, lake, quarantine, ACCOUNT, [day])
    reason = report.rejected_payloads[f"{day}/heart_rate_zones.json"]
    assert "expected an array of objects" in reason
    assert quarantine.read(rejected_dataset_name(feed))["reason"].to_list() == [reason]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("profile", b"null"),
        ("profile", b"{}"),
        ("heart_rate_zones", b"null"),
        ("heart_rate_zones", b"[]"),
    ],
)
def test_empty_answers_give_empty_frames(name, body):
    parsed = FEEDS[name].parse({f"{name}.json": body}, date(2024, 6, 30))
    assert not parsed.rejected
    assert parsed.frames[name].is_empty()
    FEEDS[name].datasets[0].schema.validate(parsed.frames[name])
