"""Settings read from the environment: defaults, and clear errors for bad values."""

from __future__ import annotations

import pytest
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
