"""A real SMTP server on loopback for the notice tests (aiosmtpd), optionally with STARTTLS and a login."""

from __future__ import annotations

import socket
import ssl
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the server received: one parsed message per delivery, with the envelope's recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [msg for msg in self.messages if msg["To"] == address]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost, and its key (openssl)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class SmtpServer:
    """An aiosmtpd server on a fixed loopback port that can be stopped and started again (down, then back)."""

    def __init__(self, port: int | None = None, *, tls: tuple[Path, Path] | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self.tls = tls
        self.login = login
        self.controller: Controller | None = None

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and self.login is not None and \
            (auth_data.login.decode(), auth_data.password.decode()) == self.login
        return AuthResult(success=ok)

    def start(self) -> SmtpServer:
        options: dict = {}
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            options.update(tls_context=context, require_starttls=True)
        if self.login:
            options.update(authenticator=self._auth, auth_required=True, auth_require_tls=bool(self.tls))
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
