"""What the ILL store writes in words, in the page's language.

The store keeps a few texts of its own in words rather than codes: what the reader is told
(`reader_message`), why the clock acted (audit reasons, closed legs' notes), mostly as "中文 (English)".
Pages show them in one language: `said()` in portal/render.py keeps the page's half of each such pair and
turns the store's few one-language phrases (below) into the other. Lenders' reasons picked from the list on
the confirm page (`LENDER_REASONS`) are shown in the page's language; any other text a person typed stays
as written.
"""

from __future__ import annotations

# The reasons a lender gives most, offered on the confirm page of Unfilled / RetryPossible (ISO 18626's
# ReasonUnfilled / ReasonRetry in the library's words). Stored as chosen; shown in the page's language.
LENDER_REASONS: dict[str, tuple[str, str]] = {
    "not_held": ("本馆无此书", "not held by this library"),
    "on_loan": ("已借出", "on loan"),
    "not_on_shelf": ("架上未找到", "not on the shelf"),
    "not_for_loan": ("不外借", "not lent outside the library"),
    "poor_condition": ("书况不宜寄送", "in too poor a condition to send"),
    "in_process": ("正在加工或装订", "being processed or bound"),
    "policy": ("不符合本馆馆际互借规定", "not allowed by our ILL policy"),
}

# Phrases of the store's own texts that it writes in one language only, as (pattern, replacement) pairs for
# each direction. A gloss "(due …)" after a phrase adds a date rather than translating it (`said.due`).
TO_ENGLISH: tuple[tuple[str, str], ...] = (
    (r"\b([A-Z][A-Z0-9_-]*) 未在 1 个工作日内答复", r"\1 did not answer within 1 working day"),
    (r"\b([A-Z][A-Z0-9_-]*) 未在 (\d+) 个工作日内答复", r"\1 did not answer within \2 working days"),
    (r"\b([A-Z][A-Z0-9_-]*) 未在 1 个工作日内发货", r"\1 did not ship within 1 working day"),
    (r"\b([A-Z][A-Z0-9_-]*) 未在 (\d+) 个工作日内发货", r"\1 did not ship within \2 working days"),
    (r"\b([A-Z][A-Z0-9_-]*) 暂时无法提供", r"\1 cannot supply it now"),
    (r"\b([A-Z][A-Z0-9_-]*) 无法提供", r"\1 could not supply it"),
    (r"答复期限", "answer due"),
    (r"请于 (\S+ \S+) 前归还 \(due back\)", r"due back by \1"),
    (r"申请单 (\d+)", r"Request \1"),
)
TO_CHINESE: tuple[tuple[str, str], ...] = (
    (r"\b(\d+) day\(s\) late", r"逾期 \1 天"),
    (r"\bloan period ended\b", "借期已满"),
)

# What ill/holidays.py says about a holiday calendar typed on /admin/holidays (English, for its files):
# (pattern, Chinese, English) for the part after "<origin>, year YYYY[, holidays|workdays]: ".
CALENDAR_ERRORS: tuple[tuple[str, str, str], ...] = (
    (r"'(.+)' is not a date \(YYYY-MM-DD\)", r"“\1”不是日期（应写作 YYYY-MM-DD）", r"“\1” is not a date (YYYY-MM-DD)"),
    (r"'(.+)' is not a range of at most (\d+) days", r"“\1”不是不超过 \2 天的日期范围",
     r"“\1” is not a range of at most \2 days"),
    (r"(\S+) is listed both as a holiday and as a working day", r"\1 同时列为节假日和调休上班日",
     r"\1 is listed both as a holiday and as a working day"),
    (r"(\S+) is not in or next to (\d+)", r"\1 不在 \2 年或相邻的年份内", r"\1 is not in or next to \2"),
)

MESSAGES: dict[str, tuple[str, str]] = {
    "calendar.where": ("{year} 年", "{year}"),
    "calendar.where.holidays": ("{year} 年节假日", "{year}, holidays"),
    "calendar.where.workdays": ("{year} 年调休上班日", "{year}, working days"),
    "said.due": ("（期限 {when}）", " (due {when})"),
    "confirm.reasons": ("常用原因（可选，也可自行填写）", "Common reasons (pick one or write your own)"),
}
MESSAGES.update({f"lender_reason.{code}": texts for code, texts in LENDER_REASONS.items()})
