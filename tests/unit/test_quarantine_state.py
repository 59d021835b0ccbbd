"""Unit tests for the poison-function decision (cloudburst_scheduler.quarantine.Quarantine):
executor deaths attributed to functions in, quarantines out; time is an argument."""

from __future__ import annotations

import pytest
from cloudburst_protocol.errors import FunctionQuarantinedError
from cloudburst_scheduler.quarantine import Quarantine


def test_k_deaths_within_the_window_quarantine_the_function() -> None:
    """Two deaths are tolerated; the third within the window quarantines the function until
    the period has passed, naming the last exit reason."""
    q = Quarantine(deaths=3, window_s=60.0, period_s=30.0)
    assert q.died("f", "signal SIGSEGV", 0.0) is None
    assert q.died("f", "signal SIGSEGV", 1.0) is None
    assert q.check("f", 1.5) is None
    action = q.died("f", "signal SIGSEGV", 2.0)
    assert action is not None
    assert action.function == "f"
    assert action.reason == "signal SIGSEGV"
    assert action.until == pytest.approx(32.0)
    assert q.check("f", 10.0) == action


def test_deaths_older_than_the_window_do_not_count() -> None:
    q = Quarantine(deaths=3, window_s=10.0, period_s=30.0)
    assert q.died("f", "exit code 3", 0.0) is None
    assert q.died("f", "exit code 3", 5.0) is None
    assert q.died("f", "exit code 3", 12.0) is None  # the one at 0 has left the window
    assert q.died("f", "exit code 3", 13.0) is not None


def test_other_functions_are_not_affected() -> None:
    q = Quarantine(deaths=2, window_s=60.0, period_s=30.0)
    q.died("poison", "signal SIGSEGV", 0.0)
    q.died("poison", "signal SIGSEGV", 1.0)
    assert q.check("poison", 2.0) is not None
    assert q.check("healthy", 2.0) is None
    q.died("healthy", "signal SIGSEGV", 2.0)
    assert q.check("healthy", 3.0) is None


def test_after_the_period_it_is_tried_again_and_one_more_death_requarantines() -> None:
    """Past the period calls go through again (probation); a death then quarantines at once,
    for twice as long."""
    q = Quarantine(deaths=3, window_s=60.0, period_s=30.0)
    for t in (0.0, 1.0, 2.0):
        q.died("f", "signal SIGSEGV", t)
    assert q.check("f", 31.0) is not None
    assert q.check("f", 33.0) is None
    again = q.died("f", "signal SIGABRT", 34.0)
    assert again is not None
    assert again.until == pytest.approx(34.0 + 60.0)
    assert again.reason == "signal SIGABRT"


def test_the_period_doubles_up_to_its_cap() -> None:
    q = Quarantine(deaths=1, window_s=60.0, period_s=10.0, max_period_s=25.0)
    first = q.died("f", "x", 0.0)
    assert first is not None and first.until == pytest.approx(10.0)
    second = q.died("f", "x", 11.0)
    assert second is not None and second.until == pytest.approx(31.0)
    third = q.died("f", "x", 32.0)
    assert third is not None and third.until == pytest.approx(57.0)


def test_registering_again_lifts_the_quarantine_and_forgets_the_deaths() -> None:
    q = Quarantine(deaths=2, window_s=60.0, period_s=30.0)
    q.died("f", "signal SIGSEGV", 0.0)
    q.died("f", "signal SIGSEGV", 1.0)
    assert q.lift("f") is True
    assert q.check("f", 2.0) is None
    assert q.died("f", "signal SIGSEGV", 3.0) is None  # counting starts over
    assert q.lift("never-seen") is False


def test_the_error_names_the_function_the_reason_and_when() -> None:
    q = Quarantine(deaths=1, window_s=60.0, period_s=45.0)
    action = q.died("crashy", "signal SIGSEGV", 1_000.0)
    assert action is not None
    error = action.error(1_005.0)
    assert isinstance(error, FunctionQuarantinedError)
    text = str(error)
    assert "'crashy'" in text
    assert "signal SIGSEGV" in text
    assert "in 40 s" in text
    assert "register" in text


def test_listing_gives_every_current_quarantine() -> None:
    q = Quarantine(deaths=1, window_s=60.0, period_s=10.0)
    q.died("a", "x", 0.0)
    q.died("b", "y", 5.0)
    assert [entry.function for entry in q.current(6.0)] == ["a", "b"]
    assert [entry.function for entry in q.current(12.0)] == ["b"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="deaths"):
        Quarantine(deaths=0)
    with pytest.raises(ValueError, match="window"):
        Quarantine(window_s=0.0)
