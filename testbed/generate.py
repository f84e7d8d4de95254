"""Member catalogues and their ground truth, generated (pure, seeded) from the real seed records.

`plan_catalogues` decides which editions exist and which members hold them (with the cataloguing
choices each member makes); `render_member` streams one member's records as MARCXML; `truth` is the
ground truth (editions as clusters of "MEMBER:record_id", and hard negatives). Same seed and sizes →
byte-identical catalogues and truth.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache

import opencc
from pypinyin import lazy_pinyin
from stdnum import isbn as stdnum_isbn

from records.fold import fold
from records.normalise import normalise
from testbed import vocab
from testbed.members import MemberProfile
from testbed.seeds import Seed, read_seeds

FORMAT_VERSION = 1
BASE_DATE = date(2026, 9, 1)  # "today" of the generated circulation data (due dates follow it)
_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_S2T = opencc.OpenCC("s2t")
REASONS = ("edition", "volume", "publisher", "translator", "carrier")


# -- the bibliographic facts of one edition ----------------------------------------------------------
@dataclass(slots=True)
class Edition:
    """One edition (what every member's record of it describes), independent of how it is catalogued."""

    key: str
    work: str
    lang: str  # chi | eng | ... (008/35-37)
    title: str
    subtitle: str = ""
    responsibility: str = ""
    authors: list[tuple[str, str]] = field(default_factory=list)  # (name, role: 著 编著 主编 译 ...)
    authors_latin: list[str] = field(default_factory=list)  # for translated works: the original author
    edition: str = ""  # 第2版 / 2nd ed.
    part_number: str = ""  # 上册 / v. 1
    publisher: str = ""
    publisher_roman: str = ""
    place: str = ""
    year: int = 2000
    pages: int = 300
    isbn13: str = ""
    price: str = ""
    subjects: list[str] = field(default_factory=list)
    clc: str = ""
    carrier: str = "print"  # print | ebook
    seed: Seed | None = None  # the real record this edition came from

    @property
    def chinese(self) -> bool:
        return bool(_CJK.search(self.title))


@dataclass(frozen=True, slots=True)
class Copy:
    """One member's record of an edition, with the cataloguing choices that member made."""

    member: str
    record_id: str
    edition: str  # Edition.key
    original: bool = False  # the real seed record itself (only items added)
    isbn_form: str = "13h"  # 13h 13 10h 10 none
    traditional: bool = False
    subtitle: str = "separate"  # separate omitted merged_fw merged_hw
    publisher_form: str = "plain"  # plain suffix roman
    date_form: str = "plain"  # plain print c bracket dot
    fullwidth: bool = False
    items: tuple[tuple[str, str, str, str, str], ...] = ()  # (location, call number, barcode, status, due)


@dataclass(slots=True)
class Plan:
    """Everything decided about the catalogues: editions, copies per member, hard negatives."""

    seed: int
    members: list[MemberProfile]
    editions: dict[str, Edition]
    copies: dict[str, list[Copy]]  # member code → copies in catalogue order
    negatives: list[tuple[str, str, str]]  # (edition key, edition key, reason)


# -- planning ------------------------------------------------------------------------------------------
def plan_catalogues(seed: int, members: list[MemberProfile], sizes: int | dict[str, int] = 300,
                    seeds: Iterable[Seed] | None = None, latin_share: float = 0.15) -> Plan:
    """Decide editions and holdings: every member gets about its size in records; deterministic in `seed`."""
    rng = random.Random(seed)
    target = {m.code: (sizes.get(m.code, 0) if isinstance(sizes, dict) else sizes) for m in members}
    remaining = dict(target)
    by_code = {m.code: m for m in members}
    editions: dict[str, Edition] = {}
    copies: dict[str, list[Copy]] = {m.code: [] for m in members}
    negatives: list[tuple[str, str, str]] = []
    ids: dict[str, set[str]] = {m.code: set() for m in members}
    counters = {m.code: 0 for m in members}
    isbn_counters: dict[str, int] = {}
    total = sum(target.values())
    works = 0

    def next_key() -> str:
        return f"E{len(editions) + 1:06d}"

    def new_id(code: str) -> str:
        counters[code] += 1
        n = counters[code]
        rid = f"{code.lower()}{n:08d}" if n % 3 else f"{(sum(map(ord, code)) * 7919 + n) % 10**6:06d}{n:07d}"
        while rid in ids[code]:
            rid += "x"
        ids[code].add(rid)
        return rid

    def open_members() -> list[str]:
        return [c for c, left in remaining.items() if left > 0]

    def holders(k: int, prefer: list[str] | None = None) -> list[str]:
        cands = open_members()
        if not cands:
            return []
        chosen: list[str] = []
        if prefer:
            pool = [c for c in prefer if c in cands]
            rng.shuffle(pool)
            chosen = pool[: max(1, k // 2)] if pool else []
        rest = [c for c in cands if c not in chosen]
        weights = [remaining[c] for c in rest]
        while len(chosen) < k and rest:
            c = rng.choices(rest, weights)[0]
            i = rest.index(c)
            rest.pop(i)
            weights.pop(i)
            chosen.append(c)
        return chosen

    def add_copies(ed: Edition, codes: list[str], original_at: str | None = None) -> list[str]:
        placed = []
        for code in codes:
            if remaining[code] <= 0:
                continue
            prof = by_code[code]
            original = code == original_at
            rid = None
            if original:
                cn = ed.seed.control_number if ed.seed else ""
                if cn and cn not in ids[code] and len(cn) <= 40:
                    rid = cn
                    ids[code].add(cn)
            copy = _choose_copy(rng, prof, ed, rid or new_id(code), original and rid is not None)
            copies[code].append(copy)
            remaining[code] -= 1
            placed.append(f"{code}:{copy.record_id}")
        return placed

    def holder_count() -> int:
        return rng.choices((1, 2, 3, 4, 5, 6, 8), (34, 22, 15, 10, 8, 6, 5))[0]

    # 1. the real records: every Chinese one, then a share of the Latin-script ones
    seed_list = list(seeds if seeds is not None else read_seeds())
    chinese = [s for s in seed_list if _seed_is_chinese(s)]
    latin = [s for s in seed_list if not _seed_is_chinese(s)]
    rng.shuffle(latin)
    latin = latin[: int(total * latin_share / 2)]  # Latin seeds average about two holders
    seen_seeds: set[tuple[str, int]] = set()
    for s in chinese + latin:
        if not open_members():
            break
        ed = edition_from_seed(s, "", "")
        # one real book catalogued in two seed files is one edition: keep the first seed only
        identity = (fold(ed.title), ed.year)
        if identity in seen_seeds:
            continue
        seen_seeds.add(identity)
        works += 1
        ed.key, ed.work = next_key(), f"W{works:06d}"
        editions[ed.key] = ed
        home = [c for c in open_members() if by_code[c].syntax == s.syntax]
        first = rng.choice(home) if home else None
        if _seed_is_print(s):
            codes = holders(holder_count())
        else:  # a recording, e-book, serial, score...: other members would catalogue it as another carrier
            codes = [first] if first else []
        if first:
            codes = [first] + [c for c in codes if c != first]
        add_copies(ed, codes, original_at=first)
        if rng.random() < 0.15 and open_members():  # a later edition of a real record
            sib = _sibling(rng, ed, "edition", next_key(), isbn_counters)
            editions[sib.key] = sib
            add_copies(sib, holders(holder_count(), prefer=codes))
            negatives.append((ed.key, sib.key, "edition"))

    # 2. synthetic Chinese editions (some translated works), each with a chance of hard-negative siblings
    while open_members():
        works += 1
        ed = _synthetic(rng, next_key(), f"W{works:06d}", isbn_counters)
        editions[ed.key] = ed
        codes = holders(holder_count())
        add_copies(ed, codes)
        r = rng.random()
        reason = None
        if r < 0.07:
            reason = "edition"
        elif r < 0.12:
            reason = "volume"
        elif r < 0.16:
            reason = "publisher"
        elif r < 0.20:
            reason = "carrier"
        if ed.authors_latin and rng.random() < 0.4:
            reason = "translator"
        if reason and open_members():
            if reason == "volume":  # both parts are volumes: turn the base into 上册 too
                ed.part_number = "上册"
                ed.isbn13 = ed.isbn13 or _new_isbn(rng, ed.publisher, isbn_counters)
            sib = _sibling(rng, ed, reason, next_key(), isbn_counters)
            editions[sib.key] = sib
            add_copies(sib, holders(holder_count(), prefer=codes))
            negatives.append((ed.key, sib.key, reason))

    # editions nobody ended up holding are dropped (a sibling planned when the catalogues were full)
    held = {c.edition for cs in copies.values() for c in cs}
    editions = {k: e for k, e in editions.items() if k in held}
    negatives = [n for n in negatives if n[0] in held and n[1] in held]
    return Plan(seed, members, editions, copies, negatives)


def _seed_is_print(s: Seed) -> bool:
    """A printed book (not a recording, e-book, serial, score, large print...), as the record reader sees it."""
    return normalise(s.record, syntax=s.syntax).material_type == "book"


def _seed_is_chinese(s: Seed) -> bool:
    for f in s.record.get_fields("245", "200", "880"):
        if _CJK.search(f.value()):
            return True
    return False


def _choose_copy(rng: random.Random, prof: MemberProfile, ed: Edition, rid: str, original: bool) -> Copy:
    isbn_form = rng.choices(("13h", "13", "10h", "10", "none"), (35, 25, 15, 13, 12))[0]
    if isbn_form.startswith("10") and not ed.isbn13.startswith("978"):
        isbn_form = "13h"
    subtitle = rng.choices(("separate", "omitted", "merged_fw", "merged_hw"), (60, 20, 12, 8))[0]
    if prof.syntax == "marc21" and prof.charset == "marc-8" and ed.chinese:
        pub_form = "roman"
    else:
        pub_form = rng.choices(("plain", "suffix"), (80, 20))[0]
    date_form = rng.choices(("plain", "print", "c", "bracket", "dot"), (60, 12, 12, 8, 8))[0]
    trad = prof.traditional and ed.chinese and rng.random() < 0.6
    return Copy(prof.code, rid, ed.key, original, isbn_form, trad, subtitle, pub_form, date_form,
                fullwidth=rng.random() < 0.3, items=_items(rng, prof, ed))


def _items(rng: random.Random, prof: MemberProfile, ed: Edition) -> tuple[tuple[str, str, str, str, str], ...]:
    mark = rng.randint(1, 999)
    callno = f"{ed.clc or 'Z'}/{mark}"
    if ed.part_number:
        callno += f":{1 if ed.part_number in ('上册', 'v. 1') else 2}"
    if ed.carrier == "ebook":
        return (("电子资源", callno, f"E{rng.randint(10**7, 10**8 - 1)}", "notforloan", ""),)
    out = []
    for _ in range(rng.choices((1, 2, 3), (55, 30, 15))[0]):
        barcode = f"{rng.randint(10**9, 10**10 - 1)}"
        r = rng.random()
        if r < 0.70:
            out.append((rng.choice(vocab.LOCATIONS[:4] + vocab.LOCATIONS[5:]), callno, barcode, "available", ""))
        elif r < 0.88:
            due = BASE_DATE + timedelta(days=rng.randint(1, 60))
            out.append((rng.choice(vocab.LOCATIONS[:4]), callno, barcode, "onloan", due.isoformat()))
        else:
            out.append((rng.choice(("保存本库", "总馆二层社科图书阅览室")), callno, barcode, "notforloan", ""))
    return tuple(out)


# -- editions: synthetic, from seeds, and hard-negative siblings -------------------------------------
def _check13(d12: str) -> str:
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(d12))
    return str((10 - s % 10) % 10)


def _check10(d9: str) -> str:
    s = sum(int(c) * (10 - i) for i, c in enumerate(d9))
    r = (11 - s % 11) % 11
    return "X" if r == 10 else str(r)


def _new_isbn(rng: random.Random, publisher: str, counters: dict[str, int]) -> str:
    """A fresh valid ISBN-13 (digits) in the publisher's real registrant range (hyphen positions kept)."""
    prefix = next((p for name, p, _, _ in vocab.PUBLISHERS if name == publisher), "5097")
    width = 8 - len(prefix)
    n = counters.get(prefix)
    if n is None:
        n = rng.randint(0, 10**width // 4)
    counters[prefix] = n + 1
    title = f"{n % 10**width:0{width}d}"
    d12 = f"9787{prefix}{title}"
    return d12 + _check13(d12)


def isbn_forms(isbn13: str, form: str) -> str:
    """An ISBN-13 written the way a member catalogued it: 13h, 13, 10h, 10 (hyphens from the ISBN ranges)."""
    if form.startswith("10") and isbn13.startswith("978"):
        d9 = isbn13[3:12]
        value = d9 + _check10(d9)
    else:
        value = isbn13
    return _hyphenate(value) if form.endswith("h") else value


@lru_cache(maxsize=131072)
def _hyphenate(value: str) -> str:
    try:
        return stdnum_isbn.format(value)
    except Exception:  # noqa: BLE001 - outside the known ranges: keep it unhyphenated
        return value


def _person(rng: random.Random) -> str:
    return rng.choice(vocab.SURNAMES) + rng.choice(vocab.GIVEN)


def _synthetic(rng: random.Random, key: str, work: str, isbn_counters: dict[str, int]) -> Edition:
    pub, _prefix, place, roman = rng.choice(vocab.PUBLISHERS)
    year = rng.randint(1985, 2025)
    if rng.random() < 0.12:
        ctitle, cauthor, latin, subject, clc = rng.choice(vocab.FOREIGN_WORKS)
        translator = rng.choice(vocab.TRANSLATORS)
        ed = Edition(key, work, "chi", ctitle, "", f"{cauthor}著 ; {translator}译",
                     [(cauthor, "著"), (translator, "译")], [latin], publisher=pub, publisher_roman=roman,
                     place=place, year=year, pages=rng.randint(180, 1200), subjects=[subject], clc=clc)
    else:
        (s, clc), (t, _) = rng.sample(vocab.SUBJECTS, 2)
        r = rng.choice(vocab.REGIONS)
        title = rng.choice(vocab.TITLE_PATTERNS).format(s=s, t=t, r=r, y=rng.randint(1995, 2024))
        subtitle = rng.choice(vocab.SUBTITLES).format(s=t, r=r) if rng.random() < 0.35 else ""
        people = [_person(rng) for _ in range(rng.choices((1, 2, 3), (60, 30, 10))[0])]
        role = rng.choices(("著", "编著", "主编", "编"), (45, 20, 25, 10))[0]
        resp = "，".join(people) + role
        ed = Edition(key, work, "chi", title, subtitle, resp, [(p, role) for p in people], publisher=pub,
                     publisher_roman=roman, place=place, year=year, pages=rng.randint(120, 800),
                     subjects=[s, t] if rng.random() < 0.5 else [s], clc=clc)
    if rng.random() < 0.15:
        ed.edition = f"第{rng.randint(2, 4)}版"
    ed.price = f"CNY{rng.randint(12, 180)}.00"
    if rng.random() < 0.97:
        ed.isbn13 = _new_isbn(rng, pub, isbn_counters)
    return ed


def _sibling(rng: random.Random, ed: Edition, reason: str, key: str, isbn_counters: dict[str, int]) -> Edition:
    """A different edition that shares title and authors with `ed` and must never merge with it."""
    sib = replace(ed, key=key, seed=None, authors=list(ed.authors), subjects=list(ed.subjects),
                  authors_latin=list(ed.authors_latin))
    chinese = ed.chinese
    if reason == "edition":
        n = int(re.sub(r"\D", "", ed.edition)[:2] or 1) + 1
        n = n if n < 10 else 2
        sib.edition = f"第{n}版" if chinese else {2: "2nd ed.", 3: "3rd ed."}.get(n, f"{n}th ed.")
        sib.year = min(ed.year + rng.randint(2, 5), 2026)
    elif reason == "volume":
        sib.part_number = "下册" if chinese else "v. 2"
        if not chinese:
            ed.part_number = "v. 1"
    elif reason == "publisher":
        others = [p for p in vocab.PUBLISHERS if p[0] != ed.publisher]
        sib.publisher, _, sib.place, sib.publisher_roman = rng.choice(others)
        sib.year = ed.year + rng.randint(-3, 3)
    elif reason == "translator":
        translator = rng.choice([t for t in vocab.TRANSLATORS if all(t != a for a, _ in ed.authors)])
        sib.authors = [a for a in ed.authors if a[1] != "译"] + [(translator, "译")]
        sib.responsibility = f"{sib.authors[0][0]}著 ; {translator}译"
        sib.publisher, _, sib.place, sib.publisher_roman = rng.choice(vocab.PUBLISHERS)
        sib.year = ed.year + rng.randint(-8, 8)
    elif reason == "carrier":
        sib.carrier = "ebook"
    if reason == "carrier" and rng.random() < 0.4:
        sib.isbn13 = ""
    else:
        sib.isbn13 = _new_isbn(rng, sib.publisher if chinese else "5097", isbn_counters)
    return sib


def _sf(field, codes: str) -> str:
    return " ".join(v for c, v in _subfields(field) if c in codes).strip()


def _subfields(field) -> list[tuple[str, str]]:
    return [(sf.code, sf.value) for sf in field.subfields] if hasattr(field, "subfields") else []


def _isbd_strip(text: str) -> str:
    return re.sub(r"[\s/:;,=.]+$", "", text.strip())


def _seed_pages(extent: str) -> int:
    """The page count of a seed record's extent: the largest unbracketed number before the unit, as in
    "10, 374页" or "xii, 350 p." (the first number is the preliminaries); 200 when it names none."""
    head = re.split(r"页|頁|\bp\b|\bpages\b|\bleaves\b", extent, maxsplit=1)[0]
    numbers = [int(n) for n in re.findall(r"\d+", re.sub(r"\[[^\]]*\]", " ", head))]
    return min(max(numbers), 9999) if numbers else 200


def edition_from_seed(seed: Seed, key: str, work: str) -> Edition:
    """The facts of a real record (MARC21 or CNMARC), so other members can catalogue it their own way."""
    r = seed.record
    ed = Edition(key, work, "chi", "", seed=seed)
    digits = ""
    if seed.syntax == "unimarc":
        f200 = r.get("200")
        if f200 is not None:
            ed.title = _isbd_strip(_sf(f200, "a"))
            ed.subtitle = _isbd_strip(_sf(f200, "e"))
            ed.responsibility = _isbd_strip(_sf(f200, "f"))
        f205, f210, f215 = r.get("205"), r.get("210"), r.get("215")
        ed.edition = _sf(f205, "a") if f205 else ""
        if f210:
            ed.place, ed.publisher = _sf(f210, "a"), _sf(f210, "c")
            digits = re.sub(r"\D", "", _sf(f210, "d"))
        ed.pages = _seed_pages(_sf(f215, "a") if f215 else "")
        for f in r.get_fields("700", "701", "702", "710", "711", "712"):
            ed.authors.append((_sf(f, "a") + _sf(f, "b"), _sf(f, "4")))
        ed.subjects = [_sf(f, "a") for f in r.get_fields("606") if _sf(f, "a")]
        ed.clc = _sf(r.get("690"), "a") if r.get("690") else ""
        isbn = _sf(r.get("010"), "a") if r.get("010") else ""
        lang = _sf(r.get("101"), "a") if r.get("101") else "chi"
        ed.lang = lang[:3] or "chi"
    else:
        vern = {(_sf(f, "6")[:3]): f for f in r.get_fields("880")}
        f245 = vern.get("245") or r.get("245")
        if f245 is not None:
            ed.title = _isbd_strip(_sf(f245, "a"))
            ed.subtitle = _isbd_strip(_sf(f245, "b"))
            ed.responsibility = _isbd_strip(_sf(f245, "c"))
            ed.part_number = _isbd_strip(_sf(f245, "np"))
        f250 = vern.get("250") or r.get("250")
        ed.edition = _isbd_strip(_sf(f250, "a")) if f250 else ""
        pub = vern.get("260") or vern.get("264") or r.get("260") or r.get("264")
        if pub is not None:
            ed.place, ed.publisher = _isbd_strip(_sf(pub, "a")), _isbd_strip(_sf(pub, "b"))
        roman = r.get("260") or r.get("264")
        if roman is not None and (vern.get("260") or vern.get("264")):
            ed.publisher_roman = _isbd_strip(_sf(roman, "b"))
        f008 = r.get("008")
        d008 = f008.data if f008 is not None and f008.data else ""
        digits = d008[7:11] if d008[7:11].isdigit() else re.sub(r"\D", "", _sf(roman, "c") if roman else "")
        ed.lang = (d008[35:38].strip() or "eng") if len(d008) >= 38 else "eng"
        for f in r.get_fields("100", "110", "700", "710"):
            ed.authors.append((_isbd_strip(_sf(f, "a")), _isbd_strip(_sf(f, "e"))))
        ed.subjects = [_isbd_strip(_sf(f, "a")) for f in r.get_fields("650", "651", "600") if _sf(f, "a")]
        ed.clc = _sf(r.get("084"), "a") if r.get("084") else ""
        if not ed.clc:
            lcc = r.get("050")
            ed.clc = _sf(lcc, "a").split(".")[0].split(" ")[0] if lcc else ""
        isbn = _sf(r.get("020"), "a") if r.get("020") else ""
        f300 = r.get("300")
        ed.pages = _seed_pages(_sf(f300, "a") if f300 else "")
    ed.year = int(digits[:4]) if len(digits) >= 4 else 2000
    ed.isbn13 = _to_isbn13(isbn)
    if not ed.title:
        ed.title = f"[{seed.source}#{seed.index}]"
    return ed


def _to_isbn13(text: str) -> str:
    d = re.sub(r"[^0-9Xx]", "", (text.split() or [""])[0]).upper()
    if len(d) == 13 and d.isdigit() and _check13(d[:12]) == d[12]:
        return d
    if len(d) == 10 and d[:9].isdigit() and _check10(d[:9]) == d[9]:
        d12 = "978" + d[:9]
        return d12 + _check13(d12)
    return ""


# -- rendering ---------------------------------------------------------------------------------------
Field = tuple[str, str, str, list[tuple[str, str]]]  # tag, ind1, ind2, subfields; control fields: ind1 = data


@lru_cache(maxsize=65536)
def _trad(text: str) -> str:
    return _S2T.convert(text)


@lru_cache(maxsize=65536)
def _pinyin(text: str) -> str:
    words = " ".join(lazy_pinyin(text, errors="default"))
    return words[:1].upper() + words[1:]


def _datestr(year: int, form: str, chinese: bool) -> str:
    if form == "print" and chinese:
        return f"{year}印刷"
    if form == "c":
        return f"c{year}"
    if form == "bracket":
        return f"[{year}]"
    if form == "dot":
        return f"{year}."
    return str(year)


def render_member(plan: Plan, code: str) -> Iterator[bytes]:
    """One member's catalogue as MARCXML `<record>` elements (UTF-8 bytes), in catalogue order."""
    prof = next(m for m in plan.members if m.code == code)
    for copy in plan.copies[code]:
        ed = plan.editions[copy.edition]
        if copy.original and ed.seed is not None and ed.seed.syntax == prof.syntax:
            fields = _seed_fields(ed, copy)
        elif prof.syntax == "unimarc":
            fields = _unimarc_fields(ed, copy, prof)
        else:
            fields = _marc21_fields(ed, copy, prof)
        yield _marcxml(fields)


def plan_records(plan: Plan) -> list:
    """Every member's catalogue read back through the product's normaliser (for dedup tests and benchmarks)."""
    from records.normalise import from_raw

    return [from_raw(data, syntax="marcxml", charset="utf-8", member=m.code, position=pos)
            for m in plan.members for pos, data in enumerate(render_member(plan, m.code), 1)]


def _seed_fields(ed: Edition, copy: Copy) -> list[Field]:
    r = ed.seed.record
    leader = str(r.leader)[:24].ljust(24)
    if ed.seed.syntax == "marc21":
        leader = leader[:9] + "a" + leader[10:]  # pymarc read it into Unicode; stored as UTF-8
    fields: list[Field] = [("LDR", leader, "", [])]
    for f in r.fields:
        if f.is_control_field():
            fields.append((f.tag, f.data or "", "", []))
        else:
            fields.append((f.tag, f.indicator1 or " ", f.indicator2 or " ", _subfields(f)))
    items_tag = "995" if ed.seed.syntax == "unimarc" else "952"  # ours replace any local use of the tag
    fields = [f for f in fields if f[0] not in ("001", items_tag)]
    fields.insert(1, ("001", copy.record_id, "", []))
    fields.extend(_item_fields(copy, ed.seed.syntax))
    return fields


def _item_fields(copy: Copy, syntax: str) -> list[Field]:
    out: list[Field] = []
    for loc, callno, barcode, status, due in copy.items:
        if syntax == "unimarc":
            sfs = [("b", copy.member), ("e", loc), ("k", callno), ("f", barcode)]
            if status == "notforloan":
                sfs.append(("o", "1"))
            if due:
                sfs.append(("n", due))
            out.append(("995", " ", " ", sfs))
        else:
            sfs = [("a", copy.member), ("b", copy.member), ("c", loc), ("o", callno), ("p", barcode)]
            sfs.append(("7", "1" if status == "notforloan" else "0"))
            if due:
                sfs.append(("q", due))
            out.append(("952", " ", " ", sfs))
    return out


def _texts(ed: Edition, copy: Copy) -> tuple[str, str, str, str]:
    """Title, subtitle, responsibility, publisher as this copy writes them (script, punctuation, omissions)."""
    title, subtitle, resp, pub = ed.title, ed.subtitle, ed.responsibility, ed.publisher
    if subtitle and copy.subtitle == "omitted":
        subtitle = ""
    elif subtitle and copy.subtitle in ("merged_fw", "merged_hw"):
        title = f"{title}：{subtitle}" if copy.subtitle == "merged_fw" else f"{title}: {subtitle}"
        subtitle = ""
    if copy.fullwidth and ed.chinese:
        resp = resp.replace("(", "（").replace(")", "）").replace(" ; ", "；")
    if copy.publisher_form == "suffix" and ed.chinese and pub.endswith("社"):
        pub += "出版"
    if copy.traditional:
        title, subtitle, resp, pub = _trad(title), _trad(subtitle), _trad(resp), _trad(pub)
    return title, subtitle, resp, pub


def _marc21_fields(ed: Edition, copy: Copy, prof: MemberProfile) -> list[Field]:
    title, subtitle, resp, pub = _texts(ed, copy)
    chinese = ed.chinese
    romanised = chinese and prof.charset == "marc-8"  # LoC style: romanised fields + 880 vernacular
    ebook = ed.carrier == "ebook"
    entered = f"{(ed.year % 100):02d}0315" if ed.year < 2026 else "260315"
    f008 = f"{entered}s{ed.year}    {'cc ' if chinese else 'xx '}{'o' if ebook else ' '}".ljust(35)
    f008 += f"{ed.lang[:3]:<3} d"
    leader = "00000nam a2200000 i 4500"
    fields: list[Field] = [("LDR", leader, "", []), ("001", copy.record_id, "", []),
                           ("003", prof.code, "", []), ("005", "20250101120000.0", "", []),
                           ("008", f008[:40].ljust(40), "", [])]
    if ed.isbn13 and copy.isbn_form != "none":
        sfs = [("a", isbn_forms(ed.isbn13, copy.isbn_form) + (" (ebook)" if ebook else ""))]
        if ed.price and not ebook:
            sfs.append(("c", ed.price))
        fields.append(("020", " ", " ", sfs))
    fields.append(("040", " ", " ", [("a", prof.code), ("b", "chi" if chinese else "eng"), ("c", prof.code)]))
    if ed.clc:
        fields.append(("084", " ", " ", [("a", ed.clc), ("2", "clc")]))
    links: list[Field] = []
    n880 = 0

    def add(tag: str, i1: str, i2: str, sfs: list[tuple[str, str]]) -> None:
        nonlocal n880
        if romanised and any(_CJK.search(v) for _, v in sfs):
            n880 += 1
            link = f"{n880:02d}"
            fields.append((tag, i1, i2, [("6", f"880-{link}")] +
                           [(c, _pinyin(v) if _CJK.search(v) else v) for c, v in sfs]))
            links.append(("880", i1, i2, [("6", f"{tag}-{link}/$1")] + sfs))
        else:
            fields.append((tag, i1, i2, sfs))

    people = [a for a in ed.authors if a[1] != "译"] or ed.authors[:1]
    if people:
        name = ed.authors_latin[0] if ed.authors_latin and not chinese else people[0][0]
        add("100", "1", " ", [("a", name)] + ([("e", people[0][1])] if people[0][1] else []))
    sfs245 = [("a", title + (" :" if subtitle else (" /" if resp else "")))]
    if ebook:
        sfs245.append(("h", "[electronic resource]" if not chinese else "[电子资源]"))
    if subtitle:
        sfs245.append(("b", subtitle + (" /" if resp else "")))
    if ed.part_number:
        sfs245.append(("n", ed.part_number))
    if resp:
        sfs245.append(("c", resp))
    add("245", "1" if people else "0", "0", sfs245)
    if ed.edition:
        add("250", " ", " ", [("a", ed.edition)])
    date_text = _datestr(ed.year, copy.date_form, chinese)
    if pub:
        if copy.publisher_form == "roman" and ed.publisher_roman:
            fields.append(("260", " ", " ", [("a", (_pinyin(ed.place) if _CJK.search(ed.place) else ed.place)
                                                    + " :"), ("b", ed.publisher_roman + ","), ("c", date_text)]))
            n880 += 1
            fields[-1][3].insert(0, ("6", f"880-{n880:02d}"))
            links.append(("880", " ", " ", [("6", f"260-{n880:02d}/$1"), ("a", ed.place + " :"),
                                            ("b", pub + ","), ("c", date_text)]))
        else:
            add("264", " ", "1", [("a", (ed.place or "[S.l.]") + " :"), ("b", pub + ","), ("c", date_text)])
    if ebook:
        fields.append(("300", " ", " ", [("a", f"1 online resource ({ed.pages} p.)" if not chinese
                                               else f"1在线资源({ed.pages}页)")]))
        fields.append(("337", " ", " ", [("a", "computer"), ("b", "c"), ("2", "rdamedia")]))
        fields.append(("338", " ", " ", [("a", "online resource"), ("b", "cr"), ("2", "rdacarrier")]))
    else:
        pages = f"{ed.pages}页" if chinese else f"{ed.pages} p."
        fields.append(("300", " ", " ", [("a", pages + " ;"), ("c", "26 cm")]))
        fields.append(("337", " ", " ", [("a", "unmediated"), ("b", "n"), ("2", "rdamedia")]))
        fields.append(("338", " ", " ", [("a", "volume"), ("b", "nc"), ("2", "rdacarrier")]))
    for s in ed.subjects:
        s = _trad(s) if copy.traditional else s
        add("650", " ", "7" if chinese else "0", [("a", s)] + ([("2", "clc")] if chinese else []))
    for name, role in ed.authors:
        if people and (name, role) == people[0]:
            continue
        add("700", "1", " ", [("a", name)] + ([("e", role)] if role else []))
    if ebook:
        fields.append(("856", "4", "0", [("u", f"https://ebook.example.edu.cn/{prof.code.lower()}/{copy.record_id}")]))
    fields.extend(links)
    fields.extend(_item_fields(copy, "marc21"))
    return fields


def _unimarc_fields(ed: Edition, copy: Copy, prof: MemberProfile) -> list[Field]:
    title, subtitle, resp, pub = _texts(ed, copy)
    chinese = ed.chinese
    ebook = ed.carrier == "ebook"
    entered = f"20{(ed.year % 100):02d}0315" if ed.year >= 2000 else f"19{(ed.year % 100):02d}0315"
    fields: list[Field] = [("LDR", "00000nam0 2200000   450 ", "", []), ("001", copy.record_id, "", []),
                           ("005", "20250101120000.0", "", [])]
    if ed.isbn13 and copy.isbn_form != "none":
        sfs = [("a", isbn_forms(ed.isbn13, copy.isbn_form))]
        if ed.price and not ebook:
            sfs.append(("d", ed.price))
        fields.append(("010", " ", " ", sfs))
    fields.append(("100", " ", " ", [("a", f"{entered}d{ed.year}    em y0{ed.lang[:3]}y0120    ea")]))
    fields.append(("101", "0", " ", [("a", ed.lang[:3])]))
    fields.append(("102", " ", " ", [("a", "CN"), ("b", "110000")]))
    if ebook:
        fields.append(("135", " ", " ", [("a", "drnn ---uuuuu")]))
    sfs200 = [("a", title)]
    if chinese and prof.code in ("PKU", "BNU") or (chinese and hash_pinyin(copy.record_id)):
        sfs200.append(("A", _pinyin(title)))
    if ebook:
        sfs200.append(("b", "电子资源" if chinese else "electronic resource"))
    if subtitle:
        sfs200.append(("e", subtitle))
    if resp:
        sfs200.append(("f", resp))
    if ed.part_number:
        sfs200.append(("h", ed.part_number))
    fields.append(("200", "1", " ", sfs200))
    if ed.edition:
        fields.append(("205", " ", " ", [("a", ed.edition)]))
    if pub:
        fields.append(("210", " ", " ", [("a", ed.place or "[出版地不详]"), ("c", pub),
                                         ("d", _datestr(ed.year, copy.date_form, chinese))]))
    fields.append(("215", " ", " ", [("a", f"{ed.pages}页" if chinese else f"{ed.pages} p."),
                                     ("d", "26cm")] if not ebook else [("a", "1在线资源")]))
    for s in ed.subjects:
        fields.append(("606", "0", " ", [("a", _trad(s) if copy.traditional else s)]))
    if ed.clc:
        fields.append(("690", " ", " ", [("a", ed.clc), ("v", "5")]))
    for name, role in ed.authors:
        name = _trad(name) if copy.traditional else name
        fields.append(("702" if role == "译" else "701", " ", "0", [("a", name)] + ([("4", role)] if role else [])))
    fields.append(("801", " ", "0", [("a", "CN"), ("b", prof.code), ("c", "20250101")]))
    if ebook:
        fields.append(("856", "4", " ", [("u", f"https://ebook.example.edu.cn/{prof.code.lower()}/{copy.record_id}")]))
    fields.extend(_item_fields(copy, "unimarc"))
    return fields


def hash_pinyin(record_id: str) -> bool:
    """Whether a CNMARC member's record carries 200$A pinyin (some cataloguers add it): stable per record."""
    return sum(map(ord, record_id)) % 3 == 0


def _esc(text: str) -> str:
    text = _XML_BAD.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _marcxml(fields: list[Field]) -> bytes:
    parts = ["<record>"]
    for tag, a, b, sfs in fields:
        if tag == "LDR":
            parts.append(f"<leader>{_esc(a)}</leader>")
        elif tag < "010" and tag.isdigit():
            parts.append(f'<controlfield tag="{tag}">{_esc(a)}</controlfield>')
        else:
            parts.append(f'<datafield tag="{_esc(tag)}" ind1="{_esc(a or " ")}" ind2="{_esc(b or " ")}">')
            for code, value in sfs:
                parts.append(f'<subfield code="{_esc(code)}">{_esc(value)}</subfield>')
            parts.append("</datafield>")
    parts.append("</record>")
    return "".join(parts).encode("utf-8")


MARC_NS = "http://www.loc.gov/MARC21/slim"


def write_collection(records: Iterable[bytes], path) -> int:
    """Write MARCXML records (as `render_member` yields them) into one collection file; returns the count."""
    n = 0
    with open(path, "wb") as out:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="{MARC_NS}">\n'.encode())
        for rec in records:
            out.write(rec)
            out.write(b"\n")
            n += 1
        out.write(b"</collection>\n")
    return n


# -- ground truth -----------------------------------------------------------------------------------
def truth(plan: Plan) -> dict:
    """Ground truth: editions (clusters of MEMBER:record_id) and hard negatives; see docs/testbed.md."""
    members_of: dict[str, list[str]] = {}
    for code in (m.code for m in plan.members):
        for c in plan.copies[code]:
            members_of.setdefault(c.edition, []).append(f"{code}:{c.record_id}")
    editions = []
    for key, ed in plan.editions.items():
        editions.append({
            "id": key, "work": ed.work, "title": ed.title, "part": ed.part_number or None,
            "edition": ed.edition or None, "publisher": ed.publisher or None, "year": ed.year,
            "isbn13": ed.isbn13 or None, "carrier": ed.carrier,
            "seed": f"{ed.seed.source}#{ed.seed.index}" if ed.seed else None,
            "records": members_of.get(key, []),
        })
    return {
        "format": FORMAT_VERSION,
        "seed": plan.seed,
        "members": {m.code: {"syntax": m.syntax, "charset": m.charset, "records": len(plan.copies[m.code])}
                    for m in plan.members},
        "editions": editions,
        "hard_negatives": [{"a": a, "b": b, "reason": reason} for a, b, reason in plan.negatives],
    }
