"""The test bed's members: real BALIS member libraries, each given an OPAC profile (syntax, charset, protocols)."""

from __future__ import annotations

from dataclasses import dataclass

# code, name, English name, district: BALIS members named in the consortium's reports, then other
# Beijing universities, so that up to 70 members can be started.
LIBRARIES: tuple[tuple[str, str, str, str], ...] = (
    ("THU", "清华大学", "Tsinghua University", "海淀区"),
    ("PKU", "北京大学", "Peking University", "海淀区"),
    ("RUC", "中国人民大学", "Renmin University of China", "海淀区"),
    ("BUAA", "北京航空航天大学", "Beihang University", "海淀区"),
    ("USTB", "北京科技大学", "University of Science and Technology Beijing", "海淀区"),
    ("BNU", "北京师范大学", "Beijing Normal University", "海淀区"),
    ("NCEPU", "华北电力大学", "North China Electric Power University", "昌平区"),
    ("BUPT", "北京邮电大学", "Beijing University of Posts and Telecommunications", "海淀区"),
    ("CUPL", "中国政法大学", "China University of Political Science and Law", "昌平区"),
    ("CNU", "首都师范大学", "Capital Normal University", "海淀区"),
    ("CCMU", "首都医科大学", "Capital Medical University", "丰台区"),
    ("CUFE", "中央财经大学", "Central University of Finance and Economics", "海淀区"),
    ("BUA", "北京农学院", "Beijing University of Agriculture", "昌平区"),
    ("BIT", "北京理工大学", "Beijing Institute of Technology", "海淀区"),
    ("CAU", "中国农业大学", "China Agricultural University", "海淀区"),
    ("BISU", "北京第二外国语学院", "Beijing International Studies University", "朝阳区"),
    ("CCOM", "中央音乐学院", "Central Conservatory of Music", "西城区"),
    ("OUC", "中央广播电视大学", "China Central Radio and TV University", "西城区"),
    ("SGTI", "首钢工学院", "Shougang Institute of Technology", "石景山区"),
    ("BJUT", "北京工业大学", "Beijing University of Technology", "朝阳区"),
    ("CUPB", "中国石油大学(北京)", "China University of Petroleum, Beijing", "昌平区"),
    ("UIR", "国际关系学院", "University of International Relations", "海淀区"),
    ("BUCEA", "北京建筑工程学院", "Beijing University of Civil Engineering and Architecture", "西城区"),
    ("BIFT", "北京服装学院", "Beijing Institute of Fashion Technology", "朝阳区"),
    ("CYU", "中国青年政治学院", "China Youth University for Political Sciences", "海淀区"),
    ("BDA", "北京舞蹈学院", "Beijing Dance Academy", "海淀区"),
    ("BIE", "北京教育学院", "Beijing Institute of Education", "西城区"),
    ("BIGC", "北京印刷学院", "Beijing Institute of Graphic Communication", "大兴区"),
    ("BUU", "北京联合大学", "Beijing Union University", "朝阳区"),
    ("NCUT", "北方工业大学", "North China University of Technology", "石景山区"),
    ("CCM", "中国音乐学院", "China Conservatory of Music", "朝阳区"),
    ("BPI", "北京工业职业技术学院", "Beijing Polytechnic College", "石景山区"),
    ("BVCA", "北京农业职业学院", "Beijing Vocational College of Agriculture", "房山区"),
    ("BJZFXY", "北京政法职业学院", "Beijing College of Politics and Law", "门头沟区"),
    ("BIEM", "北京经济管理职业学院", "Beijing Institute of Economics and Management", "朝阳区"),
    ("PKUHSC", "北京大学医学部", "Peking University Health Science Center", "海淀区"),
    ("BJTU", "北京交通大学", "Beijing Jiaotong University", "海淀区"),
    ("BJFU", "北京林业大学", "Beijing Forestry University", "海淀区"),
    ("BUCT", "北京化工大学", "Beijing University of Chemical Technology", "朝阳区"),
    ("BFSU", "北京外国语大学", "Beijing Foreign Studies University", "海淀区"),
    ("BLCU", "北京语言大学", "Beijing Language and Culture University", "海淀区"),
    ("CUC", "中国传媒大学", "Communication University of China", "朝阳区"),
    ("MUC", "中央民族大学", "Minzu University of China", "海淀区"),
    ("UIBE", "对外经济贸易大学", "University of International Business and Economics", "朝阳区"),
    ("BUCM", "北京中医药大学", "Beijing University of Chinese Medicine", "朝阳区"),
    ("CUGB", "中国地质大学(北京)", "China University of Geosciences, Beijing", "海淀区"),
    ("CUMTB", "中国矿业大学(北京)", "China University of Mining and Technology, Beijing", "海淀区"),
    ("BSU", "北京体育大学", "Beijing Sport University", "海淀区"),
    ("CAFA", "中央美术学院", "Central Academy of Fine Arts", "朝阳区"),
    ("CHNT", "中央戏剧学院", "Central Academy of Drama", "东城区"),
    ("BFA", "北京电影学院", "Beijing Film Academy", "海淀区"),
    ("CFAU", "外交学院", "China Foreign Affairs University", "西城区"),
    ("PPSUC", "中国人民公安大学", "People's Public Security University of China", "西城区"),
    ("CUEB", "首都经济贸易大学", "Capital University of Economics and Business", "丰台区"),
    ("BISTU", "北京信息科技大学", "Beijing Information Science and Technology University", "海淀区"),
    ("BWU", "北京物资学院", "Beijing Wuzi University", "通州区"),
    ("BIPT", "北京石油化工学院", "Beijing Institute of Petrochemical Technology", "大兴区"),
    ("BCU", "北京城市学院", "Beijing City University", "海淀区"),
    ("CUPES", "首都体育学院", "Capital University of Physical Education and Sports", "海淀区"),
    ("CWU", "中华女子学院", "China Women's University", "朝阳区"),
    ("BESTI", "北京电子科技学院", "Beijing Electronic Science and Technology Institute", "丰台区"),
    ("CIIR", "中国劳动关系学院", "China University of Labor Relations", "海淀区"),
    ("BTBU", "北京工商大学", "Beijing Technology and Business University", "海淀区"),
    ("UCAS", "中国科学院大学", "University of Chinese Academy of Sciences", "石景山区"),
    ("BIPH", "北京石油管理干部学院", "Beijing Petroleum Managers Training Institute", "昌平区"),
    ("BJMU", "北京工业大学耿丹学院", "Gengdan Institute of Beijing University of Technology", "顺义区"),
    ("BIC", "北京吉利学院", "Beijing Geely University", "昌平区"),
    ("BJCHI", "北京汇佳职业学院", "Beijing Huijia Private School College", "昌平区"),
    ("BSFU", "北京财贸职业学院", "Beijing College of Finance and Commerce", "通州区"),
    ("BCSA", "北京社会管理职业学院", "Beijing College of Social Administration", "大兴区"),
)


@dataclass(frozen=True, slots=True)
class MemberProfile:
    """How one member's OPAC looks from outside: record syntax, ISO 2709 charset, protocols, SRU version."""

    code: str
    name: str
    name_en: str
    district: str
    syntax: str  # marc21 | unimarc
    charset: str  # utf-8 | marc-8 | gbk
    protocols: tuple[str, ...]  # subset of ("z3950", "sru")
    sru_version: str = "1.2"
    timeout: float = 10.0
    max_records: int = 50
    traditional: bool = False  # catalogues Chinese in traditional script (a few copies each)
    date_search: bool = True  # its OPAC finds records by when they last changed (005; Bib-1 1012)


# Lending policies written into the test bed's registry. Every member gets the consortium default
# (Chinese general books) with the test bed's not-for-loan locations; a few lend more, or fine differently.
DEFAULT_LENDING: dict = {
    "lends": True, "material_types": ["book"], "languages": ["chi"],
    "locations_not_for_loan": ["保存本库", "阅览室", "参考阅览室", "特藏", "过刊"],
    "fines": {"overdue_per_day": 0.5, "lost_multiplier": 2.0, "lost_flat": 100.0, "damaged_fraction": 0.5},
}
LENDING: dict[str, dict] = {
    "THU": {"languages": ["chi", "eng"]},
    "PKU": {"languages": ["chi", "eng", "jpn"], "material_types": ["book", "serial"]},
    "BUPT": {"fines": {"overdue_per_day": 1.0, "lost_flat": 150.0}},
}


def lending_toml(table: str, policy: dict) -> list[str]:
    """TOML lines for a lending policy dict under `table` (e.g. "member.lending")."""
    import json

    def value(v) -> str:
        return json.dumps(v, ensure_ascii=False) if not isinstance(v, bool) else str(v).lower()

    lines = [f"[{table}]"] + [f"{k} = {value(v)}" for k, v in policy.items() if k != "fines"]
    if "fines" in policy:
        lines += [f"[{table}.fines]"] + [f"{k} = {value(v)}" for k, v in policy["fines"].items()]
    return lines


# the first eight cover every kind of member the product must handle
FIRST_EIGHT: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "THU": ("marc21", "utf-8", ("z3950", "sru"), "1.2"),
    "PKU": ("unimarc", "utf-8", ("z3950", "sru"), "1.2"),
    "RUC": ("unimarc", "gbk", ("z3950",), "1.2"),  # GBK ISO 2709, Z39.50 only
    "BUAA": ("marc21", "marc-8", ("z3950", "sru"), "1.2"),  # MARC-8 over Z39.50
    "USTB": ("marc21", "utf-8", ("sru",), "1.2"),  # SRU only
    "BNU": ("unimarc", "utf-8", ("z3950", "sru"), "1.1"),
    "NCEPU": ("unimarc", "gbk", ("z3950", "sru"), "1.2"),
    "BUPT": ("marc21", "utf-8", ("z3950", "sru"), "2.0"),
}
# older library systems that index no modification date: a harvest compares their whole catalogue
NO_DATE_SEARCH = frozenset({"BUAA"})
# later members cycle through these (mostly CNMARC, as Chinese university libraries are)
CYCLE: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("unimarc", "utf-8", ("z3950", "sru"), "1.2"),
    ("marc21", "utf-8", ("z3950",), "1.2"),
    ("unimarc", "gbk", ("z3950",), "1.2"),
    ("unimarc", "utf-8", ("sru",), "1.1"),
    ("marc21", "marc-8", ("z3950", "sru"), "1.2"),
    ("unimarc", "utf-8", ("z3950", "sru"), "2.0"),
)


def member_profiles(count: int) -> list[MemberProfile]:
    """The first `count` members (1..70) with their OPAC profiles; deterministic."""
    if not 1 <= count <= len(LIBRARIES):
        raise ValueError(f"the test bed has 1 to {len(LIBRARIES)} members, not {count}")
    out = []
    for i, (code, name, name_en, district) in enumerate(LIBRARIES[:count]):
        syntax, charset, protocols, version = FIRST_EIGHT.get(code) or CYCLE[i % len(CYCLE)]
        out.append(MemberProfile(code, name, name_en, district, syntax, charset, protocols, version,
                                 traditional=(code == "BNU" or i % 11 == 10),
                                 date_search=code not in NO_DATE_SEARCH))
    return out


@dataclass(frozen=True, slots=True)
class SpecialMember:
    """A test-bed member with a fixed catalogue of real records whose OPAC shows one trap of real targets."""

    code: str
    name: str
    name_en: str
    district: str
    kind: str  # "stock": a stock MARC21 Zebra (UTF-8 negotiation double-encodes) | "login": requires a login
    syntax: str
    charset: str
    protocols: tuple[str, ...]
    note: str


# Started by `up(specials=True)` (the demo bed, `balis testbed up`), after the generated members. Their records
# are real seed records, not in truth.json.
SPECIAL_MEMBERS: tuple[SpecialMember, ...] = (
    SpecialMember("NLCW", "国家图书馆外文图书", "National Library of China, Western-language books", "海淀区",
                  "stock", "marc21", "utf-8", ("z3950",),
                  "stock MARC21 Zebra: agreeing UTF-8 in charset negotiation, it sends its UTF-8 records double-encoded"),
    SpecialMember("CALIS", "CALIS联合目录", "CALIS Union Catalogue", "海淀区", "login", "unimarc", "utf-8",
                  ("z3950", "sru"), "requires a login: Z39.50 Init idPass, SRU HTTP basic auth"),
)
LOGIN_USER = "balis"  # the user the login member knows; its password is made at build time (secrets/CODE.secret)
