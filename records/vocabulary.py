"""What the codes and numbers in a record or a figure mean, in words a reader reads: MARC language codes, the CLC
(中图法) classes, and a rate as every layer writes it (57.9 %).

Catalogues record a language as a MARC code (008/35-37, 041: `chi`, `ger`, `fre`, mostly ISO 639-2/B) and a
subject class as a CLC number; pages, facets and exports show them as words in the page's language. The
languages libraries here meet most are named as Chinese libraries name them (英文, 德文); any other code is
named from the ISO 639 tables pycountry keeps (docs/decisions/0012-language-names.md), in English or in its
Chinese translation; a code no table knows is shown as it is.
"""

from __future__ import annotations

from functools import lru_cache

# 中国图书馆分类法 top-level classes (the 22 basic classes): Chinese, English.
CLC_CLASSES: dict[str, tuple[str, str]] = {
    "A": ("马克思主义、列宁主义、毛泽东思想、邓小平理论", "Marxism, Leninism, Mao Zedong Thought, Deng Xiaoping Theory"),
    "B": ("哲学、宗教", "Philosophy and religion"),
    "C": ("社会科学总论", "Social sciences (general)"),
    "D": ("政治、法律", "Politics and law"),
    "E": ("军事", "Military science"),
    "F": ("经济", "Economics"),
    "G": ("文化、科学、教育、体育", "Culture, science, education and sports"),
    "H": ("语言、文字", "Languages and writing"),
    "I": ("文学", "Literature"),
    "J": ("艺术", "Art"),
    "K": ("历史、地理", "History and geography"),
    "N": ("自然科学总论", "Natural sciences (general)"),
    "O": ("数理科学和化学", "Mathematics, physics and chemistry"),
    "P": ("天文学、地球科学", "Astronomy and earth sciences"),
    "Q": ("生物科学", "Biology"),
    "R": ("医药、卫生", "Medicine and health"),
    "S": ("农业科学", "Agriculture"),
    "T": ("工业技术", "Industrial technology"),
    "U": ("交通运输", "Transportation"),
    "V": ("航空、航天", "Aviation and aerospace"),
    "X": ("环境科学、安全科学", "Environmental and safety sciences"),
    "Z": ("综合性图书", "General works"),
}

# Beijing's 16 districts (the registry writes them in Chinese), as English pages name them.
DISTRICTS_EN: dict[str, str] = {
    "东城区": "Dongcheng", "西城区": "Xicheng", "朝阳区": "Chaoyang", "丰台区": "Fengtai", "石景山区": "Shijingshan",
    "海淀区": "Haidian", "门头沟区": "Mentougou", "房山区": "Fangshan", "通州区": "Tongzhou", "顺义区": "Shunyi",
    "昌平区": "Changping", "大兴区": "Daxing", "怀柔区": "Huairou", "平谷区": "Pinggu", "密云区": "Miyun",
    "延庆区": "Yanqing",
}  # fmt: skip

# Chinese names as Chinese libraries give them, for the languages catalogues here hold most.
LANGUAGES_ZH: dict[str, str] = {
    "chi": "中文", "zho": "中文", "eng": "英文", "jpn": "日文", "kor": "朝鲜文", "rus": "俄文", "ger": "德文",
    "deu": "德文", "fre": "法文", "fra": "法文", "spa": "西班牙文", "ita": "意大利文", "por": "葡萄牙文",
    "ara": "阿拉伯文", "lat": "拉丁文", "mon": "蒙古文", "tib": "藏文", "bod": "藏文", "uig": "维吾尔文",
    "mul": "多语种", "und": "语种不详", "zxx": "无语言内容",
}  # fmt: skip
_SPECIAL_EN = {"mul": "Multiple languages", "und": "Undetermined language", "zxx": "No linguistic content"}


def clc_name(letter: str, lang: str = "zh") -> str:
    """A CLC top-level class with its name: "F 经济" / "F Economics"; an unknown letter as it is."""
    names = CLC_CLASSES.get(letter)
    return f"{letter} {names[1] if lang == 'en' else names[0]}" if names else letter


def clc_class(number: str | None, lang: str = "zh") -> str | None:
    """The top-level class of a CLC number with its name ("F832.2" → "F 经济"), or None if it has none."""
    letter = (number or "").strip()[:1].upper()
    return clc_name(letter, lang) if letter in CLC_CLASSES else None


def language_name(code: str | None, lang: str = "zh") -> str:
    """A MARC language code in words: 德文 / German for `ger`; the code itself when no table knows it."""
    if not code:
        return ""
    code = code.strip().lower()
    if lang != "en" and code in LANGUAGES_ZH:
        return LANGUAGES_ZH[code]
    if lang == "en" and code in _SPECIAL_EN:
        return _SPECIAL_EN[code]
    return _from_iso639(code, "en" if lang == "en" else "zh") or code


@lru_cache(maxsize=512)
def _from_iso639(code: str, lang: str) -> str | None:
    """The ISO 639 name of a three-letter code (bibliographic or terminology form), in English or Chinese."""
    if len(code) != 3 or not code.isalpha():
        return None
    import pycountry  # loaded only for a code outside the common ones

    try:
        found = pycountry.languages.get(bibliographic=code) or pycountry.languages.get(alpha_3=code)
    except (KeyError, LookupError):
        found = None
    if found is None:
        return None
    if lang == "en":
        return found.name
    zh = _chinese().gettext(found.name)
    return zh.split(";")[0].strip() if zh != found.name else None


@lru_cache(maxsize=1)
def _chinese():
    import gettext

    import pycountry

    return gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)


def rate(value: float | None) -> str:
    """A rate (a share of one) as every page, lender's reason, CLI table and CSV writes it, in either language:
    0.5789 → "57.9 %" (one decimal, a space before the sign); None → ""."""
    return "" if value is None else f"{value * 100:.1f} %"
