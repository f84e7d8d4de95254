"""Texts of the page frame that screen readers and phones need: the skip link, the menu, announcements."""

from __future__ import annotations

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

# Beijing's 16 districts (the registry writes them in Chinese), for the member list and the map in English.
DISTRICTS_EN = {"东城区": "Dongcheng", "西城区": "Xicheng", "朝阳区": "Chaoyang", "丰台区": "Fengtai",
                "石景山区": "Shijingshan", "海淀区": "Haidian", "门头沟区": "Mentougou", "房山区": "Fangshan",
                "通州区": "Tongzhou", "顺义区": "Shunyi", "昌平区": "Changping", "大兴区": "Daxing",
                "怀柔区": "Huairou", "平谷区": "Pinggu", "密云区": "Miyun", "延庆区": "Yanqing"}
MESSAGES.update({f"district.{zh}": (zh, en) for zh, en in DISTRICTS_EN.items()})
