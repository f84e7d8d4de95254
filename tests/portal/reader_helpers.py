"""What the reader-request tests share: a store with a movable clock, readers with passwords, signing in,
and an edition of the test bed that some member other than the reader's own can lend."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ill.store import Store
from portal.auth import set_password

PASSWORD = "reader secret 1"


class Clock:
    """`now` for the ILL store and the pages, moved on by tests (the cancel window)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def make_store(clock: Clock) -> Store:
    store = Store(clock=clock)  # $BALIS_DB: this test's own file (tests/conftest.py)
    for uid, member, name in (("R-NLC-1", "NLC", "张读者"), ("R-NLC-2", "NLC", "李读者"),
                              ("R-THU-1", "THU", "王读者")):
        store.add_user(uid, "reader", member, name)
        set_password(store, uid, PASSWORD)
    for uid, member in (("S-NLC", "NLC"), ("S-THU", "THU"), ("S-PKU", "PKU"), ("S-RUC", "RUC"),
                        ("S-BUAA", "BUAA"), ("S-USTB", "USTB"), ("S-BNU", "BNU"), ("S-NCEPU", "NCEPU"),
                        ("S-BUPT", "BUPT")):
        store.add_user(uid, "staff", member, f"{member} 馆员")
    set_password(store, "S-THU", PASSWORD)
    return store


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def sign_in(client, user: str, password: str = PASSWORD) -> None:
    page = await client.get("/login")
    r = await client.post("/login", data={"user": user, "password": password, "next": "/",
                                          "csrf_token": token(await page.text())}, allow_redirects=False)
    assert r.status == 303, await r.text()


async def csrf_header(client) -> dict:
    return {"X-CSRF-Token": (await (await client.get("/api/session")).json())["csrf_token"]}


async def lendable_works(client, query: str = "中国", *, count: int = 1) -> list[str]:
    """Edition ids of a live search whose rota for the signed-in reader has a lender."""
    doc = await (await client.get("/api/search", params={"q": query, "source": "live"})).json()
    found = []
    for w in doc["works"]:
        rota = await (await client.get(f"/api/works/{w['work_id']}/rota")).json()
        if rota["rota"]["lenders"] and not rota["rota"]["own_available"]:
            found.append(w["work_id"])
            if len(found) == count:
                return found
    raise AssertionError(f"fewer than {count} lendable editions for {query!r}")
