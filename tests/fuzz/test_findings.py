"""What fuzzing found (benchmarks/fuzz.py, docs/benchmarks.md), each answered with the module's own error."""

from __future__ import annotations

import re

import pytest

from benchmarks import fuzz
from connectors.query import QueryError, parse, to_cql
from ill import InvalidRequest, Store
from ill.iso18626 import import_request
from records.errors import RecordError
from records.marc import read_iso2709
from tests.ill.conftest import _pg_database


@pytest.mark.parametrize("text,cql", [("数\udc8c据 结构", False), ("dc.title = 数\udcb4", True),
                                      ("ti:\ud800", False)])
def test_a_query_with_a_lone_surrogate_is_a_query_error_naming_it(text, cql):
    # it used to parse, then fail in the Chinese script conversion with UnicodeEncodeError
    with pytest.raises(QueryError) as err:
        to_cql(parse(text, cql=cql))
    bad = next(c for c in text if "\ud800" <= c <= "\udfff")
    assert f"U+{ord(bad):04X}" in str(err.value) and err.value.position == text.index(bad)
    assert "无法识别的字符" in err.value.in_language("zh")


def _record(entries: int, fields: int) -> bytes:
    """An ISO 2709 record whose directory is nowhere near its fields (offsets and lengths all wrong)."""
    directory = b"".join(b"245%04d%05d" % (3, i * 7) for i in range(entries))
    body = b"\x1e".join(b"ab" for _ in range(fields)) + b"\x1e"
    base = 24 + len(directory) + 1
    return b"%05dnam a22%05d a 4500" % (base + len(body) + 1, base) + directory + b"\x1e" + body + b"\x1d"


def test_a_directory_far_from_its_fields_is_refused_not_realigned_for_minutes():
    # 1,000 entries over 10,000 fields (42 KB) took 66 s to realign; such a record is corrupt
    with pytest.raises(RecordError, match="1000 fields but the data holds 10000; too far apart"):
        read_iso2709(_record(1000, 10000), member="PKU", position=3)
    # a directory that is wrong but near its fields is still repaired, as before
    rec = read_iso2709(_record(300, 300))
    assert rec.get_fields("245") and any("matched to their entries" in w for w in rec.warnings)


@pytest.fixture
def fresh(tmp_path):
    store = Store(tmp_path / "import.sqlite")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    if request.param == "sqlite":
        store = Store(tmp_path / "import.sqlite")
        yield store
        store.close()
        return
    databases = _pg_database(request.getfixturevalue("postgres_url"))
    store = Store(next(databases))
    yield store
    store.close()
    databases.close()


@pytest.fixture(scope="module")
def exported() -> list[bytes]:
    """A lent request's two messages, as balis exports them."""
    return fuzz._balis_export()[1].split(fuzz.SEPARATOR)


def _with_note(exported: list[bytes], note: str) -> list[bytes]:
    request, status = exported
    return [request, re.sub(rb"<note>balis:.*?</note>", b"<note>balis:" + note.encode() + b"</note>", status)]


@pytest.mark.parametrize("note,why", [
    ('{"phase": "transit", ', "not JSON"),  # JSONDecodeError
    ("[" * 30000 + "]" * 30000, "not JSON"),  # RecursionError
    ('["phase"]', "not a request state balis wrote"),  # AttributeError
    ('{"legs": {"seq": 0}}', "not a request state balis wrote"),
    ('{"status": "Loaned", "reader_id": "admin"}', "unknown fields: reader_id, status"),  # any column could be set
    ('{"legs": [{"seq": 0, "request_id": 7}]}', "unknown fields: request_id"),
    ('{"rota_index": "first"}', "rota_index in the balis: note is 'first'"),
    ('{"phase": ["transit"]}', "phase in the balis: note is"),
    ('{"rota_index": 100000000000000000000}', "rota_index in the balis: note is"),  # OverflowError in SQLite
    ('{"answered_at": 20261206}', "answered_at in the balis: note is '20261206'"),  # AttributeError
    ('{"lent_at": "2026-13-45T00:00:00Z"}', "is not an ISO 8601 time"),  # ValueError
    ('{"legs": [{"seq": 0, "lender": null, "arrived_at": "2026-12-07T09:30:00Z", "answer_due": '
     '"2026-12-09T16:00:00Z", "ship_due": "2026-12-11T16:00:00Z"}]}', "lender in the balis: note is 'None'"),
    ('{"legs": [{"seq": 0, "lender": "PKU"}]}', "a lender in the balis: note has no answer_due, arrived_at, ship_due"),
    ('{"phase": null}', "phase in the balis: note is 'None'"),  # IntegrityError: NOT NULL
])
def test_a_balis_note_that_balis_did_not_write_is_refused(fresh, exported, note, why):
    with pytest.raises(InvalidRequest, match=re.escape(why)):
        import_request(fresh, _with_note(exported, note))
    assert fresh.list_requests() == []


@pytest.mark.parametrize("stamp", [b"10000-01-01T00:00:00Z", b"2026-12-06T24:00:00Z"])
def test_a_time_the_schema_allows_but_python_cannot_hold_is_refused(fresh, exported, stamp):
    # xs:dateTime allows years past 9999 and 24:00:00; they gave ValueError
    request, status = exported
    request = re.sub(rb"<timestamp>[^<]*</timestamp>", b"<timestamp>" + stamp + b"</timestamp>", request)
    with pytest.raises(InvalidRequest, match=re.escape(f"{stamp.decode()!r} is not an ISO 8601 time")):
        import_request(fresh, [request, status])


def test_the_exported_messages_still_import(fresh, exported):
    new = fresh.get(import_request(fresh, exported))
    assert new["status"] == "WillSupply" and new["lender"] == "PKU"


@pytest.mark.parametrize("part,old,new,field", [
    ("status", b'"lender": "PKU"', b'"lender": "' + b"P" * 40 + b'"', "lender"),
    ("status", b'"source": "edition"', b'"source": "editions-and-more"', "source"),
    ("request", b"<agencyIdValue>THU</agencyIdValue>", b"<agencyIdValue>" + b"T" * 40 + b"</agencyIdValue>",
     "borrower"),
    ("status", b"<agencyIdValue>PKU</agencyIdValue>", b"<agencyIdValue>" + b"K" * 40 + b"</agencyIdValue>", "lender"),
])
def test_a_code_longer_than_the_store_keeps_is_refused_on_every_database(any_store, exported, part, old, new,
                                                                         field):
    # PostgreSQL refused them with a DataError (StringDataRightTruncation); SQLite kept them whole
    request, status = exported
    if part == "request":
        request = request.replace(old, new, 1)
    else:
        status = status.replace(old, new, 1)
    with pytest.raises(InvalidRequest, match=f"{field} .* is longer than"):
        import_request(any_store, [request, status])
    assert any_store.list_requests() == []
