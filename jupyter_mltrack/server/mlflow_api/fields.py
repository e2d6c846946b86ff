"""Typed, checked access to the fields of an MLflow REST request.

MLflow clients send GET fields in the query string (lists as repeated keys, every value a string)
and every other method's fields as a JSON object. :class:`Fields` reads both the same way and
turns each wrong type or missing value into the INVALID_PARAMETER_VALUE error MLflow's server
gives for it ("Missing value for required parameter 'run_id'", "Invalid value 123 for parameter
'name' supplied"), naming the field by its path in the request (``metrics[0].timestamp``),
before any store call is made.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ...validation import MAX_TAG_VALUE_LENGTH, tag_value_to_str
from . import messages

# proto3 JSON writes non-finite doubles as these strings
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_INT_RE = re.compile(r"^-?[0-9]+$")
# proto3 int64: anything wider is refused before Python's int() sees a 5,000-digit string
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


def tag_value(value: str, path: str) -> str:
    """A tag value within the store's length limit (MLflow's message past it)."""
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise messages.exceeds_length(path, MAX_TAG_VALUE_LENGTH)
    return tag_value_to_str(path, value)


class Fields:
    """The fields of one request.

    Parameters
    ----------
    data:
        The JSON body (an object), or the query string as ``name -> list of values``.
    from_query:
        True when ``data`` came from a query string: every value is then a list of strings.
    prefix:
        Where ``data`` sits in the request, for messages: ``""`` for the request itself,
        ``"metrics[0]."`` for an item of a repeated field.
    """

    def __init__(self, data: Mapping[str, Any], *, from_query: bool = False, prefix: str = ""):
        self.data = data
        self.from_query = from_query
        self.prefix = prefix

    @classmethod
    def from_query_arguments(cls, arguments: Mapping[str, list[bytes]]) -> Fields:
        """Fields from tornado's ``request.query_arguments``."""
        decoded = {
            name: [v.decode("utf-8", errors="replace") for v in values]
            for name, values in arguments.items()
        }
        return cls(decoded, from_query=True)

    def path(self, name: str) -> str:
        """A field's name as MLflow's messages give it (``metrics[0].timestamp``)."""
        return self.prefix + name

    def raw(self, name: str) -> Any:
        """A scalar field as sent (unchecked; None when absent)."""
        value = self.data.get(name)
        if self.from_query and value is not None:
            # a repeated scalar field: the last value wins, as in proto3 parsing
            return value[-1] if value else None
        return value

    def has(self, name: str) -> bool:
        """Whether the request carries the field at all (null counts as absent)."""
        return self.raw(name) is not None

    def invalid(self, name: str) -> Exception:
        """MLflow's error for a field of the wrong type or value."""
        return messages.invalid(self.path(name), self.raw(name))

    # scalars ---------------------------------------------------------------------------------
    def string(self, name: str, default: str | None = None) -> str | None:
        """An optional string field."""
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.invalid(name)
        return value

    def required_string(self, name: str, *aliases: str) -> str:
        """A string field that must be present and non-empty (``aliases``: older names, read
        when the field itself is absent, as MLflow reads ``run_uuid`` for ``run_id``)."""
        for candidate in (name, *aliases):
            value = self.string(candidate)
            if value:
                return value
        raise messages.missing(self.path(name))

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An optional integer field (proto3 JSON may send int64 as a decimal string)."""
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise self.invalid(name)
        number: int | None = None
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT_RE.match(value.strip()):
            digits = value.strip()
            if len(digits.lstrip("-")) > 19:
                raise self.invalid(name)
            number = int(digits)
        if number is None or not _INT64_MIN <= number <= _INT64_MAX:
            raise self.invalid(name)
        return number

    def required_integer(self, name: str) -> int:
        """An integer field that must be present."""
        value = self.integer(name)
        if value is None:
            raise messages.missing(self.path(name))
        return value

    def number(self, name: str) -> float | None:
        """An optional double field; ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` are accepted."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.invalid(name)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            if value in _NON_FINITE:
                return _NON_FINITE[value]
            try:
                return float(value)
            except ValueError:
                pass
        raise self.invalid(name)

    def boolean(self, name: str, default: bool = False) -> bool:
        """An optional boolean field (``true``/``false`` in a query string)."""
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        if self.from_query:
            raise messages.invalid_boolean(str(value))
        raise self.invalid(name)

    def choice(
        self,
        name: str,
        choices: tuple[str, ...],
        default: str | None = None,
        numbers: Mapping[int, str] | None = None,
    ) -> str | None:
        """An enum field, by name (proto3 JSON) or, if ``numbers`` is given, by number."""
        value = self.raw(name)
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
        raise self.invalid(name)

    # lists -----------------------------------------------------------------------------------
    def raw_list(self, name: str) -> list[Any]:
        """A repeated field as the raw JSON list (items unchecked)."""
        if self.from_query and self.data.get(name):
            raise self.invalid(name)
        return self._list(name)

    def _list(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise messages.invalid(self.path(name), value)
        return value

    def strings(self, name: str) -> list[str]:
        """A repeated string field."""
        values = self._list(name)
        if not all(isinstance(item, str) for item in values):
            raise messages.invalid(self.path(name), values)
        return values

    def item(self, name: str, index: int, value: Any) -> Fields:
        """Item ``index`` of the repeated message field ``name`` as :class:`Fields`."""
        path = f"{self.path(name)}[{index}]"
        if not isinstance(value, dict):
            raise messages.invalid(path, value)
        return Fields(value, prefix=path + ".")

    def objects(self, name: str) -> list[Fields]:
        """A repeated message field, each item as :class:`Fields`."""
        if self.from_query and self.data.get(name):
            raise self.invalid(name)
        return [self.item(name, i, item) for i, item in enumerate(self._list(name))]

    def object(self, name: str) -> Fields:
        """A nested message field (empty when absent)."""
        value = self.data.get(name)
        if value is None:
            return Fields({}, prefix=self.path(name) + ".")
        if self.from_query or not isinstance(value, dict):
            raise messages.invalid(self.path(name), value)
        return Fields(value, prefix=self.path(name) + ".")

    def tags(self, name: str = "tags") -> dict[str, str]:
        """A list of ``{key, value}`` objects as a dict, keys and values checked."""
        out: dict[str, str] = {}
        for item in self.objects(name):
            key = messages.key(item.raw("key"), item.path("key"))
            out[key] = tag_value(item.string("value", "") or "", item.path("value"))
        return out
