"""The connector layer's exceptions: one tree, mapped once at the connector boundary.

MemberError
├── MemberTimeout        the member did not answer within its timeout
├── MemberUnavailable    connection refused, reset or closed before an answer
│   └── LoginRefused     the member refused our login, or no password could be read for it
├── ProtocolError        the member sent bytes or XML that do not follow the protocol
│   └── DecodeError      a BER packet, SRU response or record could not be decoded
├── Diagnostic           the member answered with a diagnostic (Bib-1, SRU or OAI-PMH)
│   └── ResumeExpired    the member no longer knows a kept resume point (an expired OAI-PMH token)
└── Unsupported          the query uses something this member cannot do

The federator reports these per member; it never raises them to a reader.
"""

from __future__ import annotations


class MemberError(Exception):
    """Base of every error a member connection can raise."""

    kind = "error"

    def __init__(self, message: str, *, member: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.member = member

    def __str__(self) -> str:
        prefix = f"{self.member}: " if self.member else ""
        return prefix + self.message


class MemberTimeout(MemberError):
    """The member did not answer within its timeout."""

    kind = "timeout"


class MemberUnavailable(MemberError):
    """The member could not be reached, or closed the connection before answering."""

    kind = "unavailable"


class LoginRefused(MemberUnavailable):
    """The member refused the login (Z39.50 Init, SRU/HTTP authentication), or its password could not be read."""

    kind = "login"


class ProtocolError(MemberError):
    """The member sent something that does not follow the protocol."""

    kind = "protocol"


class DecodeError(ProtocolError):
    """Bytes (BER, XML, MARC) could not be decoded."""

    kind = "decode"


class Unsupported(MemberError):
    """The query asks for something this member (or protocol) cannot do."""

    kind = "unsupported"


class Diagnostic(MemberError):
    """The member answered with a diagnostic of its own (Bib-1 code or SRU diagnostic URI)."""

    kind = "diagnostic"

    def __init__(
        self,
        code: str,
        message: str,
        addinfo: str | None = None,
        *,
        uri: str | None = None,
        member: str | None = None,
    ) -> None:
        text = f"diagnostic {code}: {message}" + (f" ({addinfo})" if addinfo else "")
        super().__init__(text, member=member)
        self.code = code
        self.diagnostic_message = message
        self.addinfo = addinfo
        self.uri = uri

    def as_dict(self) -> dict:
        return {"code": self.code, "uri": self.uri, "message": self.diagnostic_message, "addinfo": self.addinfo}


class ResumeExpired(Diagnostic):
    """The member no longer knows the resume point a listing was continued from: start the listing again."""

    kind = "diagnostic"
