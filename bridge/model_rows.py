"""Alink model rows <-> SavedModel directories (shared by both sides; never imports TensorFlow).

Model rows have the schema ``model_id long, model_info string``: row 0 is ``(0, "<name>.zip")``,
rows 1..n are ``(k, base64 of chunk k)`` of the zipped SavedModel, 1 MiB of zip per chunk.
"""

from __future__ import annotations

import base64
import io
import os
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from bridge.archive_limits import check_unpacked_size
from bridge.errors import AkdlError

__all__ = [
    "MODEL_CHUNK_BYTES",
    "MODEL_SCHEMA",
    "find_saved_model",
    "model_rows_to_saved_model",
    "model_rows_to_zip_bytes",
    "saved_model_to_model_rows",
    "saved_model_zip_bytes",
]

MODEL_SCHEMA = "model_id BIGINT, model_info STRING"
MODEL_CHUNK_BYTES = 1 << 20
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def find_saved_model(directory: str) -> str:
    """The SavedModel in ``directory`` itself or in its single sub-directory.

    Raises:
        AkdlError: neither holds a ``saved_model.pb``; the message lists what is there.
    """
    if any(os.path.isfile(os.path.join(directory, f)) for f in _SAVED_MODEL_FILES):
        return directory
    entries = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    subdirs = [e for e in entries if os.path.isdir(os.path.join(directory, e))]
    if len(subdirs) == 1:
        inner = os.path.join(directory, subdirs[0])
        if any(os.path.isfile(os.path.join(inner, f)) for f in _SAVED_MODEL_FILES):
            return inner
    raise AkdlError(
        f"no SavedModel in {directory!r}: expected saved_model.pb there or in a single "
        f"sub-directory, found {entries}"
    )


def saved_model_zip_bytes(saved_model_dir: str) -> bytes:
    """The SavedModel in a directory (or its single sub-directory), zipped, as bytes."""
    root = find_saved_model(saved_model_dir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, _, files in os.walk(root):
            for file in sorted(files):
                path = os.path.join(folder, file)
                archive.write(path, os.path.relpath(path, root))
    return buffer.getvalue()


def saved_model_to_model_rows(saved_model_dir: str, name: str = "model") -> list[tuple[int, str]]:
    """Zip a SavedModel directory and cut it into Alink model rows."""
    data = saved_model_zip_bytes(saved_model_dir)
    rows: list[tuple[int, str]] = [(0, f"{name}.zip")]
    for k, start in enumerate(range(0, len(data), MODEL_CHUNK_BYTES), start=1):
        chunk = data[start : start + MODEL_CHUNK_BYTES]
        rows.append((k, base64.b64encode(chunk).decode("ascii")))
    return rows


def model_rows_to_zip_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """The zipped SavedModel that model rows carry, as bytes.

    ``rows`` may come in any order (``model_id`` orders them); each is ``(model_id,
    model_info)``, e.g. a PyFlink ``Row`` or a tuple.

    Raises:
        AkdlError: rows are missing or duplicated.
    """
    by_id: dict[int, str] = {}
    for row in rows:
        model_id, info = int(row[0]), row[1]
        if model_id in by_id:
            raise AkdlError(f"model rows hold model_id {model_id} twice")
        by_id[model_id] = info
    if 0 not in by_id or not str(by_id[0]).endswith(".zip"):
        raise AkdlError("model rows lack row 0 with the archive name '<name>.zip'")
    expected = list(range(1, len(by_id)))
    if sorted(k for k in by_id if k) != expected:
        raise AkdlError(f"model rows are not numbered 0..{len(by_id) - 1} without gaps")
    return b"".join(base64.b64decode(by_id[k]) for k in expected)


def model_rows_to_saved_model(rows: Iterable[Sequence[Any]], directory: str) -> str:
    """Rebuild the SavedModel from model rows into ``directory``; returns its path.

    The result opens with plain ``tf.saved_model.load``.

    Raises:
        AkdlError: rows are missing, duplicated, or not a zipped SavedModel.
    """
    data = model_rows_to_zip_bytes(rows)
    os.makedirs(directory, exist_ok=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_unpacked_size("in the model rows", (i.file_size for i in archive.infolist()),
                                directory)
            archive.extractall(directory)
    except ValueError as exc:
        raise AkdlError(str(exc)) from None
    except zipfile.BadZipFile as exc:
        raise AkdlError(f"model rows do not hold a zip archive: {exc}") from exc
    return find_saved_model(directory)
