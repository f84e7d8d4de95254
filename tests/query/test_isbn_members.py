"""Live `isbn:` search finds a book at real Zebra members whatever form each record catalogued its ISBN in.

Two Zebra members (MARC21, 020 $a; CNMARC, 010 $a) index the ISBN the plain way many OPACs do: the subfield as
catalogued, in the word index, where hyphens split it into numbers (7-5037-1744-0 → 7 / 5037 / 1744 / 0) and
a qualifier is one more word. Each holds the same real book (BNU's '94中国发展报告, 7-5037-1744-0) catalogued
once per form: ISBN-13 and ISBN-10, bare and hyphenated, with a qualifier, a price or
the label ISBN; a query typed in any of the forms, or pasted with its label, must find every copy, over Z39.50
and over SRU.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pymarc
import pytest
from stdnum import isbn as stdnum_isbn

from connectors.factory import open_connector
from connectors.query import Clause, Query, QueryError, isbn_forms, known_item_query, parse
from dedup import merge
from federator.federation import Federator
from members import Endpoint, Member, load_registry
from records.model import Record
from records.normalise import from_raw
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles
from testbed.seeds import read_seeds, to_marcxml
from testbed.zebra import ZebraServer

pytestmark = pytest.mark.integration

ISBN10, ISBN13 = "7503717440", "9787503717444"
FORMS = ("9787503717444", "978-7-5037-1744-4", "7503717440", "7-5037-1744-0", "7-5037-1744-0 (平装)",
         "7503717440 : CNY68.00", "ISBN 7-5037-1744-0", "978-7-5037-1744-4 (pbk.)")
TYPED = ("isbn:7-5037-1744-0", "isbn:7503717440", "isbn:9787503717444", "isbn:978-7-5037-1744-4",
         "ISBN 978-7-5037-1744-4", "ISBN: 7-5037-1744-0", "ISBN7503717440", "7-5037-1744-0")


class AsCataloguedZebra(ZebraServer):
    """A test bed Zebra whose ISBN index holds the subfield only as catalogued (no digits-only form added)."""

    def configure(self) -> None:
        super().configure()
        xsl = self.workdir / "common.xsl"
        text, n = re.subn(r'<xsl:if test="\$digits != \'\' and \$digits != \$raw">.*?</xsl:if>', "",
                          xsl.read_text(), flags=re.S)
        assert n == 1, "testbed/zebra/common.xsl changed: the digits-only ISBN form is no longer where it was"
        xsl.write_text(text)


def _book(syntax: str) -> pymarc.Record:
    """The real record of the book in the seeds (CNMARC: BNU's own; MARC21: the MARC21 record with that ISBN, or
    a copy of a real MARC21 record given it)."""
    for seed in read_seeds(syntax=syntax):
        if any("1744" in v for f in seed.record.get_fields("010", "020") for v in f.get_subfields("a")):
            return seed.record
    rec = next(read_seeds(syntax="marc21")).record
    rec.remove_fields("020")
    rec.add_ordered_field(pymarc.Field(tag="020", indicators=[" ", " "], subfields=[pymarc.Subfield("a", ISBN10)]))
    return rec


def _copies(syntax: str) -> list[bytes]:
    """The book catalogued once per ISBN form (001 = form number), and one unrelated record per form's absence."""
    tag = "010" if syntax == "unimarc" else "020"
    out = []
    for i, form in enumerate(FORMS):
        rec = _book(syntax)
        rec.remove_fields("001", tag)
        rec.add_ordered_field(pymarc.Field(tag="001", data=f"copy{i}"))
        rec.add_ordered_field(pymarc.Field(tag=tag, indicators=[" ", " "], subfields=[pymarc.Subfield("a", form)]))
        out.append(to_marcxml(rec))
    odd = _book(syntax)  # hyphenated where the ISBN ranges do not put hyphens, as some cataloguers did
    odd.remove_fields("001", tag)
    odd.add_ordered_field(pymarc.Field(tag="001", data="odd"))
    odd.add_ordered_field(pymarc.Field(tag=tag, indicators=[" ", " "], subfields=[pymarc.Subfield("a", "7-503-71744-0")]))
    out.append(to_marcxml(odd))
    bare = _book(syntax)  # catalogued without any ISBN, as 12% of the test bed's copies (and real ones) are
    bare.remove_fields("001", tag)
    bare.add_ordered_field(pymarc.Field(tag="001", data="no-isbn"))
    out.append(to_marcxml(bare))
    return out


def _start(root: Path, syntax: str) -> Iterator[ZebraServer]:
    server = AsCataloguedZebra(root / f"isbn-{syntax}", syntax=syntax)
    server.load(_copies(syntax))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def marc21_member(tmp_path_factory) -> Iterator[ZebraServer]:
    yield from _start(tmp_path_factory.mktemp("isbn"), "marc21")


@pytest.fixture(scope="module")
def cnmarc_member(tmp_path_factory) -> Iterator[ZebraServer]:
    yield from _start(tmp_path_factory.mktemp("isbn"), "unimarc")


async def _records(server: ZebraServer, protocol: str, query: Query) -> list[Record]:
    member = Member("M", "成员", "member", syntax=server.syntax,
                    endpoints=(Endpoint(protocol, "127.0.0.1", server.port),))
    conn = open_connector(member.target(member.endpoints[0]))
    try:
        page = await conn.search(query, 1, 50)
    finally:
        await conn.close()
    assert page.hits == len(page.records), (query, page.hits)
    return [from_raw(r.data, syntax=r.syntax, charset=r.charset, member="M", position=r.position)
            for r in page.records]


async def _found(server: ZebraServer, protocol: str, text: str) -> set[str]:
    return {r.record_id for r in await _records(server, protocol, parse(text))}


@pytest.mark.parametrize("protocol", ["z3950", "sru"])
@pytest.mark.parametrize("syntax", ["marc21", "unimarc"])
def test_an_isbn_typed_in_any_form_finds_every_form_catalogued(marc21_member, cnmarc_member, syntax, protocol):
    server = marc21_member if syntax == "marc21" else cnmarc_member
    every = {f"copy{i}" for i in range(len(FORMS))}

    async def run():
        return {t: await _found(server, protocol, t) for t in TYPED}

    for typed, found in asyncio.run(run()).items():
        assert found >= every, f"{typed} at a {syntax} member over {protocol} missed {sorted(every - found)}"


def test_an_isbn_hyphenated_as_a_member_did_finds_that_record(marc21_member):
    """A reader who copies 7-503-71744-0 from a member's record finds it there, though the ranges say 7-5037-."""
    assert "7-503-71744-0" in isbn_forms("7-503-71744-0")
    found = asyncio.run(_found(marc21_member, "z3950", "isbn:7-503-71744-0"))
    assert "odd" in found and {f"copy{i}" for i in range(len(FORMS))} <= found


@pytest.mark.parametrize("syntax", ["marc21", "unimarc"])
def test_a_copy_catalogued_without_isbn_is_found_by_its_title_and_year_and_merges(marc21_member, cnmarc_member,
                                                                                 syntax):
    """No ISBN form finds a record without one; `known_item_query` (the title and year of a record the ISBN
    found) does, and dedup puts it in the same edition: what a follow-up search of such a member needs."""
    server = marc21_member if syntax == "marc21" else cnmarc_member

    async def run():
        by_isbn = await _records(server, "z3950", parse("isbn:7-5037-1744-0"))
        first = next(r for r in by_isbn if r.record_id == "copy0")
        return by_isbn, await _records(server, "z3950", known_item_query(first.title, first.year))

    by_isbn, by_title = asyncio.run(run())
    assert "no-isbn" not in {r.record_id for r in by_isbn}
    bare = next(r for r in by_title if r.record_id == "no-isbn")
    works = merge([next(r for r in by_isbn if r.record_id == "copy0"), bare])
    assert len(works) == 1, [w.display.title for w in works]


def test_live_isbn_search_finds_every_test_bed_copy_catalogued_with_the_isbn(testbed):
    """On the demo test bed (8 members, each cataloguing ISBNs its own way: 13 or 10 digits, hyphens or none,
    a qualifier), a live search for an ISBN typed in one form finds every member's copy that carries it."""
    sizes = json.loads((testbed.state_dir / "bed.json").read_text())["sizes"]
    records = plan_records(plan_catalogues(testbed.seed, member_profiles(len(sizes)), sizes))
    holders: dict[str, set[tuple[str, str]]] = {}
    for r in records:
        for isbn13 in set(r.isbn13s):
            holders.setdefault(isbn13, set()).add((r.member, r.record_id))
    shared = sorted(i for i, h in holders.items() if len({m for m, _ in h}) >= 3)
    chosen = random.Random(15).sample(shared, min(24, len(shared)))
    assert len(chosen) >= 10, "the test bed has too few books held by three members"
    typed = [lambda i: i, lambda i: stdnum_isbn.format(i), lambda i: stdnum_isbn.to_isbn10(i),
             lambda i: stdnum_isbn.format(stdnum_isbn.to_isbn10(i)), lambda i: "ISBN " + stdnum_isbn.format(i)]
    registry = load_registry(testbed.registry_path)

    async def run():
        async with Federator(registry.members) as fed:
            out = {}
            for n, isbn13 in enumerate(chosen):
                text = typed[n % len(typed)](isbn13) if isbn13.startswith("978") else isbn13
                result = await fed.run(parse(text), per_member=50)
                out[text] = (isbn13, {(r.member, r.record_id) for o in result.outcomes for r in o.records})
            return out

    missed = {text: sorted(holders[isbn13] - got) for text, (isbn13, got) in asyncio.run(run()).items()
              if holders[isbn13] - got}
    assert not missed, f"live ISBN searches missed copies catalogued with the ISBN: {missed}"


@pytest.mark.parametrize("text,field,value", [
    ("ISBN 978-7-5037-1744-4", "isbn", "978-7-5037-1744-4"), ("ISBN: 7-5037-1744-0", "isbn", "7-5037-1744-0"),
    ("ISBN7503717440", "isbn", "7503717440"), ("ISBN-13: 9787503717444", "isbn", "9787503717444"),
    ("ISBN 7-5037-1744-1", "isbn", "7-5037-1744-1"),  # a wrong check digit as printed: members hold it too
    ("ISSN 0028-0836", "issn", "0028-0836"), ("ＩＳＢＮ：７-5037-1744-0", "isbn", "7-5037-1744-0"),
])
def test_a_number_pasted_with_its_label_is_that_number(text, field, value):
    assert parse(text) == Clause(field, "=", value)


@pytest.mark.parametrize("text", ["ISBN 12345", "isbn history", "ISSN 7503717440", "ti: history"])
def test_the_word_isbn_before_something_else_stays_a_word(text):
    try:
        q = parse(text)
    except QueryError:
        return  # a field prefix with a space after it is still refused, with its message
    assert not isinstance(q, Clause) or q.field == "any"


def _title_year_trap(syntax: str) -> bytes:
    """The book's title and year at another publisher: found by the follow-up's title search, never kept."""
    rec = _book(syntax)
    tag = "010" if syntax == "unimarc" else "020"
    rec.remove_fields("001", tag)
    rec.add_ordered_field(pymarc.Field(tag="001", data="other-publisher"))
    imprint = rec.get("210" if syntax == "unimarc" else "260") or rec.get("264")
    code = "c" if syntax == "unimarc" else "b"
    imprint.subfields = [pymarc.Subfield(sf.code, "江苏人民出版社" if sf.code == code else sf.value)
                         for sf in imprint.subfields]
    return to_marcxml(rec)


def _other_book_with_isbn() -> bytes:
    """Another real book (not the seed `_book` copies), catalogued with an ISBN."""
    title = _book("marc21")["245"].value()
    rec = next(s.record for s in read_seeds(syntax="marc21") if s.record["245"].value() != title)
    rec.remove_fields("001", "020")
    rec.add_ordered_field(pymarc.Field(tag="001", data="other-book"))
    rec.add_ordered_field(pymarc.Field(tag="020", indicators=[" ", " "], subfields=[pymarc.Subfield("a", "0679450041")]))
    return to_marcxml(rec)


@pytest.fixture(scope="module")
def bare_members(tmp_path_factory) -> Iterator[tuple[ZebraServer, ZebraServer]]:
    """Two members whose only copy of the book is catalogued without an ISBN, beside another publisher's book
    of the same title and year: one also holds another book with an ISBN (it answers an ISBN search with no
    hit), the other holds no ISBN at all (Zebra then has no ISBN index and answers diagnostic 114)."""
    copies = _copies("marc21")
    servers = []
    for name, extra in (("bare", [_other_book_with_isbn()]), ("noidx", [])):
        server = ZebraServer(tmp_path_factory.mktemp("isbn") / name, syntax="marc21")
        server.load([copies[-1], _title_year_trap("marc21"), *extra])
        server.start()
        servers.append(server)
    yield tuple(servers)
    for server in servers:
        server.stop()


def _editions(result) -> set[frozenset[tuple[str, str]]]:
    return {frozenset((r.member, r.record_id) for r in w.records) for w in result.works}


def test_a_member_whose_copy_has_no_isbn_is_asked_again_by_title_and_year(marc21_member, bare_members):
    """The federator asks the members that found nothing by ISBN (or could not search by ISBN) for the edition
    by its title and year, and keeps only what merges with the copies found by ISBN: the bare copy, not the
    other publisher's book of the same title and year."""
    members = [Member("HAS", "有ISBN", "with ISBN", syntax="marc21",
                      endpoints=(Endpoint("z3950", "127.0.0.1", marc21_member.port),))]
    members += [Member(code, code, code, syntax="marc21", endpoints=(Endpoint("z3950", "127.0.0.1", server.port),))
                for code, server in zip(("BARE", "NOIDX"), bare_members, strict=True)]

    async def run():
        async with Federator(members, answer_times=None) as fed:  # the second search replays the first's answers
            return [await fed.run(parse("isbn:7-5037-1744-0"), per_member=50) for _ in range(2)]

    first, again = asyncio.run(run())
    assert {o.code: o.cached for o in again.outcomes}["HAS"]
    assert _editions(again) == _editions(first)
    result = first
    outcomes = {o.code: o for o in result.outcomes}
    for code in ("BARE", "NOIDX"):
        assert outcomes[code].status == "ok" and outcomes[code].via == "known_item", outcomes[code]
        assert [r.record_id for r in outcomes[code].records] == ["no-isbn"]
    assert outcomes["HAS"].via is None and outcomes["HAS"].hits
    edition = next(w for w in result.works if "no-isbn" in {r.record_id for r in w.records})
    assert ISBN13 in edition.isbns and {"HAS", "BARE", "NOIDX"} <= set(edition.members)
    assert all("other-publisher" not in {r.record_id for r in w.records} for w in result.works)


def test_the_readme_example_finds_every_member_holding_the_edition(testbed):
    """`balis search isbn:7-5037-1744-0` on the demo test bed: every member that holds the edition answers
    with its copy, also BUPT, whose record of it carries no ISBN."""
    truth = json.loads(testbed.truth_path.read_text())
    edition = next(e for e in truth["editions"] if e["isbn13"] == ISBN13)
    holders = {x.split(":", 1)[0] for x in edition["records"]}
    registry = load_registry(testbed.registry_path)

    async def run():
        async with Federator(registry.members) as fed:
            return await fed.run(parse("isbn:7-5037-1744-0"), per_member=50)

    result = asyncio.run(run())
    work = next(w for w in result.works if ISBN13 in w.isbns)
    assert holders <= set(work.members), sorted(holders - set(work.members))
