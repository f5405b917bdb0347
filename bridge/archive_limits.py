"""A bound on what unpacking a model archive may write (both processes).

A zip or tar of a SavedModel comes from a path or from model rows, i.e. from data; a hostile
or corrupt one could declare terabytes. Before anything is written, the members' declared sizes
are summed and checked against a limit and against the free space where they would go.
``zipfile`` and ``tarfile`` never write more than a member declares.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

__all__ = ["DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "check_unpacked_size", "max_unpacked_bytes"]

#: The default limit on the bytes one model archive may unpack to.
DEFAULT_MAX_BYTES = 16 * 2**30
#: An environment variable that sets another limit, in bytes.
MAX_BYTES_ENV = "AKDL_MAX_MODEL_BYTES"


def max_unpacked_bytes() -> int:
    """The limit: ``AKDL_MAX_MODEL_BYTES`` if set to a positive int, else 16 GiB."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_MAX_BYTES


def check_unpacked_size(archive: str, sizes: Iterable[int], target_dir: str) -> None:
    """Refuse an archive whose members would unpack to too much.

    Args:
        archive: the archive's name, for the message.
        sizes: each member's declared (uncompressed) size.
        target_dir: where it would be unpacked (an existing directory or one of its parents).

    Raises:
        ValueError: over the limit, or over the free space at ``target_dir``; says which.
    """
    total = sum(max(0, size) for size in sizes)
    limit = max_unpacked_bytes()
    if total > limit:
        raise ValueError(
            f"model archive {archive} would unpack to {total / 2**20:.0f} MiB, over the limit of "
            f"{limit / 2**20:.0f} MiB (set {MAX_BYTES_ENV} to a larger number of bytes if the "
            "model is really that big)"
        )
    existing = target_dir
    while existing and not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    free = shutil.disk_usage(existing or ".").free
    if total > free:
        raise ValueError(
            f"model archive {archive} would unpack to {total / 2**20:.0f} MiB, but {existing} "
            f"has only {free / 2**20:.0f} MiB free"
        )
