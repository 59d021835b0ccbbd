"""Unit tests for loaded user code (cloudburst_executor.functions: Arity, LoadedFunction)."""

from __future__ import annotations

from typing import Any

import cloudpickle
import pytest
from cloudburst_executor.functions import (
    KIND_CLASS,
    KIND_FUNCTION,
    Arity,
    LoadedFunction,
    split_class_spec,
)
from cloudburst_protocol.errors import InvalidArgumentError

LIB = object()  # stands in for the user library passed to every call


def load(obj: Any, kind: int) -> LoadedFunction:
    return LoadedFunction("fn", cloudpickle.dumps(obj), kind)


# -- Arity ------------------------------------------------------------------------------------


def test_arity_of_plain_function() -> None:
    """Arity counts positional parameters and notices *args."""

    def f(a: int, b: int, *rest: int, key: int = 0) -> None: ...

    def g(a: int, /, b: int) -> None: ...

    assert Arity.of(f, bound=True) == Arity(2, True)
    assert Arity.of(g, bound=True) == Arity(2, False)


def test_arity_unbound_method_drops_self() -> None:
    """An unbound method's self is not counted; a bound method has none to drop."""

    class C:
        def run(self, cloudburst: Any, x: int) -> None: ...

    assert Arity.of(C.run, bound=False) == Arity(2, False)
    assert Arity.of(C().run, bound=True) == Arity(2, False)


def test_arity_builtin_without_signature() -> None:
    """A callable without an inspectable signature counts as varargs."""
    assert Arity.of(max, bound=True) == Arity(0, True)
    assert Arity.of(getattr, bound=False) == Arity(0, True)


def test_wants_library() -> None:
    """The library is wanted exactly when there is one more positional than arguments."""
    assert Arity(2, False).wants_library(1)
    assert not Arity(1, False).wants_library(1)
    assert not Arity(3, False).wants_library(1)
    assert not Arity(2, True).wants_library(1)


# -- class specs ------------------------------------------------------------------------------


class Seed:
    """Seed form: no library in __init__ or run."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def run(self, x: int) -> int:
        return self.factor * x


class LibraryFirst:
    """Library-first form: the library comes before the arguments in both methods."""

    def __init__(self, cloudburst: Any, factor: int) -> None:
        self.init_lib = cloudburst
        self.factor = factor

    def run(self, cloudburst: Any, x: int) -> tuple[Any, Any, int]:
        return self.init_lib, cloudburst, self.factor * x


class MixedInitLib:
    """Library in __init__ only."""

    def __init__(self, cloudburst: Any, factor: int) -> None:
        self.init_lib = cloudburst
        self.factor = factor

    def run(self, x: int) -> tuple[Any, int]:
        return self.init_lib, self.factor * x


class MixedRunLib:
    """Library in run only."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def run(self, cloudburst: Any, x: int) -> tuple[Any, int]:
        return cloudburst, self.factor * x


class NoInit:
    def run(self, cloudburst: Any, x: int) -> tuple[Any, int]:
        return cloudburst, x + 1


class Pair:
    def __init__(self, a: int, b: int) -> None:
        self.a, self.b = a, b

    def run(self, x: int) -> int:
        return self.a * 10 + self.b + x


class HoldsTuple:
    def __init__(self, value: Any) -> None:
        self.value = value

    def run(self) -> Any:
        return self.value


class Counter:
    constructed = 0

    def __init__(self, start: int) -> None:
        type(self).constructed += 1
        self.total = start

    def run(self, cloudburst: Any, x: int) -> int:
        self.total += x
        return self.total


class Child(Seed):
    """Inherits __init__ (seed form) from Seed."""


class NoRun:
    def __init__(self) -> None:
        pass


class RunNotCallable:
    run = 5


def test_plain_function_gets_library_first() -> None:
    """A plain function is called as fn(library, *args)."""

    def fn(cloudburst: Any, a: int, b: int) -> tuple[Any, int]:
        return cloudburst, a - b

    loaded = load(fn, KIND_FUNCTION)
    assert loaded(LIB, [5, 3]) == (LIB, 2)
    assert loaded.name == "fn"
    assert loaded.kind == KIND_FUNCTION


def test_plain_lambda_with_varargs_gets_library_first() -> None:
    """A lambda taking *args still receives the library first."""
    loaded = load(lambda *args: args, KIND_FUNCTION)
    assert loaded(LIB, [1, 2]) == (LIB, 1, 2)


def test_class_seed_form() -> None:
    """__init__(self, arg) / run(self, x) get no library."""
    loaded = load((Seed, 3), KIND_CLASS)
    assert loaded(LIB, [4]) == 12


def test_class_library_first_form() -> None:
    """__init__(self, cloudburst, arg) / run(self, cloudburst, x) get the library first."""
    loaded = load((LibraryFirst, 3), KIND_CLASS)
    init_lib, run_lib, value = loaded(LIB, [4])
    assert init_lib is LIB
    assert run_lib is LIB
    assert value == 12


def test_class_mixed_library_in_init_only() -> None:
    """The library goes to __init__ but not to a seed-form run."""
    loaded = load((MixedInitLib, 2), KIND_CLASS)
    init_lib, value = loaded(LIB, [5])
    assert init_lib is LIB
    assert value == 10


def test_class_mixed_library_in_run_only() -> None:
    """The library goes to a library-first run but not to a seed-form __init__."""
    loaded = load((MixedRunLib, 2), KIND_CLASS)
    run_lib, value = loaded(LIB, [5])
    assert run_lib is LIB
    assert value == 10


def test_class_without_init() -> None:
    """A class without __init__ is constructed with no arguments."""
    loaded = load((NoInit, ()), KIND_CLASS)
    assert loaded(LIB, [1]) == (LIB, 2)


def test_class_with_inherited_init() -> None:
    """An __init__ inherited from a base class is used with its own form."""
    loaded = load((Child, 7), KIND_CLASS)
    assert loaded(LIB, [2]) == 14


def test_tuple_init_args_are_spread() -> None:
    """(Cls, (a, b)) passes a and b as two init arguments."""
    loaded = load((Pair, (1, 2)), KIND_CLASS)
    assert loaded(LIB, [3]) == 15


def test_single_non_tuple_init_arg() -> None:
    """(Cls, value) passes one init argument, e.g. a list stays one argument."""
    loaded = load((HoldsTuple, [1, 2]), KIND_CLASS)
    assert loaded(LIB, []) == [1, 2]


def test_single_tuple_init_arg_is_wrapped() -> None:
    """(Cls, ((a, b),)) passes the tuple (a, b) as one init argument."""
    loaded = load((HoldsTuple, ((1, 2),)), KIND_CLASS)
    assert loaded(LIB, []) == (1, 2)


def test_split_class_spec_forms() -> None:
    """split_class_spec handles (Cls,), (Cls, x), (Cls, (a, b)) and (Cls, a, b)."""
    assert split_class_spec((Pair,)) == (Pair, ())
    assert split_class_spec((Pair, 1)) == (Pair, (1,))
    assert split_class_spec((Pair, (1, 2))) == (Pair, (1, 2))
    assert split_class_spec((Pair, 1, 2)) == (Pair, (1, 2))


@pytest.mark.parametrize("spec", [Pair, (), (1, 2), "Pair", [Pair, 1]])
def test_split_class_spec_rejects_bad_specs(spec: Any) -> None:
    """Anything but a tuple starting with a class raises InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError, match="tuple"):
        split_class_spec(spec)


def test_instance_constructed_once_and_state_persists() -> None:
    """The instance is built on the first call only, and keeps its state across calls."""
    Counter.constructed = 0
    loaded = load((Counter, 100), KIND_CLASS)
    assert Counter.constructed == 0  # not built on load
    assert loaded(LIB, [1]) == 101
    assert loaded(LIB, [2]) == 103
    assert loaded(LIB, [3]) == 106
    assert Counter.constructed == 1


def test_separate_loads_have_separate_instances() -> None:
    """Two loads of the same class each keep their own instance."""
    first = load((Counter, 0), KIND_CLASS)
    second = load((Counter, 50), KIND_CLASS)
    assert first(LIB, [1]) == 1
    assert second(LIB, [1]) == 51
    assert first(LIB, [1]) == 2


def test_missing_run_rejected() -> None:
    """A class without run raises InvalidArgumentError at load time, naming the class."""
    with pytest.raises(InvalidArgumentError, match="NoRun has no run method"):
        load((NoRun, ()), KIND_CLASS)


def test_non_callable_run_rejected() -> None:
    """A class whose run is not callable raises InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError, match="no run method"):
        load((RunNotCallable, ()), KIND_CLASS)


@pytest.mark.parametrize("obj", [42, "not a function", None, [1, 2]])
def test_non_callable_function_rejected(obj: Any) -> None:
    """A function body that is not callable raises InvalidArgumentError naming the function."""
    with pytest.raises(InvalidArgumentError, match="'fn' is not callable"):
        load(obj, KIND_FUNCTION)


def test_class_kind_with_non_class_body_rejected() -> None:
    """Registering a plain function as a class raises InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError):
        load(lambda cloudburst: None, KIND_CLASS)


class OddSelfName:
    """Library-first __init__ whose first parameter is not spelled 'self'."""

    def __init__(this, cloudburst: Any, factor: int) -> None:
        this.init_lib = cloudburst
        this.factor = factor

    def run(this, x: int) -> tuple[Any, int]:
        return this.init_lib, this.factor * x


def test_library_first_init_with_other_self_name() -> None:
    """A library-first __init__ works whatever its first parameter is called."""
    loaded = load((OddSelfName, 3), KIND_CLASS)
    assert loaded(LIB, [2]) == (LIB, 6)


def test_user_exception_propagates() -> None:
    """An exception raised by the user's run propagates unchanged."""

    class Boom:
        def run(self, x: int) -> int:
            raise ZeroDivisionError(str(x))

    loaded = load((Boom,), KIND_CLASS)
    with pytest.raises(ZeroDivisionError, match="7"):
        loaded(LIB, [7])
