"""An executor forgets the loaded code of functions that were replaced or deleted."""

from __future__ import annotations

import asyncio

import cloudpickle
from cloudburst_executor.functions import KIND_FUNCTION, LoadedFunction
from cloudburst_executor.server import ExecutorServer
from cloudburst_executor.settings import ExecutorSettings
from cloudburst_protocol.gen import executor_pb2


def settings() -> ExecutorSettings:
    return ExecutorSettings(
        host="127.0.0.1",
        advertise_host="127.0.0.1",
        port=0,
        scheduler_addresses=("127.0.0.1:1",),
        cache_address="127.0.0.1:1",
        node_id="node0",
        executor_id="exec-test",
    )


def loaded(name: str) -> LoadedFunction:
    return LoadedFunction(name, cloudpickle.dumps(lambda _, x: x), KIND_FUNCTION)


def test_replaced_and_deleted_functions_are_unloaded() -> None:
    async def main() -> None:
        executor = ExecutorServer(settings())
        executor.apply_registry(
            executor_pb2.RegistryUpdate(snapshot=True, functions={"f": "d1", "g": "d2"})
        )
        executor.functions.update({"d1": loaded("f"), "d2": loaded("g")})
        executor.apply_registry(executor_pb2.RegistryUpdate(functions={"f": "d3"}))
        assert set(executor.functions) == {"d2"}  # f's old code is gone, g's stays
        executor.functions["d3"] = loaded("f")
        executor.apply_registry(executor_pb2.RegistryUpdate(functions={"g": ""}))
        assert set(executor.functions) == {"d3"}
        executor.apply_registry(executor_pb2.RegistryUpdate(snapshot=True, functions={}))
        assert executor.functions == {}
        executor._sync_cache_channel.close()
        await executor._cache_channel.close()

    asyncio.run(main())
