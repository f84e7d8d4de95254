"""Session fixtures: real Zebra member OPACs, the whole demo test bed, and yaz-ztest, all on loopback."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.zebra import ZebraServer
from testbed.ztest import ZTest

_stoppers: list = []


def _cleanup() -> None:
    for stop in reversed(_stoppers):
        try:
            stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


atexit.register(_cleanup)


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

    Use `testbed.registry_path` (load it with federator.registry.load_registry), `testbed.truth()`,
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
