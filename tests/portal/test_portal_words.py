"""Words, not codes: languages, CLC classes, material types and "unknown" values read as words in the page's
language, in the facets and on the edition page (live search of the session test bed)."""

from __future__ import annotations

import re
from html import unescape

from records.vocabulary import CLC_CLASSES


def _facet_labels(html: str, facet: str) -> list[str]:
    section = re.search(rf'<section class="facet" data-facet="{facet}">(.*?)</section>', html, re.S)
    assert section, f"no {facet} facet on the page"
    return [unescape(re.sub(r"<[^>]+>", "", m)).strip(" ✓")
            for m in re.findall(r"<a [^>]*>(.*?)</a>", section.group(1), re.S)]


async def test_facets_show_words_in_chinese_and_in_english(client):
    zh = await (await client.get("/search", params={"q": "经济"})).text()
    en = await (await client.get("/search", params={"q": "经济", "lang": "en"})).text()
    zh_clc, en_clc = _facet_labels(zh, "clc"), _facet_labels(en, "clc")
    assert zh_clc and all(re.fullmatch(r"[A-Z] \S+", x) or x == "未分类" for x in zh_clc), zh_clc
    assert "F 经济" in zh_clc and "F Economics" in en_clc
    assert all(x == "Unclassified" or (x[:2] in {f"{k} " for k in CLC_CLASSES} and x.isascii()) for x in en_clc)
    zh_lang, en_lang = _facet_labels(zh, "language"), _facet_labels(en, "language")
    assert "中文" in zh_lang and "Chinese" in en_lang
    codes = {"chi", "eng", "jpn", "ger", "fre", "rus", "unknown"}
    assert not codes & set(zh_lang + en_lang), (zh_lang, en_lang)
    en_types = _facet_labels(en, "material_type")
    assert en_types and all(x.isascii() and x[0].isupper() for x in en_types), en_types


async def test_the_edition_page_names_the_language_and_the_class(client):
    doc = await (await client.get("/api/search", params={"q": "经济"})).json()
    classed = 0
    for work in doc["works"][:10]:
        zh = unescape(await (await client.get(f"/work/{work['work_id']}")).text())
        en = unescape(await (await client.get(f"/work/{work['work_id']}", params={"lang": "en"})).text())
        if "<dd>中文</dd>" in zh:
            assert "<dd>Chinese</dd>" in en
        number = re.search(r"CLC ([A-Z])[^ ,;<(]*", zh)
        if number and number.group(1) in CLC_CLASSES:
            names = CLC_CLASSES[number.group(1)]
            assert f"({number.group(1)} {names[0]})" in zh and f"({number.group(1)} {names[1]})" in en
            classed += 1
    assert classed, "the test bed catalogues CLC numbers"
