"""The demo test bed: N member OPACs (real Zebra servers) behind a fault-injection proxy, plus registry and truth."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from secrets import token_urlsafe

from lxml import etree

from testbed.generate import plan_catalogues, render_member, truth, write_collection
from testbed.members import (
    DEFAULT_LENDING,
    LENDING,
    LOGIN_USER,
    SPECIAL_MEMBERS,
    MemberProfile,
    lending_toml,
    member_profiles,
)
from testbed.oaipmh import apply_changes, fill_from_catalogue, iter_collection, offers_oai, record_id_of
from testbed.stock import StockZebraServer
from testbed.zebra import ZebraError, ZebraServer, _terminate, pid_alive, wait_for_port, write_atomically

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RECORDS = 300
MODES = (None, "refuse", "drop", "garbage")
STATE_VERSION = 4  # 2: a year register; 3: a rebuild also renews the OAI-PMH stores; 4: 005 and id registers


class Testbed:
    """Build (seeded, deterministic), index, start and stop the member OPACs; write registry.toml and truth.json.

    State lives in `state_dir`: `bed.json` (what was built and on which ports), `registry.toml`,
    `truth.json`, `faults.json`, and one Zebra work folder per member under `members/`.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, state_dir: Path = Path("var/testbed"), seed: int = 20071130):
        self.state_dir = Path(state_dir).resolve()
        self.seed = seed
        self.registry_path = self.state_dir / "registry.toml"
        self.truth_path = self.state_dir / "truth.json"
        self.faults_path = self.state_dir / "faults.json"
        self._state_path = self.state_dir / "bed.json"

    # -- state -------------------------------------------------------------------------------------
    def _load_state(self) -> dict | None:
        try:
            return json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return None

    def _save_state(self, state: dict) -> None:
        write_atomically(self._state_path, json.dumps(state, ensure_ascii=False, indent=1))

    def _server(self, entry: dict) -> ZebraServer:
        work = self.state_dir / "members" / entry["code"]
        if entry.get("kind") == "stock":
            return StockZebraServer(work, port=entry.get("port", 0))
        login = (LOGIN_USER, self._secret(entry["code"]).read_text().strip()) if entry.get("kind") == "login" else None
        return ZebraServer(work, syntax=entry["syntax"], charset=entry["charset"], port=entry.get("port", 0),
                           date_search=entry.get("date_search", True), login=login)

    def _secret(self, code: str) -> Path:
        """The file holding a login member's password (the registry names it in password_file)."""
        return self.state_dir / "secrets" / f"{code}.secret"

    # -- up / down ---------------------------------------------------------------------------------
    def up(self, members: int = 8, records: int | dict[str, int] | None = None, *, specials: bool = False) -> Path:
        """Build what is missing, start every member and the proxy; returns the registry.toml path.

        `records` is the catalogue size per member (an int, or {code: size}); default 300. A second
        `up()` with the same seed, members and sizes reuses the built catalogues and the same ports.
        `specials` adds the members of `SPECIAL_MEMBERS` (a stock MARC21 Zebra, a member requiring a login)
        after the generated ones; their real records are not in the truth.
        """
        records = DEFAULT_RECORDS if records is None else records
        profiles = member_profiles(members)
        sizes = {p.code: (records.get(p.code, 0) if isinstance(records, dict) else records) for p in profiles}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        wanted = {"version": STATE_VERSION, "seed": self.seed, "sizes": sizes}
        if not state or {k: state.get(k) for k in wanted} != wanted or not self._built(state):
            if state:
                self.down()
            state = self._build(profiles, sizes)
        self._specials(state, specials)
        self._start(state)
        return self.registry_path

    def _specials(self, state: dict, wanted: bool) -> None:
        """Add the special members (indexed from their real records, a login member's password made) or take
        them out of the bed (stopped; their folders stay for the next time)."""
        present = [m for m in state["members"] if m.get("kind")]
        if not wanted:
            for entry in present:
                self._server(entry).stop()
            state["members"] = [m for m in state["members"] if not m.get("kind")]
            return
        have = {m["code"] for m in present}
        for sp in SPECIAL_MEMBERS:
            if sp.code in have and (self.state_dir / "members" / sp.code / "records.count").exists():
                continue
            entry = {"code": sp.code, "name": sp.name, "name_en": sp.name_en, "district": sp.district,
                     "syntax": sp.syntax, "charset": sp.charset, "protocols": list(sp.protocols), "sru_version": "1.2",
                     "timeout": 10.0, "max_records": 50, "date_search": False, "port": 0, "proxy_port": 0,
                     "kind": sp.kind, "note": sp.note}
            if sp.kind == "login":
                secret = self._secret(sp.code)
                secret.parent.mkdir(mode=0o700, exist_ok=True)
                if not secret.exists():
                    secret.touch(mode=0o600)
                    secret.write_text(token_urlsafe(18) + "\n")
            server = self._server(entry)
            if sp.kind == "stock":
                entry["records"] = server.load()
            else:
                from testbed.seeds import seed_marcxml

                entry["records"] = server.load(seed_marcxml(sp.syntax))
            state["members"] = [m for m in state["members"] if m["code"] != sp.code] + [entry]
        self._save_state(state)

    def _built(self, state: dict) -> bool:
        return all((self.state_dir / "members" / m["code"] / "records.count").exists() for m in state["members"]) \
            and self.truth_path.exists()

    def _build(self, profiles: list[MemberProfile], sizes: dict[str, int]) -> dict:
        plan = plan_catalogues(self.seed, profiles, sizes)
        catalogues = self.state_dir / "catalogues"
        catalogues.mkdir(exist_ok=True)
        entries = []
        for p in profiles:
            records = render_member(plan, p.code)
            if p.charset == "marc-8":  # MARC-8 carries diacritics only as combining marks: store them decomposed
                records = (unicodedata.normalize("NFD", r.decode("utf-8")).encode("utf-8") for r in records)
            write_collection(records, catalogues / f"{p.code}.xml")
            entries.append({"code": p.code, "name": p.name, "name_en": p.name_en, "district": p.district,
                            "syntax": p.syntax, "charset": p.charset, "protocols": list(p.protocols),
                            "sru_version": p.sru_version, "timeout": p.timeout, "max_records": p.max_records,
                            "date_search": p.date_search, "port": 0, "proxy_port": 0})

        def index(entry: dict) -> int:
            for name in ("oai.sqlite", "oai.sqlite-wal", "oai.sqlite-shm"):  # a rebuilt catalogue: the OAI-PMH
                (self.state_dir / "members" / entry["code"] / name).unlink(missing_ok=True)  # store starts anew
            server = self._server(entry)
            n = server.load(catalogues / f"{entry['code']}.xml")
            (catalogues / f"{entry['code']}.xml").unlink()
            return n

        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            for entry, n in zip(entries, pool.map(index, entries), strict=True):
                entry["records"] = n
        write_atomically(self.truth_path, json.dumps(truth(plan), ensure_ascii=False, indent=1))
        state = {"version": STATE_VERSION, "seed": self.seed, "sizes": sizes, "members": entries}
        self._save_state(state)
        if not self.faults_path.exists():
            write_atomically(self.faults_path, "{}")
        return state

    def _start(self, state: dict) -> None:
        for entry in state["members"]:
            server = self._server(entry)
            if server.running and wait_for_port(server.port, timeout=1.0):
                continue
            if entry.get("port") and not _port_free(entry["port"]):
                server.port = 0
            try:
                entry["port"] = server.start()
            except ZebraError:
                server.port = 0  # the recorded port was taken meanwhile: one more try on a fresh port
                entry["port"] = server.start()
        self._start_proxy(state)
        self._start_oai(state)
        self._save_state(state)
        self._write_registry(state)

    def _start_proxy(self, state: dict) -> None:
        pid = _read_pid(self.state_dir / "proxy.pid")
        routes = {m["code"]: [m.get("proxy_port") or 0, m["port"]] for m in state["members"]}
        current = _read_json(self.state_dir / "proxy.json")
        if pid_alive(pid) and current == routes and all(wait_for_port(p, 1.0) for p, _ in routes.values()):
            return
        if pid_alive(pid):
            _terminate(pid, 5.0)
        write_atomically(self.state_dir / "proxy.json", json.dumps(routes))  # the ports it had, to keep if free
        self._spawn("testbed.proxy", "proxy", "the fault proxy")
        routes = _read_json(self.state_dir / "proxy.json")  # the ports it got
        if not all(wait_for_port(routes[m["code"]][0], 10.0) for m in state["members"]):
            raise ZebraError(f"the fault proxy did not start; read {self.state_dir / 'proxy.log'}")
        for m in state["members"]:
            m["proxy_port"] = routes[m["code"]][0]

    def _spawn(self, module: str, name: str, what: str, timeout: float = 15.0) -> None:
        """Start `python -m module STATE_DIR` in its own session, logging to NAME.log, and wait until it has
        written NAME.pid (it does so once it listens); a child that exits first or takes too long is an error."""
        pid_path, log_path = self.state_dir / f"{name}.pid", self.state_dir / f"{name}.log"
        pid_path.unlink(missing_ok=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                          os.environ.get("PYTHONPATH")])))
        with open(log_path, "ab") as log:
            child = subprocess.Popen([sys.executable, "-m", module, str(self.state_dir)], cwd=self.state_dir,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not pid_path.exists():
            if child.poll() is not None:
                raise ZebraError(f"{what} exited with status {child.returncode} as it started; read {log_path}")
            if time.monotonic() > deadline:
                raise ZebraError(f"{what} did not start within {timeout:g} s; read {log_path}")
            time.sleep(0.05)

    @contextlib.contextmanager
    def running(self, members: int = 8, records: int | dict[str, int] | None = None, *,
                specials: bool = False) -> Iterator[Testbed]:
        """`up()` for the `with` block and `down()` after it, also when the block fails (a test bed of a test's
        own, so that what the test does to it does not touch a shared one)."""
        self.up(members=members, records=records, specials=specials)
        try:
            yield self
        finally:
            self.down()

    def down(self) -> None:
        """Stop the proxy and every member server; the built catalogues stay for the next up()."""
        for name in ("proxy.pid", "oai.pid"):
            pid = _read_pid(self.state_dir / name)
            if pid_alive(pid):
                _terminate(pid, 5.0)
            (self.state_dir / name).unlink(missing_ok=True)
        state = self._load_state()
        for entry in (state or {}).get("members", []):
            self._server(entry).stop()

    def _start_oai(self, state: dict) -> None:
        """Start the OAI-PMH repositories (one process) of the members that offer OAI-PMH (testbed/oaipmh.py)."""
        codes = [m["code"] for i, m in enumerate(state["members"]) if not m.get("kind") and offers_oai(m["code"], i)]
        state["oai_members"] = codes
        if not codes:
            return
        for code in codes:
            work = self.state_dir / "members" / code
            fill_from_catalogue(work / "oai.sqlite", code, work / "records" / "catalogue.xml")
        pid = _read_pid(self.state_dir / "oai.pid")
        conf = _read_json(self.state_dir / "oai.json") or {}
        if pid_alive(pid) and conf.get("members") == codes and wait_for_port(int(conf.get("port", 0)), 1.0):
            state["oai_port"] = conf["port"]
            return
        if pid_alive(pid):
            _terminate(pid, 5.0)
        write_atomically(self.state_dir / "oai.json", json.dumps({"port": conf.get("port") or 0, "members": codes}))
        self._spawn("testbed.oaipmh", "oai", "the OAI-PMH server")
        port = _read_json(self.state_dir / "oai.json")["port"]  # the port it got
        if not wait_for_port(port, 10.0):
            raise ZebraError(f"the OAI-PMH server did not start; read {self.state_dir / 'oai.log'}")
        state["oai_port"] = port

    # -- changing a member's catalogue ---------------------------------------------------------------
    def catalogue(self, code: str) -> dict[str, bytes]:
        """A member's records as served: {001: MARCXML bytes}, in the member's order."""
        entry = self._entry(code)
        return dict(iter_collection(self.state_dir / "members" / entry["code"] / "records" / "catalogue.xml"))

    def change_catalogue(self, code: str, *, add=(), edit=(), delete=()) -> int:
        """Add, edit (same 001) and delete (by 001) records of a running member; returns its new size.

        Zebra re-indexes the member's catalogue (readers see the old one until the commit); as a library
        system does on saving, each added or edited record's 005 is set to now (Beijing time), which the
        member's date search (Bib-1 1012, rec.lastModificationDate) finds; a member that offers OAI-PMH
        dates the changes now and keeps deletions as deleted records.
        """
        entry = self._entry(code)
        code = entry["code"]
        if entry.get("kind"):
            raise ValueError(f"member {code} is a special member of the test bed; its catalogue is fixed")
        records = self.catalogue(code)
        changed: dict[str, bytes] = {}
        stamp = datetime.now(BEIJING).strftime("%Y%m%d%H%M%S.0")
        for data, must_exist in [(d, False) for d in add] + [(d, True) for d in edit]:
            data = stamp_005(data, stamp)
            rid = record_id_of(data)
            if (rid in records) != must_exist:
                raise ValueError(f"member {code}: record {rid} " + ("does not exist; add it" if must_exist
                                                                    else "exists already; edit it"))
            if entry["charset"] == "marc-8":  # as built: diacritics stored decomposed
                data = unicodedata.normalize("NFD", data.decode("utf-8")).encode("utf-8")
            records[rid] = changed[rid] = data
        for rid in delete:
            if records.pop(rid, None) is None:
                raise ValueError(f"member {code}: no record {rid} to delete")
        entry["records"] = self._server(entry).load(list(records.values()))
        state = self._load_state()
        for m in state["members"]:
            if m["code"] == code:
                m["records"] = entry["records"]
        self._save_state(state)
        if code in (_read_json(self.state_dir / "oai.json") or {}).get("members", []):
            stored = dict(iter_collection(self.state_dir / "members" / code / "records" / "catalogue.xml"))
            apply_changes(self.state_dir / "members" / code / "oai.sqlite", code,
                          {rid: stored[rid] for rid in changed}, list(delete))
        return entry["records"]

    def _entry(self, code: str) -> dict:
        state = self._load_state() or {}
        for m in state.get("members", []):
            if m["code"] == code.upper():
                return m
        raise KeyError(f"no member {code!r} in the test bed at {self.state_dir}")

    # -- inspection and faults -------------------------------------------------------------------------
    def status(self) -> list[dict]:
        """Per member: code, name, syntax, charset, protocols, pid, port, proxy_port, running, records, fault."""
        state = self._load_state()
        if not state:
            return []
        faults = _read_json(self.faults_path) or {}
        proxy_up = pid_alive(_read_pid(self.state_dir / "proxy.pid"))
        out = []
        for entry in state["members"]:
            server = self._server(entry)
            out.append({
                "code": entry["code"], "name": entry["name"], "syntax": entry["syntax"],
                "charset": entry["charset"], "protocols": entry["protocols"], "pid": server.pid,
                "port": entry["port"], "proxy_port": entry.get("proxy_port"),
                "running": server.running and proxy_up, "records": entry.get("records", 0),
                "fault": faults.get(entry["code"]) or None, "note": entry.get("note"),
            })
        return out

    def set_fault(self, code: str, *, latency_ms: int = 0, mode: str | None = None) -> None:
        """Switch a member's fault (applies to the next connection): added latency and/or a failure mode."""
        if mode not in MODES:
            raise ValueError(f"fault mode must be one of refuse, drop, garbage or None, not {mode!r}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, not {latency_ms}")
        state = self._load_state()
        codes = [m["code"] for m in (state or {}).get("members", [])]
        if code.upper() not in codes:
            raise KeyError(f"no member {code!r} in the test bed at {self.state_dir}; members: {', '.join(codes)}")
        faults = _read_json(self.faults_path) or {}
        if latency_ms or mode:
            faults[code.upper()] = {"latency_ms": int(latency_ms), "mode": mode}
        else:
            faults.pop(code.upper(), None)
        write_atomically(self.faults_path, json.dumps(faults, indent=1))

    def clear_faults(self) -> None:
        """Remove every fault."""
        write_atomically(self.faults_path, "{}")

    def truth(self) -> dict:
        """The ground truth written by the last build (see docs/testbed.md)."""
        return json.loads(self.truth_path.read_text())

    # -- registry ----------------------------------------------------------------------------------------
    def _write_registry(self, state: dict) -> None:
        lines = ["# BALIS demo test bed: generated by testbed.bed.Testbed.up(); endpoints point at the",
                 "# fault-injection proxy; testbed_direct_port is the member's Zebra port without the proxy.", ""]
        lines += lending_toml("defaults.lending", DEFAULT_LENDING) + [""]
        for m in state["members"]:
            lines += ["[[member]]", f"code = {_q(m['code'])}", f"name = {_q(m['name'])}",
                      f"name_en = {_q(m['name_en'])}", f"district = {_q(m['district'])}", 'status = "active"',
                      f"syntax = {_q(m['syntax'])}", f"charset = {_q(m['charset'])}",
                      f"timeout = {float(m['timeout'])}", f"max_records = {int(m['max_records'])}",
                      f"testbed_direct_port = {int(m['port'])}", f"testbed_records = {int(m.get('records', 0))}", ""]
            if "sru" in m["protocols"]:  # the member's own catalogue shows a record: its SRU answer for that id
                lines += [f"opac_url = {_q(_opac_url(m['proxy_port']))}", ""]
            lines += self._special_toml(m)
            if m["code"] in LENDING:
                lines += lending_toml("member.lending", LENDING[m["code"]]) + [""]
            for proto in m["protocols"]:
                lines += ["[[member.endpoint]]", f"protocol = {_q(proto)}", 'host = "127.0.0.1"',
                          f"port = {int(m['proxy_port'])}", 'database = "Default"',
                          f"sru_version = {_q(m['sru_version'])}", ""]
            if m["code"] in state.get("oai_members", ()):
                lines += ["[[member.endpoint]]", 'protocol = "oaipmh"', 'host = "127.0.0.1"',
                          f"port = {int(state['oai_port'])}", f"database = {_q('oai/' + m['code'])}", ""]
        write_atomically(self.registry_path, "\n".join(lines))


    def _special_toml(self, m: dict) -> list[str]:
        """Registry lines of a special member: negotiation stated for the stock Zebra, the login by reference."""
        if m.get("kind") == "stock":
            return ["# a stock MARC21 Zebra double-encodes its UTF-8 records when it agrees UTF-8 in negotiation",
                    "negotiate_charset = false", ""]
        if m.get("kind") == "login":
            return ["[member.auth]", f"user = {_q(LOGIN_USER)}", f"password_file = {_q(self._secret(m['code']))}", "",
                    "[member.lending]", "lends = false", ""]
        return []


def _opac_url(port: int) -> str:
    """A test-bed member's "OPAC page" of a record: its Zebra's SRU answer for that record id."""
    return (f"http://127.0.0.1:{int(port)}/Default?version=1.1&operation=searchRetrieve&query=rec.id%3D{{record_id}}"
            "&recordSchema=marcxml&maximumRecords=1")


BEIJING = timezone(timedelta(hours=8), "CST")  # the members' local time (no daylight saving)
MARC_NS = "http://www.loc.gov/MARC21/slim"


def stamp_005(marcxml: bytes, stamp: str) -> bytes:
    """A MARCXML record with its 005 (date and time of latest transaction) set to `stamp`."""
    root = etree.fromstring(marcxml)
    ns = root.nsmap.get(root.prefix) or ""
    tag = f"{{{ns}}}controlfield" if ns else "controlfield"
    fields = {cf.get("tag"): cf for cf in root.iter(tag)}
    if "005" not in fields:
        after = next((fields[k] for k in ("003", "001") if k in fields),
                     root.find(f"{{{ns}}}leader" if ns else "leader"))
        new = etree.Element(tag, tag="005", nsmap=None)
        if after is None:
            root.insert(0, new)
        else:
            after.addnext(new)
        fields["005"] = new
    fields["005"].text = stamp
    return etree.tostring(root, encoding="utf-8")


def _q(text: str) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
