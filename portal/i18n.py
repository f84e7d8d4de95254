"""The portal's message catalogue: every text a reader sees, in Chinese (default) and English.

Templates never hold reader-facing text of their own; they call `_("key")` (bound to the request's
language). A key missing from the catalogue is a bug, found by `tests/portal/test_portal_params.py`.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# key: (Chinese, English). Placeholders use str.format names.
MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "site.name": ("BALIS 联合目录", "BALIS Union Catalogue"),
    "site.tagline": ("北京地区高校图书馆联合检索", "Union search of Beijing university libraries"),
    "nav.search": ("联合检索", "Search"),
    "nav.members": ("成员馆", "Member libraries"),
    "nav.map": ("成员馆地图", "Map"),
    "nav.api": ("接口", "API"),
    "lang.switch": ("English", "中文"),
    "lang.switch.title": ("Switch to English", "切换到中文"),
    "footer.text": ("北京地区高校图书馆文献资源保障体系 (BALIS)",
                    "Beijing Academic Library & Information System (BALIS)"),
    # search form
    "search.label": ("检索词", "Search terms"),
    "search.placeholder": ("题名、责任者、主题、ISBN……", "title, author, subject, ISBN…"),
    "search.button": ("检索", "Search"),
    "search.advanced": ("高级检索", "Advanced search"),
    "search.advanced.hint": ("各项之间为“并且”(AND) 关系；每项可用检索式语法。",
                             "Fields are combined with AND; each field takes the query syntax."),
    "search.syntax.hint": ("语法：ti: 题名, au: 责任者, su: 主题, isbn:, pub: 出版者, year:；AND / OR / NOT；"
                           "\"短语\"；词* 截词",
                           "Syntax: ti: title, au: author, su: subject, isbn:, pub: publisher, year:; "
                           "AND / OR / NOT; \"phrases\"; word* truncation"),
    "field.title": ("题名", "Title"),
    "field.author": ("责任者", "Author"),
    "field.subject": ("主题", "Subject"),
    "field.isbn": ("ISBN", "ISBN"),
    "field.publisher": ("出版者", "Publisher"),
    "field.year": ("出版年", "Year"),
    "field.year.hint": ("如 2009 或 2000-2010", "e.g. 2009 or 2000-2010"),
    "field.edition": ("版本", "Edition"),
    "field.language": ("语种", "Language"),
    "field.material_type": ("文献类型", "Material type"),
    "field.extent": ("载体形态", "Extent"),
    "field.series": ("丛书", "Series"),
    "field.place": ("出版地", "Place"),
    "field.classification": ("分类号", "Classification"),
    "field.subjects": ("主题词", "Subjects"),
    "field.members": ("收藏馆", "Held by"),
    "home.intro": ("一次检索所有成员馆的馆藏目录；结果按版本合并，显示各馆馆藏。",
                   "Search every member library's catalogue at once; results are merged by edition, "
                   "with each library's holdings."),
    "home.members": ("可检索成员馆：{count} 个", "Searchable member libraries: {count}"),
    # results
    "results.title": ("检索结果", "Results"),
    "results.query": ("检索式", "Query"),
    "results.count": ("本页 {count} 种版本", "{count} editions on this page"),
    "results.none": ("没有找到。请换用其他检索词，或检查各成员馆的状态。",
                     "Nothing found. Try other words, or check the member libraries' status."),
    "results.waiting": ("正在检索各成员馆……", "Asking the member libraries…"),
    "results.done": ("检索完成", "Search finished"),
    "results.filtered": ("已按分面筛选", "Filtered by facets"),
    "results.clear_facets": ("清除筛选", "Clear filters"),
    "results.holders": ("{count} 馆收藏", "held by {count}"),
    "results.available": ("{count} 册可借", "{count} available"),
    "results.edition_page": ("详细信息", "Details"),
    "sort.label": ("排序", "Sort"),
    "sort.relevance": ("相关度", "Relevance"),
    "sort.year": ("出版年（新→旧）", "Year (newest first)"),
    "sort.year_asc": ("出版年（旧→新）", "Year (oldest first)"),
    "sort.title": ("题名（拼音）", "Title (A–Z)"),
    "page.label": ("第 {page} 页", "Page {page}"),
    "page.prev": ("上一页", "Previous page"),
    "page.next": ("下一页", "Next page"),
    "page.hint": ("每页为各成员馆的下一批记录", "Each page brings every library's next records"),
    # facets
    "facets.title": ("分面筛选", "Refine"),
    "facet.member": ("收藏馆", "Library"),
    "facet.year": ("出版年", "Year"),
    "facet.language": ("语种", "Language"),
    "facet.material_type": ("文献类型", "Material type"),
    "facet.clc": ("中图法分类", "CLC class"),
    "facet.remove": ("取消", "remove"),
    "facet.about": ("约", "≈"),
    "facet.estimated": ("命中很多时，分面计数为抽样估计", "with many hits, facet counts are estimated from a sample"),
    # member status strip
    "status.title": ("成员馆响应", "Member libraries"),
    "status.asking": ("检索中", "asking"),
    "status.answered": ("已响应", "answered"),
    "status.slow": ("响应慢", "slow"),
    "status.down": ("无法连接", "down"),
    "status.refused": ("拒绝检索", "refused"),
    "status.not_asked": ("未检索", "not asked"),
    "status.hits": ("{hits} 条，{ms} 毫秒", "{hits} hits, {ms} ms"),
    "status.cached": ("（缓存）", " (cached)"),
    "reason.suspended": ("暂停服务", "service suspended"),
    "reason.no_endpoint": ("未接入联合检索", "not connected to the union search"),
    "reason.no_protocol": ("不支持所需协议", "does not offer the protocol needed"),
    "reason.circuit_open": ("近期多次无响应，暂不检索", "failed repeatedly; resting for a while"),
    "reason.exhausted": ("前页已显示全部结果", "all its hits were on earlier pages"),
    "reason.timeout": ("规定时间内无响应", "no answer in time"),
    "reason.deadline": ("超过整体检索时限", "past the overall time limit"),
    "reason.member_error": ("连接出错", "connection failed"),
    "reason.diagnostic": ("成员馆不能执行此检索", "the library could not run this search"),
    "reason.internal": ("内部错误，已记录", "internal error, logged"),
    "reason.slow": ("已等待 {seconds} 秒", "waiting for {seconds} s"),
    # works
    "work.title": ("版本详情", "Edition"),
    "work.record": ("书目信息", "Bibliographic record"),
    "work.holdings": ("馆藏", "Holdings"),
    "work.other_editions": ("其他版本", "Other editions"),
    "work.no_other_editions": ("最近的检索中没有本作品的其他版本。", "No other editions in recent searches."),
    "work.member_records": ("各馆书目记录", "Member records"),
    "work.back": ("返回检索结果", "Back to results"),
    "holding.member": ("收藏馆", "Library"),
    "holding.call_number": ("索书号", "Call number"),
    "holding.location": ("馆藏地", "Location"),
    "holding.status": ("状态", "Status"),
    "holding.due_date": ("应还日期", "Due"),
    "holding.available": ("可借", "available"),
    "holding.on_loan": ("已借出", "on loan"),
    "holding.not_for_loan": ("不外借", "not for loan"),
    "holding.in_transit": ("在途", "in transit"),
    "holding.on_hold": ("已被预约", "on hold"),
    "holding.unknown": ("状态不明", "unknown"),
    # members and map
    "members.title": ("成员馆", "Member libraries"),
    "members.intro": ("按拼音排序。", "Sorted by pinyin."),
    "members.code": ("代码", "Code"),
    "members.name": ("名称", "Name"),
    "members.district": ("所在区", "District"),
    "members.status": ("状态", "Status"),
    "members.contact": ("联系方式", "Contact"),
    "members.search": ("联合检索", "Union search"),
    "members.active": ("正常服务", "active"),
    "members.suspended": ("暂停服务", "suspended"),
    "members.connected": ("已接入", "connected"),
    "members.not_connected": ("未接入", "not connected"),
    "members.count": ("共 {count} 个成员馆，{searchable} 个可检索", "{count} members, {searchable} searchable"),
    "members.map_link": ("在地图上查看", "See them on the map"),
    "map.title": ("成员馆分布示意图", "Member libraries on a map"),
    "map.intro": ("北京各区示意图（非比例尺），圆点为成员馆。",
                  "A schematic of Beijing's districts (not to scale); each dot is a member library."),
    "map.unplaced": ("未标明所在区的成员馆", "Members with no district given"),
    "map.legend.active": ("正常服务", "active"),
    "map.legend.suspended": ("暂停服务", "suspended"),
    # errors
    "error.title": ("出错了", "Something went wrong"),
    "error.400": ("请求有误", "Bad request"),
    "error.403": ("请求被拒绝", "Request refused"),
    "error.404": ("找不到该页面", "Page not found"),
    "error.405": ("不支持此操作", "Method not allowed"),
    "error.429": ("检索过于频繁", "Too many searches"),
    "error.500": ("服务器内部错误", "Internal error"),
    "error.home": ("返回首页", "Back to the search page"),
    "error.incident": ("错误编号：{incident}（联系馆员时请提供）", "Incident {incident} (quote it when you ask staff)"),
    "error.internal": ("服务器处理请求时出错，已记录。请稍后再试。",
                       "The server failed to handle the request; it has been logged. Please try again later."),
    "error.not_found": ("地址 {path} 不存在。", "There is nothing at {path}."),
    "error.work_not_found": ("找不到版本 {work_id}：它不在最近的检索结果中（结果保留一段时间后清除）。请重新检索。",
                             "Edition {work_id} is not in recent search results (they are kept for a while). "
                             "Please search again."),
    "error.rate_limited": ("您的检索过于频繁，请 {seconds} 秒后再试。",
                           "You are searching too often; try again in {seconds} s."),
    "error.csrf": ("表单已过期或来源不明，请返回页面后重新提交。",
                   "The form has expired or did not come from this site; go back and submit it again."),
    "error.method": ("此地址不接受 {method} 请求。", "This address does not accept {method}."),
    "error.bad_param": ("参数 {name}：{message}", "Parameter {name}: {message}"),
    "error.index": ("联合目录索引暂时无法使用，已记录。请稍后再试，或选择“实时检索”直接检索各成员馆。",
                    "The union index cannot be used just now; this has been logged. Try again later, or choose "
                    "live search to ask the member libraries directly."),
    "error.bad_query": ("无法理解检索式：{message}", "Query not understood: {message}"),
    "noscript": ("浏览器未启用 JavaScript：将在检索完成后显示全部结果。",
                 "JavaScript is off: the complete results appear once the search has finished."),
}

# Parameter problems, keyed by a short code (portal/params.py), each with the parameter's limit.
MESSAGES.update({
    "param.too_long": ("太长，最多 {limit} 个字符", "too long; at most {limit} characters"),
    "param.not_integer": ("必须是整数", "must be a whole number"),
    "param.out_of_range": ("必须在 {low} 到 {high} 之间", "must be between {low} and {high}"),
    "param.choice": ("必须是以下之一：{choices}", "must be one of: {choices}"),
    "param.repeated": ("最多 {limit} 个", "at most {limit} values"),
    "param.isbn": ("只能包含数字、X 和连字符", "may hold only digits, X and hyphens"),
    "param.year": ("写作 2009、2000-2010、2000- 或 -2010", "write 2009, 2000-2010, 2000- or -2010"),
    "param.control": ("包含控制字符", "holds control characters"),
    "param.empty_query": ("请输入检索词", "type something to search for"),
    "param.work_id": ("不是版本编号（W 加 16 位十六进制数字）", "is not an edition id (W and 16 hex digits)"),
    "param.next": ("必须是本站的相对地址", "must be a path on this site"),
    "param.json_media_type": ("请以 Content-Type: application/json 发送 JSON（收到的是 {media_type}）",
                              "send JSON with Content-Type: application/json (this was {media_type})"),
    "param.json_depth": ("嵌套超过 {limit} 层", "nests deeper than {limit} levels"),
    "param.text_invalid": ("含有无法保存的字符（孤立的代理项）", "holds characters that cannot be stored (lone surrogates)"),
    "param.json": ("必须是 JSON 对象，字段见 /api/openapi.json", "must be a JSON object; see /api/openapi.json"),
})

# The texts of signing in, the reader's requests, and the staff desk and administration live beside their
# pages; they join the one catalogue here.
from portal import (  # noqa: E402
    i18n_account,
    i18n_copy,
    i18n_desk,
    i18n_frame,
    i18n_ops,
    i18n_reader,
    i18n_said,
    i18n_search,
)

for _part in (i18n_account, i18n_copy, i18n_reader, i18n_desk, i18n_search, i18n_ops, i18n_frame, i18n_said):
    MESSAGES.update(_part.MESSAGES)


def message(key: str, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """The text for `key` in `lang`, with `values` filled in; KeyError for an unknown key (a bug)."""
    zh, en = MESSAGES[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def translator(lang: str):
    """A `_()` function bound to one language, for templates."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE

    def _(key: str, **values) -> str:
        return message(key, lang, **values)

    return _
