"""Real ReShare messages (../shared/data/ils-responses/iso18626/) at balis's ISO 18626 endpoint: each accepted or
refused as the standard says, with the confirmation the standard gives; and a filled-in ReShare template moving a
request of ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from ill import Store
from ill import isomessages as im
from ill import machine as m
from ill.peers import receive
from members import load_registry

SAMPLES = Path("/work/shared/data/ils-responses/iso18626")
SECRET = "reshare-secret"
REGISTRY = """
[[member]]
code = "TEMPLE"
name = "Temple (test member)"
agency_id = "RESHARE:TEMPLEI"
[[member]]
code = "NIA"
name = "NIA1 (test member)"
agency_id = "DMMY:NIA1"
[[member]]
code = "ONE"
name = "agencyIdValue1 (test member)"
agency_id = "agencyIdType1:agencyIdValue1"

[[peers]]
code = "RESHARE"
name = "A ReShare node"
agency_id = "RESHARE:MILL"
agencies = ["DMMY:NIA2", "agencyIdType2:*", "ISIL:*"]
endpoint = "http://reshare.test/iso18626"
secret_env = "BALIS_TEST_RESHARE_SECRET"
"""

# file: (confirmation, messageStatus, errorType or None, words in errorValue)
EXPECTED = {
    # requests balis takes: a lender of ours is the supplying agency, the requester a peer
    "case1_request.xml": ("requestConfirmation", "OK", None, ""),  # 1.0 header, no multipleItemRequestId
    "illmockrequest.xml": ("requestConfirmation", "OK", None, ""),
    "request.xml": ("requestConfirmation", "OK", None, ""),  # a bare <request>, +0000 offsets, a Copy
    # a PatronRequest to a broker names no supplying agency: the v1.2 header requires one
    "patronRequest.xml": ("requestConfirmation", "ERROR", "BadlyFormedMessage", "supplyingAgencyId"),
    "patronRequestRetry.xml": ("requestConfirmation", "ERROR", "BadlyFormedMessage", "supplyingAgencyId"),
    # StatusRequest on the request of request.xml (sent before it here)
    "requestingAgencyMessage.xml": ("requestingAgencyMessageConfirmation", "OK", None, ""),
    # from our own member's agency, not a peer's: refused, unauthenticated
    "supplyingAgencyMessage.xml": ("supplyingAgencyMessageConfirmation", "ERROR", "UnrecognisedDataValue",
                                   "supplyingAgencyId agencyIdType1:agencyIdValue1"),
    # templates with placeholders, and messages missing what the standard requires
    "cancelResponseReplyNoTemplate.xml": ("supplyingAgencyMessageConfirmation", "ERROR", "BadlyFormedMessage",
                                          "statusInfo"),
    "statusChangeExpectToSupplyTemplate.xml": ("supplyingAgencyMessageConfirmation", "ERROR", "BadlyFormedMessage",
                                               "namespace"),
    "statusChangeUnfilledTemplate.xml": ("supplyingAgencyMessageConfirmation", "ERROR", "BadlyFormedMessage",
                                         "namespace"),
    "supplyingAgencyMessage_statusChange.xml": ("supplyingAgencyMessageConfirmation", "ERROR", "BadlyFormedMessage",
                                                "status_holder"),
    "unfilledNotification.xml": ("supplyingAgencyMessageConfirmation", "ERROR", "BadlyFormedMessage",
                                 "timestamp_holder"),
    # confirmations answer a message; posted on their own they are refused
    "requestConfirmation.xml": ("requestConfirmation", "ERROR", "BadlyFormedMessage", "not posted"),
    "requestingAgencyMessageConfirmation.xml": ("requestConfirmation", "ERROR", "BadlyFormedMessage", "not posted"),
    "supplyingAgencyMessageConfirmation.xml": ("requestConfirmation", "ERROR", "BadlyFormedMessage", "not posted"),
}
ORDER = sorted(EXPECTED, key=lambda f: f != "request.xml")  # request.xml before the StatusRequest about it


@pytest.fixture
def endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("BALIS_TEST_RESHARE_SECRET", SECRET)
    (tmp_path / "registry.toml").write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(tmp_path / "registry.toml")
    with Store(tmp_path / "ill.sqlite", registry=registry) as store:
        yield store, registry


def test_every_sample_is_listed():
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(EXPECTED)


def test_each_reshare_sample_is_accepted_or_refused_as_the_standard_says(endpoint):
    store, registry = endpoint
    for name in ORDER:
        kind, status, error, words = EXPECTED[name]
        answer = receive(store, registry, (SAMPLES / name).read_bytes(), SECRET)
        conf = im.read(answer.body)  # every confirmation validates against the schema
        got = (conf.kind, conf.text("confirmationHeader/messageStatus"), conf.text("errorData/errorType"))
        assert got == (kind, status, error), name
        assert words in (conf.text("errorData/errorValue") or ""), (name, conf.text("errorData/errorValue"))
    lent = {r["lender"]: r for r in store.list_requests()}
    assert sorted(lent) == ["NIA", "ONE", "TEMPLE"]
    one = lent["ONE"]  # a Copy: the part asked for is the request's title, the rest its structured citation
    assert (one["kind"], one["title"], one["author"], one["borrower"]) == (m.COPY, "titleOfComponent1",
                                                                          "authorOfComponent1", "RESHARE")
    cited = store.get(one["id"])["citation_data"]
    assert {k: cited.get(k) for k in ("journal", "article", "volume", "issue", "pages", "publisher")} == {
        "journal": "title1", "article": "titleOfComponent1", "volume": "volume1", "issue": "issue1",
        "pages": "pagesRequested1", "publisher": "publisher1"}
    assert lent["TEMPLE"]["status"] == m.REQUEST_RECEIVED and "27345786" in lent["TEMPLE"]["citation"]
    assert lent["NIA"]["isbn"] == "1884" and lent["NIA"]["author"] == "Junior Tooken"


def test_the_same_request_twice_is_one_request_with_one_confirmation(endpoint):
    store, registry = endpoint
    body = (SAMPLES / "case1_request.xml").read_bytes()
    first, again = receive(store, registry, body, SECRET), receive(store, registry, body, SECRET)
    assert first.body == again.body and len(store.list_requests()) == 1


def test_a_filled_in_reshare_unfilled_notification_ends_our_request_with_its_reason(endpoint, tmp_path):
    store, registry = endpoint
    store.add_user("r1", "reader", "ONE")
    rid = store.submit("r1", title="敦煌学概论", work_id="w-1", rota=["TEMPLE"])["id"]
    store.act(rid, m.ANSWER_UNFILLED, _staff(store, "TEMPLE"), reason="已外借")  # the rota ends: to the peer
    assert store.get(rid)["lender"] == "RESHARE"
    text = (SAMPLES / "unfilledNotification.xml").read_text(encoding="utf-8")
    for hole, value in (("supplierSymbol_holder", "MILL"), ("requesterSymbol_holder", "ONE"),
                        ("requestId_holder", f"BALIS-{rid}"), ("timestamp_holder", "2026-11-20T08:00:00.123456Z")):
        text = text.replace(hole, value)
    answer = receive(store, registry, text.encode(), SECRET)  # ISIL:* is among the peer's agencies
    conf = im.read(answer.body)
    assert (answer.status, conf.text("confirmationHeader/messageStatus")) == (200, "OK")
    assert conf.text("reasonForMessage") == "Notification"
    r = store.get(rid)
    assert r["status"] == m.UNFILLED and "can't find it after all" in r["reader_message"]
    assert receive(store, registry, text.encode(), SECRET).body == answer.body  # again: the same, nothing more
    assert [h["action"] for h in store.history(rid)].count(m.ANSWER_UNFILLED) == 2  # TEMPLE's, then the peer's


def _staff(store: Store, code: str) -> str:
    store.add_user(f"s-{code.lower()}", "staff", code)
    return f"s-{code.lower()}"
