"""Settings read from the environment: defaults, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
from cloudburst_cache.settings import CacheSettings
from cloudburst_protocol import config
from cloudburst_protocol.errors import InvalidArgumentError


def test_call_results_are_kept_an_hour_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.RESULT_TTL_ENV, raising=False)
    assert config.result_ttl_s() == 3600.0
    monkeypatch.setenv(config.RESULT_TTL_ENV, "0")
    assert config.result_ttl_s() == 0.0  # kept forever


@pytest.mark.parametrize("raw", ["-1", "soon"])
def test_a_bad_result_ttl_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(config.RESULT_TTL_ENV, raw)
    with pytest.raises(InvalidArgumentError, match="CLOUDBURST_RESULT_TTL"):
        config.result_ttl_s()


def test_the_embedded_store_persists_under_home_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Default: fsync always, data in $CLOUDBURST_HOME/data; CLOUDBURST_DATA_DIR moves it."""
    monkeypatch.delenv(config.FSYNC_ENV, raising=False)
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path))
    settings = CacheSettings.from_env()
    assert (settings.fsync, settings.data_path) == ("always", tmp_path / "data")
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "elsewhere"))
    monkeypatch.setenv(config.FSYNC_ENV, "EverySec")
    settings = CacheSettings.from_env()
    assert (settings.fsync, settings.data_path) == ("everysec", tmp_path / "elsewhere")


def test_fault_settings_have_their_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudburst_executor.settings import ExecutorSettings
    from cloudburst_management.settings import ManagementSettings
    from cloudburst_scheduler.settings import SchedulerSettings

    for name in (
        config.QUARANTINE_DEATHS_ENV,
        config.QUARANTINE_WINDOW_ENV,
        config.QUARANTINE_FOR_ENV,
        config.RUNAWAY_GRACE_ENV,
        config.RESTART_BACKOFF_BASE_ENV,
        config.RESTART_BACKOFF_MAX_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    scheduler = SchedulerSettings.from_env()
    assert (scheduler.quarantine_deaths, scheduler.quarantine_window_s) == (3, 60.0)
    assert scheduler.quarantine_for_s == 60.0
    assert ExecutorSettings.from_env().runaway_grace_s == 5.0
    management = ManagementSettings.from_env()
    assert (management.restart_base_s, management.restart_max_s) == (0.1, 30.0)


@pytest.mark.parametrize(
    ("name", "raw"),
    [("CLOUDBURST_FSYNC", "sometimes"), ("CLOUDBURST_HISTORY_S", "0")],
)
def test_bad_durability_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(InvalidArgumentError, match=name):
        CacheSettings.from_env()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("CLOUDBURST_QUARANTINE_DEATHS", "0"),
        ("CLOUDBURST_QUARANTINE_WINDOW", "-1"),
        ("CLOUDBURST_QUARANTINE_FOR", "0"),
        ("CLOUDBURST_RUNAWAY_GRACE", "-2"),
        ("CLOUDBURST_RESTART_BACKOFF_MAX", "0.01"),
        ("CLOUDBURST_RESTART_BACKOFF_BASE", "0"),
    ],
)
def test_a_bad_fault_setting_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    from cloudburst_executor.settings import ExecutorSettings
    from cloudburst_management.settings import ManagementSettings
    from cloudburst_scheduler.settings import SchedulerSettings

    monkeypatch.setenv(name, raw)
    reader = {
        "QUARANTINE": SchedulerSettings.from_env,
        "RUNAWAY": ExecutorSettings.from_env,
        "RESTART": ManagementSettings.from_env,
    }[name.split("_")[1]]
    with pytest.raises(InvalidArgumentError, match=name):
        reader()
