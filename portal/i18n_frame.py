"""Texts of the page frame that screen readers and phones need: the skip link, the menu, announcements."""

from __future__ import annotations

from records.vocabulary import DISTRICTS_EN

MESSAGES: dict[str, tuple[str, str]] = {
    "a11y.skip": ("跳到正文", "Skip to the content"),
    "nav.label": ("主菜单", "Main menu"),
    "nav.menu": ("菜单", "Menu"),
    "results.heading": ("检索结果：{query}", "Results: {query}"),
    "results.announce.waiting": ("正在检索，已找到 {count} 种版本", "Searching; {count} editions found so far"),
    "results.announce.done": ("检索完成，本页 {count} 种版本", "Search finished: {count} editions on this page"),
    "results.announce.none": ("检索完成，没有找到", "Search finished: nothing found"),
    "facets.open": ("分面筛选", "Refine"),
    "table.actions": ("操作", "Actions"),
}

MESSAGES.update({f"district.{zh}": (zh, en) for zh, en in DISTRICTS_EN.items()})
