"""The account in the Dagster UI: token health and the 429 cooldown as checks on
`garmin/account`, run with every sync, and a morning schedule that skips while cooling down.
Tokens come from the emulator's own authority; the breaker is the real persisted one."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.account import ACCOUNT_CHECKS, GARMIN_ACCOUNT
from assets.definitions import defs
from assets.jobs import morning_refresh
from assets.resources import DataDir, GarminConnect
from garmin_emulator.auth import REFRESH_TTL_S, TokenAuthority
from garmin_pipeline.status import breaker_for


@pytest.fixture
def garmin(tmp_path) -> GarminConnect:
    return GarminConnect(
        data_dir=DataDir(path=str(tmp_path / "data"), account="t"),
        api_url="http://127.0.0.1:9",  # never called: both checks read local files only
        token_store=str(tmp_path / "tokens"),
        request_interval_s=0,
    )


def run_checks(garmin: GarminConnect) -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [GARMIN_ACCOUNT, *ACCOUNT_CHECKS],
        selection=dg.AssetSelection.checks(*ACCOUNT_CHECKS),
        resources={"garmin": garmin},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_the_sync_job_runs_both_account_checks_and_raw_assets_hang_off_the_account():
    job = defs.resolve_job_def("sync")
    nodes = set(job.graph.node_dict)
    assert {"garmin__account_token_health", "garmin__account_rate_limit"} <= nodes
    graph = defs.resolve_asset_graph()
    assert GARMIN_ACCOUNT.key in graph.get(dg.AssetKey(["raw", "activities"])).parent_keys


def test_token_health_warns_days_ahead_and_fails_once_lapsed(garmin, tmp_path):
    evaluation = run_checks(garmin)["token_health"]
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert "garmin-pipeline login" in evaluation.description

    now = datetime.now(UTC).timestamp()
    issued_days_ago = 27  # refresh tokens live 30 days: 3 left, inside the 7-day warning
    authority = TokenAuthority(seed=1, clock=lambda: now - issued_days_ago * 86400)
    authority.write_token_store(tmp_path / "tokens")
    evaluation = run_checks(garmin)["token_health"]
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.WARN)
    days_left = evaluation.metadata["days_left"].value
    assert days_left == pytest.approx(REFRESH_TTL_S / 86400 - issued_days_ago, abs=0.01)
    assert "lapses in" in evaluation.description

    TokenAuthority(seed=1).write_token_store(tmp_path / "tokens")
    evaluation = run_checks(garmin)["token_health"]
    assert evaluation.passed is True
    assert evaluation.metadata["status"].value == "ok"


def test_the_rate_limit_check_and_the_schedule_show_the_cooldown(garmin):
    breaker = breaker_for(garmin.settings)
    evaluation = run_checks(garmin)["rate_limit"]
    assert evaluation.passed is True
    with dg.build_schedule_context(resources={"garmin": garmin}) as context:
        assert isinstance(morning_refresh(context), dg.RunRequest)

    tripped = breaker.trip("the activity list", retry_after_s=None)
    evaluation = run_checks(garmin)["rate_limit"]
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.metadata["connect_trips"].value == 1
    assert evaluation.metadata["connect_until"].value == tripped.until.isoformat()
    assert tripped.until - tripped.opened_at == timedelta(hours=2)
    with dg.build_schedule_context(resources={"garmin": garmin}) as context:
        skipped = morning_refresh(context)
    assert isinstance(skipped, dg.SkipReason)
    assert "429" in skipped.skip_message and "the activity list" in skipped.skip_message
