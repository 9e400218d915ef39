"""The synthetic athlete: a deterministic person whose every day is a pure function of (seed, day).

Values are drawn per day from ``stable_rng(seed, what, day)`` and never chained through history,
so any day can be served alone, in any order, with the same bytes. Where one day needs another
(7-day averages, the body battery level carried over midnight) it recomputes that day's draws.
Heavy parts (tracks, FIT files, intraday series) are built lazily and cached per instance.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from garmin_emulator import fitgen, shapes
from garmin_emulator.activity import (
    ActivityPlan,
    AthleteBasics,
    Route,
    SyntheticActivity,
    Track,
    make_route,
    moving_track,
    summarize,
    swim_track,
)
from garmin_emulator.determinism import (
    clamp,
    jitter,
    stable_hex,
    stable_int,
    stable_rng,
)
from garmin_emulator.timefmt import DEFAULT_TIMEZONE, ProfileClock, epoch_ms

K = TypeVar("K")
V = TypeVar("V")

HR_STEP = timedelta(minutes=2)  # intraday heart rate, like dailyHeartRate's heartRateValues
STRESS_STEP = timedelta(minutes=3)  # stress and body battery, like dailyStress
HRV_STEP = timedelta(minutes=5)
LOCATION = "Paris"
# Sleep stages as Garmin's sleepLevels.activityLevel encodes them.
DEEP, LIGHT, REM, AWAKE = 0, 1, 2, 3
_ROUTES_PER_SPORT = 3


@dataclass(frozen=True)
class AthleteProfile:
    """Who the athlete is: fixed for a seed."""

    seed: int
    display_name: str
    full_name: str
    profile_id: int
    social_profile_id: int
    garmin_guid: str
    gender: str
    birth_date: date
    height_cm: float
    weight_kg: float
    rest_hr_base: int
    max_hr: int
    vo2max_running: float
    vo2max_cycling: float
    ftp_w: int
    bmr_kcal: int
    step_goal: int
    hrv_base: int
    device_id: int
    device_serial: int
    clock: ProfileClock
    location: str

    @property
    def timezone(self) -> str:
        """The IANA zone the profile names (Garmin counts the athlete's days in it)."""
        return self.clock.timezone


@dataclass(frozen=True)
class HrvNight:
    readings: tuple[tuple[datetime, int], ...]
    last_night_avg: int
    last_night_5min_high: int


@dataclass(frozen=True)
class SleepNight:
    """The sleep that ends on ``calendar_date`` (Garmin files a night under its wake-up day)."""

    calendar_date: date
    start_utc: datetime
    end_utc: datetime
    segments: tuple[tuple[datetime, datetime, int], ...]  # (start, end, stage)
    deep_s: int
    light_s: int
    rem_s: int
    awake_s: int
    awake_count: int
    score: int
    avg_spo2: float
    lowest_spo2: int
    highest_spo2: int
    avg_respiration: float
    lowest_respiration: float
    highest_respiration: float
    avg_sleep_stress: float
    hrv: HrvNight | None

    @property
    def sleep_s(self) -> int:
        return self.deep_s + self.light_s + self.rem_s


@dataclass(frozen=True)
class DayWellness:
    """Everything the wellness endpoints of one local calendar day are built from."""

    day: date
    start_utc: datetime
    end_utc: datetime
    rest_hr: int
    rest_hr_7d: int
    hr_values: tuple[tuple[int, int | None], ...]  # (epoch ms, bpm)
    stress_values: tuple[tuple[int, int], ...]  # (epoch ms, level; -1 off wrist, -2 activity)
    body_battery: tuple[tuple[int, str | None, int | None], ...]  # (epoch ms, status, level)
    body_battery_at_wake: int
    body_battery_sleep_charge: int
    activities: tuple[SyntheticActivity, ...]
    walking_steps: int
    floors_up: float
    floors_down: float
    sleeping_s: int
    active_s: int
    highly_active_s: int
    moderate_minutes: int
    vigorous_minutes: int
    respiration_awake: float
    respiration_low: float
    respiration_high: float

    @property
    def total_steps(self) -> int:
        return self.walking_steps + sum(a.steps or 0 for a in self.activities)


class _Cache:
    """A tiny thread-safe memo: concurrent misses may compute twice, results are identical."""

    def __init__(self, maxsize: int | None = None) -> None:
        self._data: dict[Any, Any] = {}
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            if key in self._data:
                return self._data[key]
        value = build()
        with self._lock:
            if self._maxsize is not None and len(self._data) >= self._maxsize:
                self._data.pop(next(iter(self._data)))
            self._data[key] = value
        return value


def _make_profile(seed: int, clock: ProfileClock) -> AthleteProfile:
    rng = stable_rng(seed, "profile")
    gender = rng.choice(("MALE", "FEMALE"))
    birth = date(1975, 1, 1) + timedelta(days=rng.randrange(23 * 365))
    age = 2024 - birth.year
    height = float(rng.randrange(160, 191) if gender == "MALE" else rng.randrange(155, 181))
    weight = round(height - 105 + jitter(rng, 6), 1)
    bmr = 10 * weight + 6.25 * height - 5 * age + (5 if gender == "MALE" else -161)
    guid = stable_hex(seed, "guid")
    return AthleteProfile(
        seed=seed,
        display_name=f"synthetic-athlete-{seed}",
        full_name=f"Synthetic Athlete {seed}",
        profile_id=80_000_000 + stable_int(seed, "profile id") % 10_000_000,
        social_profile_id=3_000_000 + stable_int(seed, "social id") % 1_000_000,
        garmin_guid=f"{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:32]}",
        gender=gender,
        birth_date=birth,
        height_cm=height,
        weight_kg=weight,
        rest_hr_base=rng.randrange(47, 54),
        max_hr=int(208 - 0.7 * age + jitter(rng, 4)),
        vo2max_running=float(rng.randrange(44, 57)),
        vo2max_cycling=float(rng.randrange(42, 55)),
        ftp_w=rng.randrange(190, 281),
        bmr_kcal=int(bmr * 1.1),
        step_goal=rng.choice((7500, 8000, 10000, 10000)),
        hrv_base=rng.randrange(42, 66),
        device_id=3_300_000_000 + stable_int(seed, "device id") % 100_000_000,
        device_serial=3_400_000_000 + stable_int(seed, "device serial") % 100_000_000,
        clock=clock,
        location=LOCATION,
    )


def _home_semicircles(seed: int) -> tuple[int, int, int]:
    rng = stable_rng(seed, "home")
    lat = int((48.8566 + jitter(rng, 0.03)) * 2**31 / 180)
    lon = int((2.3522 + jitter(rng, 0.05)) * 2**31 / 180)
    return lat, lon, 35_000 + rng.randrange(40_000)


def _at(day: date, hour: float) -> datetime:
    """A naive local time on ``day``, ``hour`` hours after midnight (may spill past 24)."""
    return datetime.combine(day, time()) + timedelta(seconds=int(hour * 3600))


class SyntheticAthlete:
    """A deterministic athlete with ``days`` days of history ending at ``end_date`` (inclusive).

    ``record_interval_s`` is the FIT sampling period for runs and rides (Garmin's "every second"
    is 1; "smart recording" averages a few seconds). The default keeps a year of activities
    encodable in seconds while staying realistic.

    ``timezone`` is the profile's IANA zone: the athlete lives by its wall clock (wakes, trains
    and sleeps at local hours) and Garmin files each day's data under its local calendar day.
    Only the clock moves: the home (GPS routes, location name) stays the same in every zone.
    """

    def __init__(
        self,
        seed: int = 42,
        end_date: date = date(2024, 12, 31),
        days: int = 365,
        record_interval_s: int = 5,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        if days < 1:
            raise ValueError("days must be >= 1")
        if record_interval_s < 1:
            raise ValueError("record_interval_s must be >= 1")
        self.seed = seed
        self.days = days
        self.last_day = end_date
        self.first_day = end_date - timedelta(days=days - 1)
        self.record_interval_s = record_interval_s
        self.profile = _make_profile(seed, ProfileClock(timezone))
        lat, lon, alt = _home_semicircles(seed)
        self.basics = AthleteBasics(
            seed=seed,
            rest_hr=self.profile.rest_hr_base,
            max_hr=self.profile.max_hr,
            weight_kg=self.profile.weight_kg,
            ftp_w=self.profile.ftp_w,
            bmr_kcal_per_day=self.profile.bmr_kcal,
            home_alt_mm=alt,
            home_lat_sc=lat,
            home_lon_sc=lon,
            record_interval_s=record_interval_s,
        )
        self._routes: dict[str, tuple[Route, ...]] = {
            "running": tuple(
                make_route(seed, "running", i, 800_000, 9_000) for i in range(_ROUTES_PER_SPORT)
            ),
            "cycling": tuple(
                make_route(seed, "cycling", i, 5_500_000, 45_000) for i in range(_ROUTES_PER_SPORT)
            ),
        }
        self._plans = _Cache()
        self._nights = _Cache()
        self._activities = _Cache()
        self._tracks = _Cache(maxsize=64)
        self._days = _Cache(maxsize=400)
        self._fit = _Cache(maxsize=32)
        # Edits made in Connect after the upload (for incremental-sync tests); the watch's
        # recording, hence the FIT file and the wellness days' figures, never changes.
        self._renamed: dict[int, str] = {}
        self._deleted: set[int] = set()

    # ------------------------------------------------------------------ identity
    @property
    def display_name(self) -> str:
        return self.profile.display_name

    @property
    def clock(self) -> ProfileClock:
        """The profile zone's clock, which every local time and calendar day is read on."""
        return self.profile.clock

    def in_history(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def history(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]

    @functools.cached_property
    def last_upload_utc(self) -> datetime:
        """When the watch last synced: the end of the last day of history."""
        return self.clock.day_bounds_utc(self.last_day)[1] - timedelta(minutes=1)

    # ------------------------------------------------------------------ sleep
    def night(self, day: date) -> SleepNight:
        """The sleep that ends on the morning of ``day`` (computed for any day, served in range)."""
        return self._nights.get(day, lambda: self._build_night(day))

    def _build_night(self, day: date) -> SleepNight:
        rng = stable_rng(self.seed, "sleep", day)
        weekend = day.weekday() in (5, 6)  # wake-ups on Saturday and Sunday are later
        start_local = _at(day - timedelta(days=1), 22.0 + rng.random() * 1.7 + 0.5 * weekend)
        end_local = _at(day, 5.85 + rng.random() * 1.4 + 1.0 * weekend)
        start, end = self.clock.local_to_utc(start_local), self.clock.local_to_utc(end_local)
        segments: list[tuple[datetime, datetime, int]] = []
        t = start
        cycle = 0

        def add(stage: int, minutes: float) -> None:
            nonlocal t
            seg_end = min(end, t + timedelta(seconds=int(minutes * 60)))
            if seg_end > t:
                segments.append((t, seg_end, stage))
                t = seg_end

        add(AWAKE, 2 + rng.random() * 6)
        while t < end:
            add(LIGHT, 15 + rng.random() * 20)
            add(DEEP, (35 if cycle < 2 else 10) * (0.6 + 0.8 * rng.random()))
            add(LIGHT, 8 + rng.random() * 12)
            add(REM, (8 if cycle < 1 else 22) * (0.6 + 0.8 * rng.random()))
            if rng.random() < 0.35:
                add(AWAKE, 1 + rng.random() * 7)
            cycle += 1
        totals = [0, 0, 0, 0]
        for a, b, stage in segments:
            totals[stage] += int((b - a).total_seconds())
        awake_count = sum(1 for _, _, stage in segments[1:] if stage == AWAKE)
        sleep_s = totals[DEEP] + totals[LIGHT] + totals[REM]
        score = clamp(
            40
            + 35 * min(1.0, sleep_s / (7.5 * 3600))
            + 60 * (totals[DEEP] + totals[REM]) / max(1, sleep_s) * 0.5
            - 3 * awake_count
            + jitter(rng, 4),
            25,
            98,
        )
        hrv: HrvNight | None = None
        if rng.random() >= 0.03:  # a few nights have too little data for an HRV reading
            level = self.profile.hrv_base + 5 * _wave(day, 45) + jitter(rng, 6)
            readings = []
            r = start + timedelta(minutes=4, seconds=48)
            while r < end:
                readings.append((r, int(clamp(level + jitter(rng, 12), 12, 140))))
                r += HRV_STEP
            values = [v for _, v in readings]
            hrv = HrvNight(tuple(readings), int(sum(values) / len(values) + 0.5), max(values))
        return SleepNight(
            calendar_date=day,
            start_utc=start,
            end_utc=end,
            segments=tuple(segments),
            deep_s=totals[DEEP],
            light_s=totals[LIGHT],
            rem_s=totals[REM],
            awake_s=totals[AWAKE],
            awake_count=awake_count,
            score=int(score),
            avg_spo2=float(94 + rng.randrange(4)),
            lowest_spo2=86 + rng.randrange(6),
            highest_spo2=99 + rng.randrange(2),
            avg_respiration=float(13 + rng.randrange(4)),
            lowest_respiration=float(8 + rng.randrange(3)),
            highest_respiration=float(17 + rng.randrange(4)),
            avg_sleep_stress=float(10 + rng.randrange(12)),
            hrv=hrv,
        )

    # ------------------------------------------------------------------ activities
    def plans_on(self, day: date) -> list[ActivityPlan]:
        """The activities planned on a local day, cheap (no samples); any day, in range or not."""
        return self._plans.get(day, lambda: self._build_plans(day))

    def _build_plans(self, day: date) -> list[ActivityPlan]:
        rng = stable_rng(self.seed, "plan", day)
        weekday = day.weekday()
        # (probability, sport choices, duration range in minutes, intensity range, morning?)
        week = {
            0: (0.30, ("lap_swimming",), (30, 45), (0.3, 0.6), False),
            1: (0.80, ("running",), (30, 50), (0.6, 0.95), True),
            2: (0.60, ("cycling", "cycling", "lap_swimming"), (60, 90), (0.4, 0.7), False),
            3: (0.80, ("running",), (35, 55), (0.2, 0.6), True),
            4: (0.25, ("lap_swimming", "running"), (30, 45), (0.2, 0.5), False),
            5: (0.85, ("cycling",), (90, 150), (0.3, 0.6), True),
            6: (0.85, ("running",), (55, 70), (0.2, 0.5), True),
        }
        chance, sports, minutes, (easy, hard), morning = week[weekday]
        plans: list[ActivityPlan] = []
        if rng.random() >= chance:
            return plans
        wake = self.night(day).end_utc
        bedtime = self.night(day + timedelta(days=1)).start_utc
        sport = rng.choice(sports)
        if sport == "lap_swimming":
            minutes = (30, 50)
        duration = 60 * rng.randrange(minutes[0], minutes[1] + 1) + rng.randrange(60)
        duration -= duration % self.record_interval_s
        intensity = easy + (hard - easy) * rng.random()
        if morning:
            start = wake + timedelta(minutes=25 + rng.randrange(50), seconds=rng.randrange(60))
            if weekday >= 5:
                start += timedelta(hours=1, minutes=rng.randrange(60))
        else:
            start = self.clock.local_to_utc(_at(day, 17.5 + rng.random() * 1.25))
        if start + timedelta(seconds=duration) > bedtime - timedelta(minutes=30):
            return plans
        plans.append(self._plan(day, 0, sport, start, duration, intensity, rng.randrange(3)))
        if morning and weekday in (1, 3) and rng.random() < 0.12:  # an evening swim on top
            swim_start = self.clock.local_to_utc(_at(day, 18.0 + rng.random()))
            swim_duration = 60 * rng.randrange(30, 46)
            swim_duration -= swim_duration % self.record_interval_s
            plans.append(self._plan(day, 1, "lap_swimming", swim_start, swim_duration, 0.4, 0))
        return plans

    def _plan(
        self,
        day: date,
        n: int,
        sport: str,
        start: datetime,
        duration: int,
        intensity: float,
        route: int,
    ) -> ActivityPlan:
        start = start.replace(microsecond=0)
        return ActivityPlan(
            activity_id=10_000_000_000 + day.toordinal() * 10 + n,
            sport=sport,
            start_time_utc=start,
            start_time_local=self.clock.utc_to_local(start),
            planned_duration_s=duration,
            intensity=round(intensity, 4),
            route_index=route,
        )

    def all_plans(self) -> list[ActivityPlan]:
        """Every planned activity in the history, oldest first."""
        return [plan for day in self.history() for plan in self.plans_on(day)]

    def plan(self, activity_id: int) -> ActivityPlan | None:
        ordinal, n = divmod(activity_id - 10_000_000_000, 10)
        if ordinal < 1:
            return None
        try:
            day = date.fromordinal(ordinal)
        except (ValueError, OverflowError):
            return None
        if not self.in_history(day):
            return None
        plans = self.plans_on(day)
        return plans[n] if n < len(plans) else None

    def track(self, activity_id: int) -> Track:
        plan = self._require_plan(activity_id)
        return self._tracks.get(activity_id, lambda: self._build_track(plan))

    def _build_track(self, plan: ActivityPlan) -> Track:
        if plan.sport == "lap_swimming":
            return swim_track(plan, self.basics)
        return moving_track(plan, self.basics, self._routes[plan.sport][plan.route_index])

    def activity(self, activity_id: int) -> SyntheticActivity:
        plan = self._require_plan(activity_id)
        location = None if plan.sport == "lap_swimming" else self.profile.location
        recorded = self._activities.get(
            activity_id,
            lambda: summarize(plan, self.basics, self.track(activity_id), location),
        )
        name = self._renamed.get(activity_id)
        return recorded if name is None else dataclasses.replace(recorded, activity_name=name)

    # ------------------------------------------------------------------ edits in Connect
    def rename_activity(self, activity_id: int, name: str) -> None:
        """Rename an activity, as a user does in Connect: the activity list shows the new name."""
        self._require_listed(activity_id)
        self._renamed[activity_id] = name
        self._days = _Cache(maxsize=400)  # cached days carry activity names

    def delete_activity(self, activity_id: int) -> None:
        """Delete an activity in Connect: it leaves the list and its download answers 404.

        The wellness days keep what the watch measured (heart rate, steps) during it.
        """
        self._require_listed(activity_id)
        self._deleted.add(activity_id)

    def is_deleted(self, activity_id: int) -> bool:
        return activity_id in self._deleted

    def listed(self, activity_id: int) -> bool:
        """Whether Connect still has the activity (planned in history and not deleted)."""
        return self.plan(activity_id) is not None and activity_id not in self._deleted

    def _require_listed(self, activity_id: int) -> None:
        self._require_plan(activity_id)
        if activity_id in self._deleted:
            raise KeyError(f"activity {activity_id} was deleted")

    def _require_plan(self, activity_id: int) -> ActivityPlan:
        plan = self.plan(activity_id)
        if plan is None:
            raise KeyError(f"no activity {activity_id} in this athlete's history")
        return plan

    def activities(self) -> list[SyntheticActivity]:
        """All activities in the history, sorted by start time."""
        return [self.activity(plan.activity_id) for plan in self.all_plans()]

    def activities_on(self, day: date) -> list[SyntheticActivity]:
        if not self.in_history(day):
            return []
        return [self.activity(plan.activity_id) for plan in self.plans_on(day)]

    def fit_bytes(self, activity_id: int) -> bytes:
        """The activity's FIT file, encoded on first request and cached."""
        return self._fit.get(
            activity_id,
            lambda: fitgen.encode_activity(
                self.activity(activity_id), self.track(activity_id), self.profile
            ),
        )

    def activity_zip(self, activity_id: int) -> bytes:
        """What ``download-service/files/activity/{id}`` returns: a zip with the FIT inside."""
        return fitgen.zip_fit(self.activity(activity_id), self.fit_bytes(activity_id))

    # ------------------------------------------------------------------ wellness days
    def rest_hr(self, day: date) -> int:
        rng = stable_rng(self.seed, "rest hr", day)
        return int(clamp(self.profile.rest_hr_base + 2 * _wave(day, 60) + jitter(rng, 2), 45, 60))

    def body_battery_midnight(self, day: date) -> int:
        """The Body Battery level at the local midnight that starts ``day``."""
        return 18 + stable_int(self.seed, "bb midnight", day) % 28

    def _wake_level(self, day: date) -> tuple[int, int]:
        """(level at wake-up, charge gained overnight) for the night ending on ``day``."""
        night = self.night(day)
        previous_bedtime = self.evening_level(day - timedelta(days=1))
        gain = int(15 + 0.4 * night.score + night.sleep_s / 3600 * 2)
        level = int(clamp(previous_bedtime + gain, 45, 100))
        return level, level - previous_bedtime

    def evening_level(self, day: date) -> int:
        """The level when the athlete goes to bed on the evening of ``day``."""
        bedtime = self.night(day + timedelta(days=1)).start_utc
        midnight = self.clock.day_bounds_utc(day)[1]
        before_midnight = max(0.0, (midnight - bedtime).total_seconds() / 3600)
        return int(
            clamp(self.body_battery_midnight(day + timedelta(days=1)) - 6 * before_midnight, 5, 60)
        )

    def wellness(self, day: date) -> DayWellness:
        return self._days.get(day, lambda: self._build_day(day))

    def _build_day(self, day: date) -> DayWellness:
        rng = stable_rng(self.seed, "day", day)
        start, end = self.clock.day_bounds_utc(day)
        night = self.night(day)
        bedtime = self.night(day + timedelta(days=1)).start_utc
        activities = tuple(self.activities_on(day)) if self.in_history(day) else ()
        windows = [(a.start_time_utc, a.end_time_utc, a) for a in activities]
        rest = self.rest_hr(day)

        def asleep(ts: datetime) -> bool:
            return night.start_utc <= ts < night.end_utc or ts >= bedtime

        def in_activity(ts: datetime) -> SyntheticActivity | None:
            for a, b, act in windows:
                if a <= ts < b:
                    return act
            return None

        off_wrist: tuple[datetime, datetime] | None = None
        if rng.random() < 0.2:
            gap_start = night.end_utc + timedelta(minutes=40 + rng.randrange(600))
            off_wrist = (gap_start, gap_start + timedelta(minutes=6 + rng.randrange(14)))
            if any(a - timedelta(minutes=30) <= gap_start < b for a, b, _ in windows):
                off_wrist = None

        def is_off(ts: datetime) -> bool:
            return off_wrist is not None and off_wrist[0] <= ts < off_wrist[1]

        hr_values: list[tuple[int, int | None]] = []
        level = 0.0
        ts = start
        while ts < end:
            act = in_activity(ts)
            if is_off(ts):
                bpm: int | None = None
            elif act is not None:
                track = self.track(act.activity_id)
                i = int((ts - act.start_time_utc).total_seconds()) // self.record_interval_s
                bpm = track.heart_rate[min(i, len(track.heart_rate) - 1)]
            elif asleep(ts):
                level = 0.8 * level + jitter(rng, 2.5)
                bpm = int(clamp(rest + 3 + level, rest - 2, rest + 12))
            else:
                level = 0.85 * level + jitter(rng, 7)
                spike = 25 if rng.random() < 0.04 else 0
                bpm = int(clamp(rest + 20 + level + spike, rest + 3, 150))
            hr_values.append((epoch_ms(ts), bpm))
            ts += HR_STEP

        stress_base = 22 + rng.randrange(16)
        stress_values: list[tuple[int, int]] = []
        weights: list[float] = []
        ts = start
        noise = 0.0
        while ts < end:
            if is_off(ts):
                value = -1
            elif in_activity(ts) is not None:
                value = -2
            elif asleep(ts):
                value = int(clamp(night.avg_sleep_stress + jitter(rng, 8), 1, 40))
            else:
                noise = 0.8 * noise + jitter(rng, 9)
                burst = 35 if rng.random() < 0.03 else 0
                value = int(clamp(stress_base + noise + burst, 1, 99))
            stress_values.append((epoch_ms(ts), value))
            weights.append(5.0 if value == -2 else 0.5 + max(value, 0) / 40)
            ts += STRESS_STEP

        # Body battery: charge from midnight to wake-up, drain (faster when active or stressed)
        # until bedtime, then recharge to the level the next day starts with.
        midnight_level = self.body_battery_midnight(day)
        wake_level, charge = self._wake_level(day)
        evening = min(self.evening_level(day), wake_level)
        next_midnight = self.body_battery_midnight(day + timedelta(days=1))
        awake_idx = [
            i
            for i, (ms, _) in enumerate(stress_values)
            if epoch_ms(night.end_utc) <= ms < epoch_ms(bedtime)
        ]
        total_weight = sum(weights[i] for i in awake_idx) or 1.0
        drained = 0.0
        body_battery: list[tuple[int, str | None, int | None]] = []
        for i, (ms, value) in enumerate(stress_values):
            ts_dt = start + STRESS_STEP * i
            if ts_dt < night.end_utc:
                span = (night.end_utc - start).total_seconds() or 1.0
                frac = (ts_dt - start).total_seconds() / span
                bb = midnight_level + (wake_level - midnight_level) * frac
            elif ts_dt < bedtime:
                drained += weights[i]
                bb = wake_level - (wake_level - evening) * drained / total_weight
            else:
                span = (end - bedtime).total_seconds() or 1.0
                bb = evening + (next_midnight - evening) * (ts_dt - bedtime).total_seconds() / span
            if value == -1:
                body_battery.append((ms, None, None))
            else:
                body_battery.append((ms, "MEASURED", int(clamp(bb + 0.5, 5, 100))))

        sleeping_s = sum(
            int((min(b, end) - max(a, start)).total_seconds())
            for a, b in ((night.start_utc, night.end_utc), (bedtime, end))
            if min(b, end) > max(a, start)
        )
        activity_s = sum(int(a.duration_s) for a in activities)
        walking = int(
            clamp(3000 + rng.randrange(8000) + (1500 if day.weekday() >= 5 else 0), 0, 25_000)
        )
        run_steps = sum(a.steps or 0 for a in activities)
        walking = min(walking, 25_000 - run_steps) if run_steps < 25_000 else 0
        walk_active_s = walking * 60 // 110
        vigorous = sum(a.vigorous_intensity_minutes for a in activities)
        moderate = sum(a.moderate_intensity_minutes for a in activities) + walking // 2500
        return DayWellness(
            day=day,
            start_utc=start,
            end_utc=end,
            rest_hr=rest,
            rest_hr_7d=int(sum(self.rest_hr(day - timedelta(days=k)) for k in range(7)) / 7 + 0.5),
            hr_values=tuple(hr_values),
            stress_values=tuple(stress_values),
            body_battery=tuple(body_battery),
            body_battery_at_wake=wake_level,
            body_battery_sleep_charge=charge,
            activities=activities,
            walking_steps=walking,
            floors_up=round(2 + rng.random() * 12, 5),
            floors_down=round(2 + rng.random() * 12, 5),
            sleeping_s=sleeping_s,
            active_s=walk_active_s + activity_s // 2,
            highly_active_s=activity_s - activity_s // 2 + rng.randrange(300),
            moderate_minutes=moderate,
            vigorous_minutes=vigorous,
            respiration_awake=float(13 + rng.randrange(4)),
            respiration_low=float(7 + rng.randrange(4)),
            respiration_high=float(20 + rng.randrange(6)),
        )

    # ------------------------------------------------------------------ response bodies
    def social_profile(self) -> dict[str, Any]:
        return shapes.social_profile(self)

    def user_settings(self) -> dict[str, Any]:
        return shapes.user_settings(self)

    def personal_information(self) -> dict[str, Any]:
        return shapes.personal_information(self)

    def daily_summary(self, day: date) -> dict[str, Any]:
        return shapes.daily_summary(self, day)

    def heart_rate(self, day: date) -> dict[str, Any]:
        return shapes.heart_rate(self, day)

    def sleep(self, day: date) -> dict[str, Any]:
        return shapes.sleep(self, day)

    def stress(self, day: date) -> dict[str, Any] | None:
        return shapes.stress(self, day)

    def hrv(self, day: date) -> dict[str, Any] | None:
        return shapes.hrv(self, day)

    def activity_list_item(self, activity_id: int) -> dict[str, Any]:
        return shapes.activity_list_item(self, self.activity(activity_id))

    def device_last_used(self) -> dict[str, Any]:
        return shapes.device_last_used(self)


def _wave(day: date, period: int) -> float:
    """A triangle wave in [-1, 1] over ``period`` days: slow trends without trigonometry."""
    phase = day.toordinal() % period
    return abs(2 * phase - period) / (period / 2) - 1
