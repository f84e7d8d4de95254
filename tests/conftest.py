"""Session fixtures: real Zebra member OPACs, the whole demo test bed, and yaz-ztest, all on loopback."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.zebra import ZebraServer, on_a_free_port
from testbed.ztest import ZTest

_stoppers: list = []


def _cleanup() -> None:
    for stop in reversed(_stoppers):
        try:
            stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


atexit.register(_cleanup)


@pytest.fixture(autouse=True)
def _own_ill_store(tmp_path, monkeypatch) -> None:
    """Every test that opens the default ILL store (the portal, commands without --db) gets its own file,
    never the checkout's var/ill.sqlite; subprocesses inherit it through $BALIS_DB. The same for the file
    the members' answer times are kept in ($BALIS_ANSWER_TIMES, else var/answer-times.json)."""
    if "BALIS_DB" not in os.environ:
        monkeypatch.setenv("BALIS_DB", str(tmp_path / "ill.sqlite"))
    if "BALIS_ANSWER_TIMES" not in os.environ:
        monkeypatch.setenv("BALIS_ANSWER_TIMES", str(tmp_path / "answer-times.json"))


@pytest.fixture(scope="session")
def testbed_tmp() -> Iterator[Path]:
    """One temporary folder for every server of the session (removed at the end unless BALIS_KEEP_TESTBED)."""
    path = Path(tempfile.mkdtemp(prefix="balis-testbed-"))
    yield path
    if not os.environ.get("BALIS_KEEP_TESTBED"):
        shutil.rmtree(path, ignore_errors=True)


def _seed_server(root: Path, name: str, syntax: str, charset: str) -> Iterator[ZebraServer]:
    from testbed.seeds import seed_marcxml

    server = ZebraServer(root / name, syntax=syntax, charset=charset)
    _stoppers.append(server.stop)
    server.load(seed_marcxml(syntax))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def zebra_marc21(testbed_tmp: Path) -> Iterator[ZebraServer]:
    """Zebra serving the real MARC21 seed records (UTF-8 usmarc over Z39.50, MARCXML over SRU)."""
    yield from _seed_server(testbed_tmp, "zebra-marc21", "marc21", "utf-8")


@pytest.fixture(scope="session")
def zebra_cnmarc(testbed_tmp: Path) -> Iterator[ZebraServer]:
    """Zebra serving the real CNMARC/UNIMARC seed records (UTF-8 unimarc over Z39.50, MARCXML over SRU)."""
    yield from _seed_server(testbed_tmp, "zebra-cnmarc", "unimarc", "utf-8")


@pytest.fixture(scope="session")
def ztest(testbed_tmp: Path) -> Iterator[int]:
    """A yaz-ztest on a free port; yields the port (database name: any, e.g. Default)."""
    server = ZTest(testbed_tmp / "ztest")
    _stoppers.append(server.stop)
    port = server.start()
    try:
        yield port
    finally:
        server.stop()


TESTBED_MEMBERS = 8
TESTBED_RECORDS = 150  # per member: small so the session starts in a few seconds


@pytest.fixture(scope="session")
def testbed(testbed_tmp: Path):
    """The demo test bed (8 members, 150 records each, behind the fault proxy), started once per session.

    Use `testbed.registry_path` (load it with members.load_registry), `testbed.truth()`,
    `testbed.set_fault(code, latency_ms=.., mode=..)` (reset it with `testbed.set_fault(code)`).
    """
    from testbed.bed import Testbed

    bed = Testbed(testbed_tmp / "bed")
    _stoppers.append(bed.down)
    bed.up(members=TESTBED_MEMBERS, records=TESTBED_RECORDS)
    bed.clear_faults()
    try:
        yield bed
    finally:
        bed.down()


@pytest.fixture(scope="session")
def carrier_pair(testbed) -> tuple[dict, dict]:
    """An e-book and the print edition of the same book in the test bed's truth (same title, publisher and
    year, each with its own ISBN): two editions a reader must be able to tell apart."""
    print_of = {(e["work"], e["title"], e["publisher"], e["year"]): e for e in testbed.truth()["editions"]
                if e["carrier"] == "print" and e["isbn13"] and e["records"]}
    for e in testbed.truth()["editions"]:
        twin = print_of.get((e["work"], e["title"], e["publisher"], e["year"]))
        if e["carrier"] == "ebook" and e["isbn13"] and e["records"] and twin and not twin["part"]:
            return e, twin
    raise AssertionError("the test bed's truth has no e-book with a print twin; the generator changed")


def _pg_bin(name: str) -> str | None:
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="session")
def postgres_url(testbed_tmp: Path) -> Iterator[str]:
    """A private PostgreSQL cluster (initdb in a temp folder, loopback, a free port), stopped at the end.

    Runs as the `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
    Yields the server URL without a database name, e.g. postgresql+psycopg://postgres@127.0.0.1:PORT
    """
    import subprocess

    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    assert initdb and pg_ctl, "PostgreSQL is not installed: run 'sudo make deps' (scripts/install-system.sh)"
    root = testbed_tmp / "postgres"
    root.mkdir()
    as_user: list[str] = []
    user = "postgres"
    if os.geteuid() == 0:
        testbed_tmp.chmod(0o711)  # the cluster's owner must reach its folder
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    else:
        import getpass

        user = getpass.getuser()
    data = root / "data"

    def run(cmd: list[str]) -> None:
        done = subprocess.run(as_user + cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()} "
                               f"(server log: {root / 'log'})")

    run([initdb, "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C"])
    failures: list[RuntimeError] = []

    def start_at(port: int) -> bool:
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        try:
            run([pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"])
        except RuntimeError as exc:
            failures.append(exc)
            return False
        return True

    port = on_a_free_port(start_at)
    if port is None:
        raise failures[-1]

    def stop() -> None:
        subprocess.run(as_user + [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)

    _stoppers.append(stop)
    try:
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}"
    finally:
        stop()


@pytest.fixture(scope="session")
def new_database(postgres_url):
    """Makes databases in the session's cluster: `new_database(prefix, template=URL)` → the new database's URL
    (`postgresql://…`), a copy of `template` when given (its connections must be closed); all dropped at the end."""
    import re
    import time
    import uuid

    import psycopg

    server = re.sub(r"^postgresql\+psycopg://", "postgresql://", postgres_url)
    made: list[str] = []

    def make(prefix: str, template: str | None = None) -> str:
        name = re.sub(r"\W", "_", prefix)[:40] + "_" + uuid.uuid4().hex[:8]
        copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            for attempt in range(50):  # a client that just disconnected may still be leaving the template
                try:
                    admin.execute(f'CREATE DATABASE "{name}"{copy}')
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
        made.append(name)
        return f"{server}/{name}"

    yield make
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def replicated_postgres():
    """A primary and a streaming-replication hot standby of it (`pg_basebackup -R`), each its own cluster on
    loopback; yields (primary, standby) `tests.pg_cluster.Cluster`s. A test may stop either; it restarts it."""
    from tests.pg_cluster import Cluster

    root = Path(tempfile.mkdtemp(prefix="balis-replicated-"))  # not under pytest's folder: its owner is root
    primary = Cluster(root / "primary").init().start()
    _stoppers.append(primary.stop)
    standby = Cluster(root / "standby").standby_of(primary).start()
    _stoppers.append(standby.stop)
    try:
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        if not os.environ.get("BALIS_KEEP_TESTBED"):
            shutil.rmtree(root, ignore_errors=True)
