"""Texts of the search pages about where results come from: the union index or the members live."""

from __future__ import annotations

from federator.facets import MATERIAL_TYPES, UNKNOWN_LABELS

MATERIAL_EN = {"book": "Book", "ebook": "E-book", "serial": "Serial", "ejournal": "E-journal", "audio": "Sound recording",
               "video": "Video recording", "map": "Map", "score": "Music score", "large_print": "Large print",
               "other": "Other"}  # fmt: skip

MESSAGES: dict[str, tuple[str, str]] = {
    "local.from_index": ("结果来自联合目录索引（各成员馆书目每晚采集汇总，最近采集于 {time}）。",
                         "Results from the union index (every member's catalogue, harvested nightly; last "
                         "harvested {time})."),
    "local.from_index_undated": ("结果来自联合目录索引（各成员馆书目每晚采集汇总）。",
                                 "Results from the union index (every member's catalogue, harvested nightly)."),
    "local.total": ("共 {total} 种版本", "{total} editions in all"),
    "local.harvested_status": ("馆藏状态为采集时的状态，未向成员馆实时查询。",
                               "Holdings show their status when harvested; the libraries were not asked now."),
    "local.checking": ("正在向收藏馆实时查询本页馆藏状态……",
                       "Asking the holding libraries for the current status of these copies…"),
    "local.checked": ("本页馆藏状态已向收藏馆实时查询；未响应的馆显示采集时的状态。",
                      "The holding libraries were asked for these copies' current status; copies of a library "
                      "that did not answer show their status when harvested."),
    "local.try_live": ("实时检索所有成员馆", "Search every library live"),
    "local.try_live.hint": ("（较慢，可找到今天新编目的书）", " (slower; finds books catalogued today)"),
    "local.try_index": ("改用联合目录索引检索", "Search the union index instead"),
    "local.live": ("实时检索：结果由各成员馆当场返回。", "Live search: results come from the libraries now."),
    "local.unavailable": ("联合目录索引暂时不可用，已改为实时检索所有成员馆。",
                          "The union index is not available just now; every library was searched live."),
    "reason.not_checked": ("未实时查询", "not asked now"),
    "reason.no_holdings": ("本页无其馆藏", "holds none of these"),
    "page.hint.local": ("每页 {size} 种版本", "{size} editions a page"),
    "page.nav": ("翻页", "Pages"),
    "none.title": ("没有找到“{query}”", "Nothing found for “{query}”"),
    "none.where.local": ("检索的是联合目录索引（各成员馆书目每晚汇总）。", "The union index was searched (every library's catalogue, harvested nightly)."),
    "none.where.live": ("已实时检索所有成员馆。", "Every member library was searched live."),
    "none.filtered": ("结果还按所选分面筛选过。", "The results were also filtered by the facets you chose."),
    "none.both_scripts": ("中文检索词已同时按简体和繁体检索。", "Chinese words were searched in simplified and traditional characters."),
    "none.clear_facets": ("取消分面筛选再看", "Show them without the facets"),
    "none.all_fields": ("不限字段检索：{query}", "Search every field: {query}"),
    "none.fewer_words": ("少一个词：{query}", "One word fewer: {query}"),
    "none.spelling": ("您是不是要找：{query}", "Did you mean: {query}"),
    "none.live": ("实时检索所有成员馆（可找到今天新编目的书）", "Search every library live (finds books catalogued today)"),
    "none.local": ("改用联合目录索引检索", "Search the union index instead"),
    "none.request": ("仍然找不到？填写馆际互借申请单，馆员帮您查找", "Still not found? Fill in an ILL request and the staff will look for it"),
    "work.permalink": ("本页永久链接", "Permanent link"),
    "work.opac_record": ("在该馆目录中查看", "in its own catalogue"),
    "work.ebook_not_lent": ("电子资源不能馆际互借。可以申请借阅的纸本版本：",
                            "E-resources cannot be lent between libraries. Print editions that can be requested:"),
    "work.no_print_known": ("联合目录中暂未找到同一作品现在可借的纸本版本。", "No print edition of this work that can be lent now is known."),
    "work.search_print": ("按题名检索纸本", "Search by title for print"),
    "holding.overdue": ("已逾期", "overdue"),
    "cite.title": ("引用与导出", "Cite and export"),
    "cite.gbt7714": ("GB/T 7714-2015", "GB/T 7714-2015"),
    "cite.apa": ("APA（第7版）", "APA (7th edition)"),
    "cite.hint": ("可直接复制；请按所在单位的要求核对。", "Copy as it is; check it against what your school asks for."),
    "cite.download": ("下载", "Download"),
    "export.ris": ("RIS（EndNote、NoteExpress、Zotero）", "RIS (EndNote, NoteExpress, Zotero)"),
    "export.bibtex": ("BibTeX", "BibTeX"),
    "export.marcxml": ("MARCXML", "MARCXML"),
    "export.mark": ("选择 {title}", "Mark {title}"),
    "export.marked": ("导出所选版本", "Export the marked editions"),
    "export.format": ("格式", "Format"),
    "export.button": ("导出", "Export"),
    "param.work_unknown": ("找不到版本 {work_id}（不在最近的检索结果和联合目录索引中），请重新检索后再导出",
                           "no edition {work_id} (not in recent results nor in the union index); search again, then export"),
    "param.export_none": ("请先勾选要导出的版本", "mark the editions to export first"),
    "param.export_too_many": ("一次最多导出 {limit} 种版本", "export at most {limit} editions at a time"),
}
MESSAGES.update({f"material.{code}": (zh, MATERIAL_EN[code]) for code, zh in MATERIAL_TYPES.items()})
UNKNOWN_EN = {"member": "Unknown", "year": "Year unknown", "language": "Language unknown",
              "material_type": "Type unknown", "clc": "Unclassified"}
MESSAGES.update({f"facet.unknown.{facet}": (zh, UNKNOWN_EN[facet]) for facet, zh in UNKNOWN_LABELS.items()})
