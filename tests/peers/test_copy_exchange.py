"""Copies between ILL networks (原文传递 through ISO 18626): a BALIS copy request forwarded to CALIS, and a CALIS
copy request received by a BALIS supplier, each carried whole — serviceType Copy, the article or chapter's
citation in the standard's elements, the delivery method — and each message checked against the ISO 18626 v1.2
schema (tests/data/schemas, the standard's own XSD)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfWriter

from ill import isomessages as im
from ill import machine as m
from ill import peer_outbox
from tests.peers import exchange
from tests.peers.exchange import Exchange

XSD = etree.XMLSchema(etree.parse(str(Path(__file__).resolve().parents[1] / "data/schemas/ISO-18626-v1_2.xsd")))
NS = {"i": im.NS}
THU_DESK = ('[member.contact]\nemail = "ill@lib.tsinghua.edu.cn"\n'
            'address = "北京市海淀区清华园 清华大学图书馆 馆际互借处"\n')
ARTICLE = {"kind": "article", "journal": "图书情报工作", "issn": "0252-3116", "year": 2003, "volume": "24",
           "issue": "6", "pages": "12-15", "article": "高校图书馆文献传递服务研究", "authors": ["张三", "李四"],
           "doi": "10.13266/j.issn.0252-3116.2003.06.003"}
CHAPTER = {"kind": "chapter", "journal": "长江流域洪涝灾害与科技对策", "isbn": "9787030075369", "year": 1999,
           "pages": "32-36", "article": "1998年长江洪水的成因与减灾对策", "authors": ["程根伟"],
           "editors": ["许厚泽", "赵其国"], "publisher": "科学出版社"}


@pytest.fixture
def ex(tmp_path, clock, monkeypatch):
    """BALIS and CALIS on SQLite files; THU's ILL desk has an e-mail and a postal address in the registry."""
    monkeypatch.setattr(exchange, "BALIS_TOML", exchange.BALIS_TOML.replace(
        'name_en = "Tsinghua University"\n', 'name_en = "Tsinghua University"\n' + THU_DESK, 1))
    e = Exchange(tmp_path, clock, monkeypatch)
    yield e
    e.close()


def pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def valid(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    assert XSD.validate(root), XSD.error_log.last_error
    return root


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text for e in root.iterfind(path, NS)]


def test_a_copy_request_forwarded_to_calis_carries_the_citation_and_the_delivery_method(ex):
    balis, calis = ex.store["balis"], ex.store["calis"]
    rid = balis.submit("r1", kind="copy", title=ARTICLE["article"], author="张三, 李四", rota=["PKU"],
                       citation_data=ARTICLE, copy_method="email")["id"]
    balis.act(rid, m.ANSWER_UNFILLED, "s-pku", reason="缺该期")
    assert balis.get(rid)["lender"] == "CALIS"
    ((kind, body),) = [(k, b) for k, b in peer_outbox.bodies(balis, rid)]
    assert kind == "request"
    q = valid(body).find("i:request", NS)
    b = "i:bibliographicInfo/i:"
    assert texts(q, "i:serviceInfo/i:serviceType") == ["Copy"]
    assert texts(q, "i:serviceInfo/i:preferredFormat") == ["PDF"]
    assert (texts(q, b + "title"), texts(q, b + "titleOfComponent"), texts(q, b + "authorOfComponent")) == (
        ["图书情报工作"], ["高校图书馆文献传递服务研究"], ["张三, 李四"])
    assert [texts(q, b + x) for x in ("volume", "issue", "pagesRequested", "estimatedNoPages")] == [
        ["24"], ["6"], ["12-15"], ["4"]]
    assert dict(zip(texts(q, b + "bibliographicItemId/i:bibliographicItemIdentifierCode"),
                    texts(q, b + "bibliographicItemId/i:bibliographicItemIdentifier"), strict=True)) == {
        "ISSN": "0252-3116", "DOI": "10.13266/j.issn.0252-3116.2003.06.003"}
    assert texts(q, "i:publicationInfo/i:publicationDate") == ["2003"]
    where = "i:requestedDeliveryInfo/i:address/i:electronicAddress/i:"
    assert (texts(q, where + "electronicAddressType"), texts(q, where + "electronicAddressData")) == (
        ["email"], ["ill@lib.tsinghua.edu.cn"])

    ex.send()
    (theirs,) = calis.list_requests(member="WHU", side="lender")
    got = calis.get(theirs["id"])
    assert (got["kind"], got["copy_method"], got["pages"], got["title"], got["author"]) == (
        m.COPY, "email", 4, "高校图书馆文献传递服务研究", "张三, 李四")
    assert got["citation_data"] == {k: v for k, v in ARTICLE.items() if k != "kind"} | {"kind": "article"}

    calis.act(got["id"], m.WILL, "s-whu")
    calis.deliver_copy(got["id"], "s-whu", pdf(4))  # WHU's staff upload the scan
    ex.send()
    assert balis.get(rid)["status"] == m.COPY_COMPLETED
    status = [valid(x) for x in ex.seen if b"supplyingAgencyMessage>" in x and b"CopyCompleted" in x]
    assert status and texts(status[-1], ".//i:deliveryInfo/i:sentVia") == ["Email"]
    for body in ex.seen:
        valid(body)


def test_a_copy_request_from_calis_becomes_a_copy_request_with_its_citation(ex):
    calis, balis = ex.store["calis"], ex.store["balis"]
    cid = calis.submit("c1", kind="copy", title=CHAPTER["article"], author="程根伟", rota=["WHU"],
                       citation_data=CHAPTER, copy_method="post")["id"]
    calis.act(cid, m.ANSWER_UNFILLED, "s-whu", reason="馆藏缺失")
    assert calis.get(cid)["lender"] == "BALIS"
    ex.send()
    (ours,) = balis.list_requests(member="THU", side="lender")
    r = balis.get(ours["id"])
    assert (r["kind"], r["copy_method"], r["pages"], r["borrower"], r["isbn"]) == (m.COPY, "post", 5, "CALIS",
                                                                                  "9787030075369")
    assert r["citation_data"] == {"kind": "chapter", "journal": "长江流域洪涝灾害与科技对策", "isbn": "9787030075369",
                                  "year": 1999, "pages": "32-36", "article": "1998年长江洪水的成因与减灾对策",
                                  "authors": ["程根伟"], "publisher": "科学出版社"}
    assert (r["title"], r["author"]) == ("1998年长江洪水的成因与减灾对策", "程根伟")
    balis.act(r["id"], m.WILL, "s-thu")
    balis.act(r["id"], m.SHIP, "s-thu")  # printed and posted: shipped as before
    ex.send()
    assert calis.get(cid)["status"] == m.COPY_COMPLETED
    sent = [valid(x) for x in ex.seen if b"supplyingAgencyMessage>" in x and b"CopyCompleted" in x]
    assert texts(sent[-1], ".//i:deliveryInfo/i:sentVia") == ["Mail"]
    asked = [valid(x) for x in ex.seen if b"<request>" in x or b":request>" in x or b"<request " in x]
    assert asked and texts(asked[0], ".//i:serviceInfo/i:preferredFormat") == ["printed"]
    for body in ex.seen:
        valid(body)
