"""Cloudburst executor service."""

from cloudburst_executor.functions import Arity, LoadedFunction, split_class_spec
from cloudburst_executor.library import UserLibrary
from cloudburst_executor.settings import ExecutorSettings

__all__ = ["Arity", "ExecutorSettings", "LoadedFunction", "UserLibrary", "split_class_spec"]
