"""ISO 18626 carries a copy request (原文传递) as serviceType Copy with its structured citation in the standard's
bibliographic elements, its delivery method (preferredFormat, sentVia) and its price (deliveryCosts); a balis
export imports into a fresh store with the same state, and a foreign system's Copy request gets its citation."""

from __future__ import annotations

import io
from pathlib import Path

from lxml import etree
from pypdf import PdfWriter

from ill import Store
from ill import machine as m
from ill.iso18626 import NS, export_request, import_request
from members import load_registry

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "config" / "members.toml")
CITED = {"kind": "article", "journal": "图书情报工作", "article": "高校图书馆文献传递服务研究", "authors": ["张三", "李四"],
         "year": 2003, "volume": "24", "issue": "6", "pages": "12-15", "issn": "0252-3116",
         "doi": "10.13266/j.issn.0252-3116.2003.06.003"}


def _pdf(pages: int) -> bytes:
    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_a_delivered_copy_goes_out_as_copy_with_its_citation_and_comes_back_the_same(db_url, clock, tmp_path):
    a = Store(db_url, clock=clock, registry=REGISTRY, copies=tmp_path / "a")
    for uid, role, member in (("r1", "reader", "THU"), ("pku", "staff", "PKU")):
        a.add_user(uid, role, member, now=clock.now)
    rid = a.submit("r1", kind="copy", title=CITED["article"], author="张三, 李四", rota=["PKU"], citation_data=CITED,
                   year="2003", copy_method="download")["id"]
    a.act(rid, m.WILL, "pku")
    a.deliver_copy(rid, "pku", _pdf(4))
    docs = export_request(a, rid)
    q = etree.fromstring(docs[0])
    t = {el: q.findtext(f"{{{NS}}}request/{{{NS}}}bibliographicInfo/{{{NS}}}{el}")
         for el in ("title", "titleOfComponent", "authorOfComponent", "volume", "issue", "pagesRequested")}
    assert t == {"title": "图书情报工作", "titleOfComponent": "高校图书馆文献传递服务研究", "authorOfComponent": "张三, 李四",
                 "volume": "24", "issue": "6", "pagesRequested": "12-15"}
    ids = {i.findtext(f"{{{NS}}}bibliographicItemIdentifierCode"): i.findtext(f"{{{NS}}}bibliographicItemIdentifier")
           for i in q.iter(f"{{{NS}}}bibliographicItemId")}
    assert ids == {"ISSN": "0252-3116", "DOI": "10.13266/j.issn.0252-3116.2003.06.003"}
    assert q.findtext(f".//{{{NS}}}serviceType") == "Copy" and q.findtext(f".//{{{NS}}}preferredFormat") == "PDF"
    s = etree.fromstring(docs[1])
    assert s.findtext(f".//{{{NS}}}sentVia") == "URL" and s.findtext(f".//{{{NS}}}monetaryValue") == "2.20"

    b = Store(f"sqlite:///{tmp_path / 'b.sqlite'}", clock=clock, copies=tmp_path / "b")
    new = b.get(import_request(b, docs))
    old = a.get(rid)
    for key in ("kind", "title", "author", "status", "citation_data", "copy_method", "pages", "fee_fen",
                "subsidy_fen", "reader_fen", "copy_expires", "isbn"):
        assert new[key] == old[key], key
    assert new["copy_file"] is None  # the scan stays with the supplier's system
    a.close()
    b.close()


def test_a_foreign_copy_request_gets_its_citation_from_the_standard_elements(db_url, clock, tmp_path):
    a = Store(db_url, clock=clock, copies=tmp_path / "a")
    a.add_user("r1", "reader", "THU", now=clock.now)
    rid = a.submit("r1", kind="copy", title=CITED["article"], author="张三, 李四", rota=["PKU"], citation_data=CITED,
                   copy_method="post")["id"]
    request_only = export_request(a, rid)[:1]  # as another system sends it: the request, no balis state
    b = Store(f"sqlite:///{tmp_path / 'b.sqlite'}", clock=clock, copies=tmp_path / "b")
    new = b.get(import_request(b, request_only))
    assert new["kind"] == "copy" and new["title"] == CITED["article"] and new["copy_method"] == "post"
    assert {k: new["citation_data"].get(k) for k in ("journal", "volume", "issue", "pages", "issn", "doi", "year",
                                                     "authors")} == {
        "journal": "图书情报工作", "volume": "24", "issue": "6", "pages": "12-15", "issn": "0252-3116",
        "doi": "10.13266/j.issn.0252-3116.2003.06.003", "year": 2003, "authors": ["张三", "李四"]}
    a.close()
    b.close()
