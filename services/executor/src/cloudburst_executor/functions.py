"""Loaded user code: plain functions and class instances, and how they are called.

Every function receives the user library first: ``fn(cloudburst, *args)``.

A class is registered as ``(Cls, init_args)`` (``init_args`` a tuple of arguments, or one
argument that is not a tuple) and must define ``run``. Each executor constructs it once and
keeps the instance for every later call. Two forms are accepted, told apart per method by
arity: a method that does not take ``*args`` and declares exactly one more positional
parameter (after ``self``) than the arguments given receives the user library first;
otherwise it receives just the arguments. So both ``__init__(self, arg)`` / ``run(self, x)``
and ``__init__(self, cloudburst, arg)`` / ``run(self, cloudburst, x)`` work.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cloudpickle
from cloudburst_protocol.errors import InvalidArgumentError

KIND_FUNCTION = 0
KIND_CLASS = 1


@dataclass(frozen=True, slots=True)
class Arity:
    """How many positional parameters a callable declares (``self`` excluded)."""

    positional: int
    varargs: bool

    @classmethod
    def of(cls, fn: Callable[..., Any], bound: bool) -> Arity:
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):  # builtins without signatures: pass args as given
            return cls(0, True)
        if not bound and params:
            params = params[1:]  # the instance, whatever it is named
        varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
        positional = sum(
            p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for p in params
        )
        return cls(positional, varargs)

    def wants_library(self, n_args: int) -> bool:
        return not self.varargs and self.positional == n_args + 1


def split_class_spec(spec: Any) -> tuple[type, tuple[Any, ...]]:
    """``(Cls, init_args)`` -> the class and its init arguments."""
    if not isinstance(spec, tuple) or not spec or not isinstance(spec[0], type):
        raise InvalidArgumentError("a class is registered as a tuple (Class, init_args)")
    cls = spec[0]
    if len(spec) == 1:
        return cls, ()
    if len(spec) == 2:
        init = spec[1]
        return cls, init if isinstance(init, tuple) else (init,)
    return cls, tuple(spec[1:])


class LoadedFunction:
    """A registered function or class, ready to call. Not thread-safe: an executor runs one
    call at a time."""

    def __init__(self, name: str, body: bytes, kind: int) -> None:
        self.name = name
        self.kind = kind
        self._spec = cloudpickle.loads(body)
        self._instance: Any = None
        self._run: Callable[..., Any] | None = None
        self._run_arity: Arity | None = None
        if kind == KIND_CLASS:
            cls, _ = split_class_spec(self._spec)
            if not callable(getattr(cls, "run", None)):
                raise InvalidArgumentError(f"class {cls.__qualname__} has no run method")
        elif not callable(self._spec):
            raise InvalidArgumentError(f"function {name!r} is not callable")

    def __call__(self, library: Any, args: list[Any]) -> Any:
        if self.kind != KIND_CLASS:
            return self._spec(library, *args)
        if self._run is None:
            cls, init_args = split_class_spec(self._spec)
            init: Callable[..., Any] = next(
                (vars(k)["__init__"] for k in cls.__mro__ if "__init__" in vars(k)), object.__init__
            )
            init_arity = Arity.of(init, bound=False)
            if init is object.__init__:
                instance = cls()
            elif init_arity.wants_library(len(init_args)):
                instance = cls(library, *init_args)
            else:
                instance = cls(*init_args)
            self._instance = instance
            self._run = instance.run
            self._run_arity = Arity.of(instance.run, bound=True)
        assert self._run_arity is not None
        if self._run_arity.wants_library(len(args)):
            return self._run(library, *args)
        return self._run(*args)
