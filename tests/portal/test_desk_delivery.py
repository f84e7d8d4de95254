"""Staff see how the reader gets the book: the request page of the lender and of the borrowing library shows
the pick-up point or delivery method, the need-before date and the edition's ISBN and year."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

from ill.store import Store
from tests.portal.deskkit import sign_in, users


async def test_the_desk_request_page_shows_delivery_need_before_and_isbn(make_client, registry):
    codes = [m.code for m in registry.members if m.queryable]
    a, b, c = codes[:3]
    store = Store()
    users(store, a, b, c)
    store.registry = registry
    member = registry.get(a)
    point = member.pickups[0]
    need = date.today() + timedelta(days=40)
    rid = store.submit("ra1", title="书 送到哪里", work_id="W00000000000000aa", isbn="9787302147510", year=2007,
                       rota=[b], pickup=point.code, need_before=need)["id"]
    desk = await make_client(store=store, logins_per_minute=10_000)
    for staff in ("sb", "sa"):  # the lender, and the reader's own library
        await sign_in(desk, staff)
        html = unescape(await (await desk.get(f"/desk/requests/{rid}")).text())
        delivery = re.search(r'<dd id="req-delivery">(.*?)</dd>', html).group(1)
        assert point.name in delivery, delivery
        assert f'<dd id="req-need-before">{need.isoformat()}</dd>' in html
        assert '<dd id="req-isbn">9787302147510 · 2007</dd>' in html
