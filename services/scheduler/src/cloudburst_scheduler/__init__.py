"""Cloudburst scheduler service."""

from cloudburst_scheduler.dags import DagShape, validate_dag
from cloudburst_scheduler.placement import ExecutorView, Placement
from cloudburst_scheduler.settings import SchedulerSettings

__all__ = ["DagShape", "ExecutorView", "Placement", "SchedulerSettings", "validate_dag"]
