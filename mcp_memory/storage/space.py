"""Free disk space: a full disk is named as the cause of a failed write, and a small reserve file keeps room for
the deletes that undo a half-done store (SQLite needs a little space even to delete)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

LOW_SPACE_BYTES = 16 * 2**20  # below this a failed write is put down to the disk being full
RESERVE_BYTES = 512 * 2**10


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged writer may still use on the file system holding ``path`` (None if unknown)."""
    try:
        found = os.statvfs(path)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


def disk_is_low(path: Path) -> bool:
    free = free_bytes(path)
    return free is not None and free < LOW_SPACE_BYTES


class SpaceReserve:
    """A file of ``RESERVE_BYTES`` beside a database, given up when the disk is low so an undoing delete fits."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def keep(self) -> None:
        """Write the reserve if it is missing and there is room for it again."""
        if self.path.exists() or (free_bytes(self.path.parent) or 0) < 4 * RESERVE_BYTES:
            return
        try:
            with open(self.path, "xb") as handle:
                handle.write(b"\0" * RESERVE_BYTES)
        except FileExistsError:
            pass
        except OSError:  # no room after all: try again after the next write
            with contextlib.suppress(OSError):
                self.path.unlink()

    def release_if_low(self) -> None:
        if disk_is_low(self.path.parent):
            with contextlib.suppress(OSError):
                self.path.unlink()
