"""The demo test bed, seen from outside: registry, yaz-client through the proxy, SRU, charsets, faults, reuse."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import socket
import subprocess
import urllib.error
import urllib.request

import pymarc
import pytest
from lxml import etree

from members import load_registry
from testbed.bed import Testbed
from testbed.yaz import sru_search, yaz_search

pytestmark = pytest.mark.integration
NS = {"zs": "http://www.loc.gov/zing/srw/", "marc": "http://www.loc.gov/MARC21/slim"}


@pytest.fixture(scope="module")
def registry(testbed):
    return load_registry(testbed.registry_path)


def port_of(registry, code: str, protocol: str | None = None) -> int:
    return registry.get(code).endpoint(protocol).port


def test_registry_has_every_kind_of_member(testbed, registry):
    members = list(registry)
    assert len(members) == 8
    assert any(m.syntax == "unimarc" and m.charset == "utf-8" for m in members)
    assert any(m.syntax == "marc21" and m.charset == "marc-8" and "z3950" in m.protocols for m in members)
    assert any(m.syntax == "unimarc" and m.charset == "gbk" and "z3950" in m.protocols for m in members)
    assert any(m.protocols == ("sru",) for m in members)
    assert any(m.protocols == ("z3950",) for m in members)
    assert any(set(m.protocols) == {"sru", "z3950"} for m in members)
    assert [m.code for m in members if "oaipmh" in m.protocols] == ["PKU", "BUPT"]  # testbed/oaipmh.py
    status = {s["code"]: s for s in testbed.status()}
    for m in members:
        assert all(e.port == status[m.code]["proxy_port"] for e in m.endpoints if e.protocol != "oaipmh")
        assert m.extra["testbed_direct_port"] == status[m.code]["port"]
        assert status[m.code]["running"] and status[m.code]["records"] == 150


def test_chinese_title_word_on_cnmarc_and_marc21_members(registry):
    for code in ("PKU", "THU"):
        res = yaz_search(port_of(registry, code), "@attr 1=4 中国", syntax=None)
        assert res.hits and res.hits > 0, (code, res.output)
        assert yaz_search(port_of(registry, code), "@attr 1=4 qqqzzzxxx").hits == 0


def _held_edition(testbed, code: str, *, field: str = "isbn13"):
    for e in testbed.truth()["editions"]:
        mine = [r for r in e["records"] if r.startswith(code + ":")]
        if mine and e.get(field) and not e["seed"]:
            return e, mine[0].split(":", 1)[1]
    raise AssertionError(f"no edition held by {code}")


def test_isbn_search_finds_the_record_as_catalogued(testbed, registry):
    e, rid = _held_edition(testbed, "PKU")
    port = port_of(registry, "PKU")
    res = yaz_search(port, f"@attr 1=12 {rid}", syntax="unimarc", show=1)
    assert res.hits == 1
    rec = next(pymarc.MARCReader(res.records[0], to_unicode=True, force_utf8=True))
    catalogued = rec["010"]["a"] if rec.get_fields("010") else None
    if catalogued:
        res2 = yaz_search(port, f'@attr 1=7 "{catalogued}"')
        assert res2.hits and res2.hits >= 1
    digits = re.sub(r"[^0-9X]", "", (catalogued or e["isbn13"]).split(" ")[0])
    assert yaz_search(port, f"@attr 1=7 {digits}").hits >= (1 if catalogued else 0)


def test_author_subject_publisher_date_any(testbed, registry):
    port = port_of(registry, "PKU")
    for query in ("@attr 1=1003 国家统计局", "@attr 1=21 经济发展", "@attr 1=1018 中国统计出版社",
                  "@attr 1=31 1994", "@attr 1=1016 北京"):
        res = yaz_search(port, query)
        assert res.hits is not None, res.output
    total = sum(yaz_search(port_of(registry, c), "@attr 1=21 经济发展").hits or 0 for c in ("PKU", "BNU", "RUC"))
    assert total > 0


def test_gbk_member_sends_gbk(testbed, registry):
    res = yaz_search(port_of(registry, "RUC"), "@attr 1=4 中国", syntax="unimarc", show=1)
    assert res.records, res.output
    data = res.records[0]
    text = data.decode("gbk")
    assert re.search("[\u4e00-\u9fff]", text)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_marc8_member_sends_marc8(testbed, registry):
    port = port_of(registry, "BUAA", "z3950")
    res = yaz_search(port, "@attr 1=4 中国", syntax="usmarc", show=1)
    assert res.records, res.output
    data = res.records[0]
    assert data[9:10] == b" "  # leader/09 blank: MARC-8
    assert b"\x1b$1" in data  # EACC (CJK) escape sequence
    rec = next(pymarc.MARCReader(data, to_unicode=True, force_utf8=False))
    vernacular = " ".join(f.value() for f in rec.get_fields("880"))
    assert "中国" in vernacular or "中國" in vernacular


def test_sru_returns_marcxml_and_agrees_with_z3950(testbed, registry):
    port = port_of(registry, "PKU", "sru")
    doc = etree.fromstring(sru_search(port, "dc.title=中国", maximum=3))
    n = int(doc.findtext("zs:numberOfRecords", namespaces=NS))
    assert n == yaz_search(port_of(registry, "PKU", "z3950"), "@attr 1=4 中国").hits
    recs = doc.findall(".//zs:recordData/marc:record", NS)
    assert len(recs) == min(3, n)


def test_sru_only_member(registry):
    m = registry.get("USTB")
    assert m.protocols == ("sru",)
    doc = etree.fromstring(sru_search(m.endpoint().port, "bath.isbn=9787*", maximum=1))
    assert doc.find("zs:numberOfRecords", NS) is not None


def _connect_and_read(port: int, payload: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                raise
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


HTTP_GET = b"GET /Default?version=1.2&operation=explain HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"


def test_fault_refuse(testbed, registry):
    port = port_of(registry, "THU")
    testbed.set_fault("THU", mode="refuse")
    try:
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            data = _connect_and_read(port, HTTP_GET)
            if not data:
                raise ConnectionResetError("closed without an answer")
        res = yaz_search(port, "@attr 1=4 中国")
        assert res.hits is None
    finally:
        testbed.set_fault("THU")
    assert yaz_search(port, "@attr 1=4 中国").hits is not None


def test_fault_drop_and_garbage(testbed, registry):
    port = port_of(registry, "BNU")
    whole = _connect_and_read(port, HTTP_GET)
    assert whole.startswith(b"HTTP/1.") and whole.rstrip().endswith(b"</zs:explainResponse>")
    try:
        testbed.set_fault("BNU", mode="drop")
        dropped = _connect_and_read(port, HTTP_GET)
        assert 0 < len(dropped) < len(whole) and whole.startswith(dropped)
        assert "Decoding incoming APDU" in yaz_search(port, "@attr 1=4 中国").output or \
            yaz_search(port, "@attr 1=4 中国").hits is None
        testbed.set_fault("BNU", mode="garbage")
        garbage = _connect_and_read(port, HTTP_GET)
        assert garbage and not garbage.startswith(b"HTTP/")
        with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError, ValueError,
                            etree.XMLSyntaxError)):
            etree.fromstring(sru_search(port, "dc.title=中国"))
    finally:
        testbed.set_fault("BNU")
    assert _connect_and_read(port, HTTP_GET) == whole


def test_fault_latency(testbed, registry):
    port = port_of(registry, "BUPT")
    testbed.set_fault("BUPT", latency_ms=3000)
    try:
        with pytest.raises(TimeoutError):
            _connect_and_read(port, HTTP_GET, timeout=0.3)
        assert _connect_and_read(port, HTTP_GET, timeout=30).startswith(b"HTTP/1.")  # slow, not broken
    finally:
        testbed.set_fault("BUPT")
    status = {s["code"]: s for s in testbed.status()}
    assert status["BUPT"]["fault"] is None


def test_set_fault_rejects_unknown(testbed):
    with pytest.raises(KeyError):
        testbed.set_fault("NOPE", mode="drop")
    with pytest.raises(ValueError):
        testbed.set_fault("THU", mode="explode")


def test_up_twice_reuses_and_down_stops(tmp_path):
    bed = Testbed(tmp_path / "small", seed=7)
    try:
        reg = bed.up(members=2, records=15)
        first = {s["code"]: (s["port"], s["proxy_port"], s["pid"]) for s in bed.status()}
        truth_mtime = bed.truth_path.stat().st_mtime_ns
        assert bed.up(members=2, records=15) == reg
        assert {s["code"]: (s["port"], s["proxy_port"], s["pid"]) for s in bed.status()} == first
        assert bed.truth_path.stat().st_mtime_ns == truth_mtime
        bed.down()
        assert not any(s["running"] for s in bed.status())
        code = bed.status()[0]["code"]
        oai_port = json.loads((bed.state_dir / "oai.json").read_text())["port"]
        with _listening(first[code][1]), _listening(oai_port):  # taken while the bed was down
            bed.up(members=2, records=15)  # from the built state: no rebuild
        assert bed.truth_path.stat().st_mtime_ns == truth_mtime
        assert all(s["running"] for s in bed.status())
        now = {s["code"]: s["proxy_port"] for s in bed.status()}
        assert now[code] != first[code][1]  # moved to a free port; the other member kept its own
        assert all(now[c] == first[c][1] for c in now if c != code)
        member = load_registry(reg).get(code)
        assert member.endpoints[0].port == now[code]
        assert yaz_search(now[code], "@attr 1=1016 中国").hits is not None
        oai = next(e for m in load_registry(reg).members for e in m.endpoints if e.protocol == "oaipmh")
        assert oai.port != oai_port
        with urllib.request.urlopen(f"http://127.0.0.1:{oai.port}/{oai.database}?verb=Identify", timeout=10) as r:
            assert b"<Identify>" in r.read()
    finally:
        bed.down()
    assert not any(s["running"] for s in bed.status())


@contextlib.contextmanager
def _listening(port: int):
    """Something else listening on 127.0.0.1:port for the block."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        yield


def test_same_seed_same_truth(tmp_path, testbed):
    other = Testbed(tmp_path / "again", seed=testbed.seed)
    try:
        other.up(members=8, records=150)
        assert json.loads(other.truth_path.read_text()) == testbed.truth()
        for a, b in zip(other.status(), testbed.status(), strict=True):
            assert a["records"] == b["records"]
        rid = testbed.truth()["editions"][0]["records"][0]
        code, local = rid.split(":", 1)
        ours = load_registry(other.registry_path).get(code).extra["testbed_direct_port"]
        theirs = load_registry(testbed.registry_path).get(code).extra["testbed_direct_port"]
        syntax = "unimarc" if load_registry(other.registry_path).get(code).syntax == "unimarc" else "usmarc"
        a = yaz_search(ours, f"@attr 1=12 {local}", syntax=syntax, show=1)
        b = yaz_search(theirs, f"@attr 1=12 {local}", syntax=syntax, show=1)
        assert a.records and a.records == b.records
    finally:
        other.down()


def test_yaz_marcdump_reads_what_members_send(testbed, registry, tmp_path):
    res = yaz_search(port_of(registry, "NCEPU", "z3950"), "@attr 1=4 中国", syntax="unimarc", show=2)
    path = tmp_path / "ncepu.mrc"
    path.write_bytes(b"".join(res.records))
    out = subprocess.run(["yaz-marcdump", "-f", "gbk", "-t", "utf-8", str(path)], capture_output=True).stdout
    assert "中国".encode() in out or "中國".encode() in out
    assert len(list(pymarc.MARCReader(io.BytesIO(b"".join(res.records)), to_unicode=False))) == 2
