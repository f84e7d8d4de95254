"""Notices for readers and staff: written with the change that causes them, once, and mailed through a real SMTP
server on loopback (aiosmtpd), on SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from balis.cli import main
from ill import machine as m
from ill import mail, outbox
from ill.errors import RuleViolation
from ill.mail import MailConfig, MailError
from members import load_registry
from tests.ill.smtpd import SmtpServer, free_port, self_signed

REGISTRY = '''
[[member]]
code = "THU"
name = "清华大学"
name_en = "Tsinghua University"
[member.contact]
office = "图书馆北馆 B105 馆际互借处"
phone = "010-62782137"
email = "ill@lib.tsinghua.edu.cn"
address = "北京市海淀区清华园"
hours = "周一至周五 8:30-17:00"

[[member]]
code = "PKU"
name = "北京大学"
name_en = "Peking University"

[[member]]
code = "RUC"
name = "中国人民大学"
name_en = "Renmin University of China"

[[member]]
code = "CUPL"
name = "中国政法大学"
name_en = "China University of Political Science and Law"
'''
SENDER = "BALIS 馆际互借 <ill@balis.example.org>"


@pytest.fixture
def registry(tmp_path):
    path = tmp_path / "members.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    return load_registry(path)


@pytest.fixture
def notified(store, registry):
    """The test cast's store, knowing the members (names and contacts in notices); readers have addresses."""
    store.registry = registry
    outbox.set_email(store, "r1", address="r1@mails.tsinghua.edu.cn")
    outbox.set_email(store, "ruc", address="ill-staff@ruc.example.org")
    return store


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def kinds(store, user: str) -> list[str]:
    return [x["kind"] for x in reversed(outbox.for_user(store, user))]


def config(port: int, **kw) -> MailConfig:
    return MailConfig.parse(f"smtp://127.0.0.1:{port}", SENDER, portal_url="https://ill.balis.example.org", **kw)


def test_a_loan_tells_the_reader_each_step_and_the_lenders_staff_what_to_do(notified, clock):
    s = notified
    rid = s.submit("r1", title="红楼梦", work_id="W1", rota=["PKU", "RUC"])["id"]
    clock.advance(hours=1)
    s.act(rid, m.ANSWER_UNFILLED, "pku", reason="在修补")
    s.act(rid, m.WILL, "ruc")
    s.act(rid, m.SHIP, "ruc")
    s.act(rid, m.RECEIVED, "thu")
    s.act(rid, m.LEND, "thu")
    clock.advance(days=40)
    s.tick()
    s.act(rid, m.RECALL, "ruc", reason="本馆教师急需")
    s.act(rid, m.TAKE_BACK, "thu")
    s.act(rid, m.SHIPPED_RETURN, "thu")
    s.act(rid, m.CHECK_IN, "ruc")
    assert kinds(s, "r1") == ["sent", "forwarded", "shipped", "ready", "overdue", "recalled", "completed"]
    assert kinds(s, "pku") == ["new_request"]
    assert kinds(s, "ruc") == ["new_request", "to_ship"]
    by_kind = {x["kind"]: x for x in outbox.for_user(s, "r1")}
    assert "北京大学" in by_kind["forwarded"]["body"] and "在修补" in by_kind["forwarded"]["body"]
    assert "Renmin University of China" in by_kind["forwarded"]["body"]
    ready = by_kind["ready"]["body"]
    assert "图书馆北馆 B105 馆际互借处" in ready and "周一至周五 8:30-17:00" in ready and "010-62782137" in ready
    assert "本馆教师急需" in by_kind["recalled"]["body"]
    assert all(x["link"] == f"/requests/{rid}" and x["request_id"] == rid for x in by_kind.values())
    assert outbox.for_user(s, "ruc")[0]["link"] == f"/desk/requests/{rid}"


def test_a_request_no_lender_can_supply_says_why_and_what_to_do_next(notified, clock):
    rid = notified.submit("r1", title="孤本", work_id="W2", rota=["PKU"])["id"]
    notified.act(rid, m.ANSWER_UNFILLED, "pku", reason="馆藏丢失")
    unfilled = outbox.for_user(notified, "r1")[0]
    assert unfilled["kind"] == "unfilled"
    assert "馆藏丢失" in unfilled["body"] and "手工申请" in unfilled["body"] and "原文传递" in unfilled["body"]
    assert "What to do next" in unfilled["body"] and "010-62782137" in unfilled["body"]


def test_a_manual_request_and_a_staff_cancel_are_told(notified):
    rid = notified.submit("r1", citation="某某. 某书. 1987")["id"]
    assert kinds(notified, "thu") == ["new_manual"]
    notified.act(rid, m.CANCEL, "thu", reason="读者电话要求")
    assert kinds(notified, "r1") == ["cancelled"]
    assert "读者电话要求" in outbox.for_user(notified, "r1")[0]["body"]


def test_the_readers_own_cancel_gives_no_notice_and_a_refused_change_writes_none(notified):
    for n in range(3):
        notified.submit("r1", title="书", work_id=f"W3-{n}", rota=["PKU"])
    before = len(outbox.outbox(notified))
    with pytest.raises(RuleViolation):
        notified.submit("r1", title="第四本", work_id="W4", rota=["PKU"])
    assert len(outbox.outbox(notified)) == before  # the refused submission wrote neither request nor notice
    rid = notified.submit("r1", title="复印", work_id="W5", kind="copy", rota=["PKU"])["id"]
    notified.cancel(rid, "r1")
    assert "cancelled" not in kinds(notified, "r1")


def test_the_clocks_notices_are_written_once(notified, clock):
    s = notified
    lent = s.submit("r1", title="借出的书", work_id="W6", rota=["RUC"])["id"]
    for action, who in ((m.WILL, "ruc"), (m.SHIP, "ruc"), (m.RECEIVED, "thu"), (m.LEND, "thu")):
        s.act(lent, action, who)
    waiting = s.submit("r2", title="待答复", work_id="W7", rota=["PKU"])["id"]
    due_back = s.get(lent)["due_back"]
    # the morning of the lender's answer day, and a few days before the loan is due (Beijing 09:00)
    clock.now = s.get(waiting)["answer_due"] - timedelta(hours=15)
    first = outbox.timed(s)
    assert outbox.timed(s) == 0 and outbox.timed(s) == 0
    assert first >= 2
    assert "answer_due" in kinds(s, "pku") and "digest" in kinds(s, "pku")
    digest = next(x for x in outbox.for_user(s, "pku") if x["kind"] == "digest")
    assert f"申请单 {waiting}" in digest["body"] and "to answer" in digest["body"]
    clock.now = due_back - timedelta(days=2)
    outbox.timed(s)
    outbox.timed(s)
    assert kinds(s, "r1").count("due_soon") == 1
    assert "digest" not in kinds(s, "thu")  # the loan is with the reader: nothing waits for THU's staff, no digest


def test_notices_are_mailed_through_the_smtp_server_with_chinese_english_and_a_link(notified, smtp):
    rid = notified.submit("r1", title="红楼梦", work_id="W1", rota=["RUC"])["id"]
    outbox.set_email(notified, "r2", address="r2@example.org", enabled=False)  # r2 turned mail off
    notified.submit("r2", title="水浒传", work_id="W8", rota=["RUC"])
    report = mail.deliver(notified, config(smtp.port))
    assert (report.sent, report.skipped, report.retry, report.failed) == (3, 1, 0, 0)
    [reader] = smtp.inbox.to("r1@mails.tsinghua.edu.cn")
    assert reader["Subject"] == f"[BALIS 馆际互借] 申请单 {rid} 已发出 / Request {rid}: sent"
    assert reader["From"] == SENDER
    text = reader.get_content()
    assert "已发往 中国人民大学" in text and "was sent to Renmin University of China" in text
    assert f"https://ill.balis.example.org/requests/{rid}" in text
    assert len(smtp.inbox.to("ill-staff@ruc.example.org")) == 2  # a new request each, for RUC's staff
    assert {x["email"] for x in outbox.outbox(notified, user="r2")} == {"skipped"}
    assert mail.deliver(notified, config(smtp.port)).sent == 0  # nothing twice
    assert len(smtp.inbox.messages) == 3


def test_a_mail_server_that_is_down_delays_notices_and_loses_none(notified, clock):
    port = free_port()
    rid = notified.submit("r1", title="红楼梦", work_id="W1", rota=["RUC"])["id"]
    report = mail.deliver(notified, config(port))  # nothing listens there
    assert report.sent == 0 and report.retry == 2 and f"127.0.0.1:{port}" in report.error
    notified.act(rid, m.WILL, "ruc")  # the workflow goes on while mail waits
    assert notified.get(rid)["status"] == m.WILL_SUPPLY
    pending = outbox.outbox(notified, email="pending")
    assert len(pending) == 3 and {x["attempts"] for x in pending} == {0, 1}
    server = SmtpServer(port).start()
    try:
        assert mail.deliver(notified, config(port)).sent == 1  # the new one; the others wait for their turn
        clock.advance(seconds=61)
        assert mail.deliver(notified, config(port)).sent == 2
        clock.advance(hours=2)
        assert mail.deliver(notified, config(port)).sent == 0
        server.stop()
        clock.advance(hours=2)
        notified.act(rid, m.SHIP, "ruc")
        assert mail.deliver(notified, config(port)).retry == 1
        server.start()
        clock.advance(minutes=1, seconds=1)
        assert mail.deliver(notified, config(port)).sent == 1
        subjects = sorted(msg["Subject"] for msg in server.inbox.messages)
        assert len(subjects) == len(set(subjects)) == 4  # each notice once, none lost
        assert outbox.counts(notified)["pending"] == 0
    finally:
        server.stop()


def test_retries_wait_longer_each_time_up_to_an_hour():
    assert [mail.backoff(n) for n in (1, 2, 3, 7, 30)] == [timedelta(minutes=1), timedelta(minutes=2),
                                                          timedelta(minutes=4), timedelta(hours=1),
                                                          timedelta(hours=1)]


def test_starttls_with_the_servers_own_certificate_and_a_login(notified, tmp_path):
    cert, key = self_signed(tmp_path)
    server = SmtpServer(tls=(cert, key), login=("balis", "s3cret!pw")).start()
    try:
        notified.submit("r1", title="红楼梦", work_id="W1", rota=["RUC"])
        plain = MailConfig.parse(f"smtp://balis:s3cret%21pw@127.0.0.1:{server.port}", SENDER)
        refused = mail.deliver(notified, plain)  # no STARTTLS: the server will not take the login
        assert refused.sent == 0 and refused.retry == 2 and "s3cret" not in refused.error
        untrusted = MailConfig.parse(f"smtp://balis:s3cret%21pw@127.0.0.1:{server.port}?starttls=1", SENDER)
        assert "CERTIFICATE_VERIFY_FAILED" in _after_wait(notified, untrusted).error  # not trusted without ca=
        good = MailConfig.parse(f"smtp://balis:s3cret%21pw@127.0.0.1:{server.port}?starttls=1&ca={cert}", SENDER)
        assert good.starttls and good.port == server.port and "s3cret" not in repr(good) + good.safe_url
        assert _after_wait(notified, good).sent == 2
        assert len(server.inbox.messages) == 2
    finally:
        server.stop()


def _after_wait(store, cfg):
    store.clock.advance(hours=2)
    return mail.deliver(store, cfg)


def test_mail_configuration_errors_say_what_to_change():
    with pytest.raises(MailError, match="smtp://"):
        MailConfig.parse("http://mail.example.org", SENDER)
    with pytest.raises(MailError, match="BALIS_MAIL_FROM"):
        MailConfig.parse("smtp://mail.example.org", "")
    with pytest.raises(MailError, match="unknown mail server option"):
        MailConfig.parse("smtp://mail.example.org?tls=1", SENDER)
    cfg = MailConfig.parse("smtps://u:p%40ss@mail.example.org", SENDER)
    assert (cfg.port, cfg.tls, cfg.password) == (465, True, "p@ss")
    assert cfg.safe_url == "smtps://u:***@mail.example.org:465"


def test_balis_notices_list_send_and_email_never_print_the_password(notified, db_url, smtp, capsys, monkeypatch):
    notified.submit("r1", title="红楼梦", work_id="W1", rota=["RUC"])
    monkeypatch.setenv("BALIS_MAIL_FROM", SENDER)
    assert main(["notices", "list", "--db", db_url, "--email", "pending"]) == 0
    out = capsys.readouterr().out
    assert "new_request" in out and "sent" in out and "pending 2" in out
    assert main(["notices", "email", "ruc", "--off", "--db", db_url]) == 0
    assert "ruc: mail off" in capsys.readouterr().out
    monkeypatch.setenv("BALIS_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    assert main(["notices", "send", "--db", db_url]) == 0
    assert "1 sent, 1 not mailed" in capsys.readouterr().out
    assert [msg["To"] for msg in smtp.inbox.messages] == ["r1@mails.tsinghua.edu.cn"]
    notified.submit("r1", title="水浒传", work_id="W2", rota=["RUC"])
    down = free_port()
    assert main(["notices", "send", "--db", db_url, "--smtp-url", f"smtp://me:topsecret@127.0.0.1:{down}"]) == 1
    out = capsys.readouterr()
    assert "topsecret" not in out.out + out.err and "me:***@127.0.0.1" in out.out and "tried again" in out.err
    assert "1 to try again later" in out.out
    assert main(["notices", "list", "--db", db_url, "--json"]) == 0
    assert "topsecret" not in capsys.readouterr().out
