"""Value rules shared by every conversion of column values (both processes; pure Python).

The Example codec (`bridge.codec`) and the predict converters (`akdl.predict`) both need the
same rules for integer ranges, DATE as epoch days, TIMESTAMP as epoch milliseconds, DECIMAL from
a float, and a short description of an unfitting value. They live here once. Each function
raises :class:`ValueRejected`, whose ``got`` says what came, and the caller names the column.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import operator
from collections.abc import Callable
from typing import Any

from bridge.schema import FieldType, TypeKind

__all__ = [
    "INT_RANGES",
    "ValueRejected",
    "check_int",
    "date_to_days",
    "datetime_to_millis",
    "days_to_date",
    "decimal_from_float",
    "describe_value",
    "millis_to_datetime",
]

INT_RANGES = {
    TypeKind.TINYINT: (-(2**7), 2**7 - 1),
    TypeKind.SMALLINT: (-(2**15), 2**15 - 1),
    TypeKind.INT: (-(2**31), 2**31 - 1),
    TypeKind.BIGINT: (-(2**63), 2**63 - 1),
}

_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_MS_PER_DAY = 86_400_000
_DECIMAL_CONTEXT = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_UP)


class ValueRejected(ValueError):
    """A value does not fit its column; ``got`` describes what came, for the caller's message."""

    def __init__(self, got: str):
        super().__init__(got)
        self.got = got


def describe_value(value: Any, limit: int = 80) -> str:
    """A short description of a value for messages, e.g. ``str 'abc'``."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


def check_int(value: Any, kind: TypeKind) -> int:
    """``value`` as an int of the integer column kind ``kind``.

    Raises:
        ValueRejected: not an integer, or out of the kind's range.
    """
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueRejected(describe_value(value)) from None
    low, high = INT_RANGES[kind]
    if not low <= number <= high:
        raise ValueRejected(f"{describe_value(value)} (out of range for {kind.value})")
    return number


def date_to_days(value: Any) -> int:
    """A ``datetime.date`` as days since 1970-01-01.

    Raises:
        ValueRejected: not a date (a ``datetime`` is not a DATE value).
    """
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value.toordinal() - _EPOCH_ORDINAL
    raise ValueRejected(describe_value(value))


def datetime_to_millis(value: Any) -> int:
    """A ``datetime`` as milliseconds since 1970-01-01 UTC; naive values are taken as UTC.

    Raises:
        ValueRejected: not a datetime.
    """
    if not isinstance(value, _dt.datetime):
        raise ValueRejected(describe_value(value))
    if value.utcoffset() is None:  # naive, or a tzinfo that gives no offset
        delta = value.replace(tzinfo=None) - _EPOCH
    else:
        delta = value - _EPOCH_UTC
    # timedelta keeps 0 <= seconds < 86400 and 0 <= microseconds < 10**6, so this floors.
    return delta.days * _MS_PER_DAY + delta.seconds * 1000 + delta.microseconds // 1000


def days_to_date(days: int) -> _dt.date:
    """The date ``days`` after 1970-01-01.

    Raises:
        ValueRejected: no date has that day number.
    """
    try:
        return _dt.date.fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        raise ValueRejected(f"{days} (not a day number a date can hold)") from None


def millis_to_datetime(millis: int) -> _dt.datetime:
    """The naive UTC datetime ``millis`` milliseconds after 1970-01-01.

    Raises:
        ValueRejected: no datetime has that time.
    """
    try:
        return _EPOCH + _dt.timedelta(milliseconds=millis)
    except OverflowError:
        raise ValueRejected(f"{millis} (not a millisecond time a datetime can hold)") from None


def decimal_from_float(ftype: FieldType) -> Callable[[float], decimal.Decimal]:
    """A converter of floats to ``Decimal`` values of the DECIMAL type ``ftype``.

    The converter rounds half up to the type's scale and raises :class:`ValueRejected` for a
    value that is not finite or does not fit the type's precision.
    """
    if ftype.precision is None or ftype.scale is None:
        raise ValueError(f"{ftype} is not a DECIMAL type with precision and scale")
    quantum = decimal.Decimal(1).scaleb(-ftype.scale)
    limit = decimal.Decimal(10) ** (ftype.precision - ftype.scale)
    sql = ftype.sql()

    def convert(value: float) -> decimal.Decimal:
        if not math.isfinite(value):
            raise ValueRejected(f"{value!r} (not finite)")
        result = _DECIMAL_CONTEXT.quantize(decimal.Decimal(value), quantum)
        if abs(result) >= limit:
            raise ValueRejected(f"{value!r} (does not fit {sql})")
        return result

    return convert
