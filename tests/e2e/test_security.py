"""Security: nothing from the network is trusted that should not be.

One cluster (``guarded``) is started the way ``cbctl up`` starts one on a fresh machine — no
token in the environment — so it makes its own admin token and cluster secret under its
home; it also accepts one client-role token. Each test is a hole that was open before
authentication, tried as a hostile local process would, and now closed.
"""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cloudburst import (
    AuthenticationError,
    CloudburstConnection,
    PermissionDeniedError,
    RequestTooLargeError,
)
from cloudburst_management import LocalCluster
from cloudburst_protocol import auth, config, values
from cloudburst_protocol.channels import sync_channel
from cloudburst_protocol.clock import HybridClock
from cloudburst_protocol.gen import (
    cache_pb2,
    cache_pb2_grpc,
    common_pb2,
    executor_pb2,
    management_pb2,
    management_pb2_grpc,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from cloudburst_protocol.keys import FN_NAME
from conftest import free_port, kill_and_await_restart

pytestmark = pytest.mark.e2e

CLIENT_TOKEN = auth.new_token()
MESSAGE_LIMIT = 4 * 1024 * 1024  # the guarded cluster's CLOUDBURST_MAX_MESSAGE_BYTES
NO_CREDENTIALS = auth.Credentials(None, "nowhere")


class Guarded:
    """The guarded cluster and the credentials that matter for it."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.home = cluster.home
        self.admin = auth.Credentials((cluster.home / "token").read_text().strip(), "file")
        self.secret = auth.Credentials(
            (cluster.home / "cluster-secret").read_text().strip(), "file"
        )
        self.client = auth.Credentials(CLIENT_TOKEN, "test")
        self.storage = f"127.0.0.1:{cluster.cache_port}"

    def connect(self, token: str | None, **kwargs: Any) -> CloudburstConnection:
        """A client presenting ``token`` (``None``: none at all)."""
        saved = os.environ.pop(config.TOKEN_ENV, None)
        saved_home = os.environ.get(config.HOME_ENV)
        try:
            if token is not None:
                os.environ[config.TOKEN_ENV] = token
            else:
                os.environ[config.HOME_ENV] = str(self.home / "elsewhere")
            return CloudburstConnection(self.cluster.scheduler_address, **kwargs)
        finally:
            os.environ.pop(config.TOKEN_ENV, None)
            if saved is not None:
                os.environ[config.TOKEN_ENV] = saved
            if saved_home is None:
                os.environ.pop(config.HOME_ENV, None)
            else:
                os.environ[config.HOME_ENV] = saved_home


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    home = tmp_path_factory.mktemp("guarded")
    saved = {
        name: os.environ.pop(name, None) for name in (config.TOKEN_ENV, config.CLUSTER_SECRET_ENV)
    }
    os.environ[config.CLIENT_TOKENS_ENV] = CLIENT_TOKEN
    os.environ[config.MAX_MESSAGE_ENV] = str(MESSAGE_LIMIT)
    try:
        cluster = LocalCluster(
            home=home,
            executors=2,
            scheduler_port=free_port(),
            management_port=free_port(),
            cache_port=free_port(),
        )
        cluster.up(timeout=90)
    finally:
        os.environ.pop(config.CLIENT_TOKENS_ENV, None)
        os.environ.pop(config.MAX_MESSAGE_ENV, None)
        for name, value in saved.items():
            if value is not None:
                os.environ[name] = value
    yield Guarded(cluster)
    cluster.down()


def rpc_code(call: Any) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


# -- zero configuration ----------------------------------------------------------------------


def test_up_makes_a_private_token_the_client_finds(guarded: Guarded) -> None:
    """`up` on a fresh home writes the token (0600) in a private home (0700), and a client with
    no CLOUDBURST_TOKEN finds it there and runs calls."""
    assert stat.S_IMODE(guarded.home.stat().st_mode) == 0o700
    for name in ("token", "cluster-secret"):
        assert stat.S_IMODE((guarded.home / name).stat().st_mode) == 0o600
    saved = os.environ.pop(config.TOKEN_ENV)
    os.environ[config.HOME_ENV] = str(guarded.home)
    try:
        with CloudburstConnection(guarded.cluster.scheduler_address) as cloud:
            square = cloud.register(lambda _, x: x * x, "sec-square")
            assert square(7).get() == 49
    finally:
        os.environ[config.TOKEN_ENV] = saved
        os.environ.pop(config.HOME_ENV)


def test_a_wrong_token_fails_fast_with_a_typed_error(guarded: Guarded) -> None:
    """A wrong CLOUDBURST_TOKEN gives AuthenticationError naming where the token came from."""
    with guarded.connect("not-the-token", timeout=60) as cloud:
        with pytest.raises(AuthenticationError) as caught:
            cloud.list()
        assert "CLOUDBURST_TOKEN" in str(caught.value)
        with pytest.raises(AuthenticationError):
            cloud.register(lambda _, x: x, "sec-nope")


def test_no_token_says_where_the_client_looked(guarded: Guarded) -> None:
    """Without any token the error names both places the client looked."""
    with guarded.connect(None) as cloud, pytest.raises(AuthenticationError) as caught:
        cloud.list()
    message = str(caught.value)
    assert "CLOUDBURST_TOKEN" in message
    assert str(guarded.home / "elsewhere" / "token") in message


# -- every port refuses strangers -------------------------------------------------------------


def test_storage_refuses_writes_without_the_cluster_secret(guarded: Guarded) -> None:
    """A Cache.Put straight to the storage port is refused without credentials, and with a
    user's token too: only the cluster's services write there."""
    clock = HybridClock()
    entry = cache_pb2.KeyLattice(key="sec-raw", lattice=values.wrap(1, clock))
    request = cache_pb2.CachePutRequest(entries=[entry])
    listing = cache_pb2.ListKeysRequest(prefix="")
    for credentials, expected in (
        (NO_CREDENTIALS, grpc.StatusCode.UNAUTHENTICATED),
        (auth.Credentials("made-up", "test"), grpc.StatusCode.UNAUTHENTICATED),
        (guarded.admin, grpc.StatusCode.PERMISSION_DENIED),
        (guarded.client, grpc.StatusCode.PERMISSION_DENIED),
    ):
        with sync_channel(guarded.storage, credentials) as channel:
            stub = cache_pb2_grpc.CacheStub(channel)
            assert rpc_code(lambda s=stub: s.Put(request, timeout=5)) == expected
            assert rpc_code(lambda s=stub: s.ListKeys(listing, timeout=5)) == expected


def test_raw_http2_post_without_a_token_is_refused(guarded: Guarded) -> None:
    """A raw HTTP/2 POST (curl, no gRPC library) to the storage port gets UNAUTHENTICATED."""
    frame = b"\x00" + len(b"").to_bytes(4, "big")
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--http2-prior-knowledge",
            "--max-time",
            "10",
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            "--data-binary",
            "@-",
            "--dump-header",
            "-",
            f"http://{guarded.storage}/cloudburst.v1.Cache/ListKeys",
        ],
        input=frame,
        capture_output=True,
        timeout=30,
        check=False,
    )
    headers = result.stdout.decode(errors="replace").lower()
    assert f"grpc-status: {grpc.StatusCode.UNAUTHENTICATED.value[0]}" in headers, headers


def test_a_pickled_registry_record_never_runs(guarded: Guarded, tmp_path: Path) -> None:
    """Even written with the cluster secret, a pickled payload under a registry key is not
    unpickled by the scheduler: list() works, the payload never runs, and executors still
    attach after a restart."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    clock = HybridClock()
    poisoned = {
        FN_NAME + "sec-evil": values.wrap_encoded(pickle.dumps(Payload()), clock),
        FN_NAME + "sec-evil-2": values.wrap(Payload(), clock),
        FN_NAME + "sec-shape": values.wrap(12345, clock),
    }
    with sync_channel(guarded.storage, guarded.secret) as channel:
        cache_pb2_grpc.CacheStub(channel).Put(
            cache_pb2.CachePutRequest(
                entries=[cache_pb2.KeyLattice(key=k, lattice=v) for k, v in poisoned.items()]
            ),
            timeout=5,
        )
    with guarded.connect(guarded.admin.token) as cloud:
        names = cloud.list()
        assert not any(name.startswith("sec-evil") or name == "sec-shape" for name in names)
        kill_and_await_restart(guarded.cluster, "node0-executor0")
        cloud.register(lambda _, x: x + 1, "sec-after")
        assert cloud.exec_func("sec-after", [1]).get() == 2
    assert not marker.exists()


def test_storage_refuses_reserved_keys_from_users(guarded: Guarded) -> None:
    """Users cannot write the runtime's reserved keys through the scheduler either."""
    with guarded.connect(guarded.admin.token) as cloud, pytest.raises(Exception) as caught:
        cloud.put_object(FN_NAME + "sec-x", 1)
    assert "reserved" in str(caught.value)


def test_attach_needs_the_cluster_secret(guarded: Guarded) -> None:
    """A rogue executor without the secret cannot attach; with a user token neither."""
    hello = scheduler_pb2.ExecutorMessage(
        hello=scheduler_pb2.ExecutorHello(executor_id="node0-exec0", address="127.0.0.1:1")
    )
    for credentials, expected in (
        (NO_CREDENTIALS, grpc.StatusCode.UNAUTHENTICATED),
        (guarded.admin, grpc.StatusCode.PERMISSION_DENIED),
    ):
        with sync_channel(guarded.cluster.scheduler_address, credentials) as channel:
            stream = scheduler_pb2_grpc.SchedulerStub(channel).Attach(iter([hello]), timeout=5)
            assert rpc_code(lambda s=stream: list(s)) == expected


def test_a_taken_executor_id_is_not_displaced(guarded: Guarded) -> None:
    """With the secret, an Attach claiming a live executor's id is refused, and calls keep
    reaching the real executor."""
    with sync_channel(guarded.cluster.scheduler_address, guarded.admin) as channel:
        status = scheduler_pb2_grpc.SchedulerStub(channel).Status(common_pb2.Empty(), timeout=5)
    victim = status.executors[0]
    hello = scheduler_pb2.ExecutorMessage(
        hello=scheduler_pb2.ExecutorHello(
            executor_id=victim.executor_id, address=f"127.0.0.1:{free_port()}", pid=1
        )
    )
    with sync_channel(guarded.cluster.scheduler_address, guarded.secret) as channel:
        stream = scheduler_pb2_grpc.SchedulerStub(channel).Attach(iter([hello]), timeout=10)
        assert rpc_code(lambda: list(stream)) == grpc.StatusCode.ALREADY_EXISTS
    with sync_channel(guarded.cluster.scheduler_address, guarded.admin) as channel:
        after = scheduler_pb2_grpc.SchedulerStub(channel).Status(common_pb2.Empty(), timeout=5)
    holder = next(e for e in after.executors if e.executor_id == victim.executor_id)
    assert holder.address == victim.address
    with guarded.connect(guarded.admin.token) as cloud:
        cloud.register(lambda lib, _: lib.get_id(), "sec-where")
        seen = {cloud.exec_func("sec-where", [i]).get() for i in range(20)}
    assert all(not ident.endswith(hello.hello.address) for ident in seen)


# -- roles -----------------------------------------------------------------------------------


def test_shutdown_needs_an_admin_token(guarded: Guarded) -> None:
    """Management.Shutdown from a stranger or a client-role token is refused; the cluster
    stays up."""
    for credentials, expected in (
        (NO_CREDENTIALS, grpc.StatusCode.UNAUTHENTICATED),
        (guarded.client, grpc.StatusCode.PERMISSION_DENIED),
    ):
        with sync_channel(guarded.cluster.management_address, credentials) as channel:
            stub = management_pb2_grpc.ManagementStub(channel)
            assert rpc_code(lambda s=stub: s.Shutdown(common_pb2.Empty(), timeout=5)) == expected
    info = guarded.cluster.status()
    assert info is not None and info.ready


def test_a_client_token_runs_code_but_cannot_delete(guarded: Guarded) -> None:
    """A client-role token registers, calls, reads and writes; deleting functions, DAGs and
    keys, and listing keys, need the admin token."""
    with guarded.connect(CLIENT_TOKEN) as cloud:
        cloud.register(lambda _, x: x * 3, "sec-triple")
        assert cloud.exec_func("sec-triple", [2]).get() == 6
        cloud.register_dag("sec-dag", ["sec-triple"], [])
        cloud.put_object("sec-key", "v")
        assert cloud.get_object("sec-key") == "v"
        for delete in (
            lambda: cloud.delete_function("sec-triple"),
            lambda: cloud.delete_dag("sec-dag"),
            lambda: cloud.delete_object("sec-key"),
        ):
            with pytest.raises(PermissionDeniedError, match="admin"):
                delete()
        assert "sec-triple" in cloud.list()
        # Listing keys lists every call's id, so everyone's results: admin only.
        with pytest.raises(PermissionDeniedError, match="admin"):
            cloud.list_objects()
    with guarded.connect(guarded.admin.token) as admin:
        assert "sec-key" in admin.list_objects()
        admin.delete_dag("sec-dag")
        admin.delete_function("sec-triple")
        assert "sec-triple" not in admin.list()


def test_a_client_token_cannot_read_the_storage_directly(guarded: Guarded) -> None:
    """Call results are not listable by users: the storage's ListKeys needs the secret."""
    with sync_channel(guarded.storage, guarded.client) as channel:
        stub = cache_pb2_grpc.CacheStub(channel)
        code = rpc_code(lambda: stub.ListKeys(cache_pb2.ListKeysRequest(prefix=""), timeout=5))
    assert code == grpc.StatusCode.PERMISSION_DENIED


# -- limits and malformed bodies -------------------------------------------------------------


def test_a_message_over_the_size_limit_names_the_limit(guarded: Guarded) -> None:
    """A registration larger than the cluster's message limit fails with RequestTooLargeError
    naming the setting, and the scheduler keeps serving."""
    ballast = os.urandom(MESSAGE_LIMIT + 1024)

    def heavy(_: Any) -> int:
        return len(ballast)

    with guarded.connect(guarded.admin.token) as cloud:
        with pytest.raises(RequestTooLargeError, match=config.MAX_MESSAGE_ENV):
            cloud.register(heavy, "sec-heavy")
        cloud.register(lambda _, x: x, "sec-light")
        assert cloud.exec_func("sec-light", [5]).get() == 5


def test_garbage_bodies_are_invalid_argument_on_unary_and_streaming(guarded: Guarded) -> None:
    """Bytes that do not decode get INVALID_ARGUMENT, from unary and streaming methods."""
    garbage = b"\xff\xff\xff\xff"
    with sync_channel(guarded.cluster.scheduler_address, guarded.secret) as channel:
        unary = channel.unary_unary("/cloudburst.v1.Scheduler/ListFunctions")
        assert rpc_code(lambda: unary(garbage, timeout=5)) == grpc.StatusCode.INVALID_ARGUMENT
        streaming = channel.stream_stream("/cloudburst.v1.Scheduler/Attach")
        code = rpc_code(lambda: list(streaming(iter([garbage]), timeout=5)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
    with sync_channel(guarded.storage, guarded.secret) as channel:
        subscribe = channel.stream_stream("/cloudburst.v1.Cache/Subscribe")
        code = rpc_code(lambda: list(subscribe(iter([garbage]), timeout=5)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT


# -- fuzzing every method of every service ---------------------------------------------------

_SERVICES = {
    service.full_name: service
    for module in (cache_pb2, executor_pb2, management_pb2, scheduler_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
}
# Methods a fuzzer with the cluster secret must not call: they do what they are for.
_DESTRUCTIVE = {"cloudburst.v1.Management/Shutdown"}


def _methods() -> list[tuple[str, str, bool, bool]]:
    """(service, method path, client streaming, server streaming) of every method."""
    return [
        (name, f"/{name}/{method.name}", method.client_streaming, method.server_streaming)
        for name, service in sorted(_SERVICES.items())
        for method in service.methods
        if f"{name}/{method.name}" not in _DESTRUCTIVE
    ]


def _addresses(guarded: Guarded) -> dict[str, str]:
    with sync_channel(guarded.cluster.scheduler_address, guarded.admin) as channel:
        status = scheduler_pb2_grpc.SchedulerStub(channel).Status(common_pb2.Empty(), timeout=5)
    return {
        "cloudburst.v1.Scheduler": guarded.cluster.scheduler_address,
        "cloudburst.v1.Cache": guarded.storage,
        "cloudburst.v1.Management": guarded.cluster.management_address,
        "cloudburst.v1.Executor": status.executors[0].address,
    }


def _send(channel: grpc.Channel, method: str, streams: tuple[bool, bool], body: bytes) -> None:
    """One RPC with a raw body; any gRPC status is an answer (the RpcError is swallowed)."""
    client_streaming, server_streaming = streams
    try:
        if client_streaming and server_streaming:
            list(channel.stream_stream(method)(iter([body]), timeout=2))
        elif client_streaming:
            channel.stream_unary(method)(iter([body]), timeout=2)
        elif server_streaming:
            list(channel.unary_stream(method)(body, timeout=2))
        else:
            channel.unary_unary(method)(body, timeout=2)
    except grpc.RpcError as exc:
        assert isinstance(exc.code(), grpc.StatusCode)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_fuzzed_requests_get_statuses_and_every_service_keeps_serving(guarded: Guarded) -> None:
    """Random bytes and random well-formed-but-nonsense messages to every method of every
    service, with and without credentials: each gets a gRPC status, and afterwards every
    service is still serving, no process was restarted, memory stayed bounded, and calls run."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    addresses = _addresses(guarded)
    before = guarded.cluster.status()
    assert before is not None
    rss_before = {s.name: _rss_kib(s.pid) for s in before.services}
    methods = _methods()
    channels = {
        (service, who): sync_channel(address, credentials)
        for service, address in addresses.items()
        for who, credentials in (("stranger", NO_CREDENTIALS), ("cluster", guarded.secret))
    }
    nonsense = st.one_of(
        st.binary(max_size=64),
        st.builds(
            lambda key, data: cache_pb2.CachePutRequest(
                entries=[cache_pb2.KeyLattice(key=key, lattice=data)]
            ).SerializeToString(),
            st.text(max_size=16),
            st.binary(max_size=32),
        ),
        st.builds(
            lambda name: scheduler_pb2.RegisterFunctionRequest(
                name=name, body=b"\x80\x04N."
            ).SerializeToString(),
            st.text(max_size=300),
        ),
    )

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(
        index=st.integers(min_value=0, max_value=len(methods) - 1),
        who=st.sampled_from(["stranger", "cluster"]),
        body=nonsense,
    )
    def fuzz(index: int, who: str, body: bytes) -> None:
        service, method, client_streaming, server_streaming = methods[index]
        _send(channels[(service, who)], method, (client_streaming, server_streaming), body)

    try:
        fuzz()
        for service, method, client_streaming, server_streaming in methods:
            for who in ("stranger", "cluster"):
                channel = channels[(service, who)]
                _send(channel, method, (client_streaming, server_streaming), b"\xff\x00garbage")
    finally:
        for channel in channels.values():
            channel.close()
    after = guarded.cluster.status()
    assert after is not None and after.ready
    for service in after.services:
        previous = next(s for s in before.services if s.name == service.name)
        assert service.pid == previous.pid, f"{service.name} was restarted"
        assert _rss_kib(service.pid) - rss_before[service.name] < 200 * 1024, service.name
    with guarded.connect(guarded.admin.token) as cloud:
        cloud.register(lambda _, x: x - 1, "sec-alive")
        assert cloud.exec_func("sec-alive", [1]).get() == 0
