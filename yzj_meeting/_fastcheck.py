"""One generated check per request model: converters and validators inlined behind fast tests.

attrs calls every converter and validator of every field on construction, well-formed or not:
about 2 µs of a 17-field ``CreateMeeting``, the largest per-call cost of a create. Fields made
with ``field(validator, converter)`` keep their rules in metadata instead, and the model's
``__attrs_post_init__`` runs ``check(self)``: one generated function per class that, field by
field in order, tests the value with an inline expression registered for the rule (``fast``)
and calls the converter or validator only when that test fails. A rule without an expression
is always called. Converters never raise, so converting each field just before validating it
gives the errors attrs gave, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["check", "fast", "field"]

F = TypeVar("F", bound=Callable[..., Any])

_RULES = "yzj_rules"
_FAST: dict[Callable[..., Any], tuple[str, dict[str, Any]]] = {}
_CHECKS: dict[type, Callable[[Any], None]] = {}


def fast(expression: str, **names: Any) -> Callable[[F], F]:
    """Register ``expression`` (of ``v``, using ``names``) as true when the decorated validator
    would pass, or the decorated converter would return ``v`` unchanged."""

    def register(rule: F) -> F:
        _FAST[rule] = (expression, names)
        return rule

    return register


def field(
    validator: Callable[[Any, Any, Any], None],
    converter: Callable[[Any], Any] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """A keyword-only field defaulting to ``None`` whose rules ``check`` runs."""
    return attrs.field(
        kw_only=True, default=None, metadata={**(metadata or {}), _RULES: (converter, validator)}
    )


def check(model: Any) -> None:
    """Convert and validate ``model``'s ``field``s (raises what their validators raise)."""
    cls = type(model)
    run = _CHECKS.get(cls)
    if run is None:
        run = _CHECKS[cls] = _compile(cls)
    run(model)


def _compile(cls: type) -> Callable[[Any], None]:
    namespace: dict[str, Any] = {"_set": object.__setattr__}
    lines = ["def check(self):"]
    for i, attribute in enumerate(attrs.fields(cls)):
        rules = attribute.metadata.get(_RULES)
        if rules is None:
            continue
        converter, validator = rules
        lines.append(f"    v = self.{attribute.name}")
        if converter is not None:
            namespace[f"c{i}"] = converter
            lines.append(f"    if not ({_test(converter, namespace)}):")
            lines.append(f"        v = c{i}(v)")
            lines.append(f"        _set(self, {attribute.name!r}, v)")
        namespace[f"v{i}"], namespace[f"a{i}"] = validator, attribute
        lines.append(f"    if not ({_test(validator, namespace)}):")
        lines.append(f"        v{i}(self, a{i}, v)")
    lines.append("    return None")
    exec("\n".join(lines), namespace)  # the source is built here from field names only
    run: Callable[[Any], None] = namespace["check"]
    return run


def _test(rule: Callable[..., Any], namespace: dict[str, Any]) -> str:
    expression, names = _FAST.get(rule, ("False", {}))
    namespace.update(names)
    return expression
