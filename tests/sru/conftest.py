"""Real servers for the SRU tests: a Zebra with MARC21 records (SRU + Z39.50 on one port) and yaz-ztest.

The Zebra here is smaller than a test bed member (`testbed.zebra.ZebraServer`): it indexes the ISO 2709 files
as they are and publishes an SRU explain record, configured as ZEBRA-NOTES.md says.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from testbed.zebra import on_a_free_port, wait_for_port
from testbed.ztest import ZTest

ROOT = Path(__file__).resolve().parents[2]
MARC_DIR = ROOT / "testbed" / "data" / "marc" / "yaz"  # 33 LoC MARC21 records, UTF-8 ISO 2709
TAB = Path("/usr/share/idzebra-2.0/tab")
PQF_PROPERTIES = Path("/usr/share/yaz/etc/pqf.properties")


def stop_pidfile(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


YAZGFS = """<yazgfs>
  <listen id="public">tcp:127.0.0.1:{port}</listen>
  <server id="s1" listenref="public">
    <config>zebra.cfg</config>
    <cql2rpn>{cql2rpn}</cql2rpn>
    <explain xmlns="http://explain.z3950.org/dtd/2.0/">
      <serverInfo protocol="SRU" version="1.2"><host>127.0.0.1</host><port>{port}</port>
        <database>Default</database></serverInfo>
      <databaseInfo><title>BALIS test member</title></databaseInfo>
      <indexInfo>
        <set name="dc" identifier="info:srw/cql-context-set/1/dc-v1.1"/>
        <set name="bath" identifier="http://zing.z3950.org/cql/bath/2.0/"/>
        <index><title>Title</title><map><name set="dc">title</name></map></index>
        <index><title>Creator</title><map><name set="dc">creator</name></map></index>
        <index><title>ISBN</title><map><name set="bath">isbn</name></map></index>
      </indexInfo>
      <schemaInfo>
        <schema identifier="info:srw/schema/1/marcxml-v1.1" name="marcxml"><title>MARCXML</title></schema>
      </schemaInfo>
      <configInfo><default type="numberOfRecords">10</default></configInfo>
    </explain>
    <retrievalinfo>
      <retrieval syntax="usmarc"/>
      <retrieval syntax="xml" name="marcxml" identifier="info:srw/schema/1/marcxml-v1.1">
        <backend syntax="usmarc" name="F">
          <marc inputformat="marc" outputformat="marcxml" inputcharset="utf-8"/>
        </backend>
      </retrieval>
    </retrievalinfo>
  </server>
</yazgfs>
"""

ZEBRA_CFG = """profilePath: .:{tab}
attset: bib1.att
recordType: grs.marcxml.marc21
register: reg:100M
shadow: shadow:100M
lockDir: lock
keyTmpDir: tmp
"""

# The stock marc21.abs lacks these Bib-1 indexes (ZEBRA-NOTES.md); `y` is the register @attr 4=4 (year) uses.
ABS_EXTRA = """
melm 001\t\tLocal-number
melm 020$a\t\tISBN
melm 022$a\t\tISSN
melm 260$b\t\tPublisher
melm 264$b\t\tPublisher
"""


def _cql2rpn(workdir: Path) -> Path:
    """pqf.properties with dc.date mapped to Date-of-publication (1=31), what MARC 008 is indexed as."""
    text = PQF_PROPERTIES.read_text()
    text, n = re.subn(r"^(index\.dc\.date\s*=\s*)1=30", r"\g<1>1=31", text, flags=re.M)
    assert n == 1, "pqf.properties no longer maps dc.date to 1=30"
    out = workdir / "pqf.properties"
    out.write_text(text)
    return out


class MiniZebra:
    """A Zebra over MARC21 ISO 2709 records, answering Z39.50 and SRU on one loopback port."""

    def __init__(self, workdir: Path, records: list[Path]) -> None:
        self.workdir = workdir
        self.records = records
        self.port = 0

    def start(self) -> int:
        w = self.workdir
        for d in ("reg", "shadow", "lock", "tmp", "recs"):
            (w / d).mkdir(parents=True, exist_ok=True)
        for r in self.records:
            shutil.copy(r, w / "recs" / r.name)
        abs_text = (TAB / "marc21.abs").read_text().replace(
            "Date-of-publication:w:range(data,7,4)",
            "Date-of-publication:w:range(data,7,4),Date-of-publication:y:range(data,7,4)",
        )
        (w / "marc21.abs").write_text(abs_text + ABS_EXTRA)
        (w / "zebra.cfg").write_text(ZEBRA_CFG.format(tab=TAB))
        for args in (["init"], ["update", "recs"], ["commit"]):
            subprocess.run(["zebraidx", "-c", "zebra.cfg", *args], cwd=w, check=True, capture_output=True)
        cql2rpn = _cql2rpn(w)

        def attempt(port: int) -> bool:
            self.port = port
            (w / "yazgfs.xml").write_text(YAZGFS.format(port=port, cql2rpn=cql2rpn))
            started = subprocess.run(["zebrasrv", "-D", "-f", "yazgfs.xml", "-l", "zebrasrv.log",
                                      "-p", "zebrasrv.pid"], cwd=w).returncode == 0  # fmt: skip
            if started and wait_for_port(port):
                return True
            self.stop()
            return False

        if on_a_free_port(attempt) is None:
            raise RuntimeError(f"zebrasrv did not start in {w}; read {w / 'zebrasrv.log'}")
        return self.port

    def stop(self) -> None:
        stop_pidfile(self.workdir / "zebrasrv.pid")


@pytest.fixture(scope="session")
def zebra(tmp_path_factory) -> str:
    """Base URL of a Zebra serving the 33 yaz MARC21 records over SRU (and Z39.50 on the same port)."""
    server = MiniZebra(tmp_path_factory.mktemp("zebra"), sorted(MARC_DIR.glob("*.marc")))
    port = server.start()
    yield f"http://127.0.0.1:{port}/Default"
    server.stop()


@pytest.fixture(scope="session")
def ztest_sru(tmp_path_factory) -> str:
    """Base URL of yaz-ztest (dummy records and diagnostics over SRU)."""
    server = ZTest(tmp_path_factory.mktemp("ztest"))
    yield f"http://127.0.0.1:{server.start()}/Default"
    server.stop()
