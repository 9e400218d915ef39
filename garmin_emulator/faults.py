"""Injected failures: rate limits, 5xx bursts, slow responses, dropped connections, cut or
corrupt downloads, malformed JSON, schema drift and revoked tokens.

A ``FaultPlan`` is shared with the running server and may be changed from any thread while it
serves: tests add a rule, make the call they want to break, and read the request log.

    plan.add("/usersummary-service/", 429, retry_after=3600, times=2)   # rate limited twice
    plan.add("/download-service/", reset=True)             # connection dropped, no response
    plan.add("/download-service/", corrupt=True)           # valid zip, FIT fails its CRC check
    plan.add("/download-service/", truncate=True)          # first half of the body only
    plan.add("/hrv-service/", malformed=True)              # 200, JSON content type, not JSON
    plan.add("/usersummary-service/", transform=drift(rename={"totalSteps": "steps"}))
    plan.add("/hrv-service/", delay_s=20)                  # slower than the client's timeout
    plan.expire_tokens()                                   # every access token now gets 401

Every rule takes ``times`` (``None``: until cleared), ``method`` and a path ``pattern`` (a
prefix, or a compiled regex searched in the path), and ``account`` to break only the requests
of one account an emulator serves (those whose bearer token or Personal API key names it; SSO
and DI token requests name none until their endpoint reads the body). A rule that answers in
the endpoint's place (an error ``status`` or a ``reset``) acts before the bearer token is
checked, like Garmin's edge; one that alters the endpoint's own response acts only on
requests the endpoint serves, so a 401 (and the client's refresh-and-retry) does not use it up.

From outside the process, a running emulator takes the same rules on loopback-only control
paths (no bearer token, never in the request log; a request with an ``Origin`` header, i.e.
from a web page, is refused, and a POST or DELETE must be ``Content-Type: application/json``):

    POST   /_emulator/faults          {"path": "/download-service/", "status": 503, "times": 2,
                                       "retry_after": 30, "delay_s": 0, "truncate": false,
                                       "corrupt": false, "malformed": false, "reset": false,
                                       "method": null, "regex": false, "account": null,
                                       "drift": {"add": {}, "rename": {}, "drop": []}}
    GET    /_emulator/faults          the live rules
    DELETE /_emulator/faults          clear them
    POST   /_emulator/expire-tokens   ``FaultPlan.expire_tokens`` (``?account=NAME``: only
                                       that account's access tokens)

and ``garmin-pipeline emulator --fault SPEC`` (repeatable) takes them in a compact form,
``PATH[:ITEM]...``, where an ITEM is an HTTP status (``429``), a flag (``truncate``,
``corrupt``, ``malformed``, ``reset``) or ``KEY=VALUE`` with KEY one of ``status``, ``times``
(a count, or ``*`` for every request), ``retry_after``, ``delay_s``, ``method``, ``account``,
and for drift
``add=FIELD=JSON``, ``rename=OLD>NEW[,OLD>NEW]``, ``drop=FIELD[,FIELD]`` (each repeatable):

    /usersummary-service/:429:retry_after=3600:times=2
    /download-service/files/activity/:corrupt
    /wellness-service/:drop=restingHeartRate:rename=calendarDate>date:add=extra=1:times=*
"""

from __future__ import annotations

import copy
import io
import json
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from garmin_emulator.http import JSON_TYPE


class _Unset:
    pass


_UNSET = _Unset()

Transform = Callable[[Any], Any]


# ---------------------------------------------------------------------------- schema drift
@dataclass(frozen=True)
class Drift:
    """A body transform renaming, dropping and adding keys in every JSON object of a body (at
    any depth, list items included): what a Garmin schema change looks like to a parser."""

    add: Mapping[str, Any] = field(default_factory=dict)
    rename: Mapping[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()

    def __call__(self, body: Any) -> Any:
        if isinstance(body, list):
            return [self(item) for item in body]
        if not isinstance(body, dict):
            return body
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key not in self.drop:
                out[self.rename.get(key, key)] = self(value)
        for key, value in self.add.items():
            out[key] = copy.deepcopy(value)  # added values are not drifted themselves
        return out

    def to_json(self) -> dict[str, Any]:
        return {"add": dict(self.add), "rename": dict(self.rename), "drop": sorted(self.drop)}


def drift(
    add: dict[str, Any] | None = None,
    rename: dict[str, str] | None = None,
    drop: Iterable[str] = (),
) -> Drift:
    """A ``transform`` for ``FaultPlan.add``: in every JSON object of the body, rename keys
    (``{old: new}``, in place), drop keys (by their served name) and set ``add``'s keys (added
    or overwritten: how hostile values are injected)."""
    if isinstance(drop, str):
        raise TypeError("drop takes an iterable of key names, not one string")
    add, rename, dropped = dict(add or {}), dict(rename or {}), frozenset(drop)
    for name, keys in (("add", add), ("rename", rename)):
        if not all(isinstance(k, str) for k in keys):
            raise TypeError(f"{name} keys must be strings")
    if not all(isinstance(v, str) for v in rename.values()):
        raise TypeError("rename maps old key names to new key names (strings)")
    if not all(isinstance(k, str) for k in dropped):
        raise TypeError("drop takes key names (strings)")
    if both := dropped & rename.keys():
        raise ValueError(f"keys both renamed and dropped: {sorted(both)}")
    if both := dropped & add.keys():
        raise ValueError(f"keys both dropped and added (add alone overwrites): {sorted(both)}")
    if not (add or rename or dropped):
        raise ValueError("drift needs something to add, rename or drop")
    return Drift(add, rename, dropped)


# ---------------------------------------------------------------------------- body damage
def truncated(body: bytes) -> bytes:
    """The first half: a complete HTTP response whose body is a cut file."""
    return body[: len(body) // 2]


def malformed_json(body: bytes) -> bytes:
    """The first half of the body, which leaves an object or array unclosed; a stray ``{`` is
    added when that half would still parse (a bare number) or is empty (a 204)."""
    cut = body[: len(body) // 2]
    try:
        json.loads(cut)
    except ValueError:
        if cut.strip():
            return cut
    return cut + b"{"


def _flip(data: bytes, start: int, end: int) -> bytes:
    """XOR 0xFF over ``data[start:end]``: deterministic, and every byte in the run changes."""
    return data[:start] + bytes(b ^ 0xFF for b in data[start:end]) + data[end:]


def _fit_payload(fit: bytes) -> tuple[int, int] | None:
    """Where the values of one data message near the middle of a FIT file sit, preferring a
    ``record``; None when the bytes do not walk as FIT.

    Flipping values (never record headers or definitions) keeps the file parseable to its end,
    so a decoder fails on the CRC rather than on a garbled message in the middle.
    """
    if len(fit) < 14 or fit[8:12] != b".FIT":
        return None
    end = min(fit[0] + int.from_bytes(fit[4:8], "little"), len(fit))
    pos = fit[0]
    defined: dict[int, tuple[int, int]] = {}  # local type -> (global number, payload size)
    spans: list[tuple[int, int, int]] = []  # (global number, start, end)
    try:
        while pos < end:
            header = fit[pos]
            pos += 1
            if header & 0x80:  # compressed-timestamp data message
                local = (header >> 5) & 0x03
            elif header & 0x40:  # definition message
                big_endian = fit[pos + 1] == 1
                number = int.from_bytes(fit[pos + 2 : pos + 4], "big" if big_endian else "little")
                count = fit[pos + 4]
                pos += 5
                size = sum(fit[pos + 3 * i + 1] for i in range(count))
                pos += 3 * count
                if header & 0x20:  # developer fields follow
                    dev_count = fit[pos]
                    pos += 1
                    size += sum(fit[pos + 3 * i + 1] for i in range(dev_count))
                    pos += 3 * dev_count
                defined[header & 0x0F] = (number, size)
                continue
            else:
                local = header & 0x0F
            number, size = defined[local]
            if size:
                spans.append((number, pos, pos + size))
            pos += size
    except (IndexError, KeyError):
        return None
    candidates = [s for s in spans if s[0] == 20] or spans  # 20: the record message
    if not candidates:
        return None
    middle = (fit[0] + end) // 2
    _, start, stop = min(candidates, key=lambda s: abs(s[1] - middle))
    return start, stop


def corrupt_fit(fit: bytes) -> bytes:
    """Flip up to 8 value bytes of a data message mid-file: the FIT still walks, its CRC
    fails. Bytes that are not FIT get a run in the middle flipped instead."""
    span = _fit_payload(fit)
    if span is None:
        return corrupt_bytes(fit)
    start, stop = span
    return _flip(fit, start, min(stop, start + 8))


def corrupt_bytes(body: bytes) -> bytes:
    """Flip a run of up to 8 bytes in the middle of the body."""
    start = max(0, len(body) // 2 - 4)
    return _flip(body, start, min(len(body), start + 8))


def corrupt_download(body: bytes) -> bytes:
    """A zip stays a valid zip (its own CRCs recomputed) whose FIT member is damaged inside;
    a bare FIT file is damaged the same way; any other body gets bytes flipped mid-way."""
    if not (body.startswith(b"PK") and zipfile.is_zipfile(io.BytesIO(body))):
        return corrupt_fit(body) if body[8:12] == b".FIT" else corrupt_bytes(body)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(body)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        members = source.infolist()
        fits = [m for m in members if m.filename.lower().endswith(".fit")] or members[:1]
        for member in members:
            data = source.read(member)
            info = zipfile.ZipInfo(member.filename, date_time=member.date_time)
            info.compress_type = member.compress_type
            info.create_system = member.create_system
            info.external_attr = member.external_attr
            target.writestr(info, corrupt_fit(data) if member in fits else data)
    return out.getvalue()


# ---------------------------------------------------------------------------- rules
@dataclass
class FaultRule:
    """Break the next ``times`` requests whose path matches (``None``: every one, until cleared).

    ``pattern`` is a path prefix (``str``) or a compiled regex searched in the path. The server
    first sleeps ``delay_s`` (a client timeout shorter than that sees a timeout), then either
    answers in the endpoint's place (``status`` with a JSON ``{"message": ...}`` and
    ``Retry-After`` when set; or ``reset``: the connection is dropped without a response) or,
    with ``status=None``, alters the endpoint's response: ``truncate`` (first half),
    ``corrupt`` (flipped bytes, see ``corrupt_download``), ``malformed`` (200, not JSON) or
    ``transform`` (a function of the parsed JSON body, e.g. ``drift(...)``). With ``account``
    set, only that account's requests match.
    """

    pattern: str | re.Pattern[str]
    status: int | None = 429
    retry_after: int | None = None
    times: int | None = 1
    delay_s: float = 0.0
    truncate: bool = False
    method: str | None = None
    hits: int = 0
    reset: bool = False
    corrupt: bool = False
    malformed: bool = False
    transform: Transform | None = None
    account: str | None = None

    def matches(self, method: str, path: str, account: str | None = None) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.account is not None and self.account != account:
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(path) is not None
        return path.startswith(self.pattern)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    @property
    def answers(self) -> bool:
        """Whether the rule replaces the endpoint's answer (so it acts before the token check)."""
        return self.status is not None or self.reset

    @property
    def alters_body(self) -> bool:
        return self.truncate or self.corrupt or self.malformed or self.transform is not None

    def alter(self, status: int, content_type: str | None, body: bytes) -> tuple[int, str, bytes]:
        """The (status, content type, body) to send instead of the endpoint's. A ``transform``
        leaves a body that is not JSON (a zip, a 204) alone; one that raises gives a 500."""
        kept = content_type or ""
        if self.truncate:
            return status, kept, truncated(body)
        if self.corrupt:
            return status, kept, corrupt_download(body)
        if self.malformed:
            return 200, JSON_TYPE, malformed_json(body)
        if self.transform is not None and body and "json" in kept.lower():
            try:
                parsed = json.loads(body)
            except ValueError:
                return status, kept, body
            try:
                changed = self.transform(parsed)
                served = json.dumps(changed, ensure_ascii=False, separators=(",", ":"))
            except Exception as error:  # a broken transform is the test's bug: say so, loudly
                message = {"message": f"injected fault: transform failed: {error!r}"}
                return 500, JSON_TYPE, json.dumps(message).encode("utf-8")
            return status, kept, served.encode("utf-8")
        return status, kept, body

    def to_json(self) -> dict[str, Any]:
        """The rule as the control endpoint takes and lists it (plus ``hits``)."""
        regex = isinstance(self.pattern, re.Pattern)
        out: dict[str, Any] = {
            "path": self.pattern.pattern if isinstance(self.pattern, re.Pattern) else self.pattern,
            "regex": regex,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "delay_s": self.delay_s,
            "truncate": self.truncate,
            "corrupt": self.corrupt,
            "malformed": self.malformed,
            "reset": self.reset,
            "method": self.method,
            "hits": self.hits,
        }
        if self.account is not None:
            out["account"] = self.account
        if isinstance(self.transform, Drift):
            out["drift"] = self.transform.to_json()
        elif self.transform is not None:
            out["transform"] = repr(self.transform)
        return out


class FaultPlan:
    """The live set of fault rules plus the token-revocation epoch; thread-safe."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._token_epoch = 0

    def add(
        self,
        path_pattern: str | re.Pattern[str],
        status: int | _Unset | None = _UNSET,
        *,
        retry_after: int | None = None,
        times: int | None = 1,
        delay_s: float = 0.0,
        truncate: bool = False,
        method: str | None = None,
        reset: bool = False,
        corrupt: bool = False,
        malformed: bool = False,
        transform: Transform | None = None,
        account: str | None = None,
    ) -> FaultRule:
        """Add a rule. ``status`` defaults to 429, or to ``None`` (serve the endpoint's
        response) when the rule only delays, resets or alters the body:
        ``add("/download-service", truncate=True)`` cuts a download.

        Raises ValueError for rules that cannot mean anything: two body faults at once, a body
        fault or a reset with an error status, ``retry_after`` without an error status, a rule
        that changes nothing.
        """
        if not isinstance(path_pattern, str | re.Pattern):
            raise TypeError("path_pattern is a path prefix (str) or a compiled regex")
        if transform is not None and not callable(transform):
            raise TypeError("transform must be a callable taking and returning the JSON body")
        bodies = [
            name
            for name, on in (
                ("truncate", truncate),
                ("corrupt", corrupt),
                ("malformed", malformed),
                ("transform", transform is not None),
            )
            if on
        ]
        if isinstance(status, _Unset):
            status = None if (bodies or reset or delay_s) else 429
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for every request)")
        if delay_s < 0:
            raise ValueError("delay_s must be >= 0")
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status (100..599), not {status}")
        if len(bodies) > 1:
            raise ValueError(f"one body fault per rule, not {' and '.join(bodies)}")
        if reset and (status is not None or bodies):
            raise ValueError("a reset sends no response, so it takes no status or body fault")
        if status is not None and bodies:
            raise ValueError(
                f"status={status} answers in the endpoint's place; {bodies[0]} alters the "
                "endpoint's own response (leave status out)"
            )
        if retry_after is not None and (status is None or retry_after < 0):
            raise ValueError("retry_after (seconds >= 0) goes with an error status")
        if status is None and not (bodies or reset or delay_s):
            raise ValueError("status=None without a delay, reset or body fault changes nothing")
        rule = FaultRule(
            path_pattern,
            status,
            retry_after,
            times,
            delay_s,
            truncate,
            method,
            reset=reset,
            corrupt=corrupt,
            malformed=malformed,
            transform=transform,
            account=account,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def add_json(self, data: Mapping[str, Any]) -> FaultRule:
        """Add a rule given as the control endpoint's JSON (see the module docstring)."""
        pattern, kwargs = rule_arguments(data)
        return self.add(pattern, **kwargs)

    def take(
        self,
        method: str,
        path: str,
        *,
        answers: bool | None = None,
        account: str | None = None,
    ) -> FaultRule | None:
        """The first live rule matching this request (of ``account``, when its credential
        names one), counted as used (the server calls this). ``answers`` limits the search to
        rules that do (True) or do not (False) replace the endpoint's answer: the server asks
        before and after the token check."""
        with self._lock:
            for rule in self._rules:
                if answers is not None and rule.answers != answers:
                    continue
                if not rule.exhausted and rule.matches(method, path, account):
                    rule.hits += 1
                    if rule.exhausted:
                        self._rules.remove(rule)
                    return rule
        return None

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def expire_tokens(self) -> None:
        """Revoke every access token issued so far: the next API call gets 401, the client
        refreshes (refresh tokens stay valid) and retries."""
        with self._lock:
            self._token_epoch += 1

    @property
    def token_epoch(self) -> int:
        with self._lock:
            return self._token_epoch


# ---------------------------------------------------------------------------- rules as data
_FLAGS = ("truncate", "corrupt", "malformed", "reset")
_JSON_KEYS = {"path", "regex", "status", "times", "retry_after", "delay_s", "method", "drift"}
_JSON_KEYS |= {"account"}
_JSON_KEYS |= set(_FLAGS)


def _typed(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], nullable: bool) -> Any:
    value = data[key]
    if value is None and nullable:
        return None
    # bool is an int in Python; a JSON true is never a count or a status.
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds) + (" or null" if nullable else "")
        raise ValueError(f"{key} must be {names}, not {value!r}")
    return value


def rule_arguments(data: Mapping[str, Any]) -> tuple[str | re.Pattern[str], dict[str, Any]]:
    """(pattern, keyword arguments for ``FaultPlan.add``) from a JSON rule; ValueError names
    the offending key. A missing ``status`` means the default, ``null`` serves normally."""
    if not isinstance(data, Mapping):
        raise ValueError("a fault rule is a JSON object")
    if unknown := sorted(set(data) - _JSON_KEYS):
        raise ValueError(f"unknown keys {unknown}; a rule takes {sorted(_JSON_KEYS)}")
    if "path" not in data:
        raise ValueError("path is required (a path prefix, or a regex with regex: true)")
    path = _typed(data, "path", (str,), nullable=False)
    regex = "regex" in data and _typed(data, "regex", (bool,), nullable=False)
    try:
        pattern: str | re.Pattern[str] = re.compile(path) if regex else path
    except re.error as error:
        raise ValueError(f"path is not a valid regex: {error}") from None
    kwargs: dict[str, Any] = {}
    for key, kinds, nullable in (
        ("status", (int,), True),
        ("times", (int,), True),
        ("retry_after", (int,), True),
        ("delay_s", (int, float), False),
        ("method", (str,), True),
        ("account", (str,), True),
        *((flag, (bool,), False) for flag in _FLAGS),
    ):
        if key in data:
            kwargs[key] = _typed(data, key, kinds, nullable)
    if data.get("drift") is not None:
        spec = _typed(data, "drift", (dict,), nullable=False)
        if unknown := sorted(set(spec) - {"add", "rename", "drop"}):
            raise ValueError(f"unknown drift keys {unknown}; drift takes add, rename, drop")
        try:
            kwargs["transform"] = drift(
                _typed(spec, "add", (dict,), True) if "add" in spec else None,
                _typed(spec, "rename", (dict,), True) if "rename" in spec else None,
                _typed(spec, "drop", (list,), True) or () if "drop" in spec else (),
            )
        except TypeError as error:
            raise ValueError(f"drift: {error}") from None
    return pattern, kwargs


def parse_fault_spec(spec: str) -> dict[str, Any]:
    """The JSON rule for a compact ``--fault`` spec (grammar in the module docstring).

    ``"/usersummary-service/:429:retry_after=3600:times=2"`` gives ``{"path":
    "/usersummary-service/", "status": 429, "retry_after": 3600, "times": 2}``. ValueError says
    what is wrong in one line; the rule's own sense is checked when it is added.
    """
    path, *items = spec.strip().split(":")
    if not path.startswith("/"):
        raise ValueError(f"{spec!r}: a fault spec starts with the path prefix, e.g. /hrv-service/")
    rule: dict[str, Any] = {"path": path}
    add: dict[str, Any] = {}
    rename: dict[str, str] = {}
    drop: list[str] = []
    for item in items:
        key, has_value, value = item.partition("=")
        try:
            if not has_value:
                if re.fullmatch(r"\d{3}", item):
                    rule["status"] = int(item)
                elif item in _FLAGS:
                    rule[item] = True
                else:
                    raise ValueError(
                        f"unknown item {item!r} (a status like 503, one of {', '.join(_FLAGS)}, "
                        "or KEY=VALUE)"
                    )
            elif key in ("status", "retry_after"):
                rule[key] = int(value)
            elif key == "times":
                rule[key] = None if value == "*" else int(value)
            elif key == "delay_s":
                rule[key] = float(value)
            elif key == "method":
                rule[key] = value.upper()
            elif key == "account":
                rule[key] = value
            elif key == "add":
                name, has_json, raw = value.partition("=")
                if not name or not has_json:
                    raise ValueError(f"add takes FIELD=VALUE, not {value!r}")
                try:
                    add[name] = json.loads(raw)
                except ValueError:
                    add[name] = raw  # a bare word is a string
            elif key == "rename":
                for pair in value.split(","):
                    old, arrow, new = pair.partition(">")
                    if not (old and arrow and new):
                        raise ValueError(f"rename takes OLD>NEW[,OLD>NEW], not {value!r}")
                    rename[old] = new
            elif key == "drop":
                if not all(value.split(",")):
                    raise ValueError(f"drop takes FIELD[,FIELD], not {value!r}")
                drop.extend(value.split(","))
            else:
                raise ValueError(
                    f"unknown key {key!r} (status, times, retry_after, delay_s, method, account, "
                    "add, rename, drop)"
                )
        except ValueError as error:
            message = str(error)
            if message.startswith("invalid literal") or message.startswith("could not convert"):
                message = f"{key} takes a number, not {value!r}"
            raise ValueError(f"{spec!r}: {message}") from None
    if add or rename or drop:
        rule["drift"] = {"add": add, "rename": rename, "drop": drop}
    return rule
