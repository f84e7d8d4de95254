"""Document delivery in the store (原文传递): the consortium's and the suppliers' page limits refuse a request with
their reason; the supplier's scan is checked (a real PDF, a size limit), kept outside the web root and served only
to the reader who asked; the request becomes CopyCompleted with its price, subsidy and reader's share; the link
expires after the registry's days or downloads and the clock deletes the file, with the deletion in the audit log.
Real stores (SQLite file and PostgreSQL), real PDFs (pypdf), the shipped registry."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ill import Store
from ill import machine as m
from ill.errors import InvalidRequest, NotAllowed, RuleViolation
from ill.outbox import for_user
from members import load_registry

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "config" / "members.toml")
ARTICLE = {"kind": "article", "journal": "图书情报工作", "issn": "0252-3116", "year": 2003, "volume": "24",
           "issue": "6", "pages": "12-15", "article": "高校图书馆文献传递服务研究"}


def pdf(pages: int = 4) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def dd(db_url, clock, tmp_path):
    s = Store(db_url, clock=clock, registry=REGISTRY, copies=tmp_path / "copies")
    for uid, role, member in (("r1", "reader", "THU"), ("r2", "reader", "THU"), ("pku", "staff", "PKU"),
                              ("ruc", "staff", "RUC"), ("thu", "staff", "THU"), ("admin", "admin", None)):
        s.add_user(uid, role, member, now=clock.now)
    yield s
    s.close()


def submit(store, pages="12-15", rota=("PKU",), method="download", **more):
    return store.submit("r1", kind="copy", title=ARTICLE["article"], rota=list(rota),
                        citation_data={**ARTICLE, "pages": pages, **more}, copy_method=method)


def test_the_consortiums_page_limits_refuse_with_the_reason(dd):
    with pytest.raises(RuleViolation, match="最多 50 页") as exc:
        submit(dd, pages="1-60")
    assert exc.value.code == "too_many_pages"
    with pytest.raises(RuleViolation, match="10.0 %") as exc:  # 30 pages of a 200-page book is more than 10 %
        submit(dd, pages="1-30", book_pages=200)
    assert exc.value.code == "too_much_of_book"
    assert submit(dd, pages="1-20", book_pages=200)["pages"] == 20
    with pytest.raises(InvalidRequest, match="fax"):
        submit(dd, method="fax")


def test_a_supplier_over_its_own_limit_leaves_the_rota_and_none_left_is_refused(dd):
    r = submit(dd, pages="1-40", rota=("RUC", "PKU"))  # RUC: at most 30 pages a request
    assert [e["member"] for e in r["rota"]] == ["PKU"] and "RUC: 每次最多 30 页" in r["rota"][0]["reason"]
    with pytest.raises(RuleViolation, match="RUC") as exc:
        submit(dd, pages="1-40", rota=("RUC",))
    assert exc.value.code == "no_supplier"
    with pytest.raises(RuleViolation, match="RUC: 不提供打印后邮寄"):  # RUC does not post printed copies
        submit(dd, rota=("RUC",), method="post")


def test_staff_routing_a_copy_keep_to_the_suppliers_limits(dd):
    rid = dd.submit("r1", kind="copy", title="无 ISSN 的论文", citation_data={**ARTICLE, "pages": "1-40"})["id"]
    with pytest.raises(RuleViolation, match="RUC: 每次最多 30 页"):
        dd.act(rid, m.ROUTE, "thu", rota=["RUC"])
    assert dd.act(rid, m.ROUTE, "thu", rota=["RUC", "PKU"])["lender"] == "PKU"


def test_the_price_before_confirming_is_the_registrys(dd):
    q = dd.quote_copy("THU", "PKU", 4)  # PKU: 1.00 + 4 x 0.30 = 2.20; the centre pays up to 3.00
    assert (q.price_fen, q.subsidy_fen, q.reader_fen) == (220, 220, 0)
    q = dd.quote_copy("THU", "RUC", 30)  # RUC: 2.00 + 30 x 0.25 = 9.50
    assert (q.price_fen, q.subsidy_fen, q.reader_fen) == (950, 300, 650)


def test_upload_completes_the_copy_tells_the_reader_and_only_they_download_it(dd, clock, tmp_path):
    rid = submit(dd, rota=("RUC",))["id"]
    dd.act(rid, m.WILL, "ruc")
    with pytest.raises(RuleViolation, match="上传扫描件"):  # the reader asked for the scan: ship needs it
        dd.act(rid, m.SHIP, "ruc")
    with pytest.raises(InvalidRequest, match="只接受 PDF"):
        dd.deliver_copy(rid, "ruc", b"GIF89a not a scan")
    with pytest.raises(InvalidRequest, match="已损坏"):
        dd.deliver_copy(rid, "ruc", b"%PDF-1.7\n1 0 obj garbage")
    with pytest.raises(InvalidRequest, match="超过 30 MB"):
        dd.deliver_copy(rid, "ruc", b"%PDF-" + b"0" * 31_000_000)
    with pytest.raises(NotAllowed):
        dd.deliver_copy(rid, "pku", pdf())
    assert list((tmp_path / "copies").glob("*")) == [] and dd.get(rid)["status"] == m.WILL_SUPPLY

    r = dd.deliver_copy(rid, "ruc", pdf(5))
    assert r["status"] == m.COPY_COMPLETED and r["pages"] == 5  # the scan's pages, not the cited 4
    assert (r["fee_fen"], r["subsidy_fen"], r["reader_fen"]) == (325, 300, 25)  # 2.00 + 5 x 0.25
    stored = tmp_path / "copies" / r["copy_file"]
    assert stored.read_bytes().startswith(b"%PDF-") and oct(stored.stat().st_mode & 0o777) == "0o600"
    notice = next(n for n in for_user(dd, "r1") if n["kind"] == "delivered")
    assert "我的申请" in notice["body"] and "最多下载 5 次" in notice["body"]

    with pytest.raises(NotAllowed):
        dd.download_copy(rid, "r2")
    assert dd.download_copy(rid, "r1") == stored
    assert [e["action"] for e in dd.history(rid)][-2:] == ["ship", "download"]


def test_the_link_expires_by_downloads_and_by_days_and_the_clock_deletes_the_file(dd, clock, tmp_path):
    first = submit(dd)["id"]
    second = submit(dd, pages="16-18")["id"]
    for rid in (first, second):
        dd.act(rid, m.WILL, "pku")
        dd.deliver_copy(rid, "pku", pdf(3))
    for _ in range(5):
        dd.download_copy(first, "r1")
    with pytest.raises(RuleViolation, match="达到上限"):
        dd.download_copy(first, "r1")
    gone = dd.tick()
    assert [(c["id"], c["action"]) for c in gone] == [(first, "copy_deleted")]
    assert len(list((tmp_path / "copies").glob("*.pdf"))) == 1

    clock.advance(days=14, minutes=1)
    with pytest.raises(RuleViolation, match="过期"):
        dd.download_copy(second, "r1")
    assert [c["id"] for c in dd.tick()] == [second]
    assert list((tmp_path / "copies").glob("*.pdf")) == []
    last = dd.history(second)[-1]
    assert last["action"] == "copy_deleted" and last["actor"] == "system" and "过期" in last["reason"]
    with pytest.raises(RuleViolation, match="删除"):
        dd.download_copy(second, "r1")
    assert dd.tick() == []


def test_the_subsidy_stops_at_the_members_yearly_budget(db_url, clock, tmp_path):
    registry = replace(REGISTRY, copy=replace(REGISTRY.copy, subsidy_budget=5.0))
    s = Store(db_url, clock=clock, registry=registry, copies=tmp_path / "c")
    s.add_user("r1", "reader", "THU", now=clock.now)
    s.add_user("pku", "staff", "PKU", now=clock.now)
    paid = []
    for _ in range(3):
        rid = s.submit("r1", kind="copy", title="t", rota=["PKU"], citation_data=ARTICLE, copy_method="post")["id"]
        s.act(rid, m.WILL, "pku")
        r = s.act(rid, m.SHIP, "pku")  # posted: shipped as before, charged for the cited 4 pages
        paid.append((r["fee_fen"], r["subsidy_fen"], r["reader_fen"]))
    assert paid == [(220, 220, 0), (220, 220, 0), (220, 60, 160)]  # 5.00 a year: 2.20 + 2.20 + 0.60
    clock.advance(days=100)  # a new year (2026): a new budget
    assert s.quote_copy("THU", "PKU", 4).subsidy_fen == 220
    s.close()


def test_a_rolled_back_delivery_takes_the_charges_and_the_scan_back(dd, tmp_path):
    rid = submit(dd, method="post")["id"]
    dd.act(rid, m.WILL, "pku")
    assert dd.act(rid, m.SHIP, "pku")["fee_fen"] == 220
    r = dd.rollback(rid, "admin", "wrong request")
    assert r["status"] == m.WILL_SUPPLY and r["fee_fen"] is None and r["subsidy_fen"] is None
    rid = submit(dd)["id"]
    dd.act(rid, m.WILL, "pku")
    dd.deliver_copy(rid, "pku", pdf(2))  # the wrong article was scanned
    r = dd.rollback(rid, "admin", "wrong article scanned")
    assert r["status"] == m.WILL_SUPPLY and r["copy_file"] is None
    assert list((tmp_path / "copies").glob("*.pdf")) == []  # nobody can download the wrong scan
    assert dd.deliver_copy(rid, "pku", pdf(3))["pages"] == 3


def test_a_copy_asked_for_by_email_is_mailed_as_an_attachment_within_the_size_limit(db_url, clock, tmp_path):
    from ill import mail, outbox
    from ill.mail import MailConfig
    from tests.ill.smtpd import SmtpServer

    small = replace(REGISTRY, copy=replace(REGISTRY.copy, email_max_mb=0.002))  # 2,000 bytes
    s = Store(db_url, clock=clock, registry=small, copies=tmp_path / "copies")
    for uid, role, member in (("r1", "reader", "THU"), ("pku", "staff", "PKU")):
        s.add_user(uid, role, member, now=clock.now)
    outbox.set_email(s, "r1", address="r1@mails.tsinghua.edu.cn")
    scans = {}
    for pages in (1, 40):  # about 700 bytes: attached; about 16 kB: over the limit, download only
        rid = s.submit("r1", kind="copy", title=f"{pages} 页", rota=["PKU"], citation_data=ARTICLE,
                       copy_method="email")["id"]
        s.act(rid, m.WILL, "pku")
        scans[rid] = pdf(pages)
        s.deliver_copy(rid, "pku", scans[rid])
    server = SmtpServer().start()
    try:
        config = MailConfig.parse(f"smtp://127.0.0.1:{server.port}", "BALIS <ill@balis.example.org>")
        assert mail.deliver(s, config).sent >= 2
        letters = [msg for msg in server.inbox.to("r1@mails.tsinghua.edu.cn") if "扫描件" in msg.get_body(
            ("plain",)).get_content()]
    finally:
        server.stop()
    by_title = {("《1 页》" in msg.get_body(("plain",)).get_content()): msg for msg in letters}
    attached = [p for p in by_title[True].iter_attachments()]
    assert len(attached) == 1 and attached[0].get_content_type() == "application/pdf"
    assert attached[0].get_content() == scans[min(scans)]
    assert "附件" in by_title[True].get_body(("plain",)).get_content()
    assert list(by_title[False].iter_attachments()) == []  # too large to mail: the notice says to download it
    assert "附件" not in by_title[False].get_body(("plain",)).get_content()
    s.close()
