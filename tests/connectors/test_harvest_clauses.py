"""The harvest's query clauses (every record, record id or id prefix, changed since) rendered as CQL and RPN."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.base import harvest_query
from connectors.query import (
    Bool,
    Capabilities,
    QueryError,
    all_records,
    check,
    modified_since,
    parse,
    record_id,
    to_cql,
    to_rpn,
)
from connectors.rpn import Term


def test_every_record():
    assert to_cql(all_records()) == "cql.allRecords = 1"
    assert to_rpn(all_records()) == Term("", ((1, 1016), (2, 103)))


def test_record_id_whole_key_and_prefix_with_escaping():
    assert to_rpn(record_id("0000123")) == Term("0000123", ((1, 12), (4, 3)))
    assert to_rpn(record_id("00001", prefix=True)) == Term("00001", ((1, 12), (4, 3), (5, 1)))
    assert to_cql(record_id("00001", prefix=True)) == "rec.id = 00001*"
    assert to_cql(record_id('a"b c')) == r'rec.id = "a\"b c"'
    assert to_cql(record_id("a*b?", prefix=True)) == r"rec.id = a\*b\?*"


@pytest.mark.parametrize("when, stamp", [
    ("20240102030405", "20240102030405"),
    ("20240102", "20240102000000"),
    (date(2024, 1, 2), "20240102000000"),
    (datetime(2024, 1, 2, 3, 4, 5), "20240102030405"),  # no zone: the members' local time
    (datetime(2024, 1, 2, 0, 0, tzinfo=UTC), "20240102080000"),  # a zone: converted to Beijing time
    ("2024-01-02T00:00:00Z", "20240102080000"),
])
def test_changed_since_renders_the_005_stamp(when, stamp):
    assert to_cql(modified_since(when)) == f"rec.lastModificationDate >= {stamp}"
    assert to_rpn(modified_since(when)) == Term(stamp, ((1, 1012), (2, 4), (4, 4)))


def test_harvest_query_narrows_by_date_and_members_capabilities_do_not_refuse_it():
    assert harvest_query(None, None) == all_records()
    assert harvest_query("20240101", None) == modified_since("20240101")
    title = parse("ti:history")
    assert harvest_query("20240101", title) == Bool("and", title, modified_since("20240101"))
    narrow = Capabilities(fields=frozenset({"title"}), truncation=frozenset())
    assert check(record_id("00", prefix=True), narrow) == [] and check(modified_since("20240101"), narrow) == []
    assert check(parse("au:x"), narrow)  # reader fields are still checked


@pytest.mark.parametrize("text", ["record_id:5", "modified:2024", "all_records:1"])
def test_readers_cannot_type_the_harvest_fields(text):
    with pytest.raises(QueryError, match="unknown field"):
        parse(text)
