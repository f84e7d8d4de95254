"""The rules and money of a copy request (原文传递), pure over values: how many pages a request asks for, whether
the consortium's rules and each supplier's allow it, and what it costs (docs/document-delivery.md).

Limits: the consortium's `CopyRules` (at most `max_pages` a request, at most `max_book_fraction` of a book whose
page count is given) and each supplier's `CopyService.max_pages`; a supplier that does not take the request (its
page limit, the delivery method) leaves the rota with its reason, and a request no supplier takes is refused.
Money, in fen: the supplier's price = per request + pages x per page, rounded once to whole fen (half a fen up,
`ill.accounts.fen`); the centre's subsidy = its per-request amount, at most the price and at most what is left
of the borrowing member's yearly budget; the reader's share = price - subsidy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from ill.accounts import fen, yuan
from ill.errors import InvalidRequest, RuleViolation
from ill.workdays import BEIJING
from members.values import COPY_METHODS, DEFAULT_COPY, CopyRules, CopyService
from records.vocabulary import rate

DOWNLOAD, EMAIL, POST = COPY_METHODS
METHOD_WORDS = {DOWNLOAD: ("下载（链接有期限）", "download (the link expires)"),
                EMAIL: ("电子邮件附件", "e-mail attachment"), POST: ("打印后邮寄", "printed and posted")}


def count_pages(pages: str | None) -> int | None:
    """Pages a citation's page field covers ('12-15' -> 4, '3219-27' -> 9, '5-7, 9' -> 4); None when it names no
    countable pages (empty, or an article number such as e0123): records.citation.page_count."""
    from records.citation import page_count

    text = (pages or "").replace("，", ",").replace("；", ",").replace(";", ",").replace("–", "-").strip()
    return page_count(text) if text else None


def book_pages(citation_data: dict | None) -> int | None:
    """The book's whole page count when the reader gave it (citation_data["book_pages"])."""
    value = (citation_data or {}).get("book_pages")
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def check_consortium(rules: CopyRules, pages: int | None, citation_data: dict | None) -> None:
    """The consortium's own limits; RuleViolation says which and what to do."""
    if pages is None:
        return
    if pages > rules.max_pages:
        exc = RuleViolation(f"原文传递每次最多 {rules.max_pages} 页，此申请为 {pages} 页；请分成几次申请，或改为借阅原书 "
                            f"(a copy request is for at most {rules.max_pages} pages under the consortium's rules; "
                            f"this one asks for {pages})")
        exc.code = "too_many_pages"
        raise exc
    whole = book_pages(citation_data)
    if whole is not None and pages > rules.max_book_fraction * whole:
        share = rate(rules.max_book_fraction)
        most = int(rules.max_book_fraction * whole)
        exc = RuleViolation(f"原文传递最多复制全书的 {share}（全书 {whole} 页，至多 {most} 页），此申请为 {pages} 页；"
                            f"请改为借阅原书 (at most {share} of a book may be copied: {most} of its {whole} pages; "
                            f"this request asks for {pages}: borrow the book instead)")
        exc.code = "too_much_of_book"
        raise exc


def refusal(service: CopyService, pages: int | None, method: str | None) -> str | None:
    """Why a supplier does not take this request (Chinese with English), or None when it does."""
    if not service.supplies:
        return "不提供原文传递 (does not supply copies)"
    if pages is not None and service.max_pages is not None and pages > service.max_pages:
        return f"每次最多 {service.max_pages} 页，此申请 {pages} 页 (at most {service.max_pages} pages a request)"
    if method and method not in service.methods:
        return f"不提供{METHOD_WORDS[method][0]} (does not deliver by {method})"
    return None


def check_method(method: str | None) -> str:
    """The reader's delivery method for a copy, checked (default: download)."""
    method = (method or DOWNLOAD).strip().lower()
    if method not in COPY_METHODS:
        offered = "、".join(f"{c}（{METHOD_WORDS[c][0]}）" for c in COPY_METHODS)
        raise InvalidRequest(f"原文传递方式 {method!r} 不存在；可选：{offered} (copy delivery methods: "
                             f"{', '.join(COPY_METHODS)})")
    return method


def admit(entries: list[dict], services: dict[str, CopyService], pages: int | None, method: str | None
          ) -> list[dict]:
    """The rota without the suppliers that do not take the request, each left out noted on the first kept entry's
    reason; RuleViolation (code "no_supplier") naming every refusal when none is left."""
    kept, out = [], []
    for entry in entries:
        why = refusal(services.get(entry["member"], DEFAULT_COPY), pages, method)
        (out if why else kept).append(entry if not why else f"{entry['member']}: {why}")
    if entries and not kept:
        exc = RuleViolation("轮转表中没有供应馆接受此原文传递申请 (no supplier on the rota takes this copy request): "
                            + "; ".join(out))
        exc.code = "no_supplier"
        raise exc
    if out:
        kept[0] = {**kept[0], "reason": f"{kept[0].get('reason') or ''}（未列入 left out: {'; '.join(out)}）".strip()}
    return kept


@dataclass(frozen=True, slots=True)
class Quote:
    """What a copy costs, in fen: the supplier's price, the centre's subsidy, the reader's share."""

    supplier: str
    pages: int
    price_fen: int
    subsidy_fen: int
    reader_fen: int

    def to_dict(self) -> dict:
        return {"supplier": self.supplier, "pages": self.pages, "price_fen": self.price_fen,
                "subsidy_fen": self.subsidy_fen, "reader_fen": self.reader_fen, "price": yuan(self.price_fen),
                "subsidy": yuan(self.subsidy_fen), "reader": yuan(self.reader_fen)}

    def text(self) -> str:
        return (f"{self.pages} 页：供应馆收费 ¥{yuan(self.price_fen)}，中心补贴 ¥{yuan(self.subsidy_fen)}，"
                f"读者支付 ¥{yuan(self.reader_fen)} ({self.pages} pages: supplier's price ¥{yuan(self.price_fen)}, "
                f"centre's subsidy ¥{yuan(self.subsidy_fen)}, you pay ¥{yuan(self.reader_fen)})")


def price_fen(service: CopyService, pages: int) -> int:
    """The supplier's price for `pages` pages, rounded once to whole fen."""
    return fen(service.price_per_request + max(pages, 0) * service.price_per_page)


def quote(supplier: str, service: CopyService, rules: CopyRules, pages: int | None,
          budget_left_fen: int | None) -> Quote:
    """The price, subsidy and reader's share of a copy of `pages` pages (unknown: 1) from `supplier`.

    `budget_left_fen`: what is left of the borrowing member's yearly subsidy budget (None: not limited)."""
    n = pages if pages is not None and pages > 0 else 1
    price = price_fen(service, n)
    subsidy = min(fen(rules.subsidy_per_request), price)
    if budget_left_fen is not None:
        subsidy = max(0, min(subsidy, budget_left_fen))
    return Quote(supplier, n, price, subsidy, price - subsidy)


def unavailable(req: dict, now: datetime, download_limit: int) -> str | None:
    """Why the delivered scan of `req` cannot be downloaded now (`now` as the store keeps times), or None."""
    if req.get("copy_deleted_at") is not None:
        return f"扫描件已于 {_day(req['copy_deleted_at'])} 删除 (the scan was deleted when its link expired)"
    if not req.get("copy_file"):
        return "没有可下载的扫描件 (no scan was delivered for download)"
    if req.get("copy_expires") is not None and req["copy_expires"] <= now:
        return f"下载链接已于 {_day(req['copy_expires'])} 过期 (the download link expired)"
    if (req.get("copy_downloads") or 0) >= download_limit:
        return f"已下载 {req['copy_downloads']} 次，达到上限 (downloaded {download_limit} times, the limit)"
    return None


def _day(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def budget_fen(rules: CopyRules) -> int:
    """A member's yearly subsidy budget in fen (0: the centre pays no subsidy)."""
    return fen(rules.subsidy_budget)


def budget_lock_key(member: str, year: int) -> int:
    """The key of PostgreSQL's advisory lock on `member`'s subsidy budget for `year`: a stable signed 64-bit
    number (a collision only makes two members' deliveries wait for each other)."""
    digest = hashlib.blake2b(f"balis subsidy budget {member} {year}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def budget_note(q: Quote, rules: CopyRules, left_fen: int, year: int) -> str | None:
    """What the reader is told when the borrowing member's budget cut the subsidy of this copy, or None."""
    full = min(fen(rules.subsidy_per_request), q.price_fen)
    if q.subsidy_fen >= full or full == 0 or budget_fen(rules) == 0:
        return None
    if left_fen <= 0:
        return (f"本馆{year}年原文传递补贴预算已用完，由读者支付全部费用 ¥{yuan(q.reader_fen)} "
                f"(your library's subsidy budget for {year} is spent: you pay the whole price, "
                f"¥{yuan(q.reader_fen)})")
    return (f"本馆{year}年原文传递补贴预算仅余 ¥{yuan(q.subsidy_fen)}，读者支付 ¥{yuan(q.reader_fen)} "
            f"(the last ¥{yuan(q.subsidy_fen)} of your library's subsidy budget for {year}: you pay "
            f"¥{yuan(q.reader_fen)})")
