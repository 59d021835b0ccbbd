"""Cloudburst management service and the local-cluster launcher."""

from cloudburst_management.local import (
    ClusterInfo,
    ClusterStartError,
    LocalCluster,
    PortInUseError,
    QuarantineInfo,
    ServiceInfo,
    UpResult,
    cluster_status,
)
from cloudburst_management.settings import ManagementSettings
from cloudburst_management.supervision import RestartBackoff

__all__ = [
    "ClusterInfo",
    "ClusterStartError",
    "LocalCluster",
    "ManagementSettings",
    "PortInUseError",
    "QuarantineInfo",
    "RestartBackoff",
    "ServiceInfo",
    "UpResult",
    "cluster_status",
]
