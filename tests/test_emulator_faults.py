"""Fault injection in the emulator, as a client sees it: dropped connections, corrupt downloads,
malformed JSON and schema drift, each for exactly ``times`` requests, set from Python, from the
loopback control endpoint and from ``garmin-pipeline emulator --fault``."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import fitdecode
import pytest
import requests
from click.testing import CliRunner
from garminconnect import Garmin, GarminConnectConnectionError

from garmin_emulator import Emulator, FaultPlan, SyntheticAthlete
from garmin_emulator.faults import (
    Drift,
    corrupt_download,
    drift,
    malformed_json,
    parse_fault_spec,
    rule_arguments,
)
from garmin_pipeline.fit import FitDecodeError, decode_activity
from tests.conftest import TOKEN_PATH, bearer, client_for

END = date(2024, 3, 31)
DAY = date(2024, 3, 20)
NAME = "synthetic-athlete-31"
SUMMARY_PATH = f"/usersummary-service/usersummary/daily/{NAME}"
LAST_USED_PATH = "/device-service/deviceservice/mylastused"


@pytest.fixture(scope="module")
def athlete() -> SyntheticAthlete:
    return SyntheticAthlete(seed=31, end_date=END, days=21)


@pytest.fixture(scope="module")
def served(athlete):
    with Emulator(athlete, port=0) as emulator:
        yield emulator


@pytest.fixture
def emu(served):
    """The module's emulator with an empty request log and no fault rules, before and after."""
    served.faults.clear()
    served.clear_request_log()
    yield served
    served.faults.clear()


def login(emu: Emulator, tmp_path: Path) -> Garmin:
    """The real garminconnect client, no retries, logged in from a token store the emulator
    wrote."""
    emu.write_token_store(tmp_path / "tokens", access_ttl_s=3600)
    garmin = client_for(emu)
    garmin.login(str(tmp_path / "tokens"))
    emu.clear_request_log()
    return garmin


def get(emu: Emulator, path: str, **kwargs: Any) -> requests.Response:
    """A GET on a fresh connection, so a reset never leaves a dead one in a shared pool."""
    with requests.Session() as session:
        return session.get(emu.base_url + path, headers=bearer(emu), timeout=10, **kwargs)


def causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def statuses(emu: Emulator, path: str) -> list[int]:
    return [r.status for r in emu.request_log if r.path == path]


def compact(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------- reset
def test_a_reset_is_a_connection_error_for_the_client_and_status_0_in_the_log(emu, tmp_path):
    garmin = login(emu, tmp_path)
    emu.faults.add("/device-service/", reset=True, times=2)
    with pytest.raises(GarminConnectConnectionError) as raised:
        garmin.get_device_last_used()
    assert any(isinstance(e, requests.ConnectionError) for e in causes(raised.value))
    with pytest.raises(requests.ConnectionError) as raw:
        get(emu, LAST_USED_PATH)
    assert any(isinstance(e, ConnectionResetError) for e in causes(raw.value))
    assert garmin.get_device_last_used()["lastUsedDeviceName"]  # times=2: the third gets through
    log = [(r.path, r.status, r.bytes_sent) for r in emu.request_log]
    assert log == [(LAST_USED_PATH, 0, 0), (LAST_USED_PATH, 0, 0), (LAST_USED_PATH, 200, 226)]
    assert emu.faults.rules == []


def test_a_reset_acts_before_the_token_check(emu):
    emu.faults.add(LAST_USED_PATH, reset=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.base_url + LAST_USED_PATH, timeout=10)  # no token at all
    assert requests.get(emu.base_url + LAST_USED_PATH, timeout=10).status_code == 401
    assert statuses(emu, LAST_USED_PATH) == [0, 401]


# ---------------------------------------------------------------------------- corrupt
def test_a_corrupt_download_is_a_valid_zip_whose_fit_fails_its_crc(emu, athlete, tmp_path):
    garmin = login(emu, tmp_path)
    activity = athlete.activities()[2]
    whole = athlete.activity_zip(activity.activity_id)
    fit = athlete.fit_bytes(activity.activity_id)
    emu.faults.add("/download-service/files/activity/", corrupt=True)
    data = garmin.download_activity(
        str(activity.activity_id), dl_fmt=Garmin.ActivityDownloadFormat.ORIGINAL
    )
    assert data != whole and len(data) == len(whole)  # a stored zip: same size, other bytes
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None  # the zip's own CRCs match: it is the FIT that is bad
        assert archive.namelist() == [f"{activity.activity_id}_ACTIVITY.fit"]
        damaged = archive.read(archive.namelist()[0])
    assert len(damaged) == len(fit)
    flipped = [i for i, (a, b) in enumerate(zip(fit, damaged, strict=True)) if a != b]
    assert 1 <= len(flipped) <= 8 and flipped == list(range(flipped[0], flipped[-1] + 1))
    assert all(fit[i] ^ damaged[i] == 0xFF for i in flipped)
    assert len(fit) // 4 < flipped[0] < 3 * len(fit) // 4  # in the middle of the data
    with (
        pytest.raises(fitdecode.FitCRCError, match="FIT footer"),
        fitdecode.FitReader(io.BytesIO(damaged), check_crc=fitdecode.CrcCheck.RAISE) as reader,
    ):
        for _ in reader:  # every message still parses: only the CRC at the end fails
            pass
    with pytest.raises(FitDecodeError):
        decode_activity(damaged, activity_id=activity.activity_id)
    again = garmin.download_activity(
        str(activity.activity_id), dl_fmt=Garmin.ActivityDownloadFormat.ORIGINAL
    )
    assert again == whole  # times=1 was used up
    assert corrupt_download(whole) == data  # deterministic


def test_a_corrupt_json_body_has_a_run_of_flipped_bytes_in_the_middle(emu):
    clean = get(emu, LAST_USED_PATH).content
    emu.faults.add(LAST_USED_PATH, corrupt=True, method="GET")
    bad = get(emu, LAST_USED_PATH)
    assert bad.status_code == 200
    middle = len(clean) // 2 - 4
    expected = clean[:middle] + bytes(b ^ 0xFF for b in clean[middle : middle + 8])
    assert bad.content == expected + clean[middle + 8 :]
    with pytest.raises(ValueError):
        json.loads(bad.content)


# ---------------------------------------------------------------------------- malformed
def test_a_malformed_body_is_a_200_json_response_that_does_not_parse(emu, athlete, tmp_path):
    garmin = login(emu, tmp_path)
    emu.faults.add("/usersummary-service/", malformed=True, times=2)
    with pytest.raises(GarminConnectConnectionError) as raised:
        garmin.get_user_summary(DAY.isoformat())
    assert any(isinstance(e, json.JSONDecodeError) for e in causes(raised.value))
    raw = get(emu, SUMMARY_PATH, params={"calendarDate": DAY.isoformat()})
    whole = compact(athlete.daily_summary(DAY))
    assert (raw.status_code, raw.headers["Content-Type"]) == (200, "application/json;charset=UTF-8")
    assert raw.content == whole[: len(whole) // 2]
    with pytest.raises(requests.JSONDecodeError):
        raw.json()
    assert garmin.get_user_summary(DAY.isoformat()) == athlete.daily_summary(DAY)
    assert statuses(emu, SUMMARY_PATH) == [200, 200, 200]


def test_malformed_turns_a_204_or_a_bare_number_into_broken_json(emu):
    assert get(emu, "/hrv-service/hrv/2020-01-01").status_code == 204
    emu.faults.add("/hrv-service/", malformed=True)
    empty = get(emu, "/hrv-service/hrv/2020-01-01")
    assert (empty.status_code, empty.content) == (200, b"{")
    assert malformed_json(b"1234") == b"12{"
    assert malformed_json(b'{"a":[1,2]}') == b'{"a":'


# ---------------------------------------------------------------------------- drift
@pytest.mark.fast
def test_drift_adds_renames_and_drops_keys_in_every_object_at_any_depth():
    body = {
        "calendarDate": "2024-03-20",
        "steps": 5,
        "nested": {"calendarDate": "x", "gone": 1, "keep": [{"gone": 2, "n": 1}, 3, "s"]},
    }
    changed = drift(add={"new": {"a": []}}, rename={"calendarDate": "date"}, drop=["gone"])(body)
    assert changed == {
        "date": "2024-03-20",
        "steps": 5,
        "nested": {"date": "x", "keep": [{"n": 1, "new": {"a": []}}, 3, "s"], "new": {"a": []}},
        "new": {"a": []},
    }
    assert list(changed) == ["date", "steps", "nested", "new"]  # a rename keeps the key's place
    assert body["calendarDate"] == "2024-03-20" and "gone" in body["nested"]  # input untouched
    assert changed["new"] is not changed["nested"]["new"]  # added values are copies
    assert drift(add={"steps": -1})({"steps": 5, "x": [{"steps": 9}]}) == {
        "steps": -1,
        "x": [{"steps": -1}],
    }
    assert drift(drop=["a"])([1, "a", None]) == [1, "a", None]  # only object keys change


@pytest.mark.fast
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ValueError),
        ({"rename": {"a": "b"}, "drop": ["a"]}, ValueError),
        ({"add": {"a": 1}, "drop": ["a"]}, ValueError),
        ({"drop": "abc"}, TypeError),
        ({"rename": {"a": 1}}, TypeError),
    ],
)
def test_drift_refuses_contradictions(kwargs, error):
    with pytest.raises(error):
        drift(**kwargs)


def test_the_client_reads_a_drifted_body_exactly(emu, athlete, tmp_path):
    garmin = login(emu, tmp_path)
    undrifted = garmin.get_sleep_data(DAY.isoformat())
    assert undrifted == athlete.sleep(DAY)
    emu.faults.add(
        "/wellness-service/wellness/dailySleepData/",
        transform=drift(
            add={"schemaVersion": 2},
            rename={"calendarDate": "sleepDate"},
            drop=["sleepTimeSeconds", "restingHeartRate"],
        ),
    )
    drifted = garmin.get_sleep_data(DAY.isoformat())
    assert set(drifted) == set(undrifted) - {"restingHeartRate"} | {"schemaVersion"}
    dto, was = drifted["dailySleepDTO"], undrifted["dailySleepDTO"]
    assert set(dto) == set(was) - {"calendarDate", "sleepTimeSeconds"} | {
        "sleepDate",
        "schemaVersion",
    }
    assert dto["sleepDate"] == was["calendarDate"] == DAY.isoformat()
    assert dto["deepSleepSeconds"] == was["deepSleepSeconds"]
    levels, were = drifted["sleepLevels"], undrifted["sleepLevels"]
    assert len(were) > 0
    pairs = zip(levels, were, strict=True)
    assert all(set(item) == {*was_item, "schemaVersion"} for item, was_item in pairs)
    assert drifted == drift(
        add={"schemaVersion": 2},
        rename={"calendarDate": "sleepDate"},
        drop=["sleepTimeSeconds", "restingHeartRate"],
    )(undrifted)
    assert garmin.get_sleep_data(DAY.isoformat()) == undrifted


def test_a_transform_injects_hostile_values_and_leaves_non_json_bodies_alone(emu, athlete):
    emu.faults.add(SUMMARY_PATH, transform=lambda body: {**body, "totalSteps": -1})
    hostile = get(emu, SUMMARY_PATH, params={"calendarDate": DAY.isoformat()})
    assert hostile.status_code == 200
    assert hostile.json() == {**athlete.daily_summary(DAY), "totalSteps": -1}
    activity = athlete.activities()[0]
    path = f"/download-service/files/activity/{activity.activity_id}"
    emu.faults.add(path, transform=drift(add={"x": 1}))
    assert get(emu, path).content == athlete.activity_zip(activity.activity_id)
    emu.faults.add(LAST_USED_PATH, transform=lambda body: body["no such key"])
    broken = get(emu, LAST_USED_PATH)
    assert broken.status_code == 500
    assert broken.json()["message"] == "injected fault: transform failed: KeyError('no such key')"
    assert emu.faults.rules == []


def test_a_401_does_not_use_up_a_body_fault(emu, athlete, tmp_path):
    garmin = login(emu, tmp_path)
    emu.faults.expire_tokens()
    emu.faults.add("/usersummary-service/", transform=drift(drop=["totalSteps"]))
    summary = garmin.get_user_summary(DAY.isoformat())  # 401, refresh, retry: drifted
    assert "totalSteps" not in summary
    assert [(r.path, r.status) for r in emu.request_log] == [
        (SUMMARY_PATH, 401),
        (TOKEN_PATH, 200),
        (SUMMARY_PATH, 200),
    ]
    assert garmin.get_user_summary(DAY.isoformat())["totalSteps"] > 0


# ---------------------------------------------------------------------------- times, method
def _outcome(emu: Emulator, path: str) -> str | bytes:
    try:
        return get(emu, path).content
    except requests.ConnectionError:
        return "reset"


@pytest.mark.parametrize(
    "fault",
    [
        {"reset": True},
        {"corrupt": True},
        {"malformed": True},
        {"truncate": True},
        {"transform": drift(add={"drifted": True})},
        {"status": 503},
        {"delay_s": 0.01},
    ],
    ids=lambda fault: next(iter(fault)),
)
def test_times_method_and_pattern_hold_for_every_kind(emu, fault):
    clean = get(emu, LAST_USED_PATH).content
    emu.faults.add(LAST_USED_PATH, method="POST", **fault)  # never matches a GET
    emu.faults.add(re.compile(r"/deviceservice/mylastused$"), method="get", times=2, **fault)
    emu.faults.add("/hrv-service/", times=None, **fault)  # another path: never used here
    outcomes = [_outcome(emu, LAST_USED_PATH) for _ in range(3)]
    if "delay_s" in fault:
        assert outcomes == [clean] * 3  # delayed, not changed
    else:
        assert outcomes[0] == outcomes[1] != clean
    assert outcomes[2] == clean
    assert [(r.status, r.hits, r.method) for r in emu.faults.rules] == [
        (fault.get("status"), 0, "POST"),
        (fault.get("status"), 0, None),
    ]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {"status": 503, "truncate": True}),
        ((), {"status": 429, "transform": drift(drop=["a"])}),
        ((), {"status": 500, "reset": True}),
        ((), {"reset": True, "corrupt": True}),
        ((), {"reset": True, "retry_after": 5}),
        ((), {"truncate": True, "corrupt": True}),
        ((), {"malformed": True, "transform": drift(drop=["a"])}),
        ((), {"corrupt": True, "retry_after": 30}),
        ((None,), {}),  # status=None and nothing else: changes nothing
        ((), {"status": 99}),
        ((), {"times": 0, "reset": True}),
        ((), {"delay_s": -1}),
        ((), {"status": 429, "retry_after": -1}),
    ],
)
def test_rules_that_cannot_mean_anything_are_refused(args, kwargs):
    plan = FaultPlan()
    with pytest.raises(ValueError):
        plan.add("/x/", *args, **kwargs)
    with pytest.raises(TypeError):
        plan.add("/x/", transform="not callable")  # type: ignore[arg-type]
    assert plan.rules == []


@pytest.mark.fast
def test_defaults_stay_as_they_were():
    plan = FaultPlan()
    assert plan.add("/a/").status == 429
    assert plan.add("/a/", retry_after=60).status == 429
    assert plan.add("/a/", delay_s=1).status is None
    assert plan.add("/a/", truncate=True).status is None
    assert plan.add("/a/", reset=True).status is None
    assert plan.add("/a/", None, delay_s=1).status is None
    assert plan.add("/a/", 503, delay_s=1).status == 503
    assert plan.add("/a/", transform=drift(drop=["a"])).transform == Drift(drop=frozenset({"a"}))


# ---------------------------------------------------------------------------- --fault specs
@pytest.mark.fast
@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (
            "/usersummary-service/:429:retry_after=3600:times=2",
            {"path": "/usersummary-service/", "status": 429, "retry_after": 3600, "times": 2},
        ),
        (
            "/download-service/files/activity/:corrupt",
            {"path": "/download-service/files/activity/", "corrupt": True},
        ),
        ("/hrv-service/:reset:times=*", {"path": "/hrv-service/", "reset": True, "times": None}),
        ("/a/:malformed:method=post", {"path": "/a/", "malformed": True, "method": "POST"}),
        ("/a/:truncate:delay_s=1.5", {"path": "/a/", "truncate": True, "delay_s": 1.5}),
        ("/a/:status=503", {"path": "/a/", "status": 503}),
        (
            "/a/:drop=x,y:rename=a>b,c>d:add=n=1:add=s=word:drop=z",
            {
                "path": "/a/",
                "drift": {
                    "add": {"n": 1, "s": "word"},
                    "rename": {"a": "b", "c": "d"},
                    "drop": ["x", "y", "z"],
                },
            },
        ),
        (
            '/a/:add=v=[1,2]:add=q="7"',
            {"path": "/a/", "drift": {"add": {"v": [1, 2], "q": "7"}, "rename": {}, "drop": []}},
        ),
    ],
)
def test_a_fault_spec_parses_into_the_control_endpoints_json_rule(spec, rule):
    assert parse_fault_spec(spec) == rule
    FaultPlan().add_json(rule)  # and it is a rule that means something


@pytest.mark.fast
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("usersummary-service:429", "starts with the path prefix"),
        ("/a/:bogus", "unknown item 'bogus'"),
        ("/a/:times=two", "times takes a number, not 'two'"),
        ("/a/:delay_s=", "delay_s takes a number"),
        ("/a/:colour=red", "unknown key 'colour'"),
        ("/a/:rename=a", "rename takes OLD>NEW"),
        ("/a/:add=x", "add takes FIELD=VALUE"),
        ("/a/:drop=a,,b", "drop takes FIELD[,FIELD]"),
    ],
)
def test_a_bad_fault_spec_says_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        parse_fault_spec(spec)
    assert str(raised.value).startswith(repr(spec))


@pytest.mark.fast
@pytest.mark.parametrize(
    "rule",
    [
        {"status": 503},
        {"path": "/a/", "colour": "red"},
        {"path": "/a/", "status": True},
        {"path": "/a/", "reset": 1},
        {"path": "/a/", "times": "2"},
        {"path": "(", "regex": True},
        {"path": "/a/", "drift": {"add": {}, "keep": []}},
        {"path": "/a/", "drift": {"rename": {"a": 2}}},
        {"path": "/a/", "drift": []},
        ["/a/"],
    ],
)
def test_a_bad_json_rule_is_a_value_error(rule):
    with pytest.raises(ValueError):
        rule_arguments(rule)


@pytest.mark.fast
def test_the_cli_turns_fault_specs_into_the_emulators_plan(monkeypatch, tmp_path):
    import garmin_emulator as package
    from garmin_pipeline import cli

    served: dict[str, Any] = {}
    monkeypatch.setattr(package, "serve", lambda athlete, **kwargs: served.update(kwargs))
    monkeypatch.setenv("GARMIN_TOKENS", str(tmp_path / "tokens.json"))
    runner = CliRunner()
    args = ["emulator", "--end-date", "2024-03-31", "--days", "7"]
    good = runner.invoke(
        cli.main,
        [
            *args,
            "--fault",
            "/usersummary-service/:429:retry_after=3600:times=2",
            "--fault",
            "/download-service/files/activity/:corrupt",
        ],
    )
    assert good.exit_code == 0, good.output
    plan = served["faults"]
    assert [(r.pattern, r.status, r.retry_after, r.times, r.corrupt) for r in plan.rules] == [
        ("/usersummary-service/", 429, 3600, 2, False),
        ("/download-service/files/activity/", None, None, 1, True),
    ]
    assert "fault: {'path': '/usersummary-service/'" in good.output
    bad = runner.invoke(cli.main, [*args, "--fault", "/a/:503:corrupt"])
    assert bad.exit_code == 2
    error = [line for line in bad.output.splitlines() if line.startswith("Error")]
    assert error == [
        "Error: Invalid value for '--fault': '/a/:503:corrupt': status=503 answers in the "
        "endpoint's place; corrupt alters the endpoint's own response (leave status out)"
    ]


# ---------------------------------------------------------------------------- control endpoint
def test_the_control_endpoint_adds_lists_and_clears_rules_and_expires_tokens(
    emu, athlete, tmp_path
):
    garmin = login(emu, tmp_path)
    control = emu.base_url + "/_emulator/faults"
    rule = {
        "path": "/usersummary-service/",
        "status": 503,
        "times": 2,
        "retry_after": 30,
        "delay_s": 0,
        "truncate": False,
        "corrupt": False,
        "malformed": False,
        "reset": False,
        "method": None,
    }
    added = requests.post(control, json=rule, timeout=10)  # no bearer token needed
    assert added.status_code == 201
    assert added.json() == {**rule, "regex": False, "delay_s": 0, "hits": 0}
    drifted = {"path": "/wellness-service/", "drift": {"rename": {"calendarDate": "day"}}}
    assert requests.post(control, json=drifted, timeout=10).json()["drift"] == {
        "add": {},
        "rename": {"calendarDate": "day"},
        "drop": [],
    }
    listed = requests.get(control, timeout=10).json()
    assert [(r["path"], r["status"]) for r in listed] == [
        ("/usersummary-service/", 503),
        ("/wellness-service/", None),
    ]
    refused = get(emu, SUMMARY_PATH, params={"calendarDate": DAY.isoformat()})
    assert (refused.status_code, refused.headers["Retry-After"]) == (503, "30")
    bad = requests.post(control, json={"path": "/a/", "status": 503, "corrupt": True}, timeout=10)
    assert bad.status_code == 400 and bad.json()["message"].startswith("bad fault rule: ")
    json_type = {"Content-Type": "application/json"}
    assert (
        requests.post(control, data=b"{not json", headers=json_type, timeout=10).status_code == 400
    )
    assert requests.delete(control, headers=json_type, timeout=10).status_code == 204
    assert emu.faults.rules == []
    expired = requests.post(emu.base_url + "/_emulator/expire-tokens", json={}, timeout=10)
    assert expired.status_code == 200
    assert garmin.get_user_summary(DAY.isoformat()) == athlete.daily_summary(DAY)
    assert [(r.path, r.status) for r in emu.request_log] == [  # control calls are not logged
        (SUMMARY_PATH, 503),
        (SUMMARY_PATH, 401),
        (TOKEN_PATH, 200),
        (SUMMARY_PATH, 200),
    ]
    assert requests.put(control, json={}, timeout=10).status_code == 405


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_control_paths_are_served_to_loopback_clients_only(emu):
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/_emulator/faults",
        "raw_path": b"/_emulator/faults",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("192.0.2.7", 50000),
        "server": ("0.0.0.0", 8765),
        "scheme": "http",
        "root_path": "",
        "http_version": "1.1",
    }
    body = json.dumps({"path": "/a/", "status": 503}).encode()
    remote = asyncio.run(_call(emu.app, scope, body))
    assert remote[0]["status"] == 401  # an ordinary API path to a stranger: a token is needed
    assert emu.faults.rules == []
    assert [r.path for r in emu.request_log] == ["/_emulator/faults"]
    local = asyncio.run(_call(emu.app, {**scope, "client": ("127.0.0.1", 50000)}, body))
    assert local[0]["status"] == 201
    assert [(r.pattern, r.status) for r in emu.faults.rules] == [("/a/", 503)]
