"""The one parser of string-list parameters (``selectedCols``, ``reservedCols``, ...).

Pure Python; used by the operators' parameters and by `akdl.LocalPredictor`, so a value means
the same everywhere. Accepted spellings, all giving ``["a", "b"]``: a list or tuple of strings,
a JSON list (``'["a", "b"]'``), or a comma-separated string (``"a,b"`` or ``"a, b"``, as
Alink's documentation writes them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bridge.values import describe_value

__all__ = ["parse_name_list", "parse_string_list"]


def _describe(value: Any) -> str:
    return describe_value(value, limit=60)


def parse_string_list(value: Any, split: Callable[[str], list[str]], spelling: str) -> list[str]:
    """A list of strings from a list or tuple, a JSON list, or another string form.

    Args:
        value: a list or tuple of strings; a string starting with ``[``, read as a JSON list;
            or any other string, which ``split`` turns into the list.
        split: splits a plain (stripped) string; raises ValueError for a bad one.
        spelling: how the plain string form is called in errors, e.g. "a comma-separated
            string".

    Raises:
        TypeError: the value is neither a string nor a list/tuple, or an element is no string.
        ValueError: an invalid JSON list, or whatever ``split`` refuses.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return split(text)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"is not a valid JSON list ({e.msg}): {value!r}") from None
    if not isinstance(value, list | tuple):
        raise TypeError(
            f"must be a list of strings, a JSON list or {spelling}, got {_describe(value)}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"must hold only strings, got {_describe(item)}")
    return items


def _split_names(text: str) -> list[str]:
    if not text:
        return []
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise ValueError(f"has an empty name between commas: {text!r}")
    return names


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
    return parse_string_list(value, _split_names, "a comma-separated string")
