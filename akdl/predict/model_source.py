"""Where a SavedModel comes from: a directory, an archive of one, an MLflow URI, or model rows.

Never imports TensorFlow. Archives are unpacked into a scratch directory that the caller owns;
members with absolute paths or ``..`` components are refused before anything is written.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from akdl.model_rows import find_saved_model, model_rows_to_saved_model
from akdl.predict.model_uri import download_model, is_mlflow_uri
from bridge.archive_limits import check_unpacked_size
from bridge.errors import AkdlError, PredictError

__all__ = ["ARCHIVE_SUFFIXES", "model_dir_from_rows", "resolve_model_path"]

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_LISTED_ENTRIES = 20


def resolve_model_path(path: str | os.PathLike[str], scratch_dir: str | os.PathLike[str]) -> str:
    """The directory holding ``saved_model.pb`` for a SavedModel path.

    Args:
        path: a SavedModel directory (the SavedModel directly in it, or in its single
            sub-directory), its ``saved_model.pb`` file, a ``.zip``, ``.tar.gz``, ``.tgz`` or
            ``.tar`` archive of such a directory, or an MLflow URI (``models:/<name>/<version>``,
            ``models:/<name>@<alias>``, ``runs:/<run_id>/<path>``; see `akdl.predict.model_uri`).
        scratch_dir: where an archive is unpacked or an MLflow model downloaded (created if
            missing); unused for a directory. The caller owns it and removes it when the model
            is no longer needed.

    Returns:
        The path of the directory that holds ``saved_model.pb``.

    Raises:
        PredictError: the path does not exist, has an unknown extension, is not a readable
            archive, holds an unsafe member (absolute path or ``..``), or holds no SavedModel;
            or an MLflow URI cannot be resolved. The message names the path and what was found.
    """
    path = os.fspath(path)
    if is_mlflow_uri(path):
        return download_model(path, scratch_dir)
    if os.path.isdir(path):
        try:
            return find_saved_model(path)
        except AkdlError as exc:
            raise PredictError(f"model path: {exc}") from None
    if not os.path.exists(path):
        raise PredictError(
            f"model path {path!r} does not exist; expected a SavedModel directory or a "
            f"{'/'.join(ARCHIVE_SUFFIXES)} archive of one"
        )
    if os.path.basename(path) in _SAVED_MODEL_FILES:
        return os.path.dirname(os.path.abspath(path))
    lower = path.lower()
    if lower.endswith(".zip"):
        members = _extract_zip(path, os.fspath(scratch_dir))
    elif lower.endswith(ARCHIVE_SUFFIXES):
        members = _extract_tar(path, os.fspath(scratch_dir))
    else:
        raise PredictError(
            f"model path {path!r} is a file of unknown kind; expected a SavedModel directory or "
            f"a {'/'.join(ARCHIVE_SUFFIXES)} archive of one"
        )
    try:
        return find_saved_model(os.fspath(scratch_dir))
    except AkdlError:
        shown = members[:_LISTED_ENTRIES] + (["..."] if len(members) > _LISTED_ENTRIES else [])
        raise PredictError(
            f"archive {path!r} holds no SavedModel: expected saved_model.pb at its top or in a "
            f"single top-level directory, found {shown}"
        ) from None


def model_dir_from_rows(rows: Iterable[Sequence[Any]], scratch_dir: str | os.PathLike[str]) -> str:
    """Rebuilds the SavedModel held by Alink model rows; returns the ``saved_model.pb`` directory.

    Args:
        rows: ``(model_id, model_info)`` rows (tuples, lists or PyFlink ``Row``) in any order.
        scratch_dir: where the model is unpacked (created if missing); the caller owns it.

    Raises:
        PredictError: there are no rows, or they are not a complete zipped SavedModel.
    """
    rows = list(rows)
    if not rows:
        raise PredictError("no model rows: expected (model_id, model_info) rows of a SavedModel")
    try:
        return model_rows_to_saved_model(rows, os.fspath(scratch_dir))
    except AkdlError as exc:
        raise PredictError(
            f"cannot rebuild the SavedModel from {len(rows)} model rows: {exc}"
        ) from None
    except (TypeError, ValueError, IndexError) as exc:
        raise PredictError(
            f"model rows must be (model_id, model_info) pairs; rebuilding the SavedModel from "
            f"{len(rows)} rows failed with {type(exc).__name__}: {exc}"
        ) from None


def _check_member(archive: str, name: str) -> None:
    """Refuses a member name that is absolute or climbs out of the extraction directory."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise PredictError(f"archive {archive!r} holds a member with an absolute path: {name!r}")
    if ".." in normalized.split("/"):
        raise PredictError(f"archive {archive!r} holds a member with a '..' path: {name!r}")


def _top_entries(names: Iterable[str]) -> list[str]:
    """The archive's distinct names with at most two components, for error messages."""
    seen: dict[str, None] = {}
    for name in names:
        parts = [p for p in posixpath.normpath(name.replace("\\", "/")).split("/") if p != "."]
        if parts:
            seen.setdefault("/".join(parts[:2]), None)
    return list(seen)


def _extract_zip(path: str, scratch_dir: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            for name in names:
                _check_member(path, name)
            check_unpacked_size(repr(path), (i.file_size for i in archive.infolist()),
                                scratch_dir)
            os.makedirs(scratch_dir, exist_ok=True)
            archive.extractall(scratch_dir)
    except ValueError as exc:
        raise PredictError(str(exc)) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise PredictError(f"cannot unpack model archive {path!r}: {exc}") from None
    return _top_entries(names)


def _extract_tar(path: str, scratch_dir: str) -> list[str]:
    try:
        with tarfile.open(path) as archive:
            members = archive.getmembers()
            for member in members:
                _check_member(path, member.name)
            check_unpacked_size(repr(path), (m.size for m in members), scratch_dir)
            os.makedirs(scratch_dir, exist_ok=True)
            archive.extractall(scratch_dir, filter="data")
    except ValueError as exc:
        raise PredictError(str(exc)) from None
    except tarfile.FilterError as exc:
        raise PredictError(f"model archive {path!r} holds an unsafe member: {exc}") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PredictError(f"cannot unpack model archive {path!r}: {exc}") from None
    return _top_entries(m.name for m in members)
