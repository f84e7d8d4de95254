"""A private PostgreSQL cluster for the benchmarks: made once in a cache folder (initdb), started on a free
loopback port for a run and stopped after it, so that a loaded index survives between runs.

Settings as in docs/decisions/0009 (fsync off: a benchmark's data can be made again; shared_buffers 512 MB,
maintenance_work_mem 512 MB for index builds). Runs the server as `postgres` when the benchmark runs as root.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB "
            "-c maintenance_work_mem=512MB -c max_wal_size=4GB -c max_connections=50")


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found and not shutil.which(name):
        raise SystemExit(f"PostgreSQL's {name} is not installed: run 'sudo make deps' (scripts/install-system.sh)")
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def cluster(folder: Path, database: str = "bench") -> Iterator[str]:
    """The URL of `database` (made if missing) in the cluster kept in `folder`, started for the block."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    as_user: list[str] = []
    user = getpass.getuser()
    if os.geteuid() == 0:
        user = "postgres"
        as_user = ["runuser", "-u", "postgres", "--"]
        for p in (folder, *folder.parents):  # the cluster's owner must reach its folder
            if p == Path("/"):
                break
            p.chmod(p.stat().st_mode | 0o011)
        shutil.chown(folder, "postgres")
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        subprocess.run([*as_user, _bin("initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8",
                        "--locale=C"], check=True, capture_output=True)
    port = _free_port()
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 {SETTINGS}"
    subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w", "start"],
                   check=True, capture_output=True)
    server = f"postgresql://{user}@127.0.0.1:{port}"
    try:
        import psycopg

        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                admin.execute(f'CREATE DATABASE "{database}"')
        yield f"{server}/{database}"
    finally:
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)


def drop_database(url: str) -> None:
    """Drop and make again the database at `url` (a benchmark that must start from an empty one)."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
