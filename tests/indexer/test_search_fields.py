"""Which MARC fields each searchable field of the local index reads (docs/local-search.md, "What is searched")."""

from __future__ import annotations

import pymarc
import pytest

from dedup import merge
from indexer.analysis import query_tokens
from indexer.schema import work_texts
from records.normalise import normalise


def _field(tag: str, *subfields: str, ind: str = "  ") -> pymarc.Field:
    pairs = [pymarc.Subfield(s[0], s[1:]) for s in subfields]
    return pymarc.Field(tag=tag, indicators=list(ind), subfields=pairs)


def _texts(syntax: str, *fields: pymarc.Field) -> dict[str, set[str]]:
    rec = pymarc.Record(leader="00000nam a2200000 i 4500" if syntax == "marc21" else "00000nam0 2200000   450 ")
    rec.add_field(pymarc.Field(tag="001", data="r1"))
    for f in fields:
        rec.add_field(f)
    (work,) = merge([normalise(rec, syntax=syntax, member="M")])
    return {name: set(query_tokens(text)) for name, text in work_texts(work).items()}


MARC21 = (
    _field("100", "aHolmes, Sherlock,", "d1854-", "eauthor."),
    _field("245", "aStudy in scarlet /", "cby Arthur Conan Doyle."),
    _field("246", "iCover title:", "aScarlet study"),
    _field("490", "aDetective library ;", "v12"),
    _field("830", "aBaker Street classics."),
    _field("700", "aWatson, John.", "tMemoirs of a surgeon."),
    _field("800", "aMoriarty, James.", "tProfessorial papers."),
    _field("650", "aDetectives", "zEngland", "vFiction.", "2lcsh"),
    _field("651", "aLondon (England)", "xSocial life"),
    _field("880", "6245-01/$1", "a緋色の研究"),
    _field("880", "6650-02/$1", "a探偵小説"),
    _field("500", "aFirst published in Beeton's Christmas annual."),
    _field("776", "iOnline version:", "tScarlet online edition", "w(OCoLC)123"),
    _field("852", "bStacks", "hShelfmarkword"),
    _field("952", "aBranchword", "pBarcodeword"),
)


@pytest.mark.parametrize("word,index", [
    ("scarlet", "title"), ("baker", "title"), ("detective", "title"), ("memoirs", "title"), ("professorial", "title"),
    ("online", "title"), ("研究", "title"),
    ("holmes", "author"), ("watson", "author"), ("moriarty", "author"), ("doyle", "author"),
    ("detectives", "subject"), ("england", "subject"), ("fiction", "subject"), ("social", "subject"),
    ("探偵", "subject"),
    ("beeton", "other"), ("cover", "other"), ("author", "other"),
])
def test_marc21_fields_reach_their_index(word, index):
    assert query_tokens(word)[0] in _texts("marc21", *MARC21)[index]


@pytest.mark.parametrize("word", ["shelfmarkword", "branchword", "barcodeword", "lcsh"])
def test_holdings_local_fields_and_codes_are_not_searched(word):
    texts = _texts("marc21", *MARC21)
    assert not any(word in tokens for tokens in texts.values())


CNMARC = (
    _field("200", "a红楼梦研究", "A hong lou meng yan jiu", "e第一辑", "f俞平伯著", ind="1 "),
    _field("225", "a红学丛书", ind="2 "),
    _field("410", "12001 ", "a中国古典文学研究丛刊", ind=" 0"),
    _field("517", "a紅樓夢辨", ind="1 "),
    _field("606", "a红楼梦", "x小说研究", ind="0 "),
    _field("690", "aI207.411", "v4"),
    _field("701", "a俞平伯", "4著", ind=" 0"),
    _field("330", "a本书收录作者论红楼梦的文章"),
    _field("905", "a馆藏地词"),
)


@pytest.mark.parametrize("word,index", [
    ("红学", "title"), ("古典", "title"), ("红楼", "title"),
    ("俞平", "author"),
    ("小说", "subject"), ("i207", "subject"),
    ("文章", "other"), ("hong", "other"),
])
def test_cnmarc_fields_reach_their_index(word, index):
    assert query_tokens(word)[0] in _texts("unimarc", *CNMARC)[index]


def test_cnmarc_local_fields_are_not_searched():
    assert not any("藏地" in tokens for tokens in _texts("unimarc", *CNMARC).values())
