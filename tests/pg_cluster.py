"""PostgreSQL clusters of the tests' own: a primary made by initdb and a streaming-replication hot standby made
from it by `pg_basebackup -R`, each in its own folder on its own loopback port (tests only; the product never
starts servers)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from testbed.zebra import on_a_free_port


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    assert path, f"PostgreSQL's {name} is not installed: run 'sudo make deps' (scripts/install-system.sh)"
    return path


class Cluster:
    """One PostgreSQL cluster in `root` (data/, log, its socket), run as `postgres` when the tests run as root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port: int | None = None
        self.as_user: list[str] = []
        self.user = "postgres"
        root.mkdir(parents=True)
        if os.geteuid() == 0:
            root.parent.chmod(0o711)  # the cluster's owner must reach its folder
            shutil.chown(root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        else:
            import getpass

            self.user = getpass.getuser()

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(self.as_user + cmd, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()} "
                               f"(server log: {self.root / 'log'})")

    def init(self) -> Cluster:
        """A new primary (trust on loopback, replication connections allowed: initdb's defaults)."""
        self._run([pg_bin("initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                   "--locale=C"])
        return self

    def standby_of(self, primary: Cluster) -> Cluster:
        """A hot standby streaming from `primary` (its base backup, with standby.signal and primary_conninfo)."""
        self._run([pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", primary.user,
                   "-D", str(self.data), "-R", "-X", "stream", "-c", "fast"])
        return self

    def start(self) -> Cluster:
        """Start on a free port (the same one again after a stop)."""
        def start_at(port: int) -> bool:
            opts = (f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100 "
                    "-c hot_standby=on -c wal_level=replica -c max_wal_senders=5")
            try:
                self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w",
                           "start"])
            except RuntimeError:
                return False
            return True

        if self.port is not None and start_at(self.port):
            return self
        self.port = on_a_free_port(start_at)
        assert self.port is not None, (self.root / "log").read_text(errors="replace")[-2000:]
        return self

    def stop(self) -> None:
        subprocess.run(self.as_user + [pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"


def in_recovery(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]


def wait_for_replay(primary_url: str, standby_url: str, timeout: float = 60.0) -> None:
    """Return once the standby has replayed everything the primary had written when called (bounded)."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    ends = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(standby_url, autocommit=True, connect_timeout=5) as conn:
                if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
                    return
        except psycopg.OperationalError:  # the database itself may not have arrived yet
            pass
        if time.monotonic() > ends:
            raise AssertionError(f"the standby {standby_url} did not replay the primary's WAL up to {lsn}")
        time.sleep(0.1)
