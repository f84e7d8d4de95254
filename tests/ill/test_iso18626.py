"""ISO 18626 round trip: export, validate against the standard's schema, import into a fresh store, same state."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from ill import InvalidRequest, NotAllowed, RuleViolation, Store
from ill import machine as m
from ill.iso18626 import NS, export_request, import_request
from ill.rota import Lender

XSD = Path(__file__).resolve().parents[1] / "data" / "schemas" / "ISO-18626-v1_2.xsd"
SKIP = {"id", "version"}


@pytest.fixture(scope="module")
def iso_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def _same(a: dict, b: dict) -> None:
    assert {k: v for k, v in a.items() if k not in SKIP} == {k: v for k, v in b.items() if k not in SKIP}


def _scenarios(store):
    """Requests in many states: pending manual, at a lender, forwarded, lent, completed, unfilled, copy."""
    ids = [store.submit("p1", citation="王力. 古代汉语. 中华书局, 1999")["id"]]
    ids.append(store.submit("r1", title="数据结构", author="严蔚敏", work_id="w-1", price=35,
                            rota=[Lender("PKU", "在架可借", holding="TP311.12/Y", record_id="pku-77"),
                                  Lender("RUC", "满足率高")])["id"])
    lent = store.submit("r1", title="算法导论", work_id="w-2", rota=["PKU", "RUC"])["id"]
    store.act(lent, m.ANSWER_UNFILLED, "pku", reason="已外借")
    for actor, action in (("ruc", m.WILL), ("ruc", m.SHIP), ("thu", m.RECEIVED), ("thu", m.LEND)):
        store.act(lent, action, actor)
    ids.append(lent)
    done = store.submit("r2", title="红楼梦", work_id="w-3", rota=["CUPL"])["id"]
    for actor, action in (("cupl", m.EXPECT), ("cupl", m.SHIP), ("thu", m.RECEIVED), ("thu", m.SHIPPED_RETURN),
                          ("cupl", m.CHECK_IN)):
        store.act(done, action, actor)
    ids.append(done)
    unfilled = store.submit("r2", kind="copy", title="论文", work_id="w-4", rota=["RUC"])["id"]
    store.act(unfilled, m.ANSWER_UNFILLED, "ruc", reason="无此卷期")
    ids.append(unfilled)
    copy = store.submit("p1", kind="copy", title="论文二", work_id="w-5", rota=["RUC"])["id"]
    store.act(copy, m.WILL, "ruc")
    store.act(copy, m.SHIP, "ruc")
    ids.append(copy)
    return ids


def test_export_validates_and_imports_into_a_fresh_store_with_the_same_state(store, tmp_path, iso_schema):
    ids = _scenarios(store)
    fresh = Store(tmp_path / "fresh.sqlite")
    try:
        for rid in ids:
            docs = export_request(store, rid)
            assert len(docs) == (1 if store.get(rid)["status"] == m.PENDING else 2)
            for doc in docs:
                iso_schema.assertValid(etree.fromstring(doc))
            new = import_request(fresh, docs, actor="admin")
            _same(store.get(rid), fresh.get(new))
            assert [{k: v for k, v in leg.items() if k not in ("id", "request_id")} for leg in store.legs(rid)] == \
                   [{k: v for k, v in leg.items() if k not in ("id", "request_id")} for leg in fresh.legs(new)]
            assert fresh.history(new)[-1]["action"] == "import"
            assert f"BALIS-{rid}" in fresh.history(new)[-1]["reason"]
        # the imported loan goes on under the same rules; the import itself is not a change to roll back
        fresh.add_user("thu", "staff", "THU")
        fresh.add_user("admin", "admin")
        lent = next(r for r in fresh.list_requests() if r["title"] == "算法导论")
        with pytest.raises(RuleViolation, match="nothing to roll back"):
            fresh.rollback(lent["id"], "admin", "test")
        assert fresh.act(lent["id"], m.TAKE_BACK, "thu")["phase"] == m.RETURNED
        assert fresh.rollback(lent["id"], "admin", "误操作")["phase"] == m.READER
    finally:
        fresh.close()


def test_the_standard_fields_say_what_a_foreign_system_needs(store):
    rid = _scenarios(store)[2]
    request, status = (etree.fromstring(d) for d in export_request(store, rid))
    ns = {"i": NS}
    assert request.findtext("i:request/i:serviceInfo/i:serviceType", namespaces=ns) == "Loan"
    assert [e.text for e in request.findall("i:request/i:supplierInfo/i:supplierCode/i:agencyIdValue", ns)] == [
        "PKU", "RUC"]
    assert status.findtext("i:supplyingAgencyMessage/i:statusInfo/i:status", namespaces=ns) == "Loaned"
    assert status.findtext("i:supplyingAgencyMessage/i:header/i:supplyingAgencyId/i:agencyIdValue",
                           namespaces=ns) == "RUC"
    assert status.findtext("i:supplyingAgencyMessage/i:statusInfo/i:dueDate", namespaces=ns).endswith("Z")


def test_an_invalid_message_is_refused_with_its_line(store):
    doc = export_request(store, _scenarios(store)[1])[1].replace(b"<status>RequestReceived</status>",
                                                                 b"<status>Borrowed</status>")
    with pytest.raises(InvalidRequest, match="not a valid ISO 18626 message \\(line \\d+\\).*Borrowed"):
        import_request(store, [doc])
    with pytest.raises(InvalidRequest, match="not well-formed"):
        import_request(store, [b"<ISO18626Message"])


def _strip_note(doc: bytes) -> bytes:
    root = etree.fromstring(doc)
    for note in root.iter(f"{{{NS}}}note"):
        note.getparent().remove(note)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_a_foreign_systems_messages_import_from_the_standard_fields(store, clock, tmp_path, iso_schema):
    rid = store.submit("r1", title="算法导论", work_id="w-2", rota=["PKU", "RUC"])["id"]
    store.act(rid, m.WILL, "pku")
    request, status = export_request(store, rid)
    status = _strip_note(status)  # what a system without balis's note sends
    iso_schema.assertValid(etree.fromstring(status))
    fresh = Store(tmp_path / "fresh.sqlite", clock=clock)
    try:
        new = fresh.get(import_request(fresh, [request, status]))
        assert (new["status"], new["lender"], new["rota_index"], new["kind"]) == (m.WILL_SUPPLY, "PKU", 0, m.LOAN)
        assert new["ship_due"] is not None and [leg["outcome"] for leg in fresh.legs(new["id"])] == ["open"]
        fresh.add_user("pku", "staff", "PKU")
        assert fresh.act(new["id"], m.SHIP, "pku")["phase"] == m.TRANSIT  # staff carry it on
        # and the clock too: a supplier that never ships loses the request to the next lender
        other = fresh.get(import_request(fresh, [request, status]))
        clock.advance(days=30)
        assert [c["id"] for c in fresh.tick()] == [other["id"]]
        assert fresh.get(other["id"])["lender"] == "RUC"
    finally:
        fresh.close()


def test_only_centre_administrators_import_and_the_workflow_says_so(store, tmp_path):
    rid = store.submit("r1", title="数据结构", work_id="w-1", rota=["PKU"])["id"]
    docs = export_request(store, rid)
    fresh = Store(tmp_path / "fresh.sqlite")
    try:
        for uid, role, member in (("admin", "admin", None), ("pku", "staff", "PKU"), ("r9", "reader", "THU")):
            fresh.add_user(uid, role, member)
        assert fresh.may_import("admin").allowed
        for uid in ("pku", "r9"):
            verdict = fresh.may_import(uid)
            assert not verdict.allowed and verdict.code == "not_yours"
            with pytest.raises(NotAllowed, match="only centre administrators import requests"):
                import_request(fresh, docs, actor=uid, by_user=True)
        assert fresh.list_requests() == []
        new = import_request(fresh, docs, actor="admin", by_user=True)
        assert fresh.get(new)["title"] == "数据结构" and fresh.history(new)[0]["actor"] == "admin"
    finally:
        fresh.close()
