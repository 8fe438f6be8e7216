"""One process owns an embedded store; every other server process on the same data dir reaches it.

Chroma's embedded client is not process-safe: each process keeps its own in-memory index, so two
processes writing one directory lose or hide each other's writes. So the first ``serve`` on a data
dir takes an exclusive ``flock`` on ``<data_dir>/owner.lock`` and opens the store; later processes
find the lock held and forward every MCP request to the owner over a Unix socket. The kernel drops
the lock when the owner exits (even on ``kill -9``), and the next request of any other process takes
it over. Nothing is spawned, so nothing can be orphaned.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import socket
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mcp_memory.errors import Unavailable
from mcp_memory.storage.data_dir import private_dir

logger = logging.getLogger(__name__)

LOCK_NAME = "owner.lock"
INFO_NAME = "owner.json"
_SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes on Linux
LISTEN_WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class OwnerInfo:
    pid: int
    socket_path: Path
    secret: str

    def wait_listening(self, seconds: float = LISTEN_WAIT_SECONDS) -> None:
        """Wait until the owner's socket takes connections: an owner opens it just after its own client's
        handshake (see ``runner.become_owner``), and a command may come sooner. After ``seconds`` the caller's
        request reports what is wrong."""
        deadline = time.monotonic() + seconds
        while True:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(self.socket_path))
                    return
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        return
            time.sleep(0.05)


def socket_path_for(data_dir: Path) -> Path:
    """The owner's socket: in the data dir when the path is short enough, else in this user's private folder in
    the temp dir (other processes find it in ``owner.json``)."""
    beside = data_dir / "owner.sock"
    if len(str(beside)) < _SOCKET_PATH_LIMIT:
        return beside
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:20]
    return private_temp_dir() / f"{digest}.sock"


def private_temp_dir() -> Path:
    """``<temp>/mcp-memory-<uid>``, a directory only this user can enter.

    The temp dir is shared, so another user may have created that name first (to catch the socket and the
    secret sent over it). It is used only when it is a real directory owned by this user with mode 0700;
    otherwise a fresh directory with an unguessable name is made instead.
    """
    uid = os.geteuid()
    folder = Path(tempfile.gettempdir()) / f"mcp-memory-{uid}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"mcp-memory-{uid}-"))
    try:
        found = os.lstat(folder)
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"mcp-memory-{uid}-"))
    if stat.S_ISDIR(found.st_mode) and found.st_uid == uid and stat.S_IMODE(found.st_mode) == 0o700:
        return folder
    logger.warning("%s is not a private directory of this user; the owner's socket goes elsewhere", folder)
    return Path(tempfile.mkdtemp(prefix=f"mcp-memory-{uid}-"))


class StoreOwnership:
    """The exclusive right to open the embedded store under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket_path = data_dir / "owner.sock"  # where it is, once this process owns the store
        self._lock_fd: int | None = None
        self.secret = ""

    @property
    def owned(self) -> bool:
        return self._lock_fd is not None

    def try_acquire(self) -> bool:
        """Take ownership if nobody holds it; publish the socket and a fresh secret for other processes."""
        if self._lock_fd is not None:
            return True
        private_dir(self.data_dir)
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self.socket_path = socket_path_for(self.data_dir)
        self.secret = secrets.token_urlsafe(32)
        self.socket_path.unlink(missing_ok=True)  # left by an owner that was killed
        info = {"pid": os.getpid(), "socket": str(self.socket_path), "secret": self.secret}
        tmp = self.data_dir / f"{INFO_NAME}.{os.getpid()}.tmp"
        fd_info = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd_info, "w") as handle:
            json.dump(info, handle)
        os.replace(tmp, self.data_dir / INFO_NAME)
        return True

    def release(self) -> None:
        if self._lock_fd is None:
            return
        self.socket_path.unlink(missing_ok=True)
        (self.data_dir / INFO_NAME).unlink(missing_ok=True)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    def owner_info(self) -> OwnerInfo:
        """Where the current owner listens; Unavailable when no owner has published yet."""
        try:
            info = json.loads((self.data_dir / INFO_NAME).read_text())
            return OwnerInfo(pid=int(info["pid"]), socket_path=Path(info["socket"]), secret=str(info["secret"]))
        except (OSError, ValueError, KeyError) as exc:
            raise Unavailable(f"No server owns the store in {self.data_dir} yet ({exc}).") from exc

    def held_by_other(self) -> bool:
        """True while another process holds the lock (a quick probe that takes and drops it)."""
        if self._lock_fd is not None:
            return False
        if not (self.data_dir / LOCK_NAME).exists():
            return False
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops a lock we may have taken
        return False
