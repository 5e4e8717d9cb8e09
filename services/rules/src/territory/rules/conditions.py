"""Conditions compiled to closures, and the equivalence classes that make caching exact.

Two ways to evaluate a condition tree:
- `compile_condition` turns it into a closure over a client's normalised values (no model
  objects at evaluation time), with `explain` listing the comparisons that held.
- `interpret` walks the pydantic models: the naive evaluator the benchmark compares with.

`FieldClassifier` maps a value to the class of values that every comparison in the
ruleset treats alike (same side of every threshold, same membership in every set, same
prefixes). Clients whose referenced fields fall in the same classes get the same match
result, so the engine caches matches by that signature: exact, not a heuristic.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from territory.rules.facts import Value, norm_text
from territory.rules.ruleset import (
    NUMBER_FIELDS,
    AllOf,
    AnyOf,
    Between,
    Compare,
    Exists,
    Membership,
    NotOf,
    Prefix,
)

Values = dict[str, Value]
Predicate = Callable[[Values], bool]

_TOP = "\U0010ffff"


def norm_value(field_name: str, value: Any) -> str | float:
    """A condition value normalised like client values of the same field."""
    if field_name in NUMBER_FIELDS:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{field_name} is a number; {value!r} is not") from None
        return float(value)
    return norm_text(field_name, value)


def prefix_end(prefix: str) -> str:
    """Smallest string above every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else _TOP


def comparisons(cond: Any) -> Iterable[Compare | Membership | Between | Prefix | Exists]:
    if isinstance(cond, AllOf):
        for c in cond.all:
            yield from comparisons(c)
    elif isinstance(cond, AnyOf):
        for c in cond.any:
            yield from comparisons(c)
    elif isinstance(cond, NotOf):
        yield from comparisons(cond.not_)
    else:
        yield cond


def describe(cond: Any) -> str:
    if isinstance(cond, AllOf):
        return "all(" + ", ".join(describe(c) for c in cond.all) + ")"
    if isinstance(cond, AnyOf):
        return "any(" + ", ".join(describe(c) for c in cond.any) + ")"
    if isinstance(cond, NotOf):
        return f"not({describe(cond.not_)})"
    if isinstance(cond, Exists):
        return f"{cond.field} {cond.op}"
    if isinstance(cond, Membership | Prefix):
        return f"{cond.field} {cond.op} [{', '.join(str(v) for v in cond.value)}]"
    if isinstance(cond, Between):
        return f"{cond.field} between {cond.value[0]} and {cond.value[1]}"
    return f"{cond.field} {cond.op} {cond.value}"


def _compare(cond: Compare) -> Predicate:
    name = cond.field
    target = norm_value(name, cond.value)
    op = cond.op
    if op == "eq":
        return lambda v: v[name] == target
    if op == "ne":
        return lambda v: v[name] is not None and v[name] != target
    if op == "lt":
        return lambda v: (x := v[name]) is not None and x < target  # type: ignore[operator]
    if op == "le":
        return lambda v: (x := v[name]) is not None and x <= target  # type: ignore[operator]
    if op == "gt":
        return lambda v: (x := v[name]) is not None and x > target  # type: ignore[operator]
    return lambda v: (x := v[name]) is not None and x >= target  # type: ignore[operator]


def compile_condition(cond: Any) -> Predicate:
    """A closure over normalised values. A missing value fails every comparison except
    `missing` and `not_in` (a client without a country is not "in" a country list)."""
    if isinstance(cond, AllOf):
        parts = tuple(compile_condition(c) for c in cond.all)
        if len(parts) == 2:
            a, b = parts
            return lambda v: a(v) and b(v)
        return lambda v: all(p(v) for p in parts)
    if isinstance(cond, AnyOf):
        parts = tuple(compile_condition(c) for c in cond.any)
        return lambda v: any(p(v) for p in parts)
    if isinstance(cond, NotOf):
        inner = compile_condition(cond.not_)
        return lambda v: not inner(v)
    name = cond.field
    if isinstance(cond, Compare):
        return _compare(cond)
    if isinstance(cond, Membership):
        members = frozenset(norm_value(name, x) for x in cond.value)
        if cond.op == "in":
            return lambda v: v[name] in members
        return lambda v: v[name] not in members
    if isinstance(cond, Between):
        low, high = (norm_value(name, x) for x in cond.value)
        return lambda v: (x := v[name]) is not None and low <= x <= high  # type: ignore[operator]
    if isinstance(cond, Prefix):
        prefixes = tuple(str(norm_value(name, p)) for p in cond.value)
        return lambda v: (x := v[name]) is not None and str(x).startswith(prefixes)
    if cond.op == "exists":
        return lambda v: v[name] is not None
    return lambda v: v[name] is None


def explain(cond: Any, values: Values) -> list[str]:
    """The comparisons that held for these values (the trace's matched conditions)."""
    if isinstance(cond, AllOf):
        return [text for c in cond.all for text in explain(c, values)]
    if isinstance(cond, AnyOf):
        for c in cond.any:
            if compile_condition(c)(values):
                return explain(c, values)
        return []
    if isinstance(cond, NotOf):
        return [describe(cond)]
    shown = values.get(cond.field)
    return [f"{describe(cond)} (client: {shown})"]


def interpret(cond: Any, values: Values) -> bool:
    """Walk the models for every client: the naive evaluator (benchmark baseline)."""
    if isinstance(cond, AllOf):
        return all(interpret(c, values) for c in cond.all)
    if isinstance(cond, AnyOf):
        return any(interpret(c, values) for c in cond.any)
    if isinstance(cond, NotOf):
        return not interpret(cond.not_, values)
    x = values[cond.field]
    if isinstance(cond, Exists):
        return (x is None) == (cond.op == "missing")
    if isinstance(cond, Membership):
        inside = x in {norm_value(cond.field, m) for m in cond.value}
        return inside if cond.op == "in" else not inside
    if x is None:
        return False
    if isinstance(cond, Prefix):
        return any(str(x).startswith(str(norm_value(cond.field, p))) for p in cond.value)
    if isinstance(cond, Between):
        low, high = (norm_value(cond.field, b) for b in cond.value)
        return bool(low <= x <= high)  # type: ignore[operator]
    target = norm_value(cond.field, cond.value)
    return bool(
        {
            "eq": x == target,
            "ne": x != target,
            "lt": x < target,  # type: ignore[operator]
            "le": x <= target,  # type: ignore[operator]
            "gt": x > target,  # type: ignore[operator]
            "ge": x >= target,  # type: ignore[operator]
        }[cond.op]
    )


@dataclass
class FieldClassifier:
    """Maps a value of one field to its equivalence class under every comparison."""

    name: str
    exact: set[str | float] = field(default_factory=set)
    bounds: set[str | float] = field(default_factory=set)
    _sorted: list[Any] = field(default_factory=list)

    def add(self, cond: Compare | Membership | Between | Prefix | Exists) -> None:
        if isinstance(cond, Exists):
            return  # None is always its own class
        if isinstance(cond, Membership):
            self.exact.update(norm_value(self.name, v) for v in cond.value)
        elif isinstance(cond, Prefix):
            for p in cond.value:
                start = str(norm_value(self.name, p))
                self.bounds.update((start, prefix_end(start)))
        elif isinstance(cond, Between):
            self.bounds.update(norm_value(self.name, b) for b in cond.value)
        elif cond.op in ("eq", "ne"):
            self.exact.add(norm_value(self.name, cond.value))
        else:
            self.bounds.add(norm_value(self.name, cond.value))

    def freeze(self) -> None:
        self._sorted = sorted(self.bounds)

    def classify(self, value: Value) -> Any:
        if value is None:
            return None
        exact = value if value in self.exact else ""
        if not self._sorted:
            return exact
        return (exact, bisect.bisect_left(self._sorted, value), value in self.bounds)

    def classifier(self) -> Callable[[Value], Any]:
        """`classify` specialised to what this field needs (the hot path of matching)."""
        exact = frozenset(self.exact)
        bounds = frozenset(self.bounds)
        ordered = list(self._sorted)
        position = bisect.bisect_left
        if not ordered:
            return lambda v: None if v is None else (v if v in exact else "")
        if not exact:
            return lambda v: None if v is None else position(ordered, v) * 2 + (v in bounds)
        return self.classify


def signature_function(
    classifiers: dict[str, FieldClassifier],
) -> Callable[[Values], tuple[Any, ...]]:
    """One function computing the signature tuple of a client's values.

    Generated source (like `collections.namedtuple`) so that the per-client cost is one
    call and a tuple display, not a loop over fields."""
    names = sorted(classifiers)
    env: dict[str, Any] = {f"f{i}": classifiers[n].classifier() for i, n in enumerate(names)}
    items = "".join(f"f{i}(v[{n!r}]), " for i, n in enumerate(names))
    source = f"def signature(v):\n    return ({items})\n"
    exec(compile(source, "<signature>", "exec"), env)
    function: Callable[[Values], tuple[Any, ...]] = env["signature"]
    return function
