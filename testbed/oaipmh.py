"""OAI-PMH 2.0 repositories for the test bed's members: one aiohttp process serving `/oai/<CODE>` for each
member that offers OAI-PMH, from a per-member SQLite file with datestamps and persistent deletes.

Run as `python -m testbed.oaipmh STATE_DIR`: it reads `STATE_DIR/oai.json` ({"port": N, "members": [..],
"page_size": N}) once (a port that is 0 or taken is replaced by one the kernel chooses and written back
before `oai.pid` appears), and `STATE_DIR/faults.json` on every request (as the TCP proxy does), so
`Testbed.set_fault` applies to a member's OAI-PMH service too: `refuse`/`drop`/`garbage` answer HTTP 503,
`latency_ms` delays each answer.

`members/<CODE>/oai.sqlite` holds one row per record ever served: OAI identifier, the record's 001,
datestamp (UTC, seconds), deleted flag and the MARCXML. `Testbed.change_catalogue` writes it together with
the member's Zebra catalogue.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from testbed.zebra import listening_socket, write_atomically

MARC_NS = "http://www.loc.gov/MARC21/slim"
PAGE_SIZE = 100
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
# Members of the first eight that also offer OAI-PMH; of the later members every fourth one does.
FIRST_EIGHT_OAI = ("PKU", "BUPT")


def offers_oai(code: str, index: int) -> bool:
    """Whether the test bed's member at `index` (0-based) offers an OAI-PMH endpoint."""
    return code in FIRST_EIGHT_OAI if index < 8 else index % 4 == 0


def identifier(code: str, record_id: str) -> str:
    return f"oai:balis-testbed:{code}:{record_id}"


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------------- the member's store

def open_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS oai (identifier TEXT PRIMARY KEY, record_id TEXT NOT NULL, "
               "datestamp TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, xml BLOB)")
    db.execute("CREATE INDEX IF NOT EXISTS oai_by_date ON oai (datestamp, identifier)")
    return db


def record_id_of(xml: bytes) -> str:
    """The 001 of one MARCXML record."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname == "controlfield" and el.get("tag") == "001":
            return (el.text or "").strip()
    raise ValueError("the record has no 001 control number")


def iter_collection(path: Path):
    """(001, MARCXML bytes) of each record in a member's catalogue file, in file order."""
    for _, el in etree.iterparse(str(path), events=("end",), tag=f"{{{MARC_NS}}}record",
                                 resolve_entities=False, no_network=True):
        data = etree.tostring(el, encoding="UTF-8")
        yield record_id_of(data), data
        el.clear()


def fill_from_catalogue(db_path: Path, code: str, catalogue: Path) -> int:
    """Create the member's OAI store from its Zebra catalogue (every record dated now), if not there yet."""
    if db_path.exists():
        return 0
    tmp = db_path.with_name(db_path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    db = open_db(tmp)
    stamp = now_stamp()
    with db:
        db.execute("BEGIN")
        rows = [(identifier(code, rid), rid, stamp, xml) for rid, xml in iter_collection(catalogue)]
        db.executemany("INSERT OR REPLACE INTO oai (identifier, record_id, datestamp, deleted, xml) "
                       "VALUES (?, ?, ?, 0, ?)", rows)
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    os.replace(tmp, db_path)
    return len(rows)


def apply_changes(db_path: Path, code: str, upsert: dict[str, bytes], delete: list[str]) -> None:
    """Record added/edited records (new datestamp) and deletions (kept as deleted, dated now)."""
    db = open_db(db_path)
    stamp = now_stamp()
    try:
        db.execute("BEGIN IMMEDIATE")
        for rid, xml in upsert.items():
            db.execute("INSERT OR REPLACE INTO oai (identifier, record_id, datestamp, deleted, xml) "
                       "VALUES (?, ?, ?, 0, ?)", (identifier(code, rid), rid, stamp, xml))
        for rid in delete:
            db.execute("UPDATE oai SET deleted = 1, xml = NULL, datestamp = ? WHERE identifier = ?",
                       (stamp, identifier(code, rid)))
        db.execute("COMMIT")
    finally:
        db.close()


# ----------------------------------------------------------------------------------------- the protocol

def _envelope(base_url: str, params: dict[str, str], body: str) -> bytes:
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in sorted(params.items())
                    if k in ("verb", "metadataPrefix", "from", "until", "resumptionToken", "identifier"))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f"<responseDate>{now_stamp()}</responseDate>"
            f"<request{attrs}>{escape(base_url)}</request>{body}</OAI-PMH>").encode()


def _error(code: str, message: str) -> str:
    return f'<error code="{code}">{escape(message)}</error>'


def _token(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _untoken(text: str) -> dict:
    pad = "=" * (-len(text) % 4)
    state = json.loads(base64.urlsafe_b64decode(text + pad))
    if not isinstance(state, dict) or "after" not in state:
        raise ValueError("not a token")
    return state


def _valid_date(text: str | None) -> str | None:
    if text is None:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return text if len(text) > 10 else text + "T00:00:00Z"
    raise ValueError(text)


def list_records(db: sqlite3.Connection, code: str, params: dict[str, str], page_size: int) -> str:
    """The body of a ListRecords answer (records and resumptionToken, or an OAI-PMH error)."""
    if "resumptionToken" in params:
        if set(params) - {"verb", "resumptionToken"}:
            return _error("badArgument", "resumptionToken is an exclusive argument")
        try:
            state = _untoken(params["resumptionToken"])
        except (ValueError, TypeError):
            return _error("badResumptionToken", "the resumptionToken is not valid")
    else:
        if params.get("metadataPrefix") != "marc21":
            return _error("cannotDisseminateFormat", "only metadataPrefix=marc21 (MARCXML) is offered")
        try:
            state = {"from": _valid_date(params.get("from")), "until": _valid_date(params.get("until")),
                     "after": ["", ""], "cursor": 0}
        except ValueError as e:
            return _error("badArgument", f"not a UTC datestamp: {e}")
        where, args = _where(state)
        state["size"] = db.execute(f"SELECT count(*) FROM oai WHERE {where}", args).fetchone()[0]
    where, args = _where(state)
    rows = db.execute(f"SELECT identifier, datestamp, deleted, xml FROM oai WHERE {where} "
                      "AND (datestamp, identifier) > (?, ?) ORDER BY datestamp, identifier LIMIT ?",
                      (*args, *state["after"], page_size + 1)).fetchall()
    if not rows:
        return _error("noRecordsMatch", "no records match") if state["cursor"] == 0 else \
            "<ListRecords><resumptionToken/></ListRecords>"
    more = len(rows) > page_size
    rows = rows[:page_size]
    parts = ["<ListRecords>"]
    for ident, stamp, deleted, xml in rows:
        status = ' status="deleted"' if deleted else ""
        parts.append(f"<record><header{status}><identifier>{escape(ident)}</identifier>"
                     f"<datestamp>{stamp}</datestamp><setSpec>{code}</setSpec></header>")
        if not deleted:
            parts.append("<metadata>" + xml.decode("utf-8") + "</metadata>")
        parts.append("</record>")
    cursor = state["cursor"]
    if more or cursor:
        nxt = dict(state, after=[rows[-1][1], rows[-1][0]], cursor=cursor + len(rows))
        token = _token(nxt) if more else ""
        parts.append(f'<resumptionToken completeListSize="{state["size"]}" cursor="{cursor}">{token}'
                     "</resumptionToken>")
    parts.append("</ListRecords>")
    return "".join(parts)


def _where(state: dict) -> tuple[str, list]:
    clauses, args = ["1"], []
    if state.get("from"):
        clauses.append("datestamp >= ?")
        args.append(state["from"])
    if state.get("until"):
        clauses.append("datestamp <= ?")
        args.append(state["until"])
    return " AND ".join(clauses), args


def identify(db: sqlite3.Connection, code: str, base_url: str) -> str:
    earliest = db.execute("SELECT min(datestamp) FROM oai").fetchone()[0] or now_stamp()
    return (f"<Identify><repositoryName>BALIS test bed {escape(code)}</repositoryName>"
            f"<baseURL>{escape(base_url)}</baseURL><protocolVersion>2.0</protocolVersion>"
            f"<adminEmail>testbed@example.invalid</adminEmail><earliestDatestamp>{earliest}</earliestDatestamp>"
            f"<deletedRecord>persistent</deletedRecord><granularity>{GRANULARITY}</granularity></Identify>")


# ------------------------------------------------------------------------------------------- the server

def make_app(state_dir: Path, members: list[str], page_size: int = PAGE_SIZE):
    from aiohttp import web

    from testbed.proxy import read_faults

    dbs: dict[str, sqlite3.Connection] = {}

    def db_of(code: str) -> sqlite3.Connection:
        if code not in dbs:
            dbs[code] = open_db(state_dir / "members" / code / "oai.sqlite")
        return dbs[code]

    async def handle(request: web.Request) -> web.Response:
        code = request.match_info["code"].upper()
        if code not in members:
            raise web.HTTPNotFound(text=f"no OAI-PMH repository for member {code}")
        latency_ms, mode = read_faults(state_dir, code)
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        if mode:
            raise web.HTTPServiceUnavailable(text=f"{code} is down (test bed fault {mode})")
        params = dict(request.query)
        verb = params.get("verb")
        base_url = str(request.url.with_query(None))
        db = db_of(code)
        if verb == "ListRecords":
            body = list_records(db, code, params, page_size)
        elif verb == "Identify":
            body = identify(db, code, base_url)
        elif verb == "ListMetadataFormats":
            body = ("<ListMetadataFormats><metadataFormat><metadataPrefix>marc21</metadataPrefix>"
                    "<schema>http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd</schema>"
                    f"<metadataNamespace>{MARC_NS}</metadataNamespace></metadataFormat></ListMetadataFormats>")
        else:
            body = _error("badVerb", f"verb {verb!r} is not offered by the test bed")
        return web.Response(body=_envelope(base_url, params, body), content_type="text/xml", charset="utf-8")

    app = web.Application()
    app.router.add_get("/oai/{code}", handle)

    async def close_dbs(_app) -> None:
        for db in dbs.values():
            db.close()

    app.on_cleanup.append(close_dbs)
    return app


async def serve(state_dir: Path) -> None:
    from aiohttp import web

    conf = json.loads((state_dir / "oai.json").read_text())
    runner = web.AppRunner(make_app(state_dir, conf["members"], int(conf.get("page_size", PAGE_SIZE))),
                           access_log=None)
    await runner.setup()
    sock = listening_socket(int(conf.get("port") or 0))
    await web.SockSite(runner, sock).start()
    conf["port"] = sock.getsockname()[1]
    write_atomically(state_dir / "oai.json", json.dumps(conf))  # the port it got: read once oai.pid is there
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    (state_dir / "oai.pid").write_text(str(os.getpid()))
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m testbed.oaipmh STATE_DIR", file=sys.stderr)
        raise SystemExit(2)
    asyncio.run(serve(Path(args[0])))


if __name__ == "__main__":
    main()
