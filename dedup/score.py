"""Pairwise comparison of two records' match keys: hard conflicts first, then a similarity score.

A conflict is a precise rule that two records are different editions whatever else they share
(another edition number, volume, carrier, language, translator, publisher, year or extent, or
disjoint ISBNs). Only records without a conflict are scored; precision comes before recall, because a
wrong merge sends an interlibrary-loan request for the wrong book.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from dedup.keys import MatchKeys, pinyin_key
from records.fold import is_cjk
from records.romanisation import (
    consonant_skeleton,
    is_arabic_script,
    pinyin_as_wade_giles,
    wade_giles,
    wade_giles_forms,
)

YEAR_SLACK = 1  # a printing date a year after the publication date is the same edition, when the extents agree
PUBLISHER_MIN = 80.0  # rapidfuzz ratio of Latin-script publisher keys below which two publishers differ
PUBLISHER_MIN_CROSS = 75.0  # ... CJK against its romanisation (人民 ~ Ren min)
TITLE_MIN = 0.90  # title similarity needed without a shared identifier
TITLE_MIN_FULL_EVIDENCE = 0.80  # ... when creator, publisher, year and pages all agree (a character of five)
SPECIFIC_EXTENT = 15  # an extent this long, read the same in two records, is evidence (AV and manuscripts)
TITLE_MIN_WITH_ID = 0.50  # ... and with one (an ISBN reused by a publisher for another book still fails)
SUBTITLE_OMITTED = 0.96  # the similarity of a title with its subtitle to the same title without it
MIN_PAGES = 10  # a count under ten pages is usually the preliminaries ("3, 280 p."), not the book
SIZE_SLACK = 2.0  # cm: more than 2 cm apart in height or width is another edition (OCLC's rule for a new record)
SIZE_AGREES = 1.0  # cm: height and width this close are the same measured item
SKELETON_MIN = 85.0  # rapidfuzz ratio of consonant skeletons at which an Arabic-script title is its romanisation
SKELETON_TITLE = 0.94  # ... counted as this title similarity at most: never enough without creators or every
# other fact (publisher, year, extent) agreeing
SKELETON_PUBLISHER_MIN = 75.0  # ... below which an Arabic-script publisher and a romanised one differ
SUCCESSION_MIN = 90.0  # rapidfuzz ratio at which a title is the earlier or later serial a record links to
_NEUTRAL_LANGUAGES = frozenset({"und", "mul", "zxx", "", None})


def _script_key(text: str, cjk: bool, other_cjk: bool) -> str:
    """The text as the other side can compare it: pinyin when only one side is in CJK script."""
    return pinyin_key(text) if cjk and not other_cjk else text.replace(" ", "")


def _romanised_otherwise(a: MatchKeys, b: MatchKeys) -> bool:
    """Both books may be Chinese and their titles are written otherwise: characters, pinyin, Wade-Giles."""
    return bool(a.chinese_title and b.chinese_title and a.written != b.written)


def _joined_forms(text: str) -> tuple[str, ...]:
    return tuple(f.replace(" ", "") for f in wade_giles_forms(text))


def _wade_syllables(text: str) -> list[str]:
    """The text's syllables in Wade-Giles: characters read so, pinyin put so ([] for other Latin text)."""
    return (wade_giles(text) if is_cjk(text) else pinyin_as_wade_giles(text)).split()


def _wade_similarity(a: str, b: str, *, joined: bool = False) -> float:
    """0-100: the best match of two texts' Wade-Giles forms, syllable by syllable (a syllable is a character), or
    as strings for names (`joined`)."""
    if joined:
        return max((fuzz.ratio(x, y) for x in _joined_forms(a) for y in _joined_forms(b)), default=0.0)
    return max((fuzz.ratio(x.split(), y.split()) for x in wade_giles_forms(a) for y in wade_giles_forms(b)),
               default=0.0)


def publisher_similarity(a: MatchKeys, b: MatchKeys) -> float:
    """0-100 similarity of the publishers, across scripts (人民出版社 ~ Ren min chu ban she) and romanisations
    (Ren min ~ Jen min)."""
    if a.publisher_cjk == b.publisher_cjk:
        sim = fuzz.ratio(a.publisher, b.publisher)
    else:
        sim = fuzz.ratio(_script_key(a.publisher, a.publisher_cjk, b.publisher_cjk),
                         _script_key(b.publisher, b.publisher_cjk, a.publisher_cjk))
    if sim < PUBLISHER_MIN and _romanised_otherwise(a, b):
        sim = max(sim, _wade_similarity(a.publisher, b.publisher, joined=True))
    return sim


def _omitted(full: str, heads: frozenset[str]) -> float:
    """How well a title without subtitle matches the other record's title proper (0-1)."""
    return max((fuzz.ratio(full, h) / 100.0 for h in heads), default=0.0)


def title_similarity(a: MatchKeys, b: MatchKeys) -> float:
    """0-1 similarity of the titles; a subtitle present in one record only does not count against it (the
    shorter title is compared with the other's title proper, cut where its subtitle begins)."""
    if a.cjk != b.cjk:
        fa = _script_key(a.full_title, a.cjk, b.cjk)
        fb = _script_key(b.full_title, b.cjk, a.cjk)
        ha = frozenset(_script_key(h, a.cjk, b.cjk) for h in a.heads)
        hb = frozenset(_script_key(h, b.cjk, a.cjk) for h in b.heads)
    else:
        fa, fb, ha, hb = a.full_title, b.full_title, a.heads, b.heads
    if not fa or not fb:
        return 0.0
    sim = fuzz.ratio(fa, fb) / 100.0
    if sim < TITLE_MIN and (a.romanised or b.romanised):
        # one record carries the vernacular (880) and the other only its romanisation: meet in the latter,
        # the whole titles, or the titles proper when a subtitle is left out on one side
        ra, rb = a.romanised or a.full_title, b.romanised or b.full_title
        pa, pb = a.romanised_proper or a.title.replace(" ", ""), b.romanised_proper or b.title.replace(" ", "")
        sim = max(sim, fuzz.ratio(ra, rb) / 100.0, min(SUBTITLE_OMITTED, fuzz.ratio(pa, pb) / 100.0))
    if sim < 1.0:
        omitted = 0.0
        if not a.has_subtitle or fa in ha:
            omitted = _omitted(fa, hb)
        if not b.has_subtitle or fb in hb:
            omitted = max(omitted, _omitted(fb, ha))
        if ha & hb and (fa in ha or fb in hb):
            omitted = 1.0
        sim = max(sim, min(SUBTITLE_OMITTED, omitted * SUBTITLE_OMITTED))
    if a.cjk != b.cjk and sim < 1.0 and _romanised_otherwise(a, b):
        # characters against their romanisation, as many syllables as characters: a syllable that differs is
        # another character (河北 / "Hubei"), not a letter wrong
        xs, ys = _wade_syllables(a.chinese_title), _wade_syllables(b.chinese_title)
        if len(xs) == len(ys) and xs != ys:
            sim = min(sim, fuzz.ratio(xs, ys) / 100.0)
    if sim < TITLE_MIN and _romanised_otherwise(a, b):
        # Chinese romanised in Wade-Giles (Western catalogues until 2000) against characters or pinyin, syllable
        # by syllable (a syllable is a character: 河北 / 湖北 differ as Ho-pei / Hu-pei): whole titles, or titles
        # proper when one record leaves out the subtitle
        sim = max(sim, _wade_similarity(a.chinese_title, b.chinese_title) / 100.0,
                  min(SUBTITLE_OMITTED, _wade_similarity(a.chinese_proper, b.chinese_proper) / 100.0))
    if sim < TITLE_MIN and a.arabic != b.arabic and a.skeleton and b.skeleton:
        # an Arabic-script title against its ALA-LC romanisation, by their consonants: a signal, not a proof
        skeletons = max(fuzz.ratio(a.skeleton, b.skeleton), fuzz.ratio(a.skeleton_proper, b.skeleton_proper))
        if skeletons >= SKELETON_MIN:
            sim = max(sim, min(SKELETON_TITLE, skeletons / 100.0))
    if sim < TITLE_MIN_FULL_EVIDENCE and a.cjk and b.cjk and pinyin_key(fa) == pinyin_key(fb):
        # a homophone typed by a pinyin input method (简明宋史 / 简明宋施): a typo, which merges only when
        # creators, publisher, year and pages all agree
        sim = TITLE_MIN_FULL_EVIDENCE
    return sim


def author_similarity(a: MatchKeys, b: MatchKeys) -> float | None:
    """0-1: the best match between the two creator sets; None when either record names no creator.
    A romanised surname meets a CJK name through pinyin (Shen ~ 沈起凤)."""
    if not a.authors or not b.authors:
        return None
    if a.authors & b.authors:
        return 1.0
    best = 0.0
    if _romanised_otherwise(a, b):  # 张文学, Zhang and Chang (Wade-Giles) are one surname
        for x in a.authors:
            for y in b.authors:
                if any(wx.startswith(wy) or wy.startswith(wx) for wx in _joined_forms(x) for wy in _joined_forms(y)):
                    best = 0.9
    if a.skeleton and b.skeleton and a.arabic != b.arabic:  # حسن، مير and Ḥasan, Mīr
        for x in a.authors:
            for y in b.authors:
                if is_arabic_script(x) != is_arabic_script(y):
                    sx, sy = consonant_skeleton(x), consonant_skeleton(y)
                    if len(sx) >= 2 and len(sy) >= 2 and (sx.startswith(sy) or sy.startswith(sx)):
                        best = max(best, 0.9)
    for x in a.authors:
        x_cjk = is_cjk(x)
        for y in b.authors:
            y_cjk = is_cjk(y)
            if x_cjk != y_cjk:
                px, py = (pinyin_key(x), y.replace(" ", "")) if x_cjk else (x.replace(" ", ""), pinyin_key(y))
                if px and py and (px.startswith(py) or py.startswith(px)):
                    best = max(best, 0.9)
                continue
            if x.startswith(y) or y.startswith(x):
                best = max(best, 0.9)
            best = max(best, fuzz.ratio(x, y) / 100.0)
    return best


def _publishers_differ(a: MatchKeys, b: MatchKeys) -> bool:
    """Same script: Chinese publishers must be equal after folding (北京大学 is not 北京师范大学), Latin ones
    close (a typo, a word order). CJK against romanised: compared in pinyin (or Wade-Giles) whenever either title
    is CJK and neither book is Japanese or Korean (by its language, or the kana or hangul in its title or
    publisher: their readings are not pinyin); other scripts are not compared."""
    if a.publisher_numbers and b.publisher_numbers and a.publisher_numbers != b.publisher_numbers:
        return True  # Type of the 42-line Bible / of the 36-line Bible
    if a.publisher_script == b.publisher_script:
        if a.publisher_script == "cjk":
            return a.publisher != b.publisher
        return publisher_similarity(a, b) < PUBLISHER_MIN
    if {a.publisher_script, b.publisher_script} == {"cjk", "latin"} and (a.cjk or b.cjk) \
            and a.pinyin_readable and b.pinyin_readable:
        return publisher_similarity(a, b) < PUBLISHER_MIN_CROSS
    if a.skeleton and b.skeleton and {a.publisher_script, b.publisher_script} == {"other", "latin"} \
            and is_arabic_script(a.publisher) != is_arabic_script(b.publisher) and not (a.publisher_own or b.publisher_own):
        return fuzz.ratio(consonant_skeleton(a.publisher), consonant_skeleton(b.publisher)) < SKELETON_PUBLISHER_MIN
    # scripts that cannot be compared (Japanese or Korean against a romanisation, Armenian against Latin):
    # the publishers as both records romanise them in 260/264, when both do
    own_a = a.publisher_own or (a.publisher if a.publisher_script == "latin" else "")
    own_b = b.publisher_own or (b.publisher if b.publisher_script == "latin" else "")
    return bool(own_a and own_b) and fuzz.ratio(own_a, own_b) < PUBLISHER_MIN


def _numbers_differ(a: MatchKeys, b: MatchKeys) -> bool:
    """The titles name other numbers (vol. 8 / vol. 10, 1792 / 1793, 第2版 / 第3版), or one names a number in
    its title proper and the other none. A record that omits the subtitle may omit the subtitle's numbers
    too: then one set only has to contain the other."""
    if a.numbers == b.numbers:
        return False
    if not a.numbers or not b.numbers:  # a number in one title proper only: 简明宋史 / 简明宋史 第2版
        return bool(a.head_numbers or b.head_numbers)
    if a.has_subtitle != b.has_subtitle:
        return not (a.numbers < b.numbers or b.numbers < a.numbers)
    return True


def _homophones(a: MatchKeys, b: MatchKeys) -> bool:
    """Two CJK titles that read the same in pinyin: the typo a pinyin input method makes."""
    return a.cjk and b.cjk and pinyin_key(a.full_title) == pinyin_key(b.full_title)


def _succeeds(a: MatchKeys, b: MatchKeys) -> bool:
    """One record links to the other's title as the serial it continues or is continued by (780/785): the
    NLM's "Arbeitstagung für Klinische Cytologie" and "... Zytologie" are two serials, not a typo."""
    for x, y in ((a, b), (b, a)):
        if x.succession and y.full_title:
            linked = max(fuzz.ratio(t, y.full_title) for t in x.succession)
            if linked >= SUCCESSION_MIN and linked > fuzz.ratio(x.full_title, y.full_title):
                return True
    return False


def _size_conflict(a: MatchKeys, b: MatchKeys) -> bool:
    """Both records measured the item (height x width: leaves, fragments, manuscripts, photographs, oblong
    volumes) and a dimension differs by more than 2 cm: another item or edition (Princeton's "Ars minor"
    fragments of one printer and year). A height alone ("26 cm") is rounded up by every library its own way."""
    return bool(a.width and b.width and a.height and b.height
                and (abs(a.height - b.height) > SIZE_SLACK or abs(a.width - b.width) > SIZE_SLACK))


def _same_size(a: MatchKeys, b: MatchKeys) -> bool:
    """Both records measured the item's height and width, to within a centimetre of each other (each library
    rounds up its own way): a fact about the copy in hand (an album, a manuscript, a fragment)."""
    return bool(a.width and b.width and a.height and b.height
                and abs(a.height - b.height) <= SIZE_AGREES and abs(a.width - b.width) <= SIZE_AGREES)


def _extent_conflict(a: MatchKeys, b: MatchKeys) -> str | None:
    """Other volumes counts, a multi-volume set against one paged volume, other page counts or page ranges
    (two articles), or another size."""
    va, vb = a.volumes or 1, b.volumes or 1
    if va != vb and (a.volumes or a.pages) and (b.volumes or b.pages):
        return "volumes"
    if a.pages and b.pages and a.pages != b.pages and a.page_unit == b.page_unit:
        small = max(a.pages, b.pages) < MIN_PAGES  # 1 leaf vs 2 leaves
        if small or (min(a.pages, b.pages) >= MIN_PAGES
                     and abs(a.pages - b.pages) > max(10, 0.1 * max(a.pages, b.pages))):
            return "extent"
    if a.page_range and b.page_range and a.page_range != b.page_range:
        return "extent"
    if _size_conflict(a, b):
        return "size"
    return None


def _extents_agree(a: MatchKeys, b: MatchKeys) -> bool:
    return bool(a.pages and a.pages == b.pages or a.volumes and a.volumes == b.volumes
                or a.page_range and a.page_range == b.page_range or a.extent and a.extent == b.extent)


def _volume_typed_otherwise(a: MatchKeys, b: MatchKeys) -> bool:
    """One title names its volume inside it ("… Part 4: Preparing a final draft") and the other names the same
    number at no word that says volume ("… Prat 4: …", a typo): the titles' numbers are compared instead."""
    return any(x.volume is None and y.volume_inner and y.volume in x.numbers for x, y in ((a, b), (b, a)))


def conflict(a: MatchKeys, b: MatchKeys, *, ignore_isbn: bool = False) -> str | None:
    """Why the two records cannot be one edition, or None: carrier, edition, volume, language, translator,
    isbn, year, publisher, numbers (in the titles), succession (an earlier or later serial), volumes (a set
    against one volume), extent, size."""
    if a.carrier != b.carrier:
        return "carrier"
    if a.edition != b.edition:
        return "edition"
    if a.volume != b.volume and not ({a.volume, a.volume_own} & {b.volume, b.volume_own}) - {None} \
            and not _volume_typed_otherwise(a, b):
        return "volume"  # a named part in the 880's script meets its romanisation
    if a.language != b.language and a.language not in _NEUTRAL_LANGUAGES and b.language not in _NEUTRAL_LANGUAGES:
        return "language"
    if a.translators and b.translators and not (a.translators & b.translators):
        return "translator"
    if not ignore_isbn and a.isbns and b.isbns and not (a.isbns & b.isbns):
        return "isbn"
    if a.year is not None and b.year is not None and a.year != b.year:
        # a year apart is a printing date against a publication date only when the extents agree
        if abs(a.year - b.year) > YEAR_SLACK or not _extents_agree(a, b):
            return "year"
    if a.publisher and b.publisher and _publishers_differ(a, b):
        return "publisher"
    if _numbers_differ(a, b):
        return "numbers"
    if (a.succession or b.succession) and _succeeds(a, b):
        return "succession"
    return _extent_conflict(a, b)


def _all_facts_agree(a: MatchKeys, b: MatchKeys, unpublished: bool) -> bool:
    """Every fact either record gives besides title and creators agrees: the extent (pages, volumes, or as
    written), the publisher and the year, each named by both or by neither, one of them at least. A manuscript
    has no publisher or year to agree on: its measured size must then agree."""
    if not _extents_agree(a, b):
        return False
    if unpublished:
        return _same_size(a, b)
    publisher = bool(a.publisher and b.publisher) or not (a.publisher or b.publisher)
    year = (a.year is not None and a.year == b.year) or (a.year is None and b.year is None)
    return publisher and year


def shares_identifier(a: MatchKeys, b: MatchKeys) -> bool:
    return bool(a.isbns & b.isbns or a.ids & b.ids)


def match_score(a: MatchKeys, b: MatchKeys) -> float | None:
    """A score > 0 when the two records describe the same edition (higher = surer), else None.

    A shared identifier (ISBN-13, ISSN, LCCN, national bibliography number) is checked, not trusted:
    any conflict still keeps the records apart, and the titles must still resemble each other. Equal
    scores are broken in favour of exact page, publisher and translator agreement (a translation meets its
    own copies before a record that names no translator).
    """
    if conflict(a, b) is not None:
        return None
    title = title_similarity(a, b)
    agreement = (0.02 if a.pages and a.pages == b.pages else 0.0) + \
        (0.01 if a.publisher and a.publisher == b.publisher else 0.0) + \
        (0.01 if a.translators and a.translators == b.translators else 0.0)
    if shares_identifier(a, b):
        return 2.0 + title + agreement if title >= TITLE_MIN_WITH_ID else None
    if title < TITLE_MIN_FULL_EVIDENCE:
        return None
    authors = author_similarity(a, b)
    if authors is not None and authors < 0.85:
        return None
    evidence = 0
    if authors is not None:
        evidence += 1
    if a.publisher and b.publisher:
        evidence += 1
    if a.year is not None and a.year == b.year:
        evidence += 1
    # a manuscript (or any unpublished item) names no publisher or year: what identifies it is the item itself
    unpublished = not (a.publisher or b.publisher or a.year or b.year)
    if a.pages and b.pages or a.page_range and a.page_range == b.page_range:
        evidence += 1
        if unpublished and a.pages == b.pages and _same_size(a, b):
            evidence += 1  # its leaves and its measured size: two facts of the one item
    elif a.volumes and a.volumes > 1 and a.volumes == b.volumes or (
            not (a.publisher or b.publisher) and _same_size(a, b)):
        # a set of "25 v. in 20" in both; an album that no publisher issued, measured 15 x 19 cm in both (a
        # printed book's size is its format, which other editions share: Fust's folio Bible and another's)
        evidence += 1
    elif len(a.extent) >= SPECIFIC_EXTENT and a.extent == b.extent:
        evidence += 1  # "1 cartridge (7 min.) si. b&w. super 8 mm." in both: the same physical description
    if title < TITLE_MIN:
        # a character or two wrong in a short title: only with every other fact agreeing (creators, publisher,
        # year, extent); a Chinese title typed with a homophone (河北 / 嗬北) also when neither names a creator
        creators = authors is not None and authors >= 0.9 or (
            not a.authors and not b.authors and _homophones(a, b))
        if not (creators and _all_facts_agree(a, b, unpublished)):
            return None
    elif evidence < 2 or (authors is None and title < 0.95):
        sparse = (authors is not None and authors >= 0.9 and title >= 0.95
                  and not (a.year or b.year or a.publisher or b.publisher or a.pages or b.pages))
        # a title alone is not an edition; title and creator are, when neither says more. A typo in a title
        # without creators is one when publisher, year and extent all agree ("Biilia pauperum", Hans Spoerer,
        # 1471, 40 leaves)
        typo = bool(authors is None and a.publisher and b.publisher and a.year is not None and a.year == b.year
                    and _all_facts_agree(a, b, unpublished))
        if not (sparse or typo):
            return None
    return title + 0.1 * (authors or 0.0) + (0.05 if a.year == b.year else 0.0) + agreement
