"""The audit log: one line per action, no free text, the forgotten account pseudonymised."""

import json
import stat
from datetime import UTC, datetime

import pytest

from garmin_pipeline import audit

pytestmark = pytest.mark.fast

AT = datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=UTC)


def test_a_line_holds_who_what_when_counts_and_outcome(tmp_path):
    audit.record(tmp_path, "alice", "sync", "partial", {"days": 30, "first": "2026-11-01"}, AT)
    audit.record(tmp_path, "bob", "login", now=AT)
    text = audit.audit_log_path(tmp_path).read_text()
    assert text.splitlines()[0] == json.dumps(
        {
            "account": "alice",
            "action": "sync",
            "at": "2026-12-07T09:30:15Z",
            "counts": {"days": 30, "first": "2026-11-01"},
            "outcome": "partial",
        },
        sort_keys=True,
    )
    assert [line["account"] for line in audit.read(tmp_path)] == ["alice", "bob"]
    assert stat.S_IMODE(audit.audit_log_path(tmp_path).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "counts",
    [
        {"password": "hunter2 and more"},  # free text
        {"resting_hr": 52.5},  # a health value is a float: not a count
        {"Bad Name": 1},
        {"flag": True},
    ],
)
def test_a_line_refuses_anything_but_counts_and_plain_labels(tmp_path, counts):
    with pytest.raises(audit.AuditValueError):
        audit.record(tmp_path, "alice", "sync", counts=counts)
    assert not audit.audit_log_path(tmp_path).exists()


def test_a_line_cut_by_a_crash_is_skipped_and_the_next_one_still_lands(tmp_path):
    audit.record(tmp_path, "alice", "sync", now=AT)
    with audit.audit_log_path(tmp_path).open("a") as handle:
        handle.write('{"account": "ali')
    audit.record(tmp_path, "alice", "export", now=AT)
    assert [line["action"] for line in audit.read(tmp_path)] == ["sync", "export"]


def test_forgetting_replaces_the_slug_in_every_line_and_leaves_the_others(tmp_path):
    for account in ("alice", "bob", "alice"):
        audit.record(tmp_path, account, "sync", now=AT)
    pseudonym = audit.pseudonymise(tmp_path, "alice")
    assert pseudonym is not None and pseudonym.startswith(audit.FORGOTTEN_PREFIX)
    assert [line["account"] for line in audit.read(tmp_path)] == [pseudonym, "bob", pseudonym]
    assert "alice" not in audit.audit_log_path(tmp_path).read_text()
    assert audit.pseudonymise(tmp_path, "carol") is None
