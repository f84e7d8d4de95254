"""What readers and staff are told, and when: notices as values, in Chinese with English (docs/notices.md).

Pure over the request's values and the registry: `for_change` turns one change of a request (as the store
writes it to the audit log) into notices, `due_soon`, `answer_due_today` and `digest` are the clock's.
ill/outbox.py writes them in the transaction of the change and ill/mail.py mails them after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from ill import delivery
from ill import machine as m
from ill.workdays import deadline_text
from members import Contact, Member, Registry

READER, STAFF = "reader", "staff"

# What a reader is told
SENT, FORWARDED, UNFILLED, SHIPPED, DELIVERED, READY = "sent", "forwarded", "unfilled", "shipped", "delivered", "ready"
DUE_SOON, OVERDUE, RECALLED, COMPLETED, CANCELLED, MESSAGE = ("due_soon", "overdue", "recalled", "completed",
                                                              "cancelled", "message")
NEED_BEFORE = "need_before"  # closed: the reader's need-before date passed with nothing shipped
NEW_BOOKS = "new_books"  # a saved search's alert: new editions in the union index (定题通告)
# What staff are told
NEW_REQUEST, NEW_MANUAL, TO_SHIP, ANSWER_DUE, DIGEST = "new_request", "new_manual", "to_ship", "answer_due", "digest"

KINDS = {
    SENT: ("已发出", "sent"), FORWARDED: ("已转发", "forwarded"), UNFILLED: ("未能满足", "cannot be supplied"),
    SHIPPED: ("已寄出", "shipped"), DELIVERED: ("已传递", "delivered"), READY: ("请取书", "ready to collect"),
    DUE_SOON: ("即将到期", "due soon"), OVERDUE: ("已超期", "overdue"), RECALLED: ("召回", "recalled"),
    COMPLETED: ("已完成", "completed"), CANCELLED: ("已取消", "cancelled"), MESSAGE: ("留言", "message"),
    NEED_BEFORE: ("已过需要日期", "past your need-before date"),
    NEW_BOOKS: ("新书通告", "new books"),
    NEW_REQUEST: ("新申请", "new request"), NEW_MANUAL: ("待处理手工申请", "manual request to route"),
    TO_SHIP: ("待发货", "to ship"), ANSWER_DUE: ("今日须答复", "answer due today"), DIGEST: ("每日摘要", "daily digest"),
}
SUBJECT_PREFIX = "[BALIS 馆际互借]"


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice for a reader (`user_id`) or for every staff member of a library (`member`, audience staff).

    `key` makes it once: the same event never gives the same recipient two notices; `link` is the portal
    page from its root (the mail gives the full address)."""

    key: str
    kind: str
    audience: str
    subject: str
    body: str
    link: str
    request_id: int | None = None
    user_id: str | None = None
    member: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A change of a request as the store records it: the audit entry and the request after it."""

    audit_id: int
    action: str
    from_status: str | None
    actor_role: str
    request: dict  # the request's columns after the change
    lender_before: str | None  # the lender the request was at before the change
    reason: str = ""


# ---- words -----------------------------------------------------------------------------------------------

def names(registry: Registry | None, code: str | None) -> tuple[str, str]:
    """A member's Chinese and English names ("" for none; the code when the registry does not know it)."""
    if not code:
        return "", ""
    if registry is not None:
        try:
            member = registry.get(code)
            return member.name or code, member.name_en or member.name or code
        except KeyError:
            pass
    return code, code


def _member(registry: Registry | None, code: str | None) -> Member | None:
    if registry is None or not code:
        return None
    try:
        return registry.get(code)
    except KeyError:
        return None


def contact_of(registry: Registry | None, code: str | None) -> Contact:
    member = _member(registry, code)
    return member.contact if member is not None else Contact()


def contact_lines(registry: Registry | None, code: str | None) -> list[str]:
    """The ILL desk of a member as lines for a notice (empty when the registry has nothing for it)."""
    c = contact_of(registry, code)
    zh, en = names(registry, code)
    rows = [("馆际互借处 ILL desk", c.office), ("地址 Address", c.address), ("开放时间 Hours", c.hours),
            ("电话 Phone", c.phone), ("电子邮件 Email", c.email), ("联系人 Contact", c.name)]
    lines = [f"{label}: {value}" for label, value in rows if value]
    return [f"{zh} ({en})", *lines] if lines else []


def _title(req: dict) -> str:
    text = (req.get("title") or req.get("citation") or "").strip()
    return text if len(text) <= 80 else text[:79] + "…"


def _subject(kind: str, req: dict | None, zh: str, en: str) -> str:
    num = f"申请单 {req['id']} " if req else ""
    num_en = f"Request {req['id']}: " if req else ""
    return f"{SUBJECT_PREFIX} {num}{zh} / {num_en}{en}"


def _when(moment: datetime | None) -> str:
    return deadline_text(moment) if moment is not None else ""


def _notice(key: str, kind: str, req: dict, zh: str, en: str, *, subject: tuple[str, str], reader: bool,
            member: str | None = None, extra: Iterable[str] = ()) -> Notice:
    body = "\n".join([zh, "", en, *([""] + list(extra) if extra else [])])
    if reader:
        return Notice(key, kind, READER, _subject(kind, req, *subject), body, f"/requests/{req['id']}",
                      req["id"], user_id=req["reader_id"], member=req["borrower"])
    return Notice(key, kind, STAFF, _subject(kind, req, *subject), body, f"/desk/requests/{req['id']}", req["id"],
                  member=member)


# ---- a change of a request -------------------------------------------------------------------------------

def for_change(change: Change, registry: Registry | None = None) -> list[Notice]:
    """The notices one change of a request gives (none for most staff-side steps)."""
    req, action = change.request, change.action
    key = f"audit{change.audit_id}"
    t = _title(req)
    n = req["id"]
    lender_zh, lender_en = names(registry, req.get("lender"))
    borrower_zh, borrower_en = names(registry, req["borrower"])
    prev_zh, prev_en = names(registry, change.lender_before)
    status = req["status"]
    out: list[Notice] = []

    def reader(kind: str, zh: str, en: str, extra: Iterable[str] = ()) -> None:
        out.append(_notice(f"{key}:{kind}", kind, req, zh, en, subject=KINDS[kind], reader=True, extra=extra))

    def staff(kind: str, member: str | None, zh: str, en: str) -> None:
        if member:
            out.append(_notice(f"{key}:{kind}", kind, req, zh, en, subject=KINDS[kind], reader=False, member=member))

    desk = contact_lines(registry, req["borrower"])
    arrived = status == m.REQUEST_RECEIVED and (action in ("submit", m.ROUTE) or req.get("lender") != change.lender_before)
    if arrived and action in ("submit", m.ROUTE):
        reader(SENT, f"您的申请单 {n}《{t}》已发往 {lender_zh}，对方将在 {_when(req.get('answer_due'))} 前答复。",
               f'Your request {n} ("{t}") was sent to {lender_en}, which answers by {_when(req.get("answer_due"))}.')
    elif arrived:
        why = f"（{change.reason}）" if change.reason else ""
        reader(FORWARDED, f"{prev_zh} 未能提供您的申请单 {n}《{t}》{why}，已转发至 {lender_zh}，"
                          f"答复期限 {_when(req.get('answer_due'))}。",
               f'{prev_en} could not supply request {n} ("{t}"); it was forwarded to {lender_en}, which answers by '
               f'{_when(req.get("answer_due"))}.' + (f" ({change.reason})" if change.reason else ""))
    if arrived:
        staff(NEW_REQUEST, req.get("lender"),
              f"新的馆际互借申请 {n}《{t}》来自 {borrower_zh}（读者 {req['reader_id']}），请在 "
              f"{_when(req.get('answer_due'))} 前答复（供应或无法提供）。",
              f'New request {n} ("{t}") from {borrower_en} (reader {req["reader_id"]}); answer by '
              f'{_when(req.get("answer_due"))} (will supply, or cannot supply).')
    if action == "submit" and status == m.PENDING:
        staff(NEW_MANUAL, req["borrower"],
              f"读者 {req['reader_id']} 提交了手工申请 {n}《{t}》，请查找出借馆并发送。",
              f'Reader {req["reader_id"]} wrote manual request {n} ("{t}"): find lenders and route it.')
    if action == m.NEED_BEFORE:
        nb = req.get("need_before")
        day = nb.isoformat() if nb else ""
        reader(NEED_BEFORE, f"您的申请单 {n}《{t}》到您填写的需要日期 {day} 仍未能寄出，已关闭，不再向其他馆请求。\n"
                            f"如仍需要此书，请重新提交申请（可填写新的需要日期），或联系本馆馆际互借处。",
               f'Request {n} ("{t}") was not shipped by your need-before date {day}, so it was closed and no other '
               f"library will be asked. If you still need it, request it again (with a new date if you like), or "
               f"ask your library's ILL desk.", desk)
    elif status == m.UNFILLED and change.from_status != m.UNFILLED:
        why = req.get("reader_message") or change.reason
        reader(UNFILLED, f"很抱歉，您的申请单 {n}《{t}》未能满足：{why}\n"
                         f"您可以：核对书目信息后重新提交手工申请；改为申请原文传递（部分章节）；"
                         f"或联系本馆馆际互借处，请馆员代为查找其他来源。",
               f'Sorry: request {n} ("{t}") cannot be supplied. What to do next: check the citation and write a '
               f"manual request again, ask for a copy of the pages you need (document delivery) instead, or ask your "
               f"library's ILL desk to look for another source.", desk)
    if action == m.SHIP and req["kind"] == m.LOAN:
        reader(SHIPPED, f"{lender_zh} 已寄出《{t}》（申请单 {n}）。图书到达 {borrower_zh} 后我们会再通知您取书。",
               f'{lender_en} shipped "{t}" (request {n}). You will be told when it is at {borrower_en} to collect.')
    elif action == m.SHIP and req.get("copy_file"):
        rules = registry.copy if registry is not None else None
        days, times = (rules.download_days, rules.download_limit) if rules else (14, 5)
        mailed = req.get("copy_method") == "email" and (req.get("copy_size") or 0) <= (
            rules.email_max_mb if rules else 10) * 1_000_000
        if mailed:
            extra_zh, extra_en = "扫描件同时作为本邮件的附件发送。", " The scan is also attached to this mail."
        else:
            extra_zh, extra_en = "", ""
        reader(DELIVERED, f"{lender_zh} 已传递《{t}》的扫描件（申请单 {n}，{req.get('pages') or ''} 页）。请在“我的申请”中"
                          f"下载：链接 {_when(req.get('copy_expires'))} 前有效（{days} 天），最多下载 {times} 次，之后文件将被删除。"
                          + extra_zh,
               f'{lender_en} delivered the scan of "{t}" (request {n}, {req.get("pages") or ""} pages). Download it '
               f"from My requests before {_when(req.get('copy_expires'))} ({days} days), at most {times} times; the "
               f"file is deleted after that." + extra_en)
    elif action == m.SHIP and req.get("copy_method") == "post":
        reader(DELIVERED, f"{lender_zh} 已将《{t}》的复印件（申请单 {n}）打印并邮寄给您，请注意查收。",
               f'{lender_en} printed the copy of "{t}" (request {n}) and posted it to you.', desk)
    elif action == m.SHIP:
        reader(DELIVERED, f"{lender_zh} 已传递《{t}》的文献（申请单 {n}），请到本馆馆际互借处领取或查收。",
               f'{lender_en} delivered the copy of "{t}" (request {n}); collect it at your library\'s ILL desk.', desk)
    if action in (m.EXPECT, m.WILL) and change.from_status == m.REQUEST_RECEIVED:
        what = "图书" if req["kind"] == m.LOAN else "文献"
        staff(TO_SHIP, req.get("lender"),
              f"申请单 {n}《{t}》待发货：请在 {_when(req.get('ship_due'))} 前将{what}寄给 {borrower_zh}。",
              f'Request {n} ("{t}") to ship: send it to {borrower_en} by {_when(req.get("ship_due"))}.')
    if action == m.RECEIVED:
        at_zh, at_en = delivery.where(_member(registry, req["borrower"]), req.get("delivery"), req.get("pickup"))
        reader(READY, f"《{t}》（申请单 {n}）已到达{borrower_zh}，{at_zh}。",
               f'"{t}" (request {n}) is at {borrower_en}: {at_en}.', desk)
    if action == m.MARK_OVERDUE:
        reader(OVERDUE, f"《{t}》（申请单 {n}）已超期，应还日期 {_when(req.get('due_back'))}。请尽快还到本馆馆际互借处；"
                        f"超期费用按出借馆 {lender_zh} 的规定计算。",
               f'"{t}" (request {n}) is overdue: it was due back {_when(req.get("due_back"))}. Return it to your '
               f"library's ILL desk now; fines follow the rules of the lender, {lender_en}.", desk)
    if action == m.RECALL:
        why = f"（{change.reason}）" if change.reason else ""
        reader(RECALLED, f"出借馆 {lender_zh} 召回《{t}》（申请单 {n}）{why}。请尽快还到本馆馆际互借处。",
               f'The lender, {lender_en}, recalls "{t}" (request {n})' + (f": {change.reason}" if change.reason else "")
               + ". Return it to your library's ILL desk as soon as you can.", desk)
    if status == m.LOAN_COMPLETED and change.from_status != m.LOAN_COMPLETED:
        reader(COMPLETED, f"申请单 {n}《{t}》已完成：{lender_zh} 已收回图书。谢谢！",
               f'Request {n} ("{t}") is complete: {lender_en} has the book back. Thank you!')
    if action == m.CANCEL and change.actor_role != m.READER_:
        why = f"：{change.reason}" if change.reason else ""
        reader(CANCELLED, f"您的申请单 {n}《{t}》已由本馆馆员取消{why}。",
               f'Your library\'s ILL staff cancelled request {n} ("{t}")' + (f": {change.reason}" if change.reason
                                                                           else "") + ".", desk)
    if action == m.NOTIFY:
        if change.actor_role == m.READER_:
            staff(MESSAGE, req["borrower"], f"读者 {req['reader_id']} 关于申请单 {n}《{t}》的留言：{change.reason}",
                  f'Reader {req["reader_id"]} wrote about request {n} ("{t}"): {change.reason}')
        else:
            reader(MESSAGE, f"关于申请单 {n}《{t}》的留言：{change.reason}",
                   f'A message about request {n} ("{t}"): {change.reason}')
    return out


# ---- the clock ---------------------------------------------------------------------------------------------

def due_soon(req: dict, registry: Registry | None = None) -> Notice:
    """The reader's reminder: the book is due back within 3 working days (once per loan)."""
    t, n = _title(req), req["id"]
    due = req["due_back"]
    return _notice(f"due_soon:{n}:{due:%Y%m%d}", DUE_SOON, req,
                   f"《{t}》（申请单 {n}）应于 {_when(due)} 前归还（不足 3 个工作日）。馆际互借不能续借，"
                   f"请按时还到本馆馆际互借处。",
                   f'"{t}" (request {n}) is due back by {_when(due)}, within 3 working days. Interlibrary loans '
                   f"cannot be renewed: return it to your library's ILL desk in time.",
                   subject=KINDS[DUE_SOON], reader=True, extra=contact_lines(registry, req["borrower"]))


def answer_due_today(req: dict, registry: Registry | None = None) -> Notice:
    """The lender's staff: the 1-working-day answer deadline ends today (once per lender and request)."""
    t, n = _title(req), req["id"]
    borrower_zh, borrower_en = names(registry, req["borrower"])
    due = req["answer_due"]
    return _notice(f"answer_due:{n}:{req['lender']}:{due:%Y%m%d}", ANSWER_DUE, req,
                   f"申请单 {n}《{t}》（来自 {borrower_zh}）须在 {_when(due)} 前答复，否则将自动转给下一个出借馆。",
                   f'Request {n} ("{t}", from {borrower_en}) must be answered by {_when(due)}, or it moves on to '
                   f"the next lender by itself.", subject=KINDS[ANSWER_DUE], reader=False, member=req["lender"])


@dataclass(frozen=True, slots=True)
class DigestPart:
    """One heading of a library's digest and the requests under it (id, title, deadline text)."""

    zh: str
    en: str
    rows: tuple[tuple[int, str, str], ...]


def digest(member: str, day: date, parts: list[DigestPart], registry: Registry | None = None) -> Notice | None:
    """A library's daily digest of what waits for its staff; None when nothing does."""
    parts = [p for p in parts if p.rows]
    if not parts:
        return None
    zh_name, en_name = names(registry, member)
    lines = [f"{zh_name} 馆际互借每日摘要 {day.isoformat()} / Daily ILL digest of {en_name}", ""]
    for p in parts:
        lines.append(f"{p.zh} / {p.en}: {len(p.rows)}")
        lines.extend(f"  - 申请单 {rid}《{title}》" + (f"  {when}" if when else "") for rid, title, when in p.rows)
        lines.append("")
    body = "\n".join(lines).rstrip()
    total = sum(len(p.rows) for p in parts)
    return Notice(f"digest:{member}:{day.isoformat()}", DIGEST, STAFF,
                  f"{SUBJECT_PREFIX} {day.isoformat()} 每日摘要：{total} 项待办 / Daily digest: {total} to do",
                  body, "/desk", None, member=member)


# ---- a saved search's alert --------------------------------------------------------------------------------

NEW_BOOKS_LISTED = 20  # editions named in one notice; the rest are on the search's page


def new_books(search: dict, editions: list, through: datetime) -> Notice:
    """The reader's notice of the editions new in the union index that match a saved search (once per search and
    alert run: `through` is the run's time). `editions`: ill.searches.NewEdition values."""
    count, name = len(editions), search["name"]
    lines = [f"- {e.title}" + (f"（{e.details}）" if e.details else "") for e in editions[:NEW_BOOKS_LISTED]]
    if count > NEW_BOOKS_LISTED:
        lines.append(f"- …… 另有 {count - NEW_BOOKS_LISTED} 种 / and {count - NEW_BOOKS_LISTED} more")
    body = "\n".join([f"您保存的检索“{name}”在联合目录中有 {count} 种新书（最近一次采集新收录）：",
                      "", f"Your saved search \"{name}\" has {count} new edition(s) in the union catalogue "
                      "(added by the latest harvest):", "", *lines, "",
                      "在“我的检索”中查看，或在那里关闭此通告。 / See them under My searches, or turn this alert "
                      "off there."])
    title = name if len(name) <= 40 else name[:39] + "…"
    return Notice(f"new_books:{search['id']}:{through:%Y%m%dT%H%M%S%f}", NEW_BOOKS, READER,
                  f"{SUBJECT_PREFIX} 新书通告：{title}（{count} 种）/ New books: {title} ({count})", body,
                  f"/searches/{search['id']}", None, user_id=search["user_id"])
