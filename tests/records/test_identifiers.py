"""ISBN/ISSN parsing as members catalogue them; check digits come from python-stdnum."""

from __future__ import annotations

import pytest
from stdnum import isbn as stdnum_isbn

from records.identifiers import isbn13, isbn_search_forms, parse_isbn, parse_issn


def test_isbn10_with_chinese_qualifier():
    got = parse_isbn("7-5037-1744-0 (平装)")
    assert got is not None and got.valid
    # 978 + first nine digits + recomputed check digit: 978750371744 -> 4
    assert got.isbn13 == "9787503717444"
    assert got.qualifier == "平装"
    assert got.raw == "7-5037-1744-0 (平装)"


@pytest.mark.parametrize("text, qualifier", [
    ("0-19-852663-6 (pbk.) :", "pbk."),
    ("0805056351 (alk. paper)", "alk. paper"),
    ("9787020024759 精装 CNY25.00", "精装"),
    ("7-5037-1744-0（平装）：CNY12.00", "平装"),
    ("ISBN 978-7-5037-1744-4", None),
])
def test_qualifiers_and_prices(text, qualifier):
    got = parse_isbn(text)
    assert got is not None and got.valid
    assert got.qualifier == qualifier


def test_full_width_digits_are_read():
    got = parse_isbn("７－５０３７－１７４４－０")
    assert got is not None and got.isbn13 == "9787503717444"


def test_invalid_check_digit_is_kept_invalid():
    got = parse_isbn("7-5037-1744-1")
    assert got is not None
    assert got.valid is False and got.isbn13 is None
    assert got.raw == "7-5037-1744-1"


def test_no_isbn_at_all():
    assert parse_isbn("") is None
    assert parse_isbn("平装") is None
    assert parse_isbn("12345") is None


def test_search_forms_cover_10_13_and_hyphens():
    forms = isbn_search_forms("7503717440")
    assert set(forms) == {"9787503717444", "7503717440", "978-7-5037-1744-4", "7-5037-1744-0"}
    # every form leads back to the same ISBN-13
    assert {isbn13(f) for f in forms} == {"9787503717444"}
    for f in forms:
        assert stdnum_isbn.is_valid(f)


def test_search_forms_979_has_no_isbn10():
    forms = isbn_search_forms("979-10-90636-07-1")
    assert "9791090636071" in forms and all(len(f.replace("-", "")) == 13 for f in forms)


def test_search_forms_of_invalid_isbn_are_its_digits():
    assert isbn_search_forms("7-5037-1744-1") == ["7503717441"]


def test_issn():
    assert parse_issn("0378-5955") == "0378-5955"
    assert parse_issn("ISSN 03785955 ;") == "0378-5955"
    assert parse_issn("0378-5954") is None  # wrong check digit
    assert parse_issn("no issn") is None
