"""我的消息 and the desk's notices over HTTP, the mail setting, member contacts on the request pages, and the
portal mailing the outbox by itself through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from html import unescape
from pathlib import Path

import pytest

from ill import Store, outbox
from ill import machine as m
from ill.mail import MailConfig
from members import load_registry
from portal import messages
from portal.auth import set_password
from tests.ill.smtpd import SmtpServer, free_port
from tests.portal.reader_helpers import PASSWORD, Clock, make_store, sign_in, token


@pytest.fixture
def registry(bed, portal_registry_path, tmp_path):
    """The portal tests' registry, NLC's ILL desk with its office and hours too."""
    path = tmp_path / "registry.toml"
    path.write_text(portal_registry_path.read_text(encoding="utf-8").replace(
        'name = "馆际互借组"\n', 'office = "总馆一层 馆际互借处"\nname = "馆际互借组"\nhours = "周一至周五 9:00-17:00"\n'),
        encoding="utf-8")
    return load_registry(path)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    s = make_store(clock)
    set_password(s, "S-PKU", PASSWORD)
    yield s
    s.close()


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def test_the_reader_reads_notices_under_my_messages_and_marks_them_read(make_client, store):
    client = await make_client(store=store)
    rid = store.submit("R-NLC-1", title="红楼梦", work_id="W0123456789abcdef", rota=["PKU"])["id"]
    store.act(rid, m.ANSWER_UNFILLED, "S-PKU", reason="在修补")
    await sign_in(client, "R-NLC-1")
    home = await (await client.get("/")).text()
    assert 'id="nav-messages"' in home and "我的消息" in home
    page = await client.get("/messages")
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    html = await page.text()
    text = _text(html)
    assert "2 条未读" in text
    assert f"申请单 {rid} 已发出" in text and f"申请单 {rid} 未能满足" in text
    assert "北京大学" in text and "在修补" in text and "What to do next" not in text  # the page's language only
    english = _text(await (await client.get("/messages", params={"lang": "en"})).text())
    assert f"Request {rid}: sent" in english and "What to do next" in english and "未能满足" not in english
    assert "010-88545426" in text  # the reader's own library's ILL desk (NLC's contact in the registry)
    assert f'href="/requests/{rid}"' in html
    r = await client.post("/messages/read", data={"csrf_token": token(html)}, allow_redirects=False)
    assert r.status == 303
    assert "条未读" not in _text(await (await client.get("/messages")).text())
    assert outbox.unread(store, "R-NLC-1") == 0
    await sign_in(client, "R-NLC-2")  # another reader sees none of them
    assert "还没有消息" in _text(await (await client.get("/messages")).text())


async def test_each_user_sets_a_mail_address_or_turns_mail_off(make_client, store):
    client = await make_client(store=store)
    await sign_in(client, "R-NLC-1")
    html = await (await client.get("/messages")).text()
    r = await client.post("/messages/settings", data={"csrf_token": token(html), "email": "zhang@example.org",
                                                      "email_notices": "on"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/messages?saved=1"
    me = store.user("R-NLC-1")
    assert (me["email"], me["email_notices"]) == ("zhang@example.org", True)
    html = await (await client.get("/messages?saved=1")).text()
    assert 'value="zhang@example.org"' in html and "已保存" in html
    r = await client.post("/messages/settings", data={"csrf_token": token(html), "email": "zhang@example.org"})
    assert r.status == 200 and store.user("R-NLC-1")["email_notices"] is False  # unticked: mail off
    r = await client.post("/messages/settings", data={"csrf_token": token(html), "email": "not an address",
                                                      "email_notices": "on"})
    assert r.status == 422 and "not a mail address" in await r.text()
    assert store.user("R-NLC-1")["email"] == "zhang@example.org"
    signed_out = await make_client(store=store)
    r = await signed_out.get("/messages", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login")


async def test_staff_see_their_librarys_notices_on_the_desk_and_the_other_librarys_contact(make_client, store):
    client = await make_client(store=store)
    rid = store.submit("R-NLC-1", title="水浒传", work_id="W0123456789abcdef", rota=["PKU"])["id"]
    await sign_in(client, "S-PKU")
    desk = await (await client.get("/desk")).text()
    assert 'id="desk-notices"' in desk and f'href="/desk/requests/{rid}"' in desk
    assert f"申请单 {rid} 新申请" in _text(desk) and "Request" not in _text(desk)
    assert "全部消息（1 条未读）" in _text(desk)
    page = _text(await (await client.get(f"/desk/requests/{rid}")).text())
    assert "国家图书馆 馆际互借处联系方式" in page and "010-88545426" in page and "北京市海淀区中关村南大街33号" in page
    await sign_in(client, "R-NLC-1")  # the reader's request page names where to collect and return books
    mine = _text(await (await client.get(f"/requests/{rid}")).text())
    assert "取书和还书：国家图书馆馆际互借处" in mine and "ill@example.org" in mine
    assert "总馆一层 馆际互借处" in mine and "开放时间: 周一至周五 9:00-17:00" in mine
    members = _text(await (await client.get("/members")).text())
    assert "总馆一层 馆际互借处" in members and "周一至周五 9:00-17:00" in members
    store.act(rid, m.WILL, "S-PKU")
    store.act(rid, m.SHIP, "S-PKU")
    store.act(rid, m.RECEIVED, "S-NLC")
    ready = outbox.for_user(store, "R-NLC-1")[0]
    assert ready["kind"] == "ready" and "请到总馆一层 馆际互借处取书" in ready["body"]
    assert "开放时间 Hours: 周一至周五 9:00-17:00" in ready["body"]


async def test_the_portal_mails_the_outbox_by_itself_and_a_state_change_never_waits_for_mail(
        make_client, store, monkeypatch):
    monkeypatch.setattr(messages, "SEND_EVERY", 0.2)
    server = SmtpServer()  # not started yet: the mail server is down when the portal starts
    config = MailConfig.parse(f"smtp://127.0.0.1:{server.port}", "BALIS <ill@balis.example.org>",
                              portal_url="https://ill.example.org")
    client = await make_client(store=store, mail=config)
    outbox.set_email(store, "R-NLC-1", address="zhang@example.org")
    rid = store.submit("R-NLC-1", title="西游记", work_id="W0123456789abcdef", rota=["PKU"])["id"]
    await sign_in(client, "R-NLC-1")
    assert (await client.get("/messages")).status == 200  # the portal answers while mail waits
    await _until(lambda: outbox.outbox(store, user="R-NLC-1")[0]["attempts"] >= 1)
    store.clock.advance(minutes=2)  # the retry is due
    server.start()
    try:
        await _until(lambda: server.inbox.to("zhang@example.org"))
        [msg] = server.inbox.to("zhang@example.org")
        assert msg["Subject"] == f"[BALIS 馆际互借] 申请单 {rid} 已发出 / Request {rid}: sent"
        assert f"https://ill.example.org/requests/{rid}" in msg.get_content()
        await asyncio.sleep(0.6)
        assert len(server.inbox.to("zhang@example.org")) == 1  # once
    finally:
        server.stop()


async def _until(check, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out waiting")


def test_balis_serve_mails_through_the_configured_server_and_never_shows_its_password(portal_registry_path,
                                                                                     tmp_path):
    db = tmp_path / "ill.sqlite"
    with Store(db) as s:
        s.add_user("R1", "reader", "NLC")
        s.add_user("S1", "staff", "PKU")
        outbox.set_email(s, "R1", address="r1@example.org")
        s.submit("R1", title="西游记", work_id="W0123456789abcdef", rota=["PKU"])
    down = free_port()
    env = {**os.environ, "BALIS_DB": str(db), "BALIS_MAIL_FROM": "BALIS <ill@balis.example.org>"}
    proc = subprocess.Popen([sys.executable, "-m", "balis.cli", "serve", "--port", "0", "--registry",
                             str(portal_registry_path), "--smtp-url", f"smtp://balis:topsecret@127.0.0.1:{down}"],
                            cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Store(db) as s:
                if any(x["attempts"] for x in outbox.outbox(s)):
                    break
            time.sleep(0.3)
        else:
            raise AssertionError("the portal's mailer never tried")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"notices mailed through smtp://balis:***@127.0.0.1:{down}" in out
    assert "cannot be reached" in err and "topsecret" not in out + err
