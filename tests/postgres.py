"""A private PostgreSQL cluster for the tests: initdb in a temp dir, a free loopback port, stopped at the end.

PostgreSQL refuses to run as root; as root the cluster runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "mem"


def bin_dir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, or None when PostgreSQL is missing: ``pg_config --bindir``, else
    Debian's versioned folders (newest first), else ``initdb`` on PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        candidates += [Path(found)] if found else []
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        debian, key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0, reverse=True
    )
    initdb = shutil.which("initdb")
    candidates += [Path(initdb).parent] if initdb else []
    return next((folder for folder in candidates if (folder / "initdb").exists()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    folder: Path
    port: int
    bindir: Path

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        psql = self.bindir / "psql" if (self.bindir / "psql").exists() else "psql"
        subprocess.run(
            [
                str(psql),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-q",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
        )
        return self.url(name)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=True)

    def start(self) -> None:
        data = self.folder / "data"
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.folder / "log"),
            "-o",
            # Apps a test leaves open keep their pooled connections (up to 16 each) for the session: room for them.
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")


def start_cluster() -> Cluster:
    """initdb a new cluster in a temp dir and start it on a free port."""
    bindir = bin_dir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (pg_config not found); install the postgresql package")
    folder = Path(tempfile.mkdtemp(prefix="mcp-memory-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder, _free_port(), bindir)
    cluster._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", USER, "--no-sync")
    cluster.start()
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):
        cluster.stop("immediate")
    shutil.rmtree(cluster.folder, ignore_errors=True)
