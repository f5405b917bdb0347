"""The one parser of string-list parameters (``selectedCols``, ``reservedCols``, ...).

Pure Python; used by the operators' parameters and by `akdl.LocalPredictor`, so a value means
the same everywhere. Accepted spellings, all giving ``["a", "b"]``: a list or tuple of strings,
a JSON list (``'["a", "b"]'``), or a comma-separated string (``"a,b"`` or ``"a, b"``, as
Alink's documentation writes them).
"""

from __future__ import annotations

import json
from typing import Any

from bridge.values import describe_value

__all__ = ["parse_name_list"]


def _describe(value: Any) -> str:
    return describe_value(value, limit=60)


def parse_name_list(value: Any) -> list[str]:
    """A list of names from any accepted spelling.

    Args:
        value: a list or tuple of strings, a JSON list of strings, or a comma-separated string.
            Names in a comma-separated string are stripped of surrounding spaces; an empty
            string gives an empty list.

    Returns:
        A new list of strings.

    Raises:
        TypeError: the value is neither a string nor a list/tuple, or an element is no string.
        ValueError: a string that starts with ``[`` is not a valid JSON list, or a
            comma-separated string has an empty name (``"a,,b"``).
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"is not a valid JSON list ({e.msg}): {value!r}") from None
        elif not text:
            return []
        else:
            names = [part.strip() for part in text.split(",")]
            if not all(names):
                raise ValueError(f"has an empty name between commas: {value!r}")
            return names
    if not isinstance(value, list | tuple):
        raise TypeError(
            f"must be a list of strings, a JSON list or a comma-separated string, "
            f"got {_describe(value)}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"must hold only strings, got {_describe(item)}")
    return items
