"""Structured citations for document delivery (原文传递): what a copy request asks for, read from what
readers paste.

Pure. `parse_citation(text)` reads a GB/T 7714-2015 reference ([J] journal article, [M] book, [C] proceedings,
a chapter "[M]//…" or "[C]//…", [N] newspaper, [D] thesis), an APA 7 reference (article, book, chapter), a
Chinese free-form description ("《情报学报》2010年第29卷第3期第12-15页"), a bare DOI or a doi.org link, in
Chinese or English, with full-width punctuation and messy spacing. It fills what it can read and names the
fields it could not (`Parsed.missing`), for the reader to check and complete; it never looks anything up.
ISSNs and ISBNs are kept only when their check digit is right (python-stdnum, as records/identifiers.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields

from records.identifiers import parse_isbn, parse_issn

__all__ = ["ARTICLE", "BOOK", "CHAPTER", "Citation", "Parsed", "parse_citation", "parse_doi", "page_count",
           "FIELD_NAMES"]

ARTICLE, BOOK, CHAPTER = "article", "book", "chapter"
KINDS = (ARTICLE, BOOK, CHAPTER)

# What each kind needs before a supplier can find it; a missing one is reported.
NEEDED = {ARTICLE: ("journal", "year", "volume_or_issue", "pages", "article"),
          BOOK: ("journal", "year"),
          CHAPTER: ("journal", "year", "pages", "article")}
FIELD_NAMES = {"journal": "刊名/书名 journal or book title", "article": "篇名/章节名 article or chapter title",
               "year": "年 year", "volume": "卷 volume", "issue": "期 issue", "volume_or_issue": "卷或期 volume or issue",
               "pages": "页码 pages", "authors": "作者 authors", "doi": "DOI", "issn": "ISSN", "isbn": "ISBN"}


@dataclass(frozen=True, slots=True)
class Citation:
    """An article or chapter asked for: the journal or book it is in, where in it, and what it is."""

    kind: str = ARTICLE  # article | book | chapter
    journal: str = ""  # the journal's title, or the book's (for a chapter: the book it is in)
    article: str = ""  # the article's or chapter's title
    authors: tuple[str, ...] = ()
    year: int | None = None
    volume: str = ""
    issue: str = ""
    pages: str = ""  # as "12-15", "e0123", "3219-3227, 3230"
    issn: str = ""  # hyphenated, check digit verified
    isbn: str = ""  # ISBN-13, check digit verified
    doi: str = ""  # "10.xxxx/…", lower-cased prefix kept as written
    publisher: str = ""
    place: str = ""
    editors: tuple[str, ...] = ()  # of the book a chapter is in

    @property
    def page_count(self) -> int | None:
        return page_count(self.pages)

    def to_dict(self) -> dict:
        """The JSON kept in a request's citation_data (empty fields left out)."""
        out = {}
        for k, v in asdict(self).items():
            if v in ("", None, ()) or v == []:
                continue
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> Citation:
        data = data or {}
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        for k in ("authors", "editors"):
            if k in kw:
                value = kw[k] or ()
                kw[k] = tuple(re.split(r"\s*[,，、;]\s*", value)) if isinstance(value, str) else tuple(value)
        year = re.search(r"\d{4}", str(kw.get("year") or ""))
        kw["year"] = int(year.group()) if year else None
        for k, v in kw.items():
            if k not in ("authors", "editors", "year"):
                kw[k] = "" if v is None else str(v)
        return cls(**kw)

    def text(self) -> str:
        """One line for lists and notices, in GB/T 7714 order."""
        where = ", ".join(x for x in (self.journal, str(self.year or "")) if x)
        if self.volume:
            where += f", {self.volume}"
        if self.issue:
            where += f"({self.issue})"
        if self.pages:
            where += f": {self.pages}"
        who = ", ".join(self.authors[:3]) + (", 等" if len(self.authors) > 3 else "")
        head = ". ".join(x for x in (who, self.article) if x)
        return ". ".join(x for x in (head, where) if x)


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a pasted citation gave: the fields read, the style recognised, and what is still missing."""

    citation: Citation
    style: str  # gbt7714 | apa | chinese | doi | unknown
    missing: tuple[str, ...] = ()  # field keys (FIELD_NAMES) the reader must fill or check
    notes: tuple[str, ...] = ()

    @property
    def missing_text(self) -> str:
        return "、".join(FIELD_NAMES.get(m, m) for m in self.missing)

    def to_dict(self) -> dict:
        return {"citation": self.citation.to_dict(), "style": self.style, "missing": list(self.missing),
                "notes": list(self.notes)}


# ---------------------------------------------------------------- text clean-up

_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"\s*[‐‑‒–—―~～﹘]\s*")
_DOI = re.compile(r"(?:(?:https?://)?(?:dx\.)?doi\.org/|\bdoi\s*[:：]?\s*)?(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_URL = re.compile(r"\s*(?:(?:https?://|www\.)\S+)")


def _tidy(text: str) -> str:
    """Full-width forms as ASCII (NFKC), ideographic full stops and brackets as ASCII, dashes as '-',
    one space between words."""
    s = unicodedata.normalize("NFKC", text or "")
    s = s.replace("。", ". ").replace("【", "[").replace("】", "]").replace("〔", "[").replace("〕", "]")
    s = s.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    s = _DASHES.sub("-", s)
    s = re.sub(r"\.(?=[\u4e00-\u9fff(\[])", ". ", s)  # "研究．大学" from full-width stops: a space after
    s = re.sub(r"\s*([,;])\s*", r"\1 ", s)  # one space after a comma or colon, none before
    s = re.sub(r"\s*:\s*(?!//)", ": ", s)
    s = re.sub(r"\(\s+", "(", s)
    s = re.sub(r"\s+\)", ")", s)
    return _SPACES.sub(" ", s).strip()


def _strip(text: str) -> str:
    return (text or "").strip(" .,;:，。")


def parse_doi(text: str) -> str:
    """The DOI in a text ("10.1000/xyz", "doi:10.…", "https://doi.org/10.…"), without trailing punctuation."""
    m = _DOI.search(unicodedata.normalize("NFKC", text or ""))
    if not m:
        return ""
    doi = m.group(1).rstrip(".,;)]}")
    if doi.count("(") < doi.count(")"):
        doi = doi.rstrip(")")
    return doi


def page_count(pages: str) -> int | None:
    """How many pages "12-15" (4), "3219-27" (9: the end abbreviated), "2063" (1), "5-7, 9" (4) cover; None
    when the pages are not numbers (e0123)."""
    total = 0
    for part in (p.strip() for p in (pages or "").replace("+", ",").split(",")):
        if not part:
            continue
        m = re.fullmatch(r"[A-Za-z]?(\d+)(?:\s*-\s*[A-Za-z]?(\d+))?", part)
        if not m:
            return None
        first = int(m.group(1))
        if m.group(2) is None and not part[0].isdigit():
            return None  # an article number ("e0193972"), not a page
        if m.group(2) is None:
            total += 1
            continue
        last_text = m.group(2)
        last = int(last_text)
        if last < first and len(last_text) < len(m.group(1)):  # "3219-27": the end abbreviated
            last = int(m.group(1)[: len(m.group(1)) - len(last_text)] + last_text)
        if last < first:
            return None
        total += last - first + 1
    return total or None


def _pages(text: str) -> str:
    s = re.sub(r"^(?:pp?\.|第)\s*", "", (text or "").strip())
    s = re.sub(r"\s*页$", "", s)
    s = re.sub(r"\s*-\s*", "-", s)
    return _strip(s)


# ---------------------------------------------------------------- names

_ET_AL = re.compile(r"(?:,\s*)?(?:等|et\s+al\.?|et al)\s*$", re.IGNORECASE)


def _gbt_authors(text: str) -> tuple[str, ...]:
    s = _ET_AL.sub("", _strip(text)).strip()
    parts = re.split(r"\s*(?:[,，、;&]|\band\b)\s*", s)
    return tuple(p.strip(" .") for p in parts if p.strip(" ."))


_APA_NAME = re.compile(r"([^,&]+?),\s*((?:[A-Z][a-z]?\.(?:\s*-?\s*)?)+)")


def _apa_authors(text: str) -> tuple[str, ...]:
    s = re.sub(r"\s*(?:&|and|\.\.\.)\s*", ", ", text.strip())
    s = re.sub(r",\s*,", ",", s)
    names = [f"{m.group(1).strip(' ,')}, {m.group(2).strip()}" for m in _APA_NAME.finditer(s)]
    if names:
        return tuple(names)
    return _gbt_authors(s)


# ---------------------------------------------------------------- identifiers anywhere in the text

_ISSN_LABEL = re.compile(r"(?:ISSN|eISSN|刊号)\s*[:：]?\s*(\d{4}\s*-?\s*\d{3}[\dXx])", re.IGNORECASE)
_ISBN_LABEL = re.compile(r"ISBN(?:-1[03])?\s*[:：]?\s*([\d\- Xx]{10,17})", re.IGNORECASE)


def _identifiers(text: str) -> dict:
    out: dict = {}
    if m := _ISSN_LABEL.search(text):
        issn = parse_issn(m.group(1))
        if issn:
            out["issn"] = issn
    if m := _ISBN_LABEL.search(text):
        isbn = parse_isbn(m.group(1))
        if isbn and isbn.valid and isbn.isbn13:
            out["isbn"] = isbn.isbn13
    return out


def _without_identifiers(text: str) -> str:
    s = _ISSN_LABEL.sub("", text)
    s = _ISBN_LABEL.sub("", s)
    s = _DOI.sub("", s)
    s = _URL.sub("", s)
    s = re.sub(r"\[\s*(?:\d{4}-\d{1,2}-\d{1,2}|引用日期[^\]]*)\s*\]", "", s)  # GB/T's [cited date]
    s = re.sub(r"\s*\.\s*(?:\.\s*)+", ". ", s)
    return _strip(s.strip())


# ---------------------------------------------------------------- GB/T 7714-2015

_GBT_TYPE = re.compile(r"\[\s*(J|M|C|N|D|R|A|G|S|P|Z|EB|DB|CP)\s*(?:/\s*(?:OL|CD|MT|DK))?\s*\]", re.IGNORECASE)


def _split_authors_title(text: str) -> tuple[str, str]:
    """(authors, title) of "AUTHORS. TITLE": split at the first full stop that does not end an initial
    followed by another initial ("Smith J. A. Title" splits after "A.")."""
    s = text.strip()
    for m in re.finditer(r"\.(?:\s+|(?=[\u4e00-\u9fff\"'«《]))", s):
        left, right = s[: m.start()], s[m.end():]
        if not left.strip() or not right.strip():
            continue
        last = left.split()[-1] if left.split() else ""
        if len(last.strip(",")) == 1 and re.match(r"[A-Z]\.?(?:\s|,|$)", right):
            continue  # an initial followed by another initial: still the name
        if re.fullmatch(r".*\b(?:et\s+al|等)$", left.strip(), re.IGNORECASE) or _looks_like_names(left):
            return left, right
        return "", s
    return "", s


# A body as author ("华北电力大学学报编辑部", "中国科学院物理研究所", "国家统计局").
_CORPORATE = re.compile(r"[\u4e00-\u9fff()（）]{2,30}(?:部|会|社|所|院|局|馆|中心|组|室|处|厅|署|公司|大学|学院|学校)")


def _looks_like_names(text: str) -> bool:
    parts = [p.strip() for p in re.split(r"[,，、;]", text) if p.strip()]
    if not parts or len(parts) > 40:
        return False
    for p in parts:
        if re.fullmatch(r"[\u4e00-\u9fff·•]{2,6}|等|et al\.?", p):
            continue
        if re.fullmatch(r"[A-Z][A-Za-z'\-]+(?:\s+[A-Z][A-Za-z'\-]*)*(?:\s+[A-Z](?:\.?\s*[A-Z])*\.?)?", p):
            continue
        if re.fullmatch(r"[A-Z][A-Za-z'\-]+\s+[A-Z][a-z]+", p):
            continue
        if _CORPORATE.fullmatch(p):
            continue
        return False
    return True


_GBT_SERIAL = re.compile(
    r"^(?P<journal>.+?),\s*(?P<year>\d{4})(?:\s*年)?"
    r"(?:\s*,\s*(?P<volume>[^(),:]+?))?"
    r"(?:\s*\((?P<issue>[^)]+)\))?"
    r"(?:\s*:\s*(?P<pages>[A-Za-z]?\d[\dA-Za-z\-+, ]*?))?\s*\.?\s*$")
_GBT_NEWSPAPER = re.compile(r"^(?P<journal>.+?),\s*(?P<date>(?P<year>\d{4})-\d{1,2}-\d{1,2})\s*(?:\((?P<pages>[^)]+)\))?")
_GBT_IMPRINT = re.compile(
    r"(?:(?P<place>[^:.,]+?):\s*)?(?P<publisher>[^:,]+?),\s*(?P<year>\d{4})[^:]*?"
    r"(?::\s*(?P<pages>[A-Za-z]?\d[\d\-, ]*))?\s*\.?\s*$")
_EDITION = re.compile(r"^(?:\d+\s*版|第\s*\d+\s*版|[^.]*?\bed\.?|[^.]*?修订版|[^.]*?增订版)$", re.IGNORECASE)


def _imprint(text: str) -> dict:
    """Place, publisher, year and pages of "[edition.] 北京: 中华书局, 2000: 29"."""
    segments = [s.strip() for s in re.split(r"\.\s+", text.strip()) if s.strip()]
    out: dict = {}
    for seg in reversed(segments):
        m = _GBT_IMPRINT.search(seg)
        if m:
            out.update(place=_strip(m.group("place") or ""), publisher=_strip(m.group("publisher")),
                       year=int(m.group("year")), pages=_pages(m.group("pages") or ""))
            break
    return out


def _parse_gbt(text: str, m: re.Match) -> Citation:
    code = m.group(1).upper()
    authors, title = _split_authors_title(text[: m.start()])
    rest = text[m.end():].strip()
    kw: dict = {"authors": _gbt_authors(authors), "article": _strip(title)}
    if rest.startswith("//"):  # a part of a book or proceedings: "[M]//editors. book. place: publisher, year: pages"
        host = rest[2:].strip()
        eds, book = _split_authors_title(host)
        book_title, _, imprint = book.partition(". ")
        kw.update(kind=CHAPTER, editors=_gbt_authors(eds), journal=_strip(book_title), **_imprint(imprint))
        return Citation(**kw)
    rest = rest.lstrip(". ").strip()
    if code == "J":
        s = _GBT_SERIAL.match(_strip(rest) + ".")
        if s is None:
            s = _GBT_SERIAL.match(_strip(rest))
        if s:
            kw.update(kind=ARTICLE, journal=_strip(s.group("journal")), year=int(s.group("year")),
                      volume=_strip(s.group("volume") or ""), issue=_strip(s.group("issue") or ""),
                      pages=_pages(s.group("pages") or ""))
        else:
            journal, _, _ = rest.partition(",")
            kw.update(kind=ARTICLE, journal=_strip(journal))
        return Citation(**kw)
    if code == "N":
        s = _GBT_NEWSPAPER.match(rest)
        if s:
            kw.update(kind=ARTICLE, journal=_strip(s.group("journal")), year=int(s.group("year")),
                      issue=s.group("date"), pages=_pages(s.group("pages") or ""))  # a newspaper's issue: its date
        return Citation(**kw)
    # a whole book, proceedings, report or thesis: its title is the "journal" (the thing to find)
    kw.update(kind=BOOK, journal=kw.pop("article"), **_imprint(rest))
    return Citation(**kw)


# ---------------------------------------------------------------- APA 7

_APA_HEAD = re.compile(r"^(?P<authors>.+?)\s*\((?P<year>\d{4})[a-z]?(?:,\s*[^)]*)?\)\s*\.?\s*(?P<rest>.+)$")
_APA_NO_DATE = re.compile(r"^(?P<authors>.+?)\s*\((?:n\.\s*d\.|无日期)\)\s*\.?\s*(?P<rest>.+)$")
_APA_ARTICLE = re.compile(
    r"^(?P<title>.+?[.?!][\"']?)\s+(?P<journal>[^.?!]+?),\s*(?P<volume>\d+[A-Za-z]?)\s*(?:\((?P<issue>[^)]+)\))?"
    r"(?:\s*,\s*(?P<pages>(?:Article\s+)?[A-Za-z]?\d+(?:\s*-\s*[A-Za-z]?\d+)?))?\s*\.?\s*$")
_APA_ISSUE_ONLY = re.compile(
    r"^(?P<title>.+?[.?!][\"']?)\s+(?P<journal>[^.?!]+?),\s*\((?P<issue>[^)]+)\)"
    r"(?:\s*,\s*(?P<pages>[A-Za-z]?\d+(?:\s*-\s*[A-Za-z]?\d+)?))?\s*\.?\s*$")
_APA_CHAPTER = re.compile(
    r"^(?P<title>.+?[.?!])\s+(?:In|载于|见)\s*:?\s*(?P<eds>.*?)\s*\((?:Eds?\.|主?编)\)\s*,\s*(?P<book>.+?)\s*"
    r"\((?:[^)]*?,\s*)?(?:pp?\.|第)\s*(?P<pages>[^)]+?)(?:页)?\)\s*\.?\s*(?P<publisher>[^.]*)", re.IGNORECASE)
_APA_BOOK = re.compile(r"^(?P<title>.+?)(?:\s*\((?P<edition>[^)]*(?:ed\.|版)[^)]*)\))?\s*[.?!]\s+(?P<publisher>[^.]+)\.?\s*$")


def _parse_apa(text: str) -> Citation | None:
    m = _APA_HEAD.match(text) or _APA_NO_DATE.match(text)
    if not m:
        return None
    year = int(m.group("year")) if "year" in m.groupdict() and m.group("year") else None
    authors = _apa_authors(m.group("authors"))
    rest = m.group("rest").strip()
    if c := _APA_CHAPTER.match(rest):
        return Citation(kind=CHAPTER, article=_strip(c.group("title")), journal=_strip(c.group("book")),
                        authors=authors, editors=_gbt_authors(c.group("eds")), year=year,
                        pages=_pages(c.group("pages")), publisher=_strip(c.group("publisher")))
    for pattern in (_APA_ARTICLE, _APA_ISSUE_ONLY):
        if a := pattern.match(rest):
            groups = a.groupdict()
            pages = re.sub(r"^Article\s+", "", groups.get("pages") or "")
            return Citation(kind=ARTICLE, article=_strip(a.group("title")), journal=_strip(a.group("journal")),
                            authors=authors, year=year, volume=_strip(groups.get("volume") or ""),
                            issue=_strip(groups.get("issue") or ""), pages=_pages(pages))
    if b := _APA_BOOK.match(rest):
        return Citation(kind=BOOK, journal=_strip(b.group("title")), authors=authors, year=year,
                        publisher=_strip(b.group("publisher")))
    return Citation(kind=ARTICLE, article=_strip(rest), authors=authors, year=year)


# ---------------------------------------------------------------- Chinese free form

_CN_JOURNAL = re.compile(r"《([^》]+)》")
_CN_YEAR = re.compile(r"(\d{4})\s*年")
_CN_VOLUME = re.compile(r"第\s*(\d+)\s*卷|(?:卷|vol\.?)\s*(\d+)", re.IGNORECASE)
_CN_ISSUE = re.compile(r"第\s*(\d+(?:\s*[-/]\s*\d+)?)\s*期|(?:期|no\.?)\s*(\d+)", re.IGNORECASE)
_CN_PAGES = re.compile(r"第?\s*(\d+\s*(?:-\s*\d+)?)\s*页|(?:pp?\.|页码)\s*[:：]?\s*(\d+\s*(?:-\s*\d+)?)", re.IGNORECASE)


def _parse_chinese(text: str) -> Citation | None:
    y = _CN_YEAR.search(text)
    titles = [t for t in _CN_JOURNAL.finditer(text) if y and t.end() <= y.start()]
    if not (titles and y):
        return None
    j = titles[-1]  # the journal: the 《》 just before the year; an earlier one is the article
    vol = _CN_VOLUME.search(text, j.end())
    iss = _CN_ISSUE.search(text, j.end())
    pg = _CN_PAGES.search(text, j.end())
    before = text[: j.start()].strip()
    article, authors = "", ()
    if len(titles) > 1:
        article = titles[-2].group(1)
        authors = _gbt_authors(re.sub(r"[著编：:]+$", "", _strip(text[: titles[-2].start()])))
    elif before:
        quoted = re.search(r"[\"'](.+?)[\"']", before)
        if quoted:
            article = quoted.group(1)
            authors = _gbt_authors(re.sub(r"[著编：:]+$", "", _strip(before[: quoted.start()])))
        else:
            parts = re.split(r"[，,：:]", _strip(before))
            article = _strip(parts[-1])
            authors = _gbt_authors(", ".join(parts[:-1])) if len(parts) > 1 else ()
    return Citation(kind=ARTICLE, journal=j.group(1).strip(), article=_strip(article), authors=authors,
                    year=int(y.group(1)), volume=(vol.group(1) or vol.group(2)) if vol else "",
                    issue=re.sub(r"\s+", "", (iss.group(1) or iss.group(2))) if iss else "",
                    pages=_pages((pg.group(1) or pg.group(2)) if pg else ""))


# ---------------------------------------------------------------- entry point

def _missing(c: Citation) -> tuple[str, ...]:
    out = []
    for need in NEEDED[c.kind]:
        if need == "volume_or_issue":
            if not (c.volume or c.issue):
                out.append(need)
        elif not getattr(c, need):
            out.append(need)
    return tuple(out)


def parse_citation(text: str) -> Parsed:
    """Read a pasted citation: GB/T 7714-2015, APA 7, a Chinese description, or a bare DOI / doi.org link.

    Never raises for any text; what could not be read is in `missing`, and `notes` says why in a line
    (Chinese with English) when the style was not recognised.
    """
    raw = text or ""
    tidy = _tidy(raw)
    doi = parse_doi(raw)
    ids = _identifiers(tidy)
    body = _without_identifiers(tidy)
    notes: list[str] = []
    if not tidy:
        return Parsed(Citation(), "unknown", _missing(Citation()), ("没有内容 nothing was pasted",))
    if doi and len(body) < 4:  # a bare DOI or a doi.org link
        c = Citation(doi=doi, **ids)
        return Parsed(c, "doi", _missing(c), ("只有 DOI：请补全刊名、年、卷期、页码 only a DOI: fill in the journal, "
                                              "year, volume, issue and pages (balis does not look DOIs up)",))
    style = "unknown"
    citation: Citation | None = None
    if m := _GBT_TYPE.search(body):
        citation, style = _parse_gbt(body, m), "gbt7714"
    elif (c := _parse_apa(body)) is not None:
        citation, style = c, "apa"
    elif (c := _parse_chinese(body)) is not None:
        citation, style = c, "chinese"
    if citation is None:
        citation = Citation(article=_strip(body))
        notes.append("未识别的格式：请逐项填写 style not recognised: fill in the fields one by one")
    extra = {k: v for k, v in ids.items() if not getattr(citation, k)}
    if doi and not citation.doi:
        extra["doi"] = doi
    if extra:
        citation = Citation(**{**{f.name: getattr(citation, f.name) for f in fields(Citation)}, **extra})
    return Parsed(citation, style, _missing(citation), tuple(notes))
