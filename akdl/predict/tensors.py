"""What a signature declares about a tensor, and the dtypes akdl converts to (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NUMPY_DTYPES", "TensorInfo", "is_integer_dtype", "is_numeric_dtype", "shape_text"]

# TensorFlow dtype name -> the numpy dtype akdl builds; TF casts bfloat16 from float32 itself.
NUMPY_DTYPES = {
    "bool": np.dtype(np.bool_),
    "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
    "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(np.float32),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}


def shape_text(shape: Sequence[int | None]) -> str:
    """A shape as text, ``?`` for unknown dimensions, e.g. ``[?, 3]``."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def is_integer_dtype(dtype: str) -> bool:
    """Whether a TensorFlow dtype name is an integer type."""
    return dtype.startswith(("int", "uint"))


def is_numeric_dtype(dtype: str) -> bool:
    """Whether akdl converts numbers to and from this TensorFlow dtype."""
    return dtype in NUMPY_DTYPES


@dataclass(frozen=True)
class TensorInfo:
    """What a signature declares about one of its input or output tensors.

    Attributes:
        name: the tensor's key in the signature.
        dtype: the TensorFlow dtype name, e.g. ``"float32"``, ``"int64"``, ``"string"``.
        shape: the static shape with ``None`` for unknown dimensions; ``None`` when even the
            rank is unknown.
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    @property
    def rank(self) -> int | None:
        """The number of dimensions, or ``None`` when unknown."""
        return None if self.shape is None else len(self.shape)

    @property
    def is_string(self) -> bool:
        """Whether the tensor holds strings (bytes)."""
        return self.dtype == "string"

    def describe(self) -> str:
        """The spec as text, e.g. ``"float32[?, 3]"``; ``"float32[*]"`` for unknown rank."""
        if self.shape is None:
            return f"{self.dtype}[*]"
        return f"{self.dtype}{shape_text(self.shape)}"

    def __str__(self) -> str:
        return f"{self.name!r} {self.describe()}"
