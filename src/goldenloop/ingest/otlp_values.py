"""OTLP/JSON values: ``AnyValue`` and attribute lists decoded to Python values, a field read by
its OTLP/JSON or protobuf name, and ``ShapeError`` for a value whose JSON shape OTLP does not
allow (the OTLP reader quarantines the span it belongs to, the receiver refuses it).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["ShapeError", "any_value", "attribute_map", "g", "json_text", "shown"]


class ShapeError(ValueError):
    """A field whose JSON shape OTLP does not allow (``attributes: 5``, a list as a status
    code): its span is quarantined under ``field``."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def shown(value: Any) -> str:
    """``value`` as short JSON text, for a reason."""
    text = json_text(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_text(value: Any) -> str:
    """``value`` as JSON text, non-ASCII kept readable; escaped only when it holds a lone
    surrogate (JSON's ``\\ud800``), which UTF-8 cannot store."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, default=str)
    return text


def attribute_map(attributes: Any, field: str = "attributes") -> dict[str, Any]:
    """``[{key, value: AnyValue}]`` → ``{key: value}`` (a plain mapping is taken as it is);
    raises ``ShapeError`` naming ``field`` and the key for anything else."""
    if attributes is None:
        return {}
    if isinstance(attributes, dict):
        pairs = attributes.items()
    elif isinstance(attributes, list):
        pairs = []
        for i, kv in enumerate(attributes):
            if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
                raise ShapeError(f"{field}[{i}]", f"not a {{key, value}} pair: {shown(kv)}")
            pairs.append((kv["key"], kv.get("value")))
    else:
        raise ShapeError(field, f"not a list of {{key, value}} pairs: {shown(attributes)}")
    out: dict[str, Any] = {}
    for key, value in pairs:
        try:
            out[key] = any_value(value)
        except ShapeError as exc:
            raise ShapeError(f"{field}.{key}", exc.reason) from None
    return out


def any_value(v: Any) -> Any:
    """Decode an OTLP AnyValue; a scalar that does not parse is returned raw, for validation,
    and a container of the wrong shape raises ``ShapeError``."""
    if not isinstance(v, dict):
        return v
    for key in v:
        kind = _ANY_KINDS.get(key)
        if kind is not None:
            return kind(v[key])
    return None


def _int(x: Any) -> Any:
    try:
        return int(x)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        return x


def _double(x: Any) -> Any:
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float(10**400)
        return x


def _bool(x: Any) -> Any:
    # OTLP/JSON writes true/false; bool("false") would be True.
    return x.lower() == "true" if isinstance(x, str) else x


def _values(x: Any, kind: str) -> list[Any]:
    values = g(x, "values") if isinstance(x, dict) else x
    if values is None:
        return []
    if not isinstance(values, list):
        raise ShapeError(kind, f"not {{values: [...]}}: {shown(x)}")
    return values


def _array(x: Any) -> list[Any]:
    return [any_value(i) for i in _values(x, "arrayValue")]


def _kvlist(x: Any) -> dict[str, Any]:
    return attribute_map(_values(x, "kvlistValue"), "kvlistValue")


_ANY_KINDS = {
    "stringValue": lambda x: x, "string_value": lambda x: x,
    "boolValue": _bool, "bool_value": _bool,
    "intValue": _int, "int_value": _int,
    "doubleValue": _double, "double_value": _double,
    "arrayValue": _array, "array_value": _array,
    "kvlistValue": _kvlist, "kvlist_value": _kvlist,
    "bytesValue": lambda x: x, "bytes_value": lambda x: x,
}


_SNAKE: dict[str, str] = {}


def g(d: Any, camel: str) -> Any:
    """A field by its OTLP/JSON (lowerCamelCase) name or its protobuf (snake_case) name."""
    if not isinstance(d, dict):
        return None
    if camel in d:
        return d[camel]
    snake = _SNAKE.get(camel)
    if snake is None:
        snake = _SNAKE[camel] = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return d.get(snake)
