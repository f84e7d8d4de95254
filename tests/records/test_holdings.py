"""Holdings and item status as eleven real library systems sent them (tests/data/opac-holdings, ReShare's
mod-rs test data) and as an Alma member serves ISO 20775 `isohold` (tests/data/isohold, dp2).

Each expected value below was written by reading the file: library, shelving location, call number,
barcode and the status a librarian reads from the system's own words.
"""

from __future__ import annotations

from pathlib import Path

import pymarc
import pytest

from connectors.sru import join_holdings, parse_search_response
from members import ILS_NAMES as REGISTRY_ILS_NAMES
from records.errors import RecordError
from records.holdings import ILS_NAMES, detect_ils, holdings_from_xml, marc_holdings, parse_due, read_status
from records.model import AVAILABLE, IN_TRANSIT, ITEM_STATUSES, NOT_FOR_LOAN, ON_HOLD, ON_LOAN, UNKNOWN
from records.normalise import from_raw, normalise

DATA = Path(__file__).parent.parent / "data"
OPAC = DATA / "opac-holdings"


def _read(name: str, ils: str | None = None, member: str = "M1"):
    """The records of one saved SRU answer, read as the federator reads a member's page."""
    page = parse_search_response((OPAC / name).read_bytes(), member)
    return [from_raw(r.data, syntax=r.syntax, charset=r.charset, member=member, position=r.position, ils=ils,
                     holdings=r.holdings) for r in page.records]


def _copies(rec):
    return [(h.library, h.location, h.call_number, h.barcode, h.status) for h in rec.holdings]


# ---------------------------------------------------------------- one test per real answer

def test_alma_princeton_opac_record():
    [rec] = _read("alma-princeton.xml", "alma")
    assert rec.title.startswith("The death of the banker")
    assert _copies(rec) == [("Firestone Library", "stacks: Firestone Library", "HG2481 .C42 1997",
                             "32101034358281", AVAILABLE)]
    assert rec.holdings[0].member == "M1"


def test_alma_princeton_not_found_has_no_records():
    assert _read("alma-princeton-notfound.xml", "alma") == []


def test_alma_pitt_print_copy_and_an_eresource_without_copies():
    print_rec, ebook = _read("alma-pitt-extra-eresource-record.xml", "alma")
    assert _copies(print_rec) == [("ULS - Thomas Blvd", "stacks", "HC79.E5 K685 2007", "31735056082393", AVAILABLE)]
    assert ebook.holdings == []  # an empty <holdings/>: the e-book has no copy to lend


@pytest.mark.parametrize(("name", "expected", "word"), [
    ("evergreen-east-central-with-checked-out-item-status.xml",
     ("EC-RC", "Current", "CAR", "32050009446276", ON_LOAN), "Checked out"),
    ("evergreen-east-central-with-in-transit-item-status.xml",
     ("EC-PR", "Current", "CAR", "32050009446284", IN_TRANSIT), "In transit"),
    ("evergreen-north-west-with-available-item-status.xml",
     ("ROSEAU", "Main", "E pb", "35500003682026", AVAILABLE), "Available"),
])
def test_evergreen_852_status_in_n(name, expected, word):
    for ils in ("evergreen", None):  # declared, and detected from the 852 4_ $g $n
        [rec] = _read(name, ils)
        assert _copies(rec) == [expected]
        assert rec.holdings[0].status_word == word
        assert not [w for w in rec.warnings if "status" in w]


def test_folio_one_copy_on_reserve_one_checked_out():
    [rec] = _read("folio-not-requestable.xml", "folio")
    assert _copies(rec) == [
        ("Olin Library", "Olin Reserve", "CB19 .G69 2021", "31924128478918", AVAILABLE),
        ("Olin Library", "Olin", "CB19 .G69 2021", "31924127029480", ON_LOAN)]
    assert rec.holdings[1].status_word == "Checked out"


def test_horizon_opac_record_available():
    [rec] = _read("horizon-jhu.xml", "horizon")
    assert _copies(rec) == [("Eisenhower", "MSEL Books", "SH 349 .M34 1992", None, AVAILABLE)]


def test_koha_952_checked_out_in_k():
    for ils in ("koha", None):
        [rec] = _read("koha-chatham.xml", ils)
        assert _copies(rec) == [("CHATHAM", "CIRC2", "580.1 G733v", "31437000069572", ON_LOAN)]
        assert rec.holdings[0].status_word == "Checked Out" and rec.holdings[0].due_date is None
    [rec] = _read("koha-chatham.xml", "koha")
    assert rec.holdings[0].member == "M1"  # a member declared koha keeps its own code; 952$a is its branch


def test_polaris_852_status_in_r():
    for ils in ("polaris", None):
        [rec] = _read("polaris-with-in-item-status.xml", ils)
        assert _copies(rec) == [("Main Library", "Juvenile nonfiction shelves", "j574.92 Sill", "31256015853493",
                                 AVAILABLE)]
        assert rec.holdings[0].status_word == "In"


def test_sierra_public_note_says_available():
    [rec] = _read("sierra-laroche.xml", "sierra")
    assert _copies(rec) == [("Circulation", None, "813.54 P648my 2003", None, AVAILABLE)]
    assert rec.holdings[0].status_word == "AVAILABLE"


def test_symphony_926_current_location_is_a_shelf():
    for ils in ("symphony", None):
        [rec] = _read("symphony-stanford.xml", ils)
        assert _copies(rec) == [("SAL3", "STACKS", "HV6534 .V55 J36 2017", None, AVAILABLE)]


def test_tlc_982_available_now_flag_and_949_twin_not_counted():
    for ils in ("tlc", None):
        [rec] = _read("tlc-eastern.xml", ils)
        assert _copies(rec) == [("Warner Library", "WARNER STACKS", "PQ2683.I32 Z52313 1996", "30094000460060",
                                 AVAILABLE)]


def test_voyager_opac_record_available():
    [rec] = _read("voyager-yale.xml", "voyager")
    assert _copies(rec) == [("Library Shelving Facility (LSF)", None, "PS3561 O646 W5 1979 (LC)", "211398",
                             AVAILABLE)]


def test_wms_opac_record_available():
    # WMS sent a turbomarc record with a leader only: no bibliographic record to read, but its copies are there
    [raw] = parse_search_response((OPAC / "wms-lfmm.xml").read_bytes(), "M1").records
    with pytest.raises(RecordError):
        from_raw(raw.data, syntax=raw.syntax, charset=raw.charset, member="M1", position=1, holdings=raw.holdings)
    warnings: list[str] = []
    copies = holdings_from_xml(raw.holdings, member="M1", ils="wms", warnings=warnings)
    assert [(h.library, h.location, h.call_number, h.barcode, h.status) for h in copies] == [
        ("LFMM", "General Collection", "PS3557.R48935 S67 2018", "0111504744439", AVAILABLE)]
    assert warnings == []


def test_every_saved_answer_is_read_and_every_copy_has_a_known_status():
    for path in sorted(OPAC.glob("*.xml")):
        for raw in parse_search_response(path.read_bytes(), "M1").records:
            copies = holdings_from_xml(raw.holdings, member="M1", ils=None, warnings=[]) if raw.holdings else []
            assert all(h.status in ITEM_STATUSES for h in copies), path.name


@pytest.mark.parametrize(("name", "ils"), [
    ("evergreen-north-west-with-available-item-status.xml", "evergreen"), ("koha-chatham.xml", "koha"),
    ("polaris-with-in-item-status.xml", "polaris"), ("symphony-stanford.xml", "symphony"),
    ("tlc-eastern.xml", "tlc"), ("folio-not-requestable.xml", "folio"),
])
def test_detect_ils_from_the_record(name, ils):
    page = parse_search_response((OPAC / name).read_bytes(), "M1")
    rec = pymarc.parse_xml_to_array(__import__("io").BytesIO(page.records[0].data))[0]
    assert detect_ils(rec) == ils


# ---------------------------------------------------------------- unknown words and Chinese words

def test_unknown_status_word_is_kept_reported_and_not_available():
    rec = pymarc.Record()
    rec.add_field(pymarc.Field(tag="852", indicators=["4", " "], subfields=[
        pymarc.Subfield("a", "Stacks"), pymarc.Subfield("b", "BR1"), pymarc.Subfield("c", "QA76"),
        pymarc.Subfield("g", "B77"), pymarc.Subfield("n", "Frobnicated")]))
    warnings: list[str] = []
    [h] = marc_holdings(rec, member="PKU", ils="evergreen", warnings=warnings)
    assert (h.status, h.status_word, h.barcode) == (UNKNOWN, "Frobnicated", "B77")
    assert len(warnings) == 1 and "'Frobnicated'" in warnings[0] and "evergreen" in warnings[0]
    assert "PKU" in warnings[0] and "B77" in warnings[0]


@pytest.mark.parametrize(("word", "status"), [
    ("在架", AVAILABLE), ("可借", AVAILABLE), ("在馆", AVAILABLE), ("借出", ON_LOAN), ("已借出", ON_LOAN),
    ("在途", IN_TRANSIT), ("预约", ON_HOLD), ("馆内阅览", NOT_FOR_LOAN), ("不外借", NOT_FOR_LOAN),
    ("剔除", NOT_FOR_LOAN), ("丢失", NOT_FOR_LOAN), ("仅供阅览", NOT_FOR_LOAN), ("调拨在途", IN_TRANSIT),
    ("Checked out", ON_LOAN), ("On holds shelf", ON_HOLD), ("Lost", NOT_FOR_LOAN), ("Check shelves", AVAILABLE),
    ("LIB USE ONLY", NOT_FOR_LOAN), ("not available", UNKNOWN),
])
def test_status_words(word, status):
    assert read_status(word)[0] == status


def test_status_phrases_with_a_due_date():
    assert read_status("DUE 12-15-23") == (ON_LOAN, "2023-12-15")
    assert read_status("已借出 应还日期:2024-05-01") == (ON_LOAN, "2024-05-01")
    assert read_status("借出（2024/5/1）") == (ON_LOAN, "2024-05-01")
    assert read_status("Frobnicated") == (None, None)
    assert read_status("不可借阅的奇怪状态")[0] == NOT_FOR_LOAN


@pytest.mark.parametrize(("text", "iso"), [
    ("2024-05-01", "2024-05-01"), ("2024/5/1", "2024-05-01"), ("12-15-23", "2023-12-15"),
    ("Dec 15 2023 ", "2023-12-15"), ("20240501", "2024-05-01"), ("2024年5月1日", "2024-05-01"),
    ("2024-02-30", None), ("soon", None),
])
def test_due_dates_as_members_write_them(text, iso):
    assert parse_due(text) == iso


def test_chinese_status_in_an_opac_record_circulation():
    xml = ("<holdings><holding><localLocation>总馆</localLocation><callNumber>I247.5/123</callNumber>"
           "<circulations><circulation><availableNow value=\"0\"/><restrictions>已借出</restrictions>"
           "<availablityDate>20261201</availablityDate><itemId>C001</itemId></circulation>"
           "<circulation><availableNow value=\"0\"/><onHold value=\"1\"/><itemId>C002</itemId></circulation>"
           "<circulation><availableNow value=\"0\"/><restrictions>奇怪</restrictions><itemId>C003</itemId>"
           "</circulation></circulations></holding></holdings>").encode()
    rec = pymarc.Record()
    rec.add_field(pymarc.Field(tag="001", data="x1"), pymarc.Field(tag="200", indicators=["1", " "],
                                                                    subfields=[pymarc.Subfield("a", "书名")]))
    out = normalise(rec, syntax="unimarc", member="BNU", ils="huiwen", holdings_xml=xml)
    assert [(h.barcode, h.status, h.due_date) for h in out.holdings] == [
        ("C001", ON_LOAN, "2026-12-01"), ("C002", ON_HOLD, None), ("C003", UNKNOWN, None)]
    assert any("'奇怪'" in w and "huiwen" in w for w in out.warnings)


def test_registry_and_records_know_the_same_systems():
    assert REGISTRY_ILS_NAMES == ILS_NAMES


# ---------------------------------------------------------------- ISO 20775 over SRU

def test_isohold_joined_to_unimarc_records_gives_each_record_its_copies():
    bib = parse_search_response((DATA / "isohold" / "sample_unimarcxml.xml").read_bytes(), "BNU")
    page = join_holdings(bib, (DATA / "isohold" / "sample_isohold.xml").read_bytes(), "BNU")
    records = [from_raw(r.data, syntax=r.syntax, charset=r.charset, member="BNU", position=r.position,
                        ils="alma", holdings=r.holdings) for r in page.records]
    assert len(records) == 10
    assert [len(r.holdings) for r in records] == [2, 3, 4, 0, 2, 2, 3, 2, 4, 1]
    first = records[0]
    assert first.title.startswith("'94中国发展报告")
    assert [(h.library, h.location, h.call_number, h.barcode, h.status) for h in first.holdings] == [
        ("总馆普通文献", "BCPSA", "F124 26", "N00837624", AVAILABLE),
        ("总馆普通文献", "BCPH8", "F124 26", "N01037429", AVAILABLE)]
    dept = records[1].holdings[2]  # a holdingStructured set of the department reading room
    assert (dept.library, dept.location, dept.call_number, dept.barcode) == (
        "院系资料室", "SDEP3", "F124 26", "N01746380")
    assert all(h.status == AVAILABLE for r in records for h in r.holdings)
    assert records[7].holdings[0].call_number == "D668 4"


# ---------------------------------------------------------------- registry and routing

_MEMBER = """
[[member]]
code = "bnu"
name = "北京师范大学图书馆"
{extra}
[[member.endpoint]]
protocol = "sru"
host = "127.0.0.1"
port = 8080
"""


def test_registry_ils_is_validated_and_named_in_the_error(tmp_path):
    from members import RegistryError, load_registry

    path = tmp_path / "members.toml"
    path.write_text(_MEMBER.format(extra='ils = "Alma"\nholdings_schema = "isohold"\nopac_syntax = true'),
                    encoding="utf-8")
    [m] = list(load_registry(path))
    assert (m.ils, m.holdings_schema, m.opac_syntax) == ("alma", "isohold", True)
    path.write_text(_MEMBER.format(extra='ils = "libsys"'), encoding="utf-8")
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert "BNU" in str(err.value) and "ils" in str(err.value) and "huiwen" in str(err.value)


def test_copies_in_transit_or_on_hold_are_not_on_the_shelf():
    from datetime import date

    from records.model import Holding
    from routing.rota import availability

    today = date(2026, 12, 6)
    shelf = Holding("A", status=AVAILABLE)
    transit, hold, unknown = (Holding("A", status=s) for s in (IN_TRANSIT, ON_HOLD, UNKNOWN))
    assert availability([transit], today)[1] == IN_TRANSIT
    assert availability([hold], today)[1] == ON_HOLD
    assert availability([shelf, transit, hold], today)[1] == AVAILABLE
    assert availability([transit], today)[0] < availability([unknown], today)[0] < availability([shelf], today)[0]
    assert availability([hold], today)[0] < availability([transit], today)[0]


def test_a_holding_pickled_before_library_and_status_word_reads_back():
    import pickle

    from records.model import Holding

    h = Holding("PKU", "F124/26", "总馆", ON_LOAN, "2026-12-01", "B1", "总馆", "借出")
    assert pickle.loads(pickle.dumps(h)) == h
    old = Holding.__new__(Holding)
    old.__setstate__(["PKU", "F124/26", "总馆", ON_LOAN, "2026-12-01", "B1"])  # as a 6-field Holding pickled
    assert (old.barcode, old.library, old.status_word) == ("B1", None, None)


def test_a_record_pickled_now_and_one_pickled_before_its_newest_fields_read_back():
    import pickle

    from records.model import Author, Holding, Isbn, Record, SerialHolding

    rec = Record(member="PKU", record_id="r1", syntax="cnmarc", title="数据结构", authors=[Author("严蔚敏", "著")],
                 isbns=[Isbn("7-302-02368-9", "9787302023685", None, True)], year=1997,
                 holdings=[Holding("PKU", "TP311.12/Y2", "总馆", ON_LOAN, None, "B7")],
                 serial_holdings=[SerialHolding("PKU", "v.1-20")])
    back = pickle.loads(pickle.dumps(rec))
    assert back == rec and back.holdings[0] == rec.holdings[0] and back.serial_holdings is not rec.serial_holdings
    state = rec.__getstate__() if hasattr(rec, "__getstate__") else rec.__reduce_ex__(2)[2]
    slots = dict(state[1] if isinstance(state, tuple) else state)
    del slots["serial_holdings"]  # as a Record pickled before the model had serial holdings
    old = Record.__new__(Record)
    old.__setstate__((None, slots))
    assert old.serial_holdings == [] and old.title == "数据结构" and old.holdings == rec.holdings
