"""``CloudburstReference``: a key in the store passed as a function argument."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CloudburstReference:
    """Passed as an argument, it is replaced by the value stored at ``key`` before the
    function runs. With ``deserialize=False`` the function receives the stored bytes (a value
    stored as ``bytes`` or ``str`` comes back as its bytes)."""

    key: str
    deserialize: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"a reference needs a non-empty string key, got {self.key!r}")


__all__ = ["CloudburstReference"]
