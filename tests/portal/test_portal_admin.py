"""Centre administration against a real SQLite ILL store and the session test bed: suspend and resume a
member (searches stop and start asking it), roll back a change, the statistics dashboard and its CSV equal
ill.stats, and everyone but administrators is refused."""

from __future__ import annotations

import re
from html import unescape

import pytest

from ill import machine as m
from ill import stats
from ill.store import Store
from portal.admin import bar_chart, column_chart, month_list
from portal.params import ParamError
from portal.render import rate
from services.spreadsheets import ill_stats_csv
from tests.portal.deskkit import response_schema, scenario, sign_in, token_of, users, validator
from tests.portal.helpers import states


@pytest.fixture
def codes(registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


@pytest.fixture
def store(codes):
    s = Store()
    users(s, *codes)
    yield s
    s.close()


@pytest.fixture
async def admin(make_client, store):
    client = await make_client(store=store, logins_per_minute=10_000)
    client.token = await sign_in(client, "adm")
    return client


def _states(doc: dict) -> dict[str, tuple[str, str | None]]:
    return {s["code"]: (s["state"], s.get("reason")) for s in doc["members"]}


# -- suspend and resume -----------------------------------------------------------------------------------
async def test_suspend_stops_searches_asking_the_member_and_resume_starts_again(admin, store, codes):
    a, b, c = codes
    page = await (await admin.get("/admin")).text()
    assert f'data-member="{b}" data-status="active"' in page
    confirm = await admin.get(f"/admin/members/{b}/confirm", params={"status": "suspended", "reason": "系统迁移"})
    html = await confirm.text()
    assert confirm.status == 200 and "系统迁移" in html and "检索将跳过此馆" in html
    # without a reason: refused in words, the form comes back, nothing changed
    r = await admin.post(f"/admin/members/{b}/state", data={"csrf_token": token_of(html), "status": "suspended",
                                                            "reason": " "})
    assert r.status == 400 and "暂停原因" in await r.text()
    assert store.member_states() == {}
    r = await admin.post(f"/admin/members/{b}/state", data={"csrf_token": token_of(html), "status": "suspended",
                                                            "reason": "系统迁移"}, allow_redirects=False)
    assert r.status == 303
    page = await (await admin.get(r.headers["Location"])).text()
    assert f'data-member="{b}" data-status="suspended"' in page and f"{b} 已暂停" in page
    assert store.member_states()[b]["status"] == "suspended"

    members = await (await admin.get("/members")).text()
    row = re.search(rf'<tr id="m-{b}".*?</tr>', members, re.S).group(0)
    assert "ms-suspended" in row and "系统迁移" in row
    doc = await (await admin.get("/api/search", params={"q": "中国", "source": "live"})).json()
    assert _states(doc)[b] == ("not_asked", "suspended") and _states(doc)[a][0] == "answered"
    assert all(b not in w["members"] for w in doc["works"])
    strip = await (await admin.get("/search", params={"q": "历史"})).text()  # the reader's page, no JavaScript
    assert states(strip)[b] == "not_asked" and states(strip)[a] == "answered"
    assert "暂停服务" in re.search(rf'<li[^>]*data-member="{b}".*?</li>', strip, re.S).group(0)
    api = await (await admin.get("/api/admin/members")).json()
    response_schema("/api/admin/members").validate(api)
    mine = next(x for x in api["members"] if x["code"] == b)
    assert mine["status"] == "suspended" and mine["reason"] == "系统迁移" and mine["changed_by"] == "adm"
    assert mine["searched"] is False

    r = await admin.post(f"/api/admin/members/{b}/state", json={"status": "active"},
                         headers={"X-CSRF-Token": admin.token})
    doc = await r.json()
    assert r.status == 200, doc
    response_schema("/api/admin/members/{code}/state", "post").validate(doc)
    assert doc["member"]["status"] == "active" and doc["member"]["searched"] is True
    doc = await (await admin.get("/api/search", params={"q": "中国", "source": "live"})).json()
    assert _states(doc)[b][0] == "answered"
    r = await admin.post("/api/admin/members/NOSUCH/state", json={"status": "suspended", "reason": "x"},
                         headers={"X-CSRF-Token": admin.token})
    assert r.status == 404
    r = await admin.post(f"/api/admin/members/{b}/state", json={"status": "closed"},
                         headers={"X-CSRF-Token": admin.token})
    assert r.status == 400 and (await r.json())["error"]["parameter"] == "status"


# -- rollback ---------------------------------------------------------------------------------------------
async def test_rollback_through_the_page_and_the_api(admin, store, codes):
    a, b, c = codes
    rid = store.submit("ra1", title="书 回滚", work_id="W0123456789abcdef", rota=[b, c])["id"]
    store.act(rid, "Unfilled", "sb", reason="误点")
    assert store.get(rid)["lender"] == c
    page = await admin.get("/admin/requests", params={"id": str(rid)})
    html = await page.text()
    assert page.status == 200 and 'id="rollback-last"' in html and "无法提供" in html
    detail = await (await admin.get(f"/api/admin/requests/{rid}")).json()
    assert detail["undoable"]["action"] == "Unfilled" == store.undoable(rid)["action"]  # what the form offers
    r = await admin.post(f"/admin/requests/{rid}/rollback", data={"csrf_token": token_of(html), "reason": ""})
    assert r.status == 400 and 'id="rollback-reason"' in await r.text()
    assert store.get(rid)["lender"] == c  # nothing changed
    r = await admin.post(f"/admin/requests/{rid}/rollback", data={"csrf_token": token_of(html),
                                                                  "reason": "PKU 误点了无法提供，书在架"},
                         allow_redirects=False)
    assert r.status == 303
    after = await (await admin.get(r.headers["Location"])).text()
    assert "已回滚" in after and "书在架" in unescape(after)
    back = store.get(rid)
    assert back["lender"] == b and back["status"] == m.REQUEST_RECEIVED
    assert store.history(rid)[-1]["action"] == "rollback"

    store.act(rid, "WillSupply", "sb")
    r = await admin.post(f"/api/admin/requests/{rid}/rollback", json={"reason": "答复有误"},
                         headers={"X-CSRF-Token": admin.token})
    doc = await r.json()
    assert r.status == 200, doc
    response_schema("/api/admin/requests/{id}/rollback", "post").validate(doc)
    assert doc["request"]["status"] == m.REQUEST_RECEIVED and doc["request"]["reader_id"] == "ra1"
    detail = await (await admin.get(f"/api/admin/requests/{rid}")).json()
    response_schema("/api/admin/requests/{id}").validate(detail)
    assert [h["action"] for h in detail["history"]][-1] == "rollback"
    assert detail["undoable"] is None  # both changes undone: only the submission is left

    fresh = store.submit("ra2", title="书 只有提交", work_id="W0123456789abcdef", rota=[b])["id"]
    r = await admin.post(f"/api/admin/requests/{fresh}/rollback", json={"reason": "试试"},
                         headers={"X-CSRF-Token": admin.token})
    assert r.status == 409 and "nothing to roll back" in (await r.json())["error"]["message"]
    html = await (await admin.get(f"/admin/requests/{fresh}")).text()
    assert 'id="rollback-none"' in html
    assert (await admin.get("/admin/requests/999999")).status == 404
    assert (await admin.get("/admin/requests", params={"id": "abc"})).status == 400


# -- statistics -------------------------------------------------------------------------------------------
async def test_dashboard_and_csv_equal_ill_stats(admin, store, codes):
    a, b, c = codes
    scenario(store, a, b, c)
    months = stats.active_months(store)
    assert len(months) >= 2  # the scenario spans months
    members = stats.active_members(store)
    expected = stats.table(store, members=members, months=months, total=False)

    doc = await (await admin.get("/api/admin/stats")).json()
    response_schema("/api/admin/stats").validate(doc)
    assert doc["months"] == months and doc["rows"] == expected
    assert [row["requests_sent"] for row in doc["monthly"]] == [
        stats.figure(store, "requests_sent", None, month) for month in months]
    assert sum(row["requests_sent"] for row in doc["monthly"]) == len(store.list_requests(limit=1000))
    per = {x["member"]: x for x in doc["members"]}
    assert per[a]["requests_sent"] == sum(r["requests_sent"] for r in expected if r["member"] == a)
    assert per[a]["filled"] == sum(r["filled"] for r in expected if r["member"] == a)
    assert per[a]["fill_rate"] == round(per[a]["filled"] / per[a]["processed"], 4)

    html = await (await admin.get("/admin/stats")).text()
    for row in expected:
        cells = re.search(rf'<tr data-member="{row["member"]}" data-month="{row["month"]}">(.*?)</tr>', html,
                          re.S).group(1)
        shown = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', cells))
        assert shown == {k: "—" if row[k] is None else rate(row[k]) if k == "fill_rate" else str(row[k])
                         for k in stats.FIGURES}
    monthly = re.search(r'<svg class="chart" id="chart-monthly".*?</svg>', html, re.S).group(0)
    bars = re.findall(r'<g class="bar" data-label="([\d-]+)" data-value="(\d+)"', monthly)
    assert bars == [(row["month"], str(row["requests_sent"])) for row in doc["monthly"]]
    fill = re.search(r'<svg class="chart" id="chart-fill".*?</svg>', html, re.S).group(0)
    assert f'data-label="{a}" data-value="{per[a]["fill_rate"]}"' in fill
    assert 'id="chart-days"' in html

    csv = await admin.get("/admin/stats.csv", params={"from": months[0], "to": months[-1]})
    assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv.headers["Content-Disposition"]
    body = (await csv.read()).decode("utf-8")
    assert body == "\ufeff" + ill_stats_csv(stats.table(store, members, months))
    head, *lines = body.removeprefix("\ufeff").splitlines()
    assert head.startswith("代码 Code,月份 Month,发出申请 Requests sent,") and "满足率 Fill rate" in head
    rates = {line.split(",")[stats_columns(head).index("满足率 Fill rate")] for line in lines}
    assert rates and all(re.fullmatch(r"\d{1,3}\.\d %", r) or r == "" for r in rates), rates  # as the dashboard
    api_csv = await (await admin.get("/api/admin/stats.csv", params={"from": months[-1]})).read()
    assert api_csv.decode("utf-8") == "\ufeff" + ill_stats_csv(stats.table(store, members, [months[-1]]))

    one = await (await admin.get("/api/admin/stats", params={"from": months[-1], "to": months[-1]})).json()
    assert one["rows"] == stats.table(store, members=members, months=[months[-1]], total=False)
    for bad, name in (({"from": "2026-13"}, "from"), ({"from": "2026-05", "to": "2026-01"}, "to"),
                      ({"from": "2020-01", "to": "2026-01"}, "to"), ({"from": "x"}, "from")):
        r = await admin.get("/api/admin/stats", params=bad)
        assert r.status == 400 and (await r.json())["error"]["parameter"] == name, bad
        validator("/components/schemas/Error").validate(await r.json())
    assert (await admin.get("/admin/stats", params={"from": "2026-13"})).status == 400


def test_month_ranges_and_chart_geometry():
    assert month_list("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(ParamError):
        month_list("2026-02", "2025-11")
    chart = column_chart([("2026-01", 5), ("2026-02", 10), ("2026-03", 0)], height=240, top=16, bottom=28)
    heights = [b.h for b in chart.bars]
    assert heights[1] == 196 and heights[0] == 98 and heights[2] == 0  # 10 is the axis top
    assert [b.y + b.h for b in chart.bars] == [212.0] * 3  # on the baseline
    fill = bar_chart([("A", 0.5, "50%"), ("B", None, "无数据"), ("C", 1.0, "100%")], scale_max=1.0, left=150)
    assert [b.w for b in fill.bars] == [240.0, 0.0, 480.0]


# -- who may -----------------------------------------------------------------------------------------------
async def test_only_administrators(admin, store, codes):
    a, b, c = codes
    rid = store.submit("ra1", title="书 权限", work_id="W0123456789abcdef", rota=[b])["id"]
    store.act(rid, "WillSupply", "sb")
    gets = ["/admin", "/admin/stats", "/admin/stats.csv", f"/admin/requests/{rid}",
            f"/admin/members/{b}/confirm?status=suspended", "/api/admin/members", "/api/admin/stats",
            "/api/admin/stats.csv", f"/api/admin/requests/{rid}"]
    for user in ("sa", "ra1"):
        token = await sign_in(admin, user)
        for path in gets:
            r = await admin.get(path)
            assert r.status == 403, (user, path)
            assert "书 权限" not in await r.text()
        r = await admin.post(f"/api/admin/requests/{rid}/rollback", json={"reason": "x"},
                             headers={"X-CSRF-Token": token})
        assert r.status == 403
        r = await admin.post(f"/api/admin/members/{b}/state", json={"status": "suspended", "reason": "x"},
                             headers={"X-CSRF-Token": token})
        assert r.status == 403
        r = await admin.post(f"/admin/members/{b}/state", data={"csrf_token": token, "status": "suspended",
                                                                "reason": "x"})
        assert r.status == 403
    token = await sign_in(admin, None)
    for path in gets:
        r = await admin.get(path, allow_redirects=False)
        assert r.status == (401 if path.startswith("/api/") else 303), path
    assert store.get(rid)["status"] == m.WILL_SUPPLY and store.member_states() == {}


def stats_columns(head: str) -> list[str]:
    return head.split(",")
