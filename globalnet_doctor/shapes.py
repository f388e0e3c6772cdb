"""Shapes of untrusted JSON (bundle members, reports given to `diff`), checked before use.

A shape is plain data: a type (``str``, ``int``, ``bool``, ``float``, ``dict``, ``list``),
``None`` for null, ``ANY``, a tuple of alternatives, a one-item list ``[item]`` for a list of
items, ``MapOf(value)`` for an object with any keys, or a dict of fields (a key ending in ``?``
may be absent; other keys are allowed and ignored). ``check`` raises ``ShapeError`` naming the
first place that does not fit (``members[3].path``), so a hostile input is one clear line.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

ANY = object()
"""Any JSON value."""


@dataclass(frozen=True, slots=True)
class MapOf:
    """An object whose every value has the shape ``value``."""

    value: Any


class ShapeError(ValueError):
    """The value does not have the expected shape; the message says where and why."""


def check(value: Any, shape: Any, where: str) -> None:
    if shape is ANY:
        return
    if isinstance(shape, tuple):
        _one_of(value, shape, where)
    elif isinstance(shape, list):
        _list_of(value, shape[0], where)
    elif isinstance(shape, MapOf):
        _object(value, where)
        for key, item in value.items():
            check(item, shape.value, f"{where}.{key}")
    elif isinstance(shape, dict):
        _fields(value, shape, where)
    elif shape is None:
        if value is not None:
            raise ShapeError(f"{where} must be null")
    else:
        _scalar(value, shape, where)


def _one_of(value: Any, shapes: tuple[Any, ...], where: str) -> None:
    problems = []
    for shape in shapes:
        try:
            check(value, shape, where)
        except ShapeError as exc:
            # "must be null" says nothing useful about a value that is not null.
            if shape is not None:
                problems.append(str(exc))
        else:
            return
    raise ShapeError(problems[0] if len(problems) == 1 else f"{where} has none of its shapes")


def _list_of(value: Any, item: Any, where: str) -> None:
    if not isinstance(value, list):
        raise ShapeError(f"{where} must be a list")
    for index, element in enumerate(value):
        check(element, item, f"{where}[{index}]")


def _fields(value: Any, fields: Mapping[str, Any], where: str) -> None:
    _object(value, where)
    for key, shape in fields.items():
        name = key.removesuffix("?")
        if name not in value:
            if key.endswith("?"):
                continue
            raise ShapeError(f"{where} has no {name}")
        check(value[name], shape, f"{where}.{name}")


def _object(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ShapeError(f"{where} must be an object")


def _scalar(value: Any, kind: type, where: str) -> None:
    # JSON does not tell 1 from 1.0, and bool is an int to Python: neither may pass for the other.
    fits = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        fits = True
    if not fits:
        raise ShapeError(f"{where} must be {_NAMES.get(kind, kind.__name__)}")


_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    float: "a number",
    dict: "an object",
    list: "a list",
}


def typed(cls: type[T], data: Any, where: str) -> T:
    """``cls(**data)`` for a dataclass whose fields are plain types (str, int, bool, float,
    enums, ``X | None``, ``tuple[X, ...]``, nested dataclasses), once every value has its
    field's type; JSON lists become tuples. Unknown and missing fields are a ``ShapeError``."""
    _object(data, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ShapeError(f"{where} has unknown field(s) {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    values = {
        name: _typed_value(value, hints[name], f"{where}.{name}") for name, value in data.items()
    }
    missing = [
        name
        for name, f in fields.items()
        if name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ShapeError(f"{where} has no {', '.join(missing)}")
    return cls(**values)


def _typed_value(value: Any, hint: Any, where: str) -> Any:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in arguments:
            return None
        (inner,) = [a for a in arguments if a is not type(None)]
        return _typed_value(value, inner, where)
    if origin is tuple:
        _list_of(value, ANY, where)
        return tuple(_typed_value(v, arguments[0], f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        if value not in allowed:
            raise ShapeError(f"{where} is not one of {', '.join(map(str, allowed))}")
        return hint(value)
    if dataclasses.is_dataclass(hint):
        return typed(hint, value, where)  # type: ignore[arg-type]
    if hint in (str, int, bool, float):
        _scalar(value, hint, where)
        return value
    raise ShapeError(f"{where}: no reader for {hint}")  # a field type this module lacks
