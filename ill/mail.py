"""Mailing the outbox's notices through an SMTP server, after commit, with retries (docs/notices.md).

`MailConfig.parse("smtp://user:pass@host:587?starttls=1")` reads $BALIS_SMTP_URL; `deliver` claims what is
due, sends it on one connection and marks each notice sent, skipped, or to try again later (a growing wait:
1, 2, 4 … minutes, at most an hour). A server that is down only delays notices: none is lost, none is
undone, and a state change never waits for mail. Credentials are never printed or logged.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from ill import outbox

if TYPE_CHECKING:
    from ill.store import Store

FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
DEFAULT_PORTAL = "http://127.0.0.1:8080"


class MailError(Exception):
    """The mail configuration is wrong; the message says what to change (never the password)."""


def backoff(attempts: int) -> timedelta:
    """How long to wait before the next try after `attempts` failed ones: 1, 2, 4 … minutes, at most an hour."""
    return min(FIRST_WAIT * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


@dataclass(frozen=True)
class MailConfig:
    """Where notices are mailed from: the SMTP server, the sender, and the portal address for links."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    tls: bool = False  # smtps://: TLS from the first byte
    ca_file: str | None = None  # trust this certificate authority (a server with its own certificate)
    timeout: float = 20.0
    portal_url: str = DEFAULT_PORTAL

    @classmethod
    def parse(cls, url: str, sender: str, *, portal_url: str | None = None) -> MailConfig:
        """Read `smtp://[user:pass@]host[:port][?starttls=1&ca=/path/ca.pem&timeout=S]` or `smtps://…`."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps"):
            raise MailError(f"the mail server address must start with smtp:// or smtps://, not {parts.scheme!r}:// "
                            "(BALIS_SMTP_URL or --smtp-url)")
        if not parts.hostname:
            raise MailError("the mail server address names no host (smtp://user:pass@host:587?starttls=1)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "ca", "timeout"}
        if unknown:
            raise MailError(f"unknown mail server option(s) {', '.join(sorted(unknown))}: use starttls, ca, timeout")
        tls = parts.scheme == "smtps"
        starttls = query.get("starttls", "0").lower() in ("1", "true", "yes", "on")
        try:
            port = parts.port or (465 if tls else 587 if starttls else 25)
            timeout = float(query.get("timeout", "20"))
        except ValueError as exc:
            raise MailError(f"the mail server address has a bad port or timeout: {exc}") from None
        if not sender or "@" not in sender:
            raise MailError("notices need a sender address: set BALIS_MAIL_FROM or --mail-from "
                            "(e.g. 'BALIS 馆际互借 <ill@balis.edu.cn>')")
        return cls(parts.hostname, port, sender.strip(), unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, starttls, tls, query.get("ca"), timeout,
                   (portal_url or DEFAULT_PORTAL).rstrip("/"))

    @classmethod
    def from_env(cls, url: str | None = None, sender: str | None = None,
                 portal_url: str | None = None) -> MailConfig | None:
        """The options given, else $BALIS_SMTP_URL, $BALIS_MAIL_FROM and $BALIS_PORTAL_URL; None without a server."""
        url = url or os.environ.get("BALIS_SMTP_URL")
        if not url:
            return None
        return cls.parse(url, sender or os.environ.get("BALIS_MAIL_FROM", ""),
                         portal_url=portal_url or os.environ.get("BALIS_PORTAL_URL"))

    @property
    def safe_url(self) -> str:
        """The server as it may be shown: never the password."""
        who = f"{self.username}:***@" if self.username else ""
        flags = "?starttls=1" if self.starttls else ""
        return f"{'smtps' if self.tls else 'smtp'}://{who}{self.host}:{self.port}{flags}"

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def message(config: MailConfig, letter: outbox.Letter, copies: Path | None = None) -> EmailMessage:
    """The mail of one notice: its subject, its text (Chinese, then English) and the portal link; a delivered
    copy's scan as a PDF attachment when the letter carries one and `copies` (the copies folder) still has it."""
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = formataddr(("", letter.to)) if letter.to else ""
    msg["Subject"] = letter.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=f"notice{letter.id}", domain=config.sender.rsplit("@", 1)[-1].strip(">"))
    msg["X-BALIS-Notice"] = str(letter.id)
    link = f"{config.portal_url}{letter.link}" if letter.link else config.portal_url
    msg.set_content(f"{letter.body}\n\n查看 / View: {link}\n\n"
                    f"-- \n北京地区高校图书馆文献资源保障体系 (BALIS) 馆际互借\n"
                    f"不想收到邮件？在门户的“我的消息”页关闭邮件通知。 / No mail wanted? Turn it off on "
                    f"{config.portal_url}/messages\n", charset="utf-8")
    if letter.attachment and copies is not None:
        try:
            data = (copies / letter.attachment).read_bytes()
        except OSError:
            data = None  # deleted meanwhile: the notice still says where to download it while it lasted
        if data is not None:
            msg.add_attachment(data, maintype="application", subtype="pdf",
                               filename=f"balis-{letter.attachment.split('-', 1)[0]}.pdf")
    return msg


@dataclass
class Report:
    """What one delivery run did."""

    sent: int = 0
    skipped: int = 0
    retry: int = 0
    failed: int = 0
    error: str = ""  # why the server could not be reached, when it could not

    def as_dict(self) -> dict:
        return {"sent": self.sent, "skipped": self.skipped, "retry": self.retry, "failed": self.failed,
                "error": self.error}


def _connect(config: MailConfig) -> smtplib.SMTP:
    if config.tls:
        server: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                                context=config.context())
    else:
        server = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    try:
        server.ehlo()
        if config.starttls:
            server.starttls(context=config.context())
            server.ehlo()
        if config.username:
            server.login(config.username, config.password or "")
    except BaseException:
        server.close()
        raise
    return server


def _why(exc: BaseException, config: MailConfig) -> str:
    """An error as the outbox keeps it: what happened at which server, never the credentials."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        what = f"{exc.smtp_code} {text}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        what = "; ".join(f"{addr}: {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
                         for addr, (code, msg) in exc.recipients.items())
    else:
        what = str(exc) or type(exc).__name__
    if config.password:
        what = what.replace(config.password, "***")
    return f"{config.host}:{config.port}: {what}"[:500]


def _permanent(exc: BaseException) -> bool:
    """The server refused this address for good (5xx for the recipient); trying again will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def deliver(store: Store, config: MailConfig, *, now: datetime | None = None, limit: int = 200) -> Report:
    """Mail the notices that are due, on one connection; each is marked as it goes, so a crash repeats at
    most the one being sent. Never raises for a server that is down: those notices wait and are tried again."""
    now = (now or store.clock()).astimezone(UTC)
    report = Report()
    letters = outbox.claim(store, now, limit)
    to_send = []
    for letter in letters:
        if letter.to is None:
            outbox.mark_skipped(store, letter.id, "no mail address, or mail turned off (shown in the portal)")
            report.skipped += 1
        else:
            to_send.append(letter)
    if not to_send:
        return report
    server = None
    try:
        server = _connect(config)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        report.error = _why(exc, config)
        for letter in to_send:
            outbox.mark_failed(store, letter.id, now, report.error, now + backoff(letter.attempts + 1))
            report.retry += 1
        return report
    try:
        for letter in to_send:
            try:
                server.send_message(message(config, letter, store.copies), from_addr=_address(config.sender), to_addrs=[letter.to])
            except (OSError, smtplib.SMTPException) as exc:
                why = _why(exc, config)
                if _permanent(exc):
                    outbox.mark_failed(store, letter.id, now, why, None)
                    report.failed += 1
                    continue
                outbox.mark_failed(store, letter.id, now, why, now + backoff(letter.attempts + 1))
                report.retry += 1
                if isinstance(exc, (smtplib.SMTPServerDisconnected, socket.timeout, ConnectionError)):
                    report.error = why
                    for rest in to_send[to_send.index(letter) + 1:]:
                        outbox.mark_failed(store, rest.id, now, why, now + backoff(rest.attempts + 1))
                        report.retry += 1
                    return report
                continue
            outbox.mark_sent(store, letter.id, now)
            report.sent += 1
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return report


def _address(sender: str) -> str:
    from email.utils import parseaddr

    return parseaddr(sender)[1] or sender
