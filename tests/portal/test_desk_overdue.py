"""Overdue and recall: the daily tick (`balis request tick --send`) marks loans past their due date overdue and
mails the reader through a real SMTP server on loopback (aiosmtpd), once; the lender recalls a loan from the
desk with a reason, on its request page or several at once, and the reader is told, with that reason, under
我的消息 and by mail."""

from __future__ import annotations

import asyncio
import json
import re
from html import unescape

import pytest

from balis.cli import main
from ill import machine as m
from ill import outbox
from ill.store import Store
from tests.ill.smtpd import SmtpServer
from tests.portal.deskkit import act_page, ago, sign_in, users


@pytest.fixture
def codes(registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


@pytest.fixture
def store(codes):
    s = Store()  # $BALIS_DB: this test's own file, which `balis request tick` opens too
    users(s, *codes)
    yield s
    s.close()


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def _lent(store: Store, reader: str, lender: str, borrower_staff: str, lender_staff: str, *, days_ago: int) -> int:
    """A loan lent to `reader` `days_ago` days ago (the loan period is one month)."""
    rid = store.submit(reader, title=f"书 {reader}", author="作者", work_id=f"W{days_ago:016x}", rota=[lender],
                       now=ago(days=days_ago + 5))["id"]
    for action, actor in ((m.WILL, lender_staff), (m.SHIP, lender_staff), (m.RECEIVED, borrower_staff),
                          (m.LEND, borrower_staff)):
        store.act(rid, action, actor, now=ago(days=days_ago))
    return rid


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _tick(capsys, registry_path, *extra: str) -> dict:
    code = main(["request", "tick", "--json", "--registry", str(registry_path), *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


async def test_the_tick_marks_overdue_and_mails_the_reader_once(make_client, store, codes, smtp, capsys,
                                                                portal_registry_path):
    a, b, c = codes
    late = _lent(store, "ra1", b, "sa", "sb", days_ago=40)
    in_time = _lent(store, "ra2", b, "sa", "sb", days_ago=3)
    outbox.set_email(store, "ra1", address="ra1@example.org")
    mail = ["--send", "--smtp-url", f"smtp://127.0.0.1:{smtp.port}", "--mail-from", "ill@balis.example.org"]
    doc = _tick(capsys, portal_registry_path, *mail)
    assert [(x["id"], x["to"]) for x in doc["changes"]] == [(late, m.OVERDUE)]
    assert doc["mail"]["sent"] >= 1
    assert store.get(late)["status"] == m.OVERDUE and store.get(in_time)["status"] == m.LOANED
    overdue = [msg for msg in smtp.inbox.to("ra1@example.org") if "已超期" in msg["Subject"]]
    assert len(overdue) == 1
    body = overdue[0].get_body(preferencelist=("plain",)).get_content()
    assert f"申请单 {late}" in body and "overdue" in body
    # the next day's tick changes nothing and mails nothing again
    again = _tick(capsys, portal_registry_path, *mail)
    assert again["changes"] == [] and len([x for x in smtp.inbox.to("ra1@example.org")
                                           if "已超期" in x["Subject"]]) == 1
    # both desks see it in their overdue queue; the reader under 我的消息
    desk = await make_client(store=store, logins_per_minute=10_000)
    for staff in ("sa", "sb"):
        await sign_in(desk, staff)
        queues = await (await desk.get("/api/desk/queues")).json()
        assert [r["id"] for r in queues["queues"]["overdue"]["requests"]] == [late]
    await sign_in(desk, "ra1")
    assert "已超期" in _text(await (await desk.get("/messages")).text())


async def test_the_tick_without_a_mail_server_says_what_to_give(store, codes, capsys, portal_registry_path,
                                                               monkeypatch):
    monkeypatch.delenv("BALIS_SMTP_URL", raising=False)
    code = main(["request", "tick", "--send", "--registry", str(portal_registry_path)])
    _, err = capsys.readouterr()
    assert code == 2 and "--smtp-url" in err and "BALIS_SMTP_URL" in err


async def test_the_lender_recalls_from_the_desk_and_the_reader_is_told_why(make_client, store, codes):
    a, b, c = codes
    overdue = _lent(store, "ra1", b, "sa", "sb", days_ago=40)
    store.tick()
    reading = _lent(store, "ra2", b, "sa", "sb", days_ago=2)
    coming = store.submit("ra3", title="书 在途", work_id="W00000000000000aa", rota=[b])["id"]
    store.act(coming, m.WILL, "sb")
    store.act(coming, m.SHIP, "sb")
    desk = await make_client(store=store, logins_per_minute=10_000)
    token = await sign_in(desk, "sb")

    # on the request page: the confirm step asks for the reason, which the reader is told
    status, page = await act_page(desk, overdue, m.RECALL, reason="本馆教师急需，请于一周内归还")
    assert status == 303 and store.get(overdue)["status"] == m.RECALLED
    recalled = [x for x in outbox.for_user(store, "ra1") if x["kind"] == "recalled"]
    assert len(recalled) == 1 and "本馆教师急需，请于一周内归还" in recalled[0]["body"]
    assert "召回" in store.get(overdue)["reader_message"]

    # several at once from the loans-out queue: each through the workflow
    r = await desk.post("/api/desk/actions", headers={"X-CSRF-Token": token},
                        json={"action": m.RECALL, "reason": "学期末清点", "requests": [reading, coming, overdue]})
    doc = await r.json()
    got = {x["id"]: x for x in doc["results"]}
    assert got[reading]["ok"] and got[coming]["ok"]
    assert got[overdue]["code"] == "not_now"  # recalled already
    assert store.get(coming)["status"] == m.RECALLED and store.get(coming)["phase"] == m.TRANSIT
    for reader in ("ra2", "ra3"):
        assert any("学期末清点" in x["body"] for x in outbox.for_user(store, reader) if x["kind"] == "recalled")

    # the borrowing library may not recall: it is the lender's right
    other = _lent(store, "ra4", b, "sa", "sb", days_ago=1)
    token = await sign_in(desk, "sa")
    r = await desk.post("/api/desk/actions", headers={"X-CSRF-Token": token},
                        json={"action": m.RECALL, "requests": [other]})
    refused = (await r.json())["results"][0]
    assert refused["code"] == "not_yours" and "借出馆馆员" in refused["message"]
    assert store.get(other)["status"] == m.LOANED

    # the reader reads it under 我的消息
    await sign_in(desk, "ra1")
    text = _text(await (await desk.get("/messages")).text())
    assert "召回" in text and "本馆教师急需" in text



async def test_the_portals_own_clock_marks_overdue_and_tells_the_reader(registry, store, codes):
    from aiohttp.test_utils import TestServer

    from portal import create_app
    from portal.clock import setup_clock

    a, b, c = codes
    late = _lent(store, "ra1", b, "sa", "sb", days_ago=40)
    app = create_app(registry, store=store)
    setup_clock(app, 0.2)  # `balis serve --tick-every` gives minutes
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        for _ in range(300):  # the first tick runs at start-up; wait for it, at most a minute
            if store.get(late)["status"] == m.OVERDUE:
                break
            await asyncio.sleep(0.2)
    finally:
        await server.close()
    assert store.get(late)["status"] == m.OVERDUE
    assert [x["kind"] for x in outbox.for_user(store, "ra1")].count("overdue") == 1


def test_serve_refuses_a_clock_interval_out_of_range(capsys, portal_registry_path):
    assert main(["serve", "--tick-every", "-5", "--registry", str(portal_registry_path)]) == 2
    assert "--tick-every" in capsys.readouterr().err
