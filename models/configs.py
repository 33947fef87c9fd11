"""Settings dataclasses to and from plain dicts, with every field's type and range checked.

A config rebuilt from a model file or a checkpoint is as trustworthy as the file: ``"ngf":
64.0``, ``"ngf": true``, ``"upsample": ["transpose"]`` or ``"ngf": 1048576`` must end as one
clear ``ValueError`` before anything is built from it, never as a traceback deep inside torch
or a network of a terabyte. Each dataclass declares its numbers' ranges in ``_RANGES``; the
types come from its field annotations (``int`` is a whole number and never a bool, ``float``
any finite number, ``Literal[...]`` one of its strings).
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, fields
from functools import cache
from typing import Any, Literal

# (low, high) both included, or (low, high, low excluded, high excluded)
Bounds = tuple[float, float] | tuple[float, float, bool, bool]


def brief(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message quoting a file stays one short
    line whatever the file holds."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer too long to print, lists 10000 deep
        return f"a {type(value).__name__}"
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_whole(value: Any) -> bool:
    """A whole number in a JSON or checkpoint sense: an int, never a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float, never a bool (NaN and infinities included: ranges refuse them)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_problem(
    name: str,
    value: Any,
    lo: float,
    hi: float,
    open_lo: bool = False,
    open_hi: bool = False,
    *,
    whole: bool,
) -> str:
    """What is wrong with the number setting ``name`` (type, NaN, range), or ''."""
    if not (is_whole(value) if whole else is_number(value)):
        return f"{name} must be {'a whole number' if whole else 'a number'}, got {brief(value)}"
    inside = (lo < value if open_lo else lo <= value) and (value < hi if open_hi else value <= hi)
    if not inside:  # NaN is never inside
        return (
            f"{name} must be in {'(' if open_lo else '['}{lo:g}, {hi:g}"
            f"{')' if open_hi else ']'}, got {brief(value)}"
        )
    return ""


@cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_problem(name: str, value: Any, kind: Any) -> str:
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        if isinstance(value, str) and value in choices:
            return ""
        return f"{name} must be one of {', '.join(map(repr, choices))}, got {brief(value)}"
    if kind is bool and not isinstance(value, bool):
        return f"{name} must be true or false, got {brief(value)}"
    if kind is str and not isinstance(value, str):
        return f"{name} must be text, got {brief(value)}"
    if kind is int and not is_whole(value):
        return f"{name} must be a whole number, got {brief(value)}"
    if kind is float and not is_number(value):
        return f"{name} must be a number, got {brief(value)}"
    return ""


class ConfigMixin:
    """``to_dict`` / ``from_dict`` and field checks for the settings dataclasses."""

    _RANGES: dict[str, Bounds] = {}  # each number field's allowed range

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any):
        """Rebuild from a plain dict; unknown keys, wrong types and out-of-range numbers are
        a ``ValueError`` (a one-line message)."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} settings must be a mapping, got {brief(data)}")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            names = brief(sorted(map(str, unknown)), 120)
            raise ValueError(f"unknown {cls.__name__} settings: {names}")
        return cls(**data)

    def field_problems(self) -> list[str]:
        """Every field whose value has the wrong type or is out of its range, in words."""
        problems = []
        types = _field_types(type(self))
        for f in fields(self):
            value, kind = getattr(self, f.name), types[f.name]
            problem = _type_problem(f.name, value, kind)
            if not problem and f.name in self._RANGES:  # NaN is never in range
                problem = number_problem(f.name, value, *self._RANGES[f.name], whole=kind is int)
            elif not problem and kind is float and not math.isfinite(value):
                problem = f"{f.name} must be a finite number, got {brief(value)}"
            if problem:
                problems.append(problem)
        return problems

    def check_fields(self, *more: str) -> None:
        """Raise one ``ValueError`` naming every field problem and the ``more`` problems."""
        problems = self.field_problems() + [p for p in more if p]
        if problems:
            raise ValueError("; ".join(problems))
