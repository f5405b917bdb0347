"""Alink's tensor strings (numpy only): how a STRING column holds a tensor.

Forms read: ``"1 2 3"`` (a flat vector; commas also separate), ``"$2,3$1 2 3 4 5 6"`` (a
tensor of shape ``[2, 3]``, row-major), ``"$5$0:1.5 3:2"`` (a sparse vector of size 5) and
``"$$7"`` (a scalar, shape ``[]``). Booleans read as ``true``/``false`` or numbers.

Form written (`format_alink_rows`): the values of a row separated by single spaces, with the
``$d1,d2,...$`` shape prefix when the row has two or more dimensions. Floats take the shortest
text that reads back as the same value of their dtype; NaN and infinities are written as Java
writes them (``NaN``, ``Infinity``), and booleans as ``true``/``false``, so Alink reads them
too. What is written reads back as the same tensor.
"""

from __future__ import annotations

import math
import re

import numpy as np

from akdl.predict.tensors import shape_text

__all__ = ["format_alink_rows", "parse_alink_tensor"]

_JAVA_FLOAT_WORDS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_BOOL_WORDS = {"true": True, "false": False}

_ALINK_PREFIX = re.compile(r"\s*\$([^$]*)\$(.*)", re.DOTALL)
_ALINK_SEPARATORS = re.compile(r"[\s,]+")


def parse_alink_tensor(text: str, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Parses one Alink tensor or vector string into a numpy array.

    Args:
        text: the string, in one of the forms of the module docstring.
        dtype: the numpy dtype of the result.

    Returns:
        The array, shaped as the prefix says (flat when there is none).

    Raises:
        ValueError: the text is not such a string; the message says what is wrong.
    """
    match = _ALINK_PREFIX.fullmatch(text)
    body = match.group(2) if match else text
    shape: tuple[int, ...] | None = None
    if match:
        prefix = match.group(1)
        dims = [d.strip() for d in prefix.split(",")] if prefix.strip() else []
        if not all(d.isdigit() for d in dims):
            raise ValueError(f"the shape prefix ${prefix}$ is not comma-separated sizes")
        shape = tuple(int(d) for d in dims)
    tokens = [t for t in _ALINK_SEPARATORS.split(body.strip()) if t]
    target = np.dtype(dtype)
    if tokens and ":" in tokens[0]:
        if shape is None or len(shape) != 1:
            raise ValueError("a sparse vector 'i:v ...' needs its size as a prefix, e.g. '$5$0:1'")
        values = np.zeros(shape, dtype=target)
        for token in tokens:
            index_text, _, value_text = token.partition(":")
            index = int(index_text)
            if not 0 <= index < shape[0]:
                raise ValueError(f"sparse index {index} is outside the size {shape[0]}")
            values[index] = _parse_numbers([value_text], target)[0]
        return values
    values = _parse_numbers(tokens, target)
    if shape is None:
        return values
    if math.prod(shape) != values.size:
        raise ValueError(f"the shape {shape_text(shape)} needs {math.prod(shape)} values, "
                         f"got {values.size}")
    return values.reshape(shape)


def _parse_numbers(tokens: list[str], dtype: np.dtype) -> np.ndarray:
    strings = np.array(tokens, dtype=str)
    if dtype.kind == "b" and tokens and tokens[0].lower() in _BOOL_WORDS:
        try:
            return np.array([_BOOL_WORDS[t.lower()] for t in tokens], dtype=bool)
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]!r} is not true or false") from None
    if dtype.kind in "iu":
        try:
            return strings.astype(np.int64).astype(dtype)
        except (ValueError, OverflowError):
            pass  # e.g. "1.0": parse as floats and cast, as TensorFlow would
    if dtype.kind == "b":
        return strings.astype(np.float64) != 0
    return strings.astype(np.float64).astype(dtype)


def _texts(flat: np.ndarray) -> np.ndarray:
    """The text of every value of a 2-D array, as Alink writes it."""
    kind = flat.dtype.kind
    if kind == "b":
        return np.where(flat, "true", "false")
    if kind in "iu":
        return flat.astype(str)
    if kind == "f":
        texts = flat.astype(str)  # the shortest text that reads back as the same value
        if not np.isfinite(flat).all():
            for word, java in _JAVA_FLOAT_WORDS.items():
                texts[texts == word] = java
        return texts
    if kind in "OS":
        return np.vectorize(
            lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v), otypes=[object]
        )(flat)
    raise ValueError(f"cannot write a tensor of dtype {flat.dtype} as an Alink string")


def format_alink_rows(batch: np.ndarray) -> list[str]:
    """One Alink tensor string per row (first axis) of ``batch``.

    Args:
        batch: a numeric, boolean or string array of at least one dimension.

    Returns:
        The strings, e.g. ``"0.5"`` for a row of one value, ``"0.25 0.75"`` for a row of
        shape ``[2]`` and ``"$2,2$1 0 0 1"`` for a row of shape ``[2, 2]``.
    """
    row_shape = batch.shape[1:]
    prefix = "$" + ",".join(map(str, row_shape)) + "$" if len(row_shape) >= 2 else ""
    texts = _texts(batch.reshape(batch.shape[0], -1))
    return [prefix + " ".join(row) for row in texts.tolist()]
