"""Logging in to a member: the registry's credentials (a reference) read into a `Login` when a connection opens,
and the bilingual texts staff see when a member refuses it. A password is never logged, printed or repr()'d."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from connectors.errors import LoginRefused

FORMS = ("idpass", "open")

REFUSED_ZH = "登录被拒绝，请检查登记表中该馆的登录设置"
REFUSED_EN = "login refused; check the member's credentials in the registry ([member.auth])"
REQUIRED_ZH = "该馆要求登录，登记表中尚无其账号"
REQUIRED_EN = ("the member refused an anonymous connection; if it requires a login, add [member.auth] with user and "
               "password_env or password_file to the registry")
UNREADABLE_ZH = "读取该馆登录密码失败"


class CredentialsRef(Protocol):
    """What the registry's `Credentials` offers (the connectors never import the registry)."""

    user: str
    group: str | None
    form: str

    def password(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Login:
    """A login as sent: Z39.50 `form` idpass (group, user, password) or open ("user/password"); HTTP basic auth."""

    user: str
    password: str = field(repr=False)
    group: str | None = None
    form: str = "idpass"

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"login form must be idpass or open, not {self.form!r}")

    def __repr__(self) -> str:
        return f"Login(user={self.user!r}, group={self.group!r}, form={self.form!r}, password=***)"


def read_login(credentials: CredentialsRef | Login | None, member: str) -> Login | None:
    """The login for a member, its password read now; LoginRefused (naming where, never what) if it cannot be."""
    if credentials is None or isinstance(credentials, Login):
        return credentials
    try:
        password = credentials.password()
    except Exception as exc:  # noqa: BLE001 - CredentialsError or an OS error: the message names the source only
        raise LoginRefused(f"{UNREADABLE_ZH} (cannot read the login's password: {exc})", member=member) from None
    return Login(user=credentials.user, password=password, group=credentials.group, form=credentials.form)


def refused(member: str, detail: str, *, had_login: bool) -> LoginRefused:
    """The error staff see when a member refuses a login (or an anonymous connection that needs one)."""
    if had_login:
        return LoginRefused(f"{REFUSED_ZH} ({REFUSED_EN}; {detail})", member=member)
    return LoginRefused(f"{REQUIRED_ZH} ({REQUIRED_EN}; {detail})", member=member)
