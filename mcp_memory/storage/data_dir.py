"""The data dir: created readable by this user only, and proved writable before anything opens a file in it."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from mcp_memory.errors import CannotStart

ELSEWHERE = "choose another data dir with --data-dir (MCP_MEMORY_DATA_DIR)"


def check_data_dir(path: Path) -> None:
    """Create the data dir if needed (readable by this user only) and prove this process can write in it."""
    if path.exists() and not path.is_dir():
        raise CannotStart(f"The data dir {path} is a file, not a folder. Move the file away, or {ELSEWHERE}.")
    try:
        private_dir(path)
        with tempfile.TemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except NotADirectoryError as exc:
        raise CannotStart(
            f"The data dir {path} cannot be created: part of its path is a file. Fix the path, or {ELSEWHERE}."
        ) from exc
    except OSError as exc:
        raise CannotStart(
            f"The data dir {path} is not writable by this user ({exc.strerror}). Fix its permissions, or {ELSEWHERE}."
        ) from exc


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) readable by this user only; an existing one of ours is made so too."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours, or a read-only file system: nothing to tighten
        if path.stat().st_uid == os.geteuid() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o700)
