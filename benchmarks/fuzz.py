"""Fuzzing of what members and other systems send us: only each module's own errors may come out, and fast.

Targets (seeded from real inputs: ../shared/data, testbed/data/marc, the tests' recorded answers):
  ber       connectors/z3950 decode_apdu, and decode_opac of OPAC records     → ProtocolError (DecodeError)
  iso2709   records/marc.py read_iso2709 / iter_iso2709, then normalise      → RecordError
  marcxml   records/marc.py read_marcxml / iter_marcxml, then normalise      → RecordError
  holdings  records/holdings.py holdings_from_xml (ISO 20775, OPAC holdings)  → RecordError
  sru       connectors/sru.py search / scan / explain responses, their records  → DecodeError, Diagnostic
  cql       connectors/query.py parse(cql=True), to_cql, to_rpn              → QueryError, Unsupported
  reader    connectors/query.py parse(cql=False), to_cql, to_text            → QueryError, Unsupported
  iso18626  ill/iso18626.py import_request into a fresh SQLite ILL store     → IllError (InvalidRequest …)

Any other exception is a crash (counted once per exception type and place, with its input kept); an input
that takes longer than --slow seconds is a hang. Coverage-guided with atheris (libFuzzer) when it is
installed, else (or with --engine mutate) seeded random mutation of the seeds. The tests run the mutator
for a few seconds per target (tests/fuzz/); this benchmark runs 100,000 inputs per target:

    .venv/bin/python benchmarks/fuzz.py --all [--inputs 100000] [--engine atheris|mutate] [--seed 1]
    .venv/bin/python benchmarks/fuzz.py --target ber --inputs 100000

Prints inputs/s, distinct crashes and hangs, and (atheris) edges and features covered per target; writes
benchmarks/results/fuzz.json (crash reproducers in it, base64).
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

SEPARATOR = b"\n--8<--\n"  # iso18626: one input holds several messages
MAX_SEED = 32 * 1024
SLOW_SECONDS = 2.0


# ---------------------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    allowed: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]
    tokens: tuple[bytes, ...] = ()


def _text(data: bytes) -> str:
    """Bytes as text the way a request would carry them: lone surrogates and control characters included."""
    return data.decode("utf-8", "surrogateescape")


def run_ber(data: bytes) -> None:
    from connectors.z3950.apdu import OID_OPAC, decode_apdu
    from connectors.z3950.opac import decode_opac

    if data[:1] == b"\x30":  # an OPAC record (a SEQUENCE; every APDU is context-tagged), as Present carries it
        decode_opac(data)
        return
    apdu = decode_apdu(data)
    for rec in getattr(apdu, "records", None) or ():
        if rec.syntax == OID_OPAC and rec.data:
            decode_opac(rec.data)


def run_iso2709(data: bytes) -> None:
    from records.marc import iter_iso2709, read_iso2709
    from records.normalise import from_raw

    charset = ("auto", "utf-8", "marc-8", "gbk")[data[-1] % 4] if data else "auto"
    for _pos, rec in iter_iso2709(data, charset=charset):  # never raises: errors are yielded
        assert rec is not None
    one = data.split(b"\x1d", 1)[0] + b"\x1d"
    read_iso2709(one, charset=charset)
    from_raw(one, syntax=("marc21", "unimarc")[len(data) % 2], charset=charset, member="FUZZ", position=1)


def run_marcxml(data: bytes) -> None:
    from records.marc import iter_marcxml, read_marcxml
    from records.normalise import from_raw

    for _pos, rec in iter_marcxml(data):
        assert rec is not None
    read_marcxml(data)
    from_raw(data, syntax="marcxml", charset="utf-8", member="FUZZ", position=1)


def run_holdings(data: bytes) -> None:
    from records.holdings import PROFILES, holdings_from_xml

    ils = sorted(PROFILES)[data[-1] % len(PROFILES)] if data else None
    holdings_from_xml(data, member="FUZZ", ils=ils, warnings=[])


def run_sru(data: bytes) -> None:
    from connectors.errors import MemberError
    from connectors.sru import parse_explain_response, parse_scan_response, parse_search_response
    from records.errors import RecordError
    from records.normalise import from_raw

    refused: list[MemberError] = []
    for parse in (parse_search_response, parse_scan_response, parse_explain_response):
        try:
            page = parse(data, member="FUZZ")
        except MemberError as exc:
            refused.append(exc)
        else:
            for rec in getattr(page, "records", ()):  # as the federator reads them: RecordError each
                try:
                    from_raw(rec.data, syntax=rec.syntax, charset=rec.charset, member="FUZZ", position=rec.position,
                             holdings=rec.holdings)
                except RecordError:
                    pass
    if len(refused) == 3:  # no kind of SRU response: refused (with the search parser's words)
        raise refused[0]


def _render(query) -> None:
    from connectors.errors import Unsupported
    from connectors.query import to_cql, to_rpn, to_text

    to_cql(query)
    to_rpn(query)
    try:
        to_text(query)
    except Unsupported:
        pass


def run_cql(data: bytes) -> None:
    from connectors.query import parse

    _render(parse(_text(data), cql=True))


def run_reader(data: bytes) -> None:
    from connectors.query import parse

    _render(parse(_text(data), cql=False))


@functools.cache
def _fuzz_store():
    from ill import Store

    folder = Path(tempfile.mkdtemp(prefix="balis-fuzz-"))
    return Store(folder / "ill.sqlite")


def run_iso18626(data: bytes) -> None:
    from ill.iso18626 import import_request

    import_request(_fuzz_store(), data.split(SEPARATOR)[:4], actor="fuzz")


# ------------------------------------------------------------------------------------------------ seeds
def _files(*patterns: str, base: Path = SHARED) -> list[Path]:
    return sorted(p for pattern in patterns for p in base.glob(pattern) if p.is_file())


def _cap(items: list[bytes]) -> list[bytes]:
    return [i[:MAX_SEED] for i in items if i]


def _opac_record() -> bytes:
    """An OPAC record with a MARC record and a holding of three copies (on loan, on hold, on the shelf)."""
    from connectors.z3950 import ber

    def s(number: int, text: str) -> bytes:
        return ber.tlv(ber.identifier(number), text.encode())

    def b(number: int, value: bool) -> bytes:
        return ber.tlv(ber.identifier(number), b"\xff" if value else b"\x00")

    def seq(*parts: bytes, number: int | None = None) -> bytes:
        ident = ber.identifier(16, ber.UNIVERSAL, True) if number is None else ber.identifier(number, constructed=True)
        return ber.tlv(ident, b"".join(parts))

    bib = seq(ber.tlv(ber.identifier(6, ber.UNIVERSAL), ber.oid_content("1.2.840.10003.5.10")),
              ber.tlv(ber.identifier(1), b"00026nam  2200025   4500\x1e\x1d"), number=1)
    copies = seq(seq(b(1, False), s(2, "2026-12-01"), s(4, "已借出"), s(5, "C1"), b(6, True), b(7, False)),
                 seq(b(1, False), s(5, "C2"), b(6, False), b(7, True)),
                 seq(b(1, True), s(5, "C3"), s(10, "新书架")), number=19)
    holding = seq(s(9, "总馆"), s(10, "中文图书"), s(11, "I247.5/88"), seq(seq(s(1, "v.1")), number=18), copies, number=2)
    return seq(bib, seq(holding, number=2))


def seeds_ber() -> list[bytes]:
    return _cap([p.read_bytes() for p in _files("tests/z3950/data/*.ber", base=ROOT)] + [_opac_record()])


def _iso2709_records() -> list[bytes]:
    out = []
    for p in _files("marc/**/*.mrc", "marc/**/*.marc", "marc/**/*.dat", "marc/yaz/*.marc"):
        out.extend(r + b"\x1d" for r in p.read_bytes().split(b"\x1d")[:8] if len(r) > 24)
    for p in _files("data/marc/**/*.mrc", "data/marc/**/*.marc", base=ROOT / "testbed"):
        out.extend(r + b"\x1d" for r in p.read_bytes().split(b"\x1d")[:4] if len(r) > 24)
    return out


def seeds_iso2709() -> list[bytes]:
    return _cap(list(dict.fromkeys(_iso2709_records())))


_RECORD = re.compile(rb"<(?:(?:marc|slim):)?record\b.*?</(?:(?:marc|slim):)?record>", re.S)
_MARC_NS = b' xmlns="http://www.loc.gov/MARC21/slim"'


def _marcxml_records(limit_per_file: int = 6) -> list[bytes]:
    out = []
    for p in _files("marc/**/*.xml"):
        body = p.read_bytes()
        for m in list(_RECORD.finditer(body))[:limit_per_file]:
            rec = m.group(0)
            if b"xmlns" not in rec[:120]:
                rec = rec.replace(b">", _MARC_NS + b">", 1) if rec.startswith(b"<record") else rec
            out.append(rec)
    return out


def seeds_marcxml() -> list[bytes]:
    recs = _marcxml_records()
    from lxml import etree

    def well_formed(doc: bytes) -> bool:
        try:
            etree.fromstring(doc)
        except etree.XMLSyntaxError:
            return False
        return True

    recs = [r for r in recs if well_formed(r)]
    collection = b'<collection xmlns="http://www.loc.gov/MARC21/slim">' + b"".join(recs[:3]) + b"</collection>"
    return _cap([*recs, collection])


def seeds_holdings() -> list[bytes]:
    from connectors.z3950.opac import decode_opac

    files = _files("ils-responses/opac-holdings/*.xml") + _files("tests/data/isohold/*.xml", base=ROOT)
    return _cap([p.read_bytes() for p in files] + [decode_opac(_opac_record()).holdings])


_SRU_12 = (b'<?xml version="1.0" encoding="UTF-8"?><zs:searchRetrieveResponse xmlns:zs="http://www.loc.gov/zing/srw/">'
           b"<zs:version>1.2</zs:version><zs:numberOfRecords>%d</zs:numberOfRecords><zs:records>%s</zs:records>"
           b"</zs:searchRetrieveResponse>")
_SRU_20 = (b'<sruResponse:searchRetrieveResponse xmlns:sruResponse="http://docs.oasis-open.org/ns/search-ws/sruResponse">'
           b"<sruResponse:numberOfRecords>%d</sruResponse:numberOfRecords><sruResponse:records>%s"
           b"</sruResponse:records></sruResponse:searchRetrieveResponse>")
_SRU_SCAN = (b'<zs:scanResponse xmlns:zs="http://www.loc.gov/zing/srw/"><zs:version>1.2</zs:version><zs:terms>'
             b"<zs:term><zs:value>%s</zs:value><zs:numberOfRecords>3</zs:numberOfRecords></zs:term>"
             b"</zs:terms></zs:scanResponse>")
_SRU_DIAG = (b'<zs:searchRetrieveResponse xmlns:zs="http://www.loc.gov/zing/srw/"><zs:version>1.2</zs:version>'
             b"<zs:numberOfRecords>0</zs:numberOfRecords><zs:diagnostics>"
             b'<diag:diagnostic xmlns:diag="http://www.loc.gov/zing/srw/diagnostic/">'
             b"<diag:uri>info:srw/diagnostic/1/%d</diag:uri><diag:details>x</diag:details>"
             b"<diag:message>m</diag:message></diag:diagnostic></zs:diagnostics></zs:searchRetrieveResponse>")


def _sru_record(rec: bytes, pos: int, prefix: bytes = b"zs") -> bytes:
    return (b"<%s:record><%s:recordSchema>marcxml</%s:recordSchema><%s:recordPacking>xml</%s:recordPacking>"
            b"<%s:recordData>%s</%s:recordData><%s:recordPosition>%d</%s:recordPosition></%s:record>"
            % (prefix, prefix, prefix, prefix, prefix, prefix, rec, prefix, prefix, pos, prefix, prefix))


def seeds_sru() -> list[bytes]:
    out = [p.read_bytes() for p in _files("tests/sru/data/*.xml", base=ROOT)]
    recs = _marcxml_records(2)[:8]
    for i, rec in enumerate(recs):
        out.append(_SRU_12 % (len(recs), _sru_record(rec, i + 1)))
        out.append(_SRU_20 % (999999999, _sru_record(rec, 1, b"sruResponse")))
    out += [_SRU_SCAN % b"\xe4\xb8\xad\xe5\x9b\xbd", _SRU_DIAG % 10, _SRU_DIAG % 1]
    return _cap(out)


CQL_SEEDS = [
    'dc.title = "数据结构" and dc.creator = 严蔚敏', "cql.serverChoice all 中国 历史", "bath.isbn = 7-5037-1744-0",
    'dc.title any "war peace" or dc.subject = 历史', "(dc.title = a or dc.title = b) not dc.date = 2009",
    "dc.date >= 2000 and dc.date <= 2010", 'dc.title adj "a b c"', "rec.id = pku-77", "dc.publisher = 中华书局",
    "dc.title = 數據*", 'dc.title = "a\\"b"', "dc.title =/relevant x", "x prox/unit=word y", "> dc = x dc.title = y",
    "dc.title = x sortBy dc.date", "bath.issn = 0028-0836", "dc.identifier == W0123456789abcdef",
]
READER_SEEDS = [
    "数据结构", "ti:数据结构 AND year:2009", "au:严蔚敏 ti:(数据 结构)", '"红楼梦" OR 石头记', "year:2000-2010",
    "isbn:7-5037-1744-0", "issn:0028-0836", "su:历史 NOT au:鲁迅", "ｔｉ：数据结构　ＡＮＤ　ｙｅａｒ：２００９",
    "id:pku-77", "pub:中华书局 year:-1990", "(a OR b) AND (c OR d)", 'ti:"war and peace"', "數據*", "year:1990-",
    "a\\:b", "any:x", "war peace", "ISBN 9787302147510",
]


def seeds_cql() -> list[bytes]:
    return [s.encode() for s in CQL_SEEDS]


def seeds_reader() -> list[bytes]:
    return [s.encode() for s in READER_SEEDS]


def _balis_export() -> list[bytes]:
    """Messages as balis itself exports them (the `balis:` note of its own state included)."""
    from ill import Store
    from ill import machine as m
    from ill.iso18626 import export_request

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "seed.sqlite", clock=lambda: datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
        try:
            for uid, role, member in (("r1", "reader", "THU"), ("p1", "reader", "PKU"), ("pku", "staff", "PKU")):
                store.add_user(uid, role, member)
            pending = store.submit("p1", citation="王力. 古代汉语. 中华书局, 1999")["id"]
            lent = store.submit("r1", title="数据结构", author="严蔚敏", work_id="w-1", rota=["PKU", "RUC"])["id"]
            store.act(lent, m.WILL, "pku")
            shipped = store.submit("r1", kind=m.COPY, title="论文", work_id="w-2", rota=["PKU"])["id"]
            store.act(shipped, m.WILL, "pku")
            store.act(shipped, m.SHIP, "pku")
            return [SEPARATOR.join(export_request(store, rid)) for rid in (pending, lent, shipped)]
        finally:
            store.close()


def seeds_iso18626() -> list[bytes]:
    out = [p.read_bytes() for p in _files("ils-responses/iso18626/*.xml")]
    try:
        out += _balis_export()
    except Exception as exc:  # the shared examples still seed the run
        print(f"  (no balis export seeds: {exc})", file=sys.stderr)
    return _cap(out)


XML_TOKENS = (b"<!DOCTYPE x [<!ENTITY e 'x'>]>", b"&e;", b"&#0;", b"&#x10FFFF;", b"]]>", b"<![CDATA[", b"xmlns=\"\"",
              b"\xef\xbf\xbe", b"\xed\xa0\x80", b"<?xml version='1.0' encoding='gbk'?>", b"&lt;", b"-1", b"99999999999999999999")
MARC_TOKENS = (b"\x1d", b"\x1e", b"\x1f", b"00000", b"99999", b"4500", b"\x1b(B", b"\x1b$1", b"\xe8", b"\xc2\xa0")
QUERY_TOKENS = (b"(", b")", b'"', b"\\", b"*", b"?", b"^", b"=", b"==", b"<>", b" and ", b" or ", b" not ", b" prox ",
                b"/", b"sortBy", b"ti:", b"year:", b"isbn:", b"\x00", b"\xef\xbf\xbe", b"\xed\xa0\x80", b"\xe3\x80\x80",
                b"\xef\xbc\x9a", b"dc.", b"cql.", b">")

TARGETS: dict[str, Target] = {}
# the packages each target runs through (instrumented for coverage under atheris)
MODULES = {"ber": ("connectors",), "iso2709": ("records",), "marcxml": ("records",), "holdings": ("records",),
           "sru": ("connectors", "records"),
           "cql": ("connectors", "cql"), "reader": ("connectors",), "iso18626": ("ill",)}


def _register(*targets: Target) -> None:
    TARGETS.update((t.name, t) for t in targets)


def _allowed():
    from connectors.errors import MemberError, ProtocolError, Unsupported
    from connectors.query import QueryError
    from ill.errors import IllError
    from records.errors import RecordError

    return {"ber": (ProtocolError,), "iso2709": (RecordError,), "marcxml": (RecordError,),
            "holdings": (RecordError,), "sru": (MemberError,),
            "cql": (QueryError, Unsupported), "reader": (QueryError, Unsupported), "iso18626": (IllError,)}


def targets() -> dict[str, Target]:
    """The targets, by name (imports the product modules on first call)."""
    if not TARGETS:
        allowed = _allowed()
        _register(
            Target("ber", run_ber, allowed["ber"], seeds_ber, (b"\x80", b"\x00\x00", b"\x84\xff\xff\xff\xff", b"\x1f\xff")),
            Target("iso2709", run_iso2709, allowed["iso2709"], seeds_iso2709, MARC_TOKENS),
            Target("marcxml", run_marcxml, allowed["marcxml"], seeds_marcxml, XML_TOKENS),
            Target("holdings", run_holdings, allowed["holdings"], seeds_holdings, XML_TOKENS),
            Target("sru", run_sru, allowed["sru"], seeds_sru, XML_TOKENS),
            Target("cql", run_cql, allowed["cql"], seeds_cql, QUERY_TOKENS),
            Target("reader", run_reader, allowed["reader"], seeds_reader, QUERY_TOKENS),
            Target("iso18626", run_iso18626, allowed["iso18626"], seeds_iso18626, XML_TOKENS),
        )
    return TARGETS


# ---------------------------------------------------------------------------------------------- checking
@dataclass
class Crash:
    kind: str
    where: str
    message: str
    data: bytes

    def as_json(self) -> dict:
        return {"kind": self.kind, "where": self.where, "message": self.message[:300],
                "input_base64": base64.b64encode(self.data[:4096]).decode()}


@dataclass
class Tally:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    allowed_errors: int = 0
    crashes: dict[str, Crash] = field(default_factory=dict)
    slow: list[tuple[float, bytes]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"target": self.target, "inputs": self.inputs, "seconds": round(self.seconds, 2),
                "inputs_per_second": round(self.inputs / self.seconds) if self.seconds else None,
                "allowed_errors": self.allowed_errors, "distinct_crashes": len(self.crashes),
                "crashes": [c.as_json() for c in self.crashes.values()],
                "slow_inputs": [{"seconds": round(s, 2), "input_base64": base64.b64encode(d[:4096]).decode()}
                                for s, d in self.slow[:5]]}


class _Slow(Exception):
    pass


def _where(exc: BaseException) -> str:
    """The innermost frame of our own code (or the innermost of all) where the exception came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if str(ROOT) in f.filename and "/.venv/" not in f.filename
            and not f.filename.endswith("benchmarks/fuzz.py")]
    f = (ours or frames or [None])[-1]
    return f"{Path(f.filename).relative_to(ROOT) if str(ROOT) in f.filename else Path(f.filename).name}:{f.lineno}" \
        if f else "?"


def check(target: Target, data: bytes, tally: Tally, slow: float = SLOW_SECONDS) -> None:
    """Run one input; an error the target does not document is kept as a crash, a slow input as a hang."""
    t0 = time.perf_counter()
    try:
        target.run(data)
    except target.allowed:
        tally.allowed_errors += 1
    except _Slow:
        tally.slow.append((time.perf_counter() - t0, data))
    except Exception as exc:  # the finding itself
        key = f"{type(exc).__name__} at {_where(exc)}"
        if key not in tally.crashes:
            tally.crashes[key] = Crash(type(exc).__name__, _where(exc), str(exc), data)
    else:
        pass
    elapsed = time.perf_counter() - t0
    if elapsed > slow and not any(d is data for _, d in tally.slow):
        tally.slow.append((elapsed, data))
    tally.inputs += 1
    tally.seconds += elapsed


# --------------------------------------------------------------------------------------------- mutation
INTERESTING = (0x00, 0x01, 0x1D, 0x1E, 0x1F, 0x20, 0x22, 0x26, 0x28, 0x29, 0x3C, 0x3E, 0x5C, 0x7F, 0x80, 0x81,
               0xC0, 0xE4, 0xED, 0xEF, 0xFE, 0xFF)


def mutate(data: bytes, rng: random.Random, seeds: list[bytes], tokens: tuple[bytes, ...]) -> bytes:
    """One to eight random edits of a seed: bit flips, interesting bytes, tokens, cuts, copies, splices."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        n = len(buf)
        op = rng.randrange(9)
        i = rng.randrange(n + 1)
        if op == 0 and n:
            buf[min(i, n - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[min(i, n - 1)] = rng.choice(INTERESTING)
        elif op == 2 and tokens:
            buf[i:i] = rng.choice(tokens)
        elif op == 3 and n:
            j = min(n, i + rng.randint(1, 64))
            del buf[i:j]
        elif op == 4 and n:
            j = min(n, i + rng.randint(1, 64))
            k = rng.randrange(n + 1)
            buf[k:k] = buf[i:j] * rng.choice((1, 1, 2, 16))
        elif op == 5:
            other = rng.choice(seeds)
            if other:
                a = rng.randrange(len(other))
                buf[i:] = other[a:a + rng.randint(1, 256)] + bytes(buf[i:])
        elif op == 6:
            del buf[i:]
        elif op == 7 and n:
            # a number: length fields, counts and positions are where parsers trust the input
            m = re.search(rb"\d+", bytes(buf[i:]))
            if m:
                s, e = i + m.start(), i + m.end()
                buf[s:e] = str(rng.choice((0, 1, -1, 2**31, 2**63, 10**20, rng.randrange(100000)))).encode()
        else:
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(buf)


def inputs(target: Target, rng: random.Random) -> Iterator[bytes]:
    """The seeds as they are, then mutations of them, for ever."""
    seeds = target.seeds()
    yield from seeds
    while True:
        yield mutate(rng.choice(seeds), rng, seeds, target.tokens)


def run_mutation(target: Target, count: int, *, seed: int = 1, seconds: float | None = None,
                 slow: float = SLOW_SECONDS) -> Tally:
    """Run `count` inputs (or until `seconds` have passed), each bounded by an alarm of `slow` × 5 seconds."""
    rng = random.Random(seed)
    tally = Tally(target.name)
    deadline = time.monotonic() + seconds if seconds else None
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for data in inputs(target, rng):
            if tally.inputs >= count or (deadline and time.monotonic() > deadline):
                break
            signal.setitimer(signal.ITIMER_REAL, slow * 5)
            try:
                check(target, data, tally, slow)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    return tally


def _alarm(_signum, _frame):
    raise _Slow()


# ---------------------------------------------------------------------------------------------- atheris
def run_atheris_child(name: str, count: int, seed: int, out: Path, slow: float) -> None:
    """In a child process: libFuzzer drives `check` over instrumented product modules; a summary file is
    rewritten as it goes (libFuzzer ends the process itself)."""
    import atheris

    # records.tables holds pypinyin's phrase tables: data, not code worth covering, and slow to instrument
    with atheris.instrument_imports(include=list(MODULES[name]), exclude=["records.tables"]):
        target = targets()[name]
        try:  # imports what the target imports lazily, inside the instrumentation
            target.run(b"")
        except Exception:
            pass
    tally = Tally(name)
    corpus = Path(tempfile.mkdtemp(prefix=f"balis-fuzz-{name}-"))
    for s in target.seeds():
        (corpus / hashlib.sha1(s).hexdigest()).write_bytes(s)
    started = time.perf_counter()

    def one(data: bytes) -> None:
        check(target, data, tally, slow)
        if tally.inputs % 2000 == 0 or tally.inputs >= count:
            out.write_text(json.dumps({**tally.as_json(), "wall_seconds": round(time.perf_counter() - started, 2)}))

    dictionary = corpus.parent / f"{corpus.name}.dict"
    dictionary.write_text("".join('"' + "".join(f"\\x{b:02x}" for b in t) + '"\n' for t in target.tokens))
    max_len = max(len(s) for s in target.seeds())
    atheris.Setup([sys.argv[0], f"-runs={count}", f"-seed={seed}", f"-max_len={min(max_len * 2, 1 << 16)}",
                   f"-timeout={int(slow * 5) + 1}", "-print_final_stats=1", f"-dict={dictionary}", str(corpus)],
                  one)
    atheris.Fuzz()


def run_atheris(name: str, count: int, seed: int, slow: float) -> dict:
    out = Path(tempfile.mkstemp(prefix=f"balis-fuzz-{name}-", suffix=".json")[1])
    cmd = [sys.executable, __file__, "--child", name, "--inputs", str(count), "--seed", str(seed),
           "--slow", str(slow), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    result = json.loads(out.read_text() or "{}") if out.stat().st_size else {"target": name, "inputs": 0}
    out.unlink()
    cov = re.findall(r"cov: (\d+) ft: (\d+)", proc.stderr)
    if cov:
        result["edges"], result["features"] = int(cov[-1][0]), int(cov[-1][1])
    stats = dict(re.findall(r"stat::(\w+):\s+(\d+)", proc.stderr))
    if "number_of_executed_units" in stats:
        result["libfuzzer_units"] = int(stats["number_of_executed_units"])
    if proc.returncode not in (0,) and "Done" not in proc.stderr:
        result["engine_exit"] = proc.returncode
        result["engine_tail"] = proc.stderr[-1500:]
    return result


def atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def _write(out: str, engine: str, args, results: list[dict]) -> None:
    if args.keep and Path(out).exists():  # the other targets' results of an earlier run stay
        ran = {r["target"] for r in results}
        earlier = json.loads(Path(out).read_text(encoding="utf-8")).get("results", [])
        results = [r for r in earlier if r["target"] not in ran] + results
    doc = {"engine": engine, "seed": args.seed, "inputs_per_target": args.inputs, "python": sys.version.split()[0],
           "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 1), "results": results}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", action="append", choices=list(MODULES))
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine", choices=("auto", "atheris", "mutate"), default="auto")
    ap.add_argument("--slow", type=float, default=SLOW_SECONDS, help="seconds after which an input is a hang")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuzz.json"))
    ap.add_argument("--keep", action="store_true", help="keep other targets' results already in --out")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_atheris_child(args.child, args.inputs, args.seed, Path(args.out), args.slow)
        return
    names = list(targets()) if args.all or not args.target else args.target
    engine = args.engine if args.engine != "auto" else ("atheris" if atheris_available() else "mutate")
    print(f"fuzzing {', '.join(names)}: {args.inputs:,} inputs each, engine {engine}, seed {args.seed}")
    results = []
    for name in names:
        t0 = time.perf_counter()
        if engine == "atheris":
            r = run_atheris(name, args.inputs, args.seed, args.slow)
        else:
            r = run_mutation(targets()[name], args.inputs, seed=args.seed, slow=args.slow).as_json()
        r["wall_seconds"] = round(time.perf_counter() - t0, 2)
        results.append(r)
        cov = f", {r['edges']} edges / {r['features']} features" if "edges" in r else ""
        ips = round(r["inputs"] / r["wall_seconds"]) if r.get("wall_seconds") else 0
        print(f"  {name:<9} {r['inputs']:>8,} inputs  {ips:>6,}/s  crashes {r.get('distinct_crashes', 0)}  "
              f"slow {len(r.get('slow_inputs', []))}{cov}")
        for c in r.get("crashes", []):
            print(f"      {c['kind']} at {c['where']}: {c['message'][:120]}")
        if "engine_tail" in r:
            print("      the fuzzing engine stopped early:\n" + r["engine_tail"])
        _write(args.out, engine, args, results)  # after each target, so a long run keeps what it has
    print(f"wrote {args.out}")
    if any(r.get("distinct_crashes") or r.get("slow_inputs") for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
