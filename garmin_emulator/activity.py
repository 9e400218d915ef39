"""Synthetic activities: the plan (when, what, how hard), the sampled track and its summary.

A track is columnar integers in FIT units (cm, mm/s, 0.2 m altitude steps, semicircles), so every
sum and maximum is exact and the FIT file, the activity list and ``SyntheticActivity`` agree to the
last digit. Samples come from ``random.Random`` arithmetic only (see ``determinism``).
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from garmin_emulator.determinism import clamp, jitter, stable_rng

SEMICIRCLES_PER_DEGREE_NUM = 2**31
SEMICIRCLES_PER_DEGREE_DEN = 180
# Millimetres per degree around the home latitude (~48.86 N): fixed integers, no trigonometry.
MM_PER_DEGREE_LAT = 111_208_156
MM_PER_DEGREE_LON = 73_237_558
POOL_LENGTH_M = 25
HR_ZONE_FLOORS = (0.50, 0.60, 0.70, 0.80, 0.90)  # fractions of max HR, zones 1-5

# Unit vectors (x1000) for 16 compass directions, so routes need no trigonometry either.
_DIRECTIONS = (
    (1000, 0), (924, 383), (707, 707), (383, 924), (0, 1000), (-383, 924), (-707, 707),
    (-924, 383), (-1000, 0), (-924, -383), (-707, -707), (-383, -924), (0, -1000),
    (383, -924), (707, -707), (924, -383),
)  # fmt: skip


@dataclass(frozen=True)
class SportSpec:
    """How Garmin labels a sport (activity list) and how a FIT file does."""

    type_key: str
    type_id: int
    parent_type_id: int
    sport_type_id: int
    trimmable: bool
    fit_sport: str
    fit_sub_sport: str
    name_suffix: str
    auto_lap_m: int | None  # None: laps are swim sets


SPORTS: dict[str, SportSpec] = {
    "running": SportSpec("running", 1, 17, 1, True, "running", "generic", "Running", 1000),
    "cycling": SportSpec("cycling", 2, 17, 2, True, "cycling", "road", "Cycling", 5000),
    "lap_swimming": SportSpec(
        "lap_swimming", 27, 26, 5, False, "swimming", "lap_swimming", "Pool Swim", None
    ),
}


@dataclass(frozen=True)
class Route:
    """A closed loop starting at home: vertices in mm east/north of home, altitude in mm."""

    xs: tuple[int, ...]
    ys: tuple[int, ...]
    alts: tuple[int, ...]
    cum: tuple[int, ...]  # distance along the loop at each vertex; cum[-1] is the loop length

    @property
    def length_mm(self) -> int:
        return self.cum[-1]

    def at(self, s_mm: int) -> tuple[int, int, int, float]:
        """(x, y, altitude, grade) at a distance along the route, looping as often as needed."""
        s = s_mm % self.length_mm
        k = bisect.bisect_right(self.cum, s) - 1
        seg = self.cum[k + 1] - self.cum[k]
        into = s - self.cum[k]
        x = self.xs[k] + (self.xs[k + 1] - self.xs[k]) * into // seg
        y = self.ys[k] + (self.ys[k + 1] - self.ys[k]) * into // seg
        alt = self.alts[k] + (self.alts[k + 1] - self.alts[k]) * into // seg
        return x, y, alt, (self.alts[k + 1] - self.alts[k]) / seg


def make_route(seed: int, sport: str, index: int, radius_mm: int, hill_mm: int) -> Route:
    """A lumpy loop through home; the same (seed, sport, index) always gives the same loop."""
    rng = stable_rng(seed, "route", sport, index)
    turn = rng.randrange(16)
    step = rng.choice((1, -1))
    points = []
    for j in range(16):
        dx, dy = _DIRECTIONS[(turn + step * j) % 16]
        r = int(radius_mm * (0.75 + 0.5 * rng.random()))
        points.append((r * dx // 1000, r * dy // 1000))
    x0, y0 = points[0]
    xs = [x - x0 for x, _ in points] + [0]
    ys = [y - y0 for _, y in points] + [0]
    alts = [0] + [int(jitter(rng, hill_mm)) for _ in range(15)] + [0]
    cum = [0]
    for k in range(16):
        cum.append(
            cum[-1] + max(1, math.isqrt((xs[k + 1] - xs[k]) ** 2 + (ys[k + 1] - ys[k]) ** 2))
        )
    return Route(tuple(xs), tuple(ys), tuple(alts), tuple(cum))


@dataclass(frozen=True)
class ActivityPlan:
    """What the athlete decided to do: cheap to draw, enough to schedule and list by date."""

    activity_id: int
    sport: str
    start_time_utc: datetime
    start_time_local: datetime  # naive, the profile's wall clock at start_time_utc
    planned_duration_s: int  # swims end when their sets are done, a little earlier
    intensity: float  # 0 (easy) .. 1 (hard)
    route_index: int


@dataclass(frozen=True)
class AthleteBasics:
    """The profile figures a track needs (kept apart so this module needs no athlete import)."""

    seed: int
    rest_hr: int
    max_hr: int
    weight_kg: float
    ftp_w: int
    bmr_kcal_per_day: int
    home_alt_mm: int
    home_lat_sc: int
    home_lon_sc: int
    record_interval_s: int


@dataclass(frozen=True)
class Lap:
    start_index: int  # record index where the lap starts (shared with the previous lap's end)
    end_index: int
    start_s: int  # seconds after the activity start
    end_s: int
    distance_cm: int
    first_length: int = 0
    num_lengths: int = 0
    active_lengths: int = 0
    strokes: int = 0


@dataclass(frozen=True)
class SwimLength:
    start_s: int
    end_s: int
    active: bool
    strokes: int


@dataclass
class Track:
    """Columnar samples in FIT units plus lap (and swim length) boundaries."""

    t_s: list[int]
    distance_cm: list[int]
    speed_mm_s: list[int]
    heart_rate: list[int]
    cadence: list[int] | None
    power_w: list[int] | None
    altitude_q: list[int] | None  # FIT altitude units: (m + 500) * 5
    lat_sc: list[int] | None
    lon_sc: list[int] | None
    laps: list[Lap]
    lengths: list[SwimLength] | None
    # Beat-to-beat (RR) intervals in ms, from a chest strap (runs only), and for each one the
    # index of the record it is written after (the first record at or after the beat).
    rr_ms: list[int] | None = None
    rr_record: list[int] | None = None

    @property
    def duration_s(self) -> int:
        return self.t_s[-1]


def _to_semicircles(basics: AthleteBasics, x_mm: int, y_mm: int) -> tuple[int, int]:
    lat = basics.home_lat_sc + (y_mm * SEMICIRCLES_PER_DEGREE_NUM) // (
        SEMICIRCLES_PER_DEGREE_DEN * MM_PER_DEGREE_LAT
    )
    lon = basics.home_lon_sc + (x_mm * SEMICIRCLES_PER_DEGREE_NUM) // (
        SEMICIRCLES_PER_DEGREE_DEN * MM_PER_DEGREE_LON
    )
    return lat, lon


def semicircles_to_degrees(sc: int) -> float:
    return round(sc * 180 / 2**31, 9)


def _altitude_q(alt_mm: int) -> int:
    """Metres above sea level (in mm) -> FIT altitude units, rounded half up."""
    return (alt_mm * 5 + 500) // 1000 + 2500


def _auto_laps(distance_cm: list[int], t_s: list[int], lap_cm: int) -> list[Lap]:
    laps: list[Lap] = []
    start = 0
    boundary = lap_cm
    for i, d in enumerate(distance_cm):
        if d >= boundary:
            laps.append(Lap(start, i, t_s[start], t_s[i], d - distance_cm[start]))
            start = i
            while boundary <= d:
                boundary += lap_cm
    last = len(t_s) - 1
    if start < last:
        laps.append(Lap(start, last, t_s[start], t_s[last], distance_cm[last] - distance_cm[start]))
    return laps


def rr_intervals(
    seed: int, activity_id: int, t_s: list[int], hr: list[int]
) -> tuple[list[int], list[int]]:
    """RR intervals (ms) that follow the heart rate, each tied to the record written after it.

    Integer arithmetic on ``random.Random`` draws only, so the intervals are the same on every
    machine. Beats ending in (t[i-1], t[i]] take record i's heart rate and go after record i.
    """
    rng = stable_rng(seed, "rr", activity_id)
    rr: list[int] = []
    after: list[int] = []
    now_ms = 0
    for i in range(1, len(t_s)):
        end_ms = t_s[i] * 1000
        base = 60_000 // max(30, hr[i])
        while True:
            beat = base + rng.randint(-base // 25, base // 25)
            if now_ms + beat > end_ms:
                break
            now_ms += beat
            rr.append(beat)
            after.append(i)
    return rr, after


def moving_track(plan: ActivityPlan, basics: AthleteBasics, route: Route) -> Track:
    """A run or ride around a route, sampled every ``record_interval_s`` seconds."""
    rng = stable_rng(basics.seed, "track", plan.activity_id)
    riding = plan.sport == "cycling"
    step = basics.record_interval_s
    n = plan.planned_duration_s // step + 1
    hard = plan.intensity
    if riding:
        v_base = 6400 + 2200 * hard + jitter(rng, 300)
        grade_drag, cadence_base = 9.0, 84 + 8 * hard
        power_base = basics.ftp_w * (0.55 + 0.25 * hard)
    else:
        v_base = 2550 + 850 * hard + jitter(rng, 120)
        grade_drag, cadence_base = 4.0, 81 + 5 * hard
        power_base = 0.0
    hr_start = basics.rest_hr + 35
    hr_work = basics.rest_hr + (basics.max_hr - basics.rest_hr) * (0.62 + 0.25 * hard)
    hr_drift = 4 + 6 * hard
    t_s, dist, speed, hrs, cad, pwr, alt, lat, lon = ([] for _ in range(9))
    s_mm = 0
    grade = 0.0
    wobble = hr_noise = 0.0
    for i in range(n):
        t = i * step
        warm = 0.86 + 0.14 * min(t, 300) / 300
        wobble = 0.93 * wobble + jitter(rng, 0.025)
        v = int(clamp(v_base * warm * (1 - grade_drag * grade) * (1 + wobble), 900, 18_000))
        if i:
            s_mm += v * step
        x, y, alt_mm, grade = route.at(s_mm)
        hr_noise = 0.9 * hr_noise + jitter(rng, 1.2)
        ramp = min(t, 240) / 240
        hr = hr_start + (hr_work - hr_start) * ramp + hr_drift * t / max(1, n * step)
        hr = int(clamp(hr + 120 * grade + hr_noise, 80, basics.max_hr))
        coasting = riding and grade < -0.015 and rng.random() < 0.6
        t_s.append(t)
        dist.append(s_mm // 10)
        speed.append(v)
        hrs.append(hr)
        cad.append(0 if coasting else int(cadence_base + 20 * wobble + jitter(rng, 2)))
        if riding:
            p = 0 if coasting else power_base * (1 + 10 * grade + 3 * wobble) + jitter(rng, 20)
            pwr.append(int(clamp(p, 0, 1200)))
        jx, jy = int(jitter(rng, 1500)), int(jitter(rng, 1500))
        la, lo = _to_semicircles(basics, x + jx, y + jy)
        lat.append(la)
        lon.append(lo)
        alt.append(_altitude_q(basics.home_alt_mm + alt_mm))
    spec = SPORTS[plan.sport]
    assert spec.auto_lap_m is not None
    laps = _auto_laps(dist, t_s, spec.auto_lap_m * 100)
    track = Track(t_s, dist, speed, hrs, cad, pwr if riding else None, alt, lat, lon, laps, None)
    if not riding:
        track.rr_ms, track.rr_record = rr_intervals(basics.seed, plan.activity_id, t_s, hrs)
    return track


def swim_track(plan: ActivityPlan, basics: AthleteBasics) -> Track:
    """A 25 m pool session: sets of lengths (one lap per set) with rests between sets."""
    rng = stable_rng(basics.seed, "track", plan.activity_id)
    step = basics.record_interval_s
    per_length = 33 - 6 * plan.intensity + jitter(rng, 1.5)  # seconds per 25 m
    lengths: list[SwimLength] = []
    laps_lengths: list[tuple[int, int]] = []  # (first length index, count) per set
    t = 0
    budget = plan.planned_duration_s
    while True:
        size = rng.choice((4, 4, 6, 8, 8, 12, 16))
        set_time = int(size * per_length * 1.1)
        if lengths and t + set_time > budget:
            break
        first = len(lengths)
        for _ in range(size):
            dur = max(18, int(per_length + jitter(rng, 2.5)))
            lengths.append(SwimLength(t, t + dur, True, int(8 + dur * 0.22 + jitter(rng, 1.5))))
            t += dur
        rest = 15 + rng.randrange(30)
        if t + rest + 4 * per_length < budget:
            lengths.append(SwimLength(t, t + rest, False, 0))
            t += rest
        laps_lengths.append((first, len(lengths) - first))
    if not lengths[-1].active:  # a session ends on its last length, not on a rest
        t = lengths.pop().start_s
        first, count = laps_lengths[-1]
        laps_lengths[-1] = (first, count - 1)
    # The last length absorbs the remainder so the final record lands exactly on the end.
    pad = -t % step
    if pad:
        last = lengths[-1]
        lengths[-1] = SwimLength(last.start_s, last.end_s + pad, last.active, last.strokes)
        t += pad
    ends = [ln.end_s for ln in lengths]
    n = t // step + 1
    t_s = [i * step for i in range(n)]
    dist, speed, hrs = [], [], []
    hr_work = basics.rest_hr + (basics.max_hr - basics.rest_hr) * (0.55 + 0.25 * plan.intensity)
    hr = float(basics.rest_hr + 30)
    done_cm = 0
    k = 0
    for ts in t_s:
        while k < len(lengths) and ends[k] <= ts:
            done_cm += POOL_LENGTH_M * 100 if lengths[k].active else 0
            k += 1
        current = lengths[min(k, len(lengths) - 1)]
        active = current.active and ts < current.end_s
        target = hr_work if active else hr_work - 25
        hr += (target - hr) * 0.08 + jitter(rng, 1.0)
        dist.append(done_cm)
        speed.append(POOL_LENGTH_M * 1000 // (current.end_s - current.start_s) if active else 0)
        hrs.append(int(clamp(hr, 70, basics.max_hr)))
    laps = []
    for first, count in laps_lengths:
        in_lap = lengths[first : first + count]
        start_s, end_s = in_lap[0].start_s, in_lap[-1].end_s
        active = [ln for ln in in_lap if ln.active]
        laps.append(
            Lap(
                start_index=start_s // step,
                end_index=-(-end_s // step),
                start_s=start_s,
                end_s=end_s,
                distance_cm=len(active) * POOL_LENGTH_M * 100,
                first_length=first,
                num_lengths=count,
                active_lengths=len(active),
                strokes=sum(ln.strokes for ln in active),
            )
        )
    return Track(t_s, dist, speed, hrs, None, None, None, None, None, laps, lengths)


@dataclass(frozen=True)
class SyntheticActivity:
    """One activity as the athlete's watch recorded it; the list JSON and FIT file agree on it."""

    activity_id: int
    sport: str  # "running" | "cycling" | "lap_swimming"
    activity_name: str
    start_time_utc: datetime  # tz-aware UTC
    start_time_local: datetime  # naive, profile timezone
    local_date: date
    duration_s: float
    distance_m: float
    record_count: int
    lap_count: int
    end_time_utc: datetime
    utc_offset_s: int
    avg_hr: int
    max_hr: int
    avg_speed_m_s: float
    max_speed_m_s: float
    calories: int
    bmr_calories: int
    hr_time_in_zone_s: tuple[float, float, float, float, float]
    moderate_intensity_minutes: int
    vigorous_intensity_minutes: int
    aerobic_training_effect: float
    anaerobic_training_effect: float
    training_load: float
    min_lap_duration_s: float
    moving_duration_s: float
    elevation_gain_m: float | None = None
    elevation_loss_m: float | None = None
    min_elevation_m: float | None = None
    max_elevation_m: float | None = None
    avg_cadence: int | None = None  # FIT units: rpm (runs: strides/min), swims: strokes/min
    max_cadence: int | None = None
    steps: int | None = None
    avg_power_w: int | None = None
    max_power_w: int | None = None
    normalized_power_w: int | None = None
    start_lat: float | None = None
    start_lon: float | None = None
    end_lat: float | None = None
    end_lon: float | None = None
    fastest_split_1000_s: float | None = None  # runs: the quickest full auto-lap kilometre
    max_vertical_speed_m_s: float | None = None
    pool_length_m: float | None = None
    active_lengths: int | None = None
    total_strokes: int | None = None

    @property
    def spec(self) -> SportSpec:
        return SPORTS[self.sport]


def _normalized_power(power: list[int], step: int) -> int:
    """Coggan's NP: 30 s rolling mean, fourth power, mean, fourth root (sqrt is exact IEEE)."""
    window = max(1, 30 // step)
    if len(power) < window:
        return int(sum(power) / max(1, len(power)))
    rolling = sum(power[:window])
    fourth = 0.0
    count = 0
    for i in range(window, len(power) + 1):
        mean = rolling / window
        fourth += mean * mean * mean * mean
        count += 1
        if i < len(power):
            rolling += power[i] - power[i - window]
    return int(math.sqrt(math.sqrt(fourth / count)) + 0.5)


def summarize(
    plan: ActivityPlan, basics: AthleteBasics, track: Track, location: str | None
) -> SyntheticActivity:
    """Reduce a track to the figures the activity list, the FIT session and the day share."""
    spec = SPORTS[plan.sport]
    step = basics.record_interval_s
    duration = track.duration_s
    distance_cm = track.distance_cm[-1]
    hr = track.heart_rate
    zones = [0.0] * 5
    for value in hr:
        for z in range(4, -1, -1):
            if value >= HR_ZONE_FLOORS[z] * basics.max_hr:
                zones[z] += step
                break
    avg_hr = int(sum(hr) / len(hr) + 0.5)
    hr_frac = (avg_hr - basics.rest_hr) / (basics.max_hr - basics.rest_hr)
    aerobic = round(clamp(1.0 + 3.2 * hr_frac + duration / 3600 * 0.6, 1.0, 5.0), 1)
    anaerobic = round(clamp((max(hr) / basics.max_hr - 0.86) * 25, 0.0, 4.0), 1)
    bmr = int(basics.bmr_kcal_per_day * duration / 86_400 + 0.5)
    extra: dict[str, object] = {}
    moving = float(duration)
    if track.altitude_q is not None:
        q = track.altitude_q
        gain = sum(b - a for a, b in itertools.pairwise(q) if b > a)
        loss = sum(a - b for a, b in itertools.pairwise(q) if a > b)
        extra.update(
            elevation_gain_m=float(gain // 5),
            elevation_loss_m=float(loss // 5),
            min_elevation_m=min(q) / 5 - 500,
            max_elevation_m=max(q) / 5 - 500,
            max_vertical_speed_m_s=round(
                max(abs(b - a) for a, b in itertools.pairwise(q)) / 5 / step, 3
            ),
        )
    if track.lat_sc is not None and track.lon_sc is not None:
        extra.update(
            start_lat=semicircles_to_degrees(track.lat_sc[0]),
            start_lon=semicircles_to_degrees(track.lon_sc[0]),
            end_lat=semicircles_to_degrees(track.lat_sc[-1]),
            end_lon=semicircles_to_degrees(track.lon_sc[-1]),
        )
    if track.cadence is not None:
        extra.update(
            avg_cadence=int(sum(track.cadence) / len(track.cadence) + 0.5),
            max_cadence=max(track.cadence),
        )
    if plan.sport == "running" and track.cadence is not None:
        extra["steps"] = sum(track.cadence) * 2 * step // 60
        full_km = [lap.end_s - lap.start_s for lap in track.laps if lap.distance_cm >= 100_000]
        if full_km:
            extra["fastest_split_1000_s"] = float(min(full_km))
        calories = int(distance_cm / 100_000 * basics.weight_kg * 1.04 + 0.5)
    elif plan.sport == "cycling" and track.power_w is not None:
        avg_power = int(sum(track.power_w) / len(track.power_w) + 0.5)
        extra.update(
            avg_power_w=avg_power,
            max_power_w=max(track.power_w),
            normalized_power_w=_normalized_power(track.power_w, step),
        )
        calories = int(avg_power * duration / 1000 * 1.05 + 0.5)
    else:
        assert track.lengths is not None
        active = [ln for ln in track.lengths if ln.active]
        strokes = sum(ln.strokes for ln in active)
        swim_time = sum(ln.end_s - ln.start_s for ln in active)
        moving = float(swim_time)
        extra.update(
            pool_length_m=float(POOL_LENGTH_M),
            active_lengths=len(active),
            total_strokes=strokes,
            avg_cadence=int(strokes * 60 / max(1, swim_time) + 0.5),
            max_cadence=max(int(ln.strokes * 60 / (ln.end_s - ln.start_s)) for ln in active),
        )
        calories = int(duration / 60 * (7.0 + 4.0 * plan.intensity) + 0.5)
    name = f"{location} {spec.name_suffix}" if location else spec.name_suffix
    end = plan.start_time_utc + timedelta(seconds=duration)
    return SyntheticActivity(
        activity_id=plan.activity_id,
        sport=plan.sport,
        activity_name=name,
        start_time_utc=plan.start_time_utc,
        start_time_local=plan.start_time_local,
        local_date=plan.start_time_local.date(),
        duration_s=float(duration),
        distance_m=distance_cm / 100,
        record_count=len(track.t_s),
        lap_count=len(track.laps),
        end_time_utc=end,
        utc_offset_s=int(
            (plan.start_time_local - plan.start_time_utc.replace(tzinfo=None)).total_seconds()
        ),
        avg_hr=avg_hr,
        max_hr=max(hr),
        avg_speed_m_s=(distance_cm * 10 // duration) / 1000,
        max_speed_m_s=max(track.speed_mm_s) / 1000,
        calories=calories,
        bmr_calories=bmr,
        hr_time_in_zone_s=(zones[0], zones[1], zones[2], zones[3], zones[4]),
        moderate_intensity_minutes=int(zones[2] // 60),
        vigorous_intensity_minutes=int((zones[3] + zones[4]) // 60),
        aerobic_training_effect=aerobic,
        anaerobic_training_effect=anaerobic,
        training_load=round(duration / 60 * (0.4 + 1.6 * hr_frac * hr_frac), 2),
        min_lap_duration_s=float(min(lap.end_s - lap.start_s for lap in track.laps)),
        moving_duration_s=moving,
        **extra,  # type: ignore[arg-type]
    )
