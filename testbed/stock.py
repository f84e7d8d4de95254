"""A member OPAC run on a stock MARC21 Zebra: `recordType: grs.marcxml.marc21`, the stock `marc21.abs`, ISO 2709
records loaded as they are, Z39.50 only.

This is how many small targets are set up, and it shows a trap (docs/testbed.md): Zebra reads ISO 2709 as
ISO-8859-1, so when a client agrees UTF-8 in character-set negotiation it "converts" UTF-8 records from
Latin-1 and sends them double-encoded; without negotiation it sends the bytes it stored, clean.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

from testbed.zebra import ZebraServer, module_path

DATA_DIR = Path(__file__).resolve().parent / "data" / "marc"
# Real MARC21 records in UTF-8 ISO 2709 (LoC records with 880 CJK fields; many scripts), leader/09 = 'a'
STOCK_RECORDS = (DATA_DIR / "yaz" / "marccol1.u8.marc", DATA_DIR / "yaz" / "marccol2.u8.marc",
                 DATA_DIR / "traject" / "test_data.utf8.mrc")


class StockZebraServer(ZebraServer):
    """Zebra with its stock MARC21 configuration serving ISO 2709 files over Z39.50 (usmarc; no SRU schema)."""

    def __init__(self, workdir: Path, *, port: int = 0, login: tuple[str, str] | None = None):
        super().__init__(workdir, syntax="marc21", charset="utf-8", port=port, login=login)

    def configure(self) -> None:
        """zebra.cfg as the Zebra manual's MARC21 example has it (grs.marcxml.marc21, no `encoding`), plus the
        register folders a server needs."""
        w = self.workdir
        for sub in ("records", "register", "shadow", "lock", "tmp"):
            (w / sub).mkdir(parents=True, exist_ok=True)
        (w / "zebra.cfg").write_text(
            "# written by testbed.stock: Zebra's stock MARC21 configuration\n"
            f"profilePath: {w}:/usr/share/idzebra-2.0/tab\n"
            f"modulePath: {module_path()}\n"
            "attset: bib1.att\n"
            "attset: explain.att\n"
            "recordType: grs.marcxml.marc21\n"
            "storeData: 1\n"
            f"register: {w / 'register'}:50M\n"
            f"shadow: {w / 'shadow'}:50M\n"
            f"lockDir: {w / 'lock'}\n"
            f"keyTmpDir: {w / 'tmp'}\n"
            + self._login_config()
        )
        self._write_yazgfs()

    def _write_yazgfs(self) -> None:
        w = self.workdir
        (w / "yazgfs.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<yazgfs>
  <listen id="public">tcp:127.0.0.1:{self.port}</listen>
  <server id="main" listenref="public">
    <directory>{escape(str(w))}</directory>
    <config>{escape(str(w / 'zebra.cfg'))}</config>
  </server>
</yazgfs>
""")

    def load(self, files: Iterable[Path] = STOCK_RECORDS) -> int:  # type: ignore[override]
        """(Re)index ISO 2709 files as they are (one catalogue file); returns the number of records."""
        self.configure()
        rec_dir = self.workdir / "records"
        for old in rec_dir.iterdir():
            old.unlink()
        target = rec_dir / "catalogue.mrc"
        with open(target, "wb") as out:
            for path in files:
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, out)
        count = target.read_bytes().count(b"\x1d")
        self._zebraidx("init")
        self._zebraidx("update", str(rec_dir))
        self._zebraidx("commit")
        self.records = count
        (self.workdir / "records.count").write_text(str(count))
        return count
