"""CLOUDBURST_STORAGE_URL: parsing, validation, and the Redis key names it leads to."""

from __future__ import annotations

import pytest
from cloudburst_cache.backends import open_backend, parse_storage_url
from cloudburst_cache.backends.memory import MemoryBackend
from cloudburst_cache.backends.redis_backend import RedisBackend, escape, unescape
from cloudburst_cache.settings import CacheSettings
from redis.crc import key_slot


@pytest.mark.parametrize("url", ["", "  ", "memory", "memory://"])
def test_empty_or_memory_is_the_embedded_store(url: str) -> None:
    assert parse_storage_url(url).kind == "memory"
    assert isinstance(open_backend(url), MemoryBackend)


@pytest.mark.parametrize(
    ("url", "kind", "client_url", "prefix", "tls"),
    [
        ("redis://127.0.0.1:6379/0", "redis", "redis://127.0.0.1:6379/0", "cb", False),
        ("redis://h:1/2?prefix=app", "redis", "redis://h:1/2", "app", False),
        ("rediss://:pw@h:1/0", "redis", "rediss://:pw@h:1/0", "cb", True),
        ("redis+cluster://h:7000", "cluster", "redis://h:7000", "cb", False),
        ("rediss+cluster://h:7000?prefix=x&a=1", "cluster", "rediss://h:7000?a=1", "x", True),
    ],
)
def test_redis_urls(url: str, kind: str, client_url: str, prefix: str, tls: bool) -> None:
    target = parse_storage_url(url)
    assert (target.kind, target.url, target.prefix, target.tls) == (kind, client_url, prefix, tls)
    assert isinstance(open_backend(url), RedisBackend)


def test_a_cluster_url_lists_its_seed_nodes() -> None:
    """The documented form: every host of redis+cluster://h:p,h:p,h:p is a seed node."""
    target = parse_storage_url(
        "redis+cluster://:pw@127.0.0.1:7301,127.0.0.1:7302, [::1]:7303?prefix=x"
    )
    assert target.kind == "cluster"
    assert target.seeds == (("127.0.0.1", 7301), ("127.0.0.1", 7302), ("::1", 7303))
    assert target.url == "redis://:pw@127.0.0.1:7301"
    assert target.describe() == "redis+cluster://127.0.0.1:7301,127.0.0.1:7302,[::1]:7303"
    assert isinstance(open_backend("redis+cluster://a:1,b:2"), RedisBackend)


@pytest.mark.parametrize(
    "url", ["redis+cluster://a:1,b:x", "redis+cluster://a:1,", "redis://a:1,b:2/0"]
)
def test_wrong_seed_lists_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="CLOUDBURST_STORAGE_URL"):
        parse_storage_url(url)


def test_the_password_is_not_shown() -> None:
    assert parse_storage_url("redis://user:secret@h:1/0").describe() == "redis://h:1/0"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://h/db",
        "redis:/h",
        "redis://",
        "h:6379",
        "redis://h:1/0?prefix=",
        "redis://h?prefix={a}",
    ],
)
def test_wrong_urls_are_refused_with_the_setting_named(url: str) -> None:
    with pytest.raises(ValueError, match="CLOUDBURST_STORAGE_URL"):
        parse_storage_url(url)


def test_settings_read_the_url_once_and_refuse_a_wrong_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDBURST_STORAGE_URL", "redis://127.0.0.1:1/0")
    assert CacheSettings.from_env().storage_url == "redis://127.0.0.1:1/0"
    monkeypatch.setenv("CLOUDBURST_STORAGE_URL", "mysql://x")
    with pytest.raises(ValueError, match="CLOUDBURST_STORAGE_URL"):
        CacheSettings.from_env()
    monkeypatch.delenv("CLOUDBURST_STORAGE_URL")
    assert CacheSettings.from_env().storage_url == ""


@pytest.mark.parametrize("key", ["plain", "a{b}c", "}x", "{", "%7B", "100%", "é", "a:b"])
def test_each_key_is_one_hash_tag_so_its_redis_keys_share_a_slot(key: str) -> None:
    tag = escape(key)
    assert "{" not in tag and "}" not in tag
    assert unescape(tag) == key
    names = [f"cb:{kind}:{{{tag}}}" for kind in "vhf"]
    assert len({key_slot(name.encode()) for name in names}) == 1
    assert key_slot(names[0].encode()) == key_slot(tag.encode())


def test_escaping_keeps_prefixes() -> None:
    """keys(prefix) scans for the escaped prefix: escaping must map prefixes to prefixes."""
    for key in ["a{b}", "%%{", "x}y"]:
        for n in range(len(key) + 1):
            assert escape(key).startswith(escape(key[:n]))
