"""One member OPAC played by a real Zebra server (idzebra-2.0) on 127.0.0.1, Z39.50 and SRU on one port."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

CONF_DIR = Path(__file__).resolve().parent / "zebra"
MARC_NS = "http://www.loc.gov/MARC21/slim"
PQF_PROPERTIES = Path("/usr/share/yaz/etc/pqf.properties")
SYNTAXES = ("marc21", "unimarc")
CHARSETS = ("utf-8", "marc-8", "gbk")


def module_path() -> str:
    """Where Zebra's record filter modules live (Debian puts them under the multiarch lib folder)."""
    found = sorted(str(p) for p in Path("/usr/lib").glob("*/idzebra-2.0/modules"))
    return ":".join([*found, "/usr/lib/idzebra-2.0/modules"])


class ZebraError(RuntimeError):
    """Zebra could not index or serve; the message names the work folder and the log to read."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_a_free_port(start: Callable[[int], bool], port: int = 0) -> int | None:
    """Start a server with `start(port)` (True once it serves there): on `port` if one is given, else on a
    free port, and when it could not start there on one more, since a port found free can be taken (by any
    outgoing connection's ephemeral port, say) before the server binds it. The port it started on, or None."""
    for _ in range(1 if port else 2):
        chosen = port or free_port()
        if start(chosen):
            return chosen
    return None


def listening_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on host:port, or on a port the kernel chooses when `port` is 0 or taken.

    A port chosen with `free_port()` in one process and bound in another can be taken in between (by any
    outgoing connection's ephemeral port, say), so a child server binds here and reports the port it got.
    """
    for wanted in ((port, 0) if port else (0,)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, wanted))
        except OSError:
            sock.close()
            continue
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
        return sock
    raise OSError(f"no port to listen on at {host}")  # only when binding to port 0 failed too


def write_atomically(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old text or the new, never part of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> bool:
    """True once something accepts TCP connections on host:port, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def pid_alive(pid: int | None) -> bool:
    """True if a process with this id exists (and is not a zombie we could reap)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class ZebraServer:
    """A Zebra member OPAC: MARCXML stored and indexed (ICU, zh word breaks), served as ISO 2709 or MARCXML.

    `syntax` is the member's record syntax (`marc21` → Z39.50 `usmarc`, `unimarc` → `unimarc`),
    `charset` the character set of the ISO 2709 records it sends (`utf-8`, `marc-8`, `gbk`).
    Over SRU (same port, path `/Default`) records come as MARCXML (schema `marcxml`).
    """

    database: str = "Default"

    def __init__(self, workdir: Path, *, syntax: str = "marc21", charset: str = "utf-8", port: int = 0,
                 date_search: bool = True, login: tuple[str, str] | None = None):
        syntax = {"usmarc": "marc21", "cnmarc": "unimarc"}.get(syntax, syntax)
        if syntax not in SYNTAXES:
            raise ValueError(f"syntax must be one of {SYNTAXES}, not {syntax!r}")
        if charset not in CHARSETS:
            raise ValueError(f"charset must be one of {CHARSETS}, not {charset!r}")
        self.workdir = Path(workdir).resolve()
        self.syntax = syntax
        self.charset = charset
        self.port = port
        self.records = 0
        self.date_search = date_search  # index 005 as the date the record last changed (Bib-1 1012)
        self.login = login  # (user, password): Z39.50 Init and SRU basic auth must carry it (Zebra's passwd)

    # -- paths --------------------------------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.workdir / "zebrasrv.log"

    @property
    def pid_path(self) -> Path:
        return self.workdir / "zebrasrv.pid"

    @property
    def pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return pid_alive(self.pid)

    @property
    def z3950_address(self) -> str:
        return f"tcp:127.0.0.1:{self.port}/{self.database}"

    @property
    def sru_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.database}"

    # -- configuration --------------------------------------------------------------------------------
    def configure(self) -> None:
        """Write zebra.cfg, the DOM filter and ICU chains, and yazgfs.xml into the work folder."""
        w = self.workdir
        for sub in ("records", "register", "shadow", "lock", "tmp"):
            (w / sub).mkdir(parents=True, exist_ok=True)
        for name in ("common.xsl", "words-icu.xml", "phrases-icu.xml", "default.idx"):
            shutil.copyfile(CONF_DIR / name, w / name)
        index_xsl = f"index-{self.syntax}.xsl"
        text = (CONF_DIR / index_xsl).read_text()
        if not self.date_search:
            text = text.replace('<xsl:call-template name="last-modified"/>', "")
        (w / index_xsl).write_text(text)
        dom = (CONF_DIR / "dom-conf.xml").read_text().replace("@INDEX_XSL@", str(w / index_xsl))
        (w / "dom-conf.xml").write_text(dom)
        (w / "zebra.cfg").write_text(
            "# written by testbed.zebra; regenerated on every configure()\n"
            f"profilePath: {w}:/usr/share/idzebra-2.0/tab\n"
            f"modulePath: {module_path()}\n"
            "recordType: dom.dom-conf.xml\n"
            "attset: bib1.att\n"
            "attset: explain.att\n"
            "index: default.idx\n"
            "encoding: utf-8\n"
            "storeKeys: 1\n"
            "storeData: 1\n"
            f"register: {w / 'register'}:200M\n"
            f"shadow: {w / 'shadow'}:200M\n"
            f"lockDir: {w / 'lock'}\n"
            f"keyTmpDir: {w / 'tmp'}\n"
            "memMax: 64M\n"
            + self._login_config()
        )
        self._write_yazgfs()

    def _login_config(self) -> str:
        """zebra.cfg lines that make Zebra require a login: a `passwd` file (user:password per line) refuses
        anonymous Init (diagnostic 1011) and SRU without HTTP basic auth (SRU diagnostic 3)."""
        if self.login is None:
            return ""
        user, password = self.login
        if not user or ":" in user + password or "\n" in user + password:
            raise ValueError("Zebra's passwd file splits at ':': a test bed login needs a user and password without "
                             "':' and on one line")
        path = self.workdir / "passwd"
        path.write_text(f"{user}:{password}\n")
        path.chmod(0o600)
        return f"passwd: {path}\n"

    def _write_pqf_properties(self) -> Path:
        """YAZ's CQL-to-RPN map, adapted: dc.date searches the year of publication (1=31) as a year (4=4),
        rec.id the record ids as whole keys (4=3, so a scan lists them), and rec.lastModificationDate the
        005 date (1=1012) as a number.

        The stock map sends dc.date to Date (1=30) as a phrase, where Zebra cannot compare ranges
        (dc.date >= 2000); Z39.50 clients and the Bath profile search years with 1=31 4=4, so SRU and
        Z39.50 now give the same hits for year searches."""
        text = PQF_PROPERTIES.read_text()
        for index, value in (("dc.date", "1=31 4=4"), ("rec.id", "1=12 4=3")):
            text, n = re.subn(rf"(?m)^index\.{re.escape(index)}\s*=.*$", f"index.{index} = {value}", text)
            if n != 1:
                raise ZebraError(f"{PQF_PROPERTIES} has no single index.{index} line to adapt; check the YAZ version")
        text += "\n# when a record last changed (its 005), for harvesters asking what changed since a date\n" \
                "index.rec.lastModificationDate = 1=1012 4=4\n"
        path = self.workdir / "pqf.properties"
        path.write_text(text)
        return path

    def _write_yazgfs(self) -> None:
        marc_syntax = "usmarc" if self.syntax == "marc21" else "unimarc"
        w = self.workdir
        leader_step = ""
        if self.charset == "marc-8":
            shutil.copyfile(CONF_DIR / "leader-marc8.xsl", w / "leader-marc8.xsl")
            leader_step = f'<xslt stylesheet="{escape(str(w / "leader-marc8.xsl"))}"/>\n          '

        (w / "yazgfs.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<yazgfs>
  <listen id="public">tcp:127.0.0.1:{self.port}</listen>
  <server id="main" listenref="public">
    <directory>{escape(str(w))}</directory>
    <config>{escape(str(w / 'zebra.cfg'))}</config>
    <cql2rpn>{escape(str(self._write_pqf_properties()))}</cql2rpn>
    <explain xmlns="http://explain.z3950.org/dtd/2.0/">
      <serverInfo>
        <host>127.0.0.1</host>
        <port>{self.port}</port>
        <database>{self.database}</database>
      </serverInfo>
    </explain>
    <retrievalinfo>
      <retrieval syntax="xml" name="marcxml" identifier="info:srw/schema/1/marcxml-v1.1">
        <backend syntax="xml" name="zebra::data"/>
      </retrieval>
      <retrieval syntax="{marc_syntax}">
        <backend syntax="xml" name="zebra::data">
          {leader_step}<marc inputformat="xml" outputformat="marc" inputcharset="utf-8" outputcharset="{self.charset}"/>
        </backend>
      </retrieval>
      <retrieval syntax="xml">
        <backend syntax="xml" name="zebra::data"/>
      </retrieval>
    </retrievalinfo>
  </server>
</yazgfs>
""")

    # -- indexing -------------------------------------------------------------------------------------
    def load(self, marcxml_records: list[bytes] | Path) -> int:
        """(Re)index the catalogue: MARCXML `<record>` documents, or a MARCXML collection file.

        Replaces whatever was indexed before. Returns the number of records indexed. Safe while the
        server runs (shadow registers: readers see the old catalogue until the commit).
        """
        self.configure()
        rec_dir = self.workdir / "records"
        for old in rec_dir.glob("*.xml"):
            old.unlink()
        target = rec_dir / "catalogue.xml"
        if isinstance(marcxml_records, (str, os.PathLike)):
            count = _copy_collection(Path(marcxml_records), target)
        else:
            count = _write_collection(marcxml_records, target, unicode_leader=self.syntax == "marc21")
        self._zebraidx("init")
        self._zebraidx("update", str(rec_dir))
        self._zebraidx("commit")
        self.records = count
        (self.workdir / "records.count").write_text(str(count))
        return count

    def _zebraidx(self, *args: str) -> None:
        log = self.workdir / "zebraidx.log"
        cmd = ["zebraidx", "-c", str(self.workdir / "zebra.cfg"), "-l", str(log), *args]
        proc = subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ZebraError(f"zebraidx {' '.join(args)} failed in {self.workdir} (exit {proc.returncode}); "
                             f"read {log}: {proc.stderr.strip()[-500:]}")

    # -- serving --------------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> int:
        """Start zebrasrv (daemon) and wait until it accepts connections; returns the port (a free one when
        none was given, see `on_a_free_port`)."""
        if self.running:
            if wait_for_port(self.port, timeout=1.0):
                return self.port
            self.stop()
        if not (self.workdir / "zebra.cfg").exists():
            raise ZebraError(f"{self.workdir} has no catalogue yet; call load() before start()")
        cmd = ["zebrasrv", "-D", "-f", str(self.workdir / "yazgfs.xml"), "-l", str(self.log_path),
               "-p", str(self.pid_path), "-w", str(self.workdir)]
        failure = ""

        def attempt(port: int) -> bool:
            nonlocal failure
            self.port = port
            self._write_yazgfs()
            self.pid_path.unlink(missing_ok=True)
            proc = subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            failure = (f"zebrasrv did not start in {self.workdir} (exit {proc.returncode}); "
                       f"read {self.log_path}: {proc.stderr.strip()[-500:]}")
            return proc.returncode == 0  # zebrasrv exits at once when its port is taken

        if on_a_free_port(attempt, self.port) is None:
            raise ZebraError(failure)
        if not wait_for_port(self.port, timeout=timeout):
            self.stop()
            raise ZebraError(f"zebrasrv in {self.workdir} did not answer on port {self.port} within "
                             f"{timeout:g} s; read {self.log_path}")
        try:
            self.records = int((self.workdir / "records.count").read_text())
        except (OSError, ValueError):
            pass
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and the children still serving connections."""
        pid = self.pid
        if pid and pid_alive(pid):
            _terminate(pid, timeout)
        self.pid_path.unlink(missing_ok=True)

    def __enter__(self) -> ZebraServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.workdir)!r}, syntax={self.syntax!r}, charset={self.charset!r}, "
                f"port={self.port}" + (f", login=({self.login[0]!r}, ***)" if self.login else "") + ")")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM a process and its direct children (Zebra forks one per connection), SIGKILL stragglers."""
    victims = [pid, *_children(pid)]
    for p in victims:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in victims):
        time.sleep(0.05)
    for p in victims:
        if pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _as_marcxml_record(data: bytes) -> etree._Element:
    """Parse one MARCXML record (with or without the MARC21 slim namespace) into a namespaced element."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(data, parser)
    if etree.QName(root).localname == "collection":
        found = [el for el in root if etree.QName(el).localname == "record"]
        if len(found) != 1:
            raise ValueError(f"expected one <record>, found a collection of {len(found)}")
        root = found[0]
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).namespace is None:
            el.tag = f"{{{MARC_NS}}}{etree.QName(el).localname}"
    return root


def _write_collection(records: list[bytes], target: Path, unicode_leader: bool = False) -> int:
    """Write records as one collection; MARC21 leaders get 09='a' (stored as Unicode, as a UTF-8 OPAC says)."""
    count = 0
    with open(target, "wb") as out:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="{MARC_NS}">\n'.encode())
        for data in records:
            rec = _as_marcxml_record(data)
            leader = rec.find(f"{{{MARC_NS}}}leader")
            if unicode_leader and leader is not None and leader.text and len(leader.text) == 24:
                leader.text = leader.text[:9] + "a" + leader.text[10:]
            etree.cleanup_namespaces(rec, top_nsmap={None: MARC_NS})
            out.write(etree.tostring(rec, encoding="utf-8"))
            out.write(b"\n")
            count += 1
        out.write(b"</collection>\n")
    return count


def _copy_collection(source: Path, target: Path) -> int:
    shutil.copyfile(source, target)
    count = 0
    for _, _el in etree.iterparse(str(target), events=("end",), tag=f"{{{MARC_NS}}}record",
                                  resolve_entities=False, no_network=True):
        count += 1
        _el.clear()
    return count
