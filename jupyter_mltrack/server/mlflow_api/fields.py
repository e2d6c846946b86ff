"""Typed, checked access to the fields of an MLflow REST request.

MLflow clients send GET fields in the query string (lists as repeated keys, every value a string)
and every other method's fields as a JSON object. :class:`Fields` reads both the same way and
turns each wrong type or missing value into an INVALID_PARAMETER_VALUE error that names the field,
before any store call is made.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ...errors import MltrackError
from ...validation import check_key, tag_value_to_str

# proto3 JSON writes non-finite doubles as these strings
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_INT_RE = re.compile(r"^-?[0-9]+$")
# proto3 int64: anything wider is refused before Python's int() sees a 5,000-digit string
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


def _shown(value: Any) -> str:
    """A value for an error message, cut short (a message must not echo a huge field)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}… ({len(text)} characters)"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class Fields:
    """The fields of one request.

    Parameters
    ----------
    data:
        The JSON body (an object), or the query string as ``name -> list of values``.
    from_query:
        True when ``data`` came from a query string: every value is then a list of strings.
    """

    def __init__(self, data: Mapping[str, Any], *, from_query: bool = False):
        self.data = data
        self.from_query = from_query

    @classmethod
    def from_query_arguments(cls, arguments: Mapping[str, list[bytes]]) -> Fields:
        """Fields from tornado's ``request.query_arguments``."""
        decoded = {
            name: [v.decode("utf-8", errors="replace") for v in values]
            for name, values in arguments.items()
        }
        return cls(decoded, from_query=True)

    def _raw(self, name: str) -> Any:
        value = self.data.get(name)
        if self.from_query and value is not None:
            # a repeated scalar field: the last value wins, as in proto3 parsing
            return value[-1] if value else None
        return value

    def has(self, name: str) -> bool:
        """Whether the request carries the field at all (null counts as absent)."""
        return self._raw(name) is not None

    # scalars ---------------------------------------------------------------------------------
    def string(self, name: str, default: str | None = None) -> str | None:
        """An optional string field."""
        value = self._raw(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise MltrackError(
                f"field {name!r} must be a string, got {_type_name(value)}: {value!r}"
            )
        return value

    def required_string(self, name: str, *aliases: str) -> str:
        """A string field that must be present and non-empty (``aliases``: older names)."""
        for candidate in (name, *aliases):
            value = self.string(candidate)
            if value:
                return value
        raise MltrackError(f"missing value for required field {name!r}")

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An optional integer field (proto3 JSON may send int64 as a decimal string)."""
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise MltrackError(f"field {name!r} must be an integer, got a boolean: {value!r}")
        number: int | None = None
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT_RE.match(value.strip()):
            digits = value.strip()
            if len(digits.lstrip("-")) > 19:
                raise MltrackError(f"field {name!r} must be a 64-bit integer, got {len(digits)} "
                                   "characters")  # fmt: skip
            number = int(digits)
        if number is None:
            raise MltrackError(
                f"field {name!r} must be an integer, got {_type_name(value)}: {_shown(value)}"
            )
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise MltrackError(f"field {name!r} must be a 64-bit integer, got {_shown(number)}")
        return number

    def number(self, name: str) -> float | None:
        """An optional double field; ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` are accepted."""
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise MltrackError(f"field {name!r} must be a number, got a boolean: {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            if value in _NON_FINITE:
                return _NON_FINITE[value]
            try:
                return float(value)
            except ValueError:
                pass
        raise MltrackError(f"field {name!r} must be a number, got {_type_name(value)}: {value!r}")

    def boolean(self, name: str, default: bool = False) -> bool:
        """An optional boolean field (``true``/``false`` in a query string)."""
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise MltrackError(f"field {name!r} must be a boolean, got {_type_name(value)}: {value!r}")

    def choice(
        self,
        name: str,
        choices: tuple[str, ...],
        default: str | None = None,
        numbers: Mapping[int, str] | None = None,
    ) -> str | None:
        """An enum field, by name (proto3 JSON) or, if ``numbers`` is given, by number."""
        value = self._raw(name)
        if value is None:
            return default
        if numbers is not None and not isinstance(value, bool):
            as_int = value if isinstance(value, int) else None
            if isinstance(value, str) and len(value) <= 20 and _INT_RE.match(value):
                as_int = int(value)
            if as_int is not None and as_int in numbers:
                return numbers[as_int]
        if isinstance(value, str) and value.upper() in choices:
            return value.upper()
        raise MltrackError(f"field {name!r} must be one of {', '.join(choices)}, got {value!r}")

    # lists -----------------------------------------------------------------------------------
    def raw_list(self, name: str) -> list[Any]:
        """A repeated field as the raw JSON list (items unchecked)."""
        if self.from_query and self.data.get(name):
            raise MltrackError(f"field {name!r} cannot be sent in a query string")
        return self._list(name)

    def _list(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise MltrackError(f"field {name!r} must be a list, got {_type_name(value)}")
        return value

    def strings(self, name: str) -> list[str]:
        """A repeated string field."""
        values = self._list(name)
        for item in values:
            if not isinstance(item, str):
                raise MltrackError(
                    f"field {name!r} must be a list of strings, got an item {item!r}"
                )
        return values

    def objects(self, name: str) -> list[Fields]:
        """A repeated message field, each item as :class:`Fields`."""
        if self.from_query and self.data.get(name):
            raise MltrackError(f"field {name!r} cannot be sent in a query string")
        items = []
        for item in self._list(name):
            if not isinstance(item, dict):
                raise MltrackError(
                    f"field {name!r} must be a list of objects, got an item {item!r}"
                )
            items.append(Fields(item))
        return items

    def object(self, name: str) -> Fields:
        """A nested message field (empty when absent)."""
        value = self.data.get(name)
        if value is None:
            return Fields({})
        if self.from_query or not isinstance(value, dict):
            raise MltrackError(f"field {name!r} must be an object, got {_type_name(value)}")
        return Fields(value)

    def tags(self, name: str = "tags") -> dict[str, str]:
        """A list of ``{key, value}`` objects as a dict, keys and values checked."""
        out: dict[str, str] = {}
        for item in self.objects(name):
            key = check_key(item.required_string("key"), "tag key")
            out[key] = tag_value_to_str(key, item.string("value", ""))
        return out
