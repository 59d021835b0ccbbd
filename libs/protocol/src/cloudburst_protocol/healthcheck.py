"""``python -m cloudburst_protocol.healthcheck ADDRESS``: exit 0 when the gRPC server at
ADDRESS answers the standard health check with SERVING, 1 otherwise. Container health checks
use it: a published port accepts connections before the server behind it is serving."""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cloudburst_protocol.auth import Credentials
from cloudburst_protocol.channels import sync_channel


def check(address: str, timeout: float = 2.0) -> bool:
    # Health checks need no token; TLS settings of the environment apply (so a container's
    # check speaks TLS to its own service when the service does).
    with sync_channel(address, Credentials(None, "health checks need none"), options=[]) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout, wait_for_ready=True
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="host:port of the service")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait")
    args = parser.parse_args(argv)
    healthy = check(args.address, args.timeout)
    sys.stderr.write(f"{args.address}: {'SERVING' if healthy else 'NOT SERVING'}\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
