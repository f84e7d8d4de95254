"""The query model: reader syntax and CQL to one AST, and its CQL / RPN renderings."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import Unsupported
from connectors.query import (
    Bool,
    Capabilities,
    Clause,
    QueryError,
    check,
    expand_identifiers,
    expand_scripts,
    parse,
    reader_form,
    require,
    to_cql,
    to_rpn,
    to_text,
)
from connectors.rpn import Op, Term, pqf
from testbed.ztest import ZTest


def C(field, value, phrase=False, relation="="):  # noqa: N802 - reads like the dataclass
    return Clause(field, relation, value, phrase)


# ------------------------------------------------------------------ reader syntax


@pytest.mark.parametrize(
    "text, expected",
    [
        ("history", C("any", "history")),
        ("中国发展报告", C("any", "中国发展报告")),
        ('"war and peace"', C("any", "war and peace", True)),
        ("ti:war au:tolstoy", Bool("and", C("title", "war"), C("author", "tolstoy"))),
        ("a OR b c", Bool("or", C("any", "a"), Bool("and", C("any", "b"), C("any", "c")))),
        ("a or b and c", Bool("or", C("any", "a"), Bool("and", C("any", "b"), C("any", "c")))),
        ("(a OR b) c", Bool("and", Bool("or", C("any", "a"), C("any", "b")), C("any", "c"))),
        ("a NOT b", Bool("not", C("any", "a"), C("any", "b"))),
        ("ti:(war peace)", Bool("and", C("title", "war"), C("title", "peace"))),
        ("su:histor*", C("subject", "histor*")),
        ("year:>=2000", C("year", "2000", relation=">=")),
        ("pub:中华书局 year:2009", Bool("and", C("publisher", "中华书局"), C("year", "2009"))),
        ('AU:"鲁迅"', C("author", "鲁迅", True)),
        (r"\AND", C("any", "AND")),
        # typed with a Chinese input method: full-width syntax, Chinese quotation marks, ideographic space
        ("ti：数据结构", C("title", "数据结构")),
        ("“数据结构”", C("any", "数据结构", True)),
        ("「红楼梦」", C("any", "红楼梦", True)),
        ("（中国 OR 美国）经济", Bool("and", Bool("or", C("any", "中国"), C("any", "美国")), C("any", "经济"))),
        ("ti：“数据结构”　ａｎｄ　au：严蔚敏", Bool("and", C("title", "数据结构", True), C("author", "严蔚敏"))),
        ("ＩＳＢＮ：9787500401148", C("isbn", "9787500401148")),
        ("Ｃ语言程序设计", C("any", "C语言程序设计")),
        # an ISBN or ISSN typed or pasted without a prefix (valid check digit): searched as that number
        ("9787500401148", C("isbn", "9787500401148")),
        ("978-7-5004-0114-8", C("isbn", "978-7-5004-0114-8")),
        ("７-５０３７-１７４４-０", C("isbn", "7-5037-1744-0")),
        ("0028-0836 nature", Bool("and", C("issn", "0028-0836"), C("any", "nature"))),
        ("9787500401149", C("any", "9787500401149")),  # a wrong check digit: just digits
        ("any:9787500401148", C("any", "9787500401148")),
        ('"9787500401148"', C("any", "9787500401148", True)),
        ("ti:(9787500401148)", C("title", "9787500401148")),
        # years as readers write them
        ("year:2009年", C("year", "2009")),
        ('year:"2009"', C("year", "2009")),
        ("year:2000-2010", Bool("and", C("year", "2000", relation=">="), C("year", "2010", relation="<="))),
        ("year:2000年至2010年", Bool("and", C("year", "2000", relation=">="), C("year", "2010", relation="<="))),
        ("year:2000–2010", Bool("and", C("year", "2000", relation=">="), C("year", "2010", relation="<="))),
        ("year:2000-", C("year", "2000", relation=">=")),
        ("year:-1949", C("year", "1949", relation="<=")),
        ("year:2009-2009", C("year", "2009")),
        ("year:199*", C("year", "199*")),
        ("year:(2009 OR 2010)", Bool("or", C("year", "2009"), C("year", "2010"))),
    ],
)
def test_reader_syntax(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("(a OR b", 0, "not closed"),
        ("a OR b)", 6, "no opening"),
        ("a AND", 5, "nothing after"),
        ("OR a", 0, "nothing before"),
        ("a AND OR b", 6, "nothing after"),
        ("foo:bar", 0, "unknown field"),
        ('ti:"war', 3, "not closed"),
        ("ti: war", 0, "right after the colon"),
        ("()", 1, "empty"),
        ("x" * 1001, 1000, "at most"),
        ("year:abc", 5, "year: takes a year such as 2009, a range such as 2000-2010"),
        ("ti:中国 year:二〇〇九", 11, "year: takes"),
        ("year:20091", 5, "year: takes"),
        ("year:2010-2000", 5, "run backwards; write the earlier one first, such as year:2000-2010"),
        ("year:>=abc", 5, "year:>= needs a year after it"),
        ("year:>=2000-2010", 5, "year:>= needs a year after it"),
        ("ti：“数据结构", 3, "not closed"),  # positions are those of the text as typed
    ],
)
def test_reader_errors_say_what_and_where(text, where, words):
    with pytest.raises(QueryError) as e:
        parse(text)
    assert e.value.position == where
    assert words in e.value.message
    # readers of the portal get it in Chinese, with the same position
    assert e.value.zh and e.value.in_language("zh") == f"{e.value.zh}（第 {where + 1} 个字符）"
    assert e.value.in_language("en") == str(e.value)


def test_too_many_clauses():
    with pytest.raises(QueryError, match="at most"):
        parse(" ".join(["a"] * 65))


def test_deep_nesting_is_refused():
    with pytest.raises(QueryError, match="nests deeper"):
        parse("(" * 40 + "a" + ")" * 40)


# ------------------------------------------------------------------ CQL


@pytest.mark.parametrize(
    "text, expected",
    [
        ('dc.title = "war and peace"', C("title", "war and peace", True)),
        ("dc.title = war", C("title", "war")),
        ('dc.title = "war"', C("title", "war", True)),
        ("dc.creator all \"leo tolstoy\"", C("author", "leo tolstoy", relation="all")),
        ("bath.isbn = 7503717440", C("isbn", "7503717440")),
        ("cql.serverChoice any \"a b\"", C("any", "a b", relation="any")),
        ("dc.date >= 2000 and dc.subject = history", Bool("and", C("year", "2000", relation=">="),
                                                           C("subject", "history"))),
        ("title adj \"a b\" or rec.id = 42", Bool("or", C("title", "a b", True, "adj"), C("id", "42"))),
        ('dc.title = "a \\"b\\""', C("title", 'a "b"', True)),
        ("history", C("any", "history")),
    ],
)
def test_cql(text, expected):
    assert parse(text, cql=True) == expected


@pytest.mark.parametrize(
    "text, is_cql",
    [("dc.title = x", True), ("title all \"a b\"", True), ("a == b", True), ("history of china", False),
     ("ti:war", False), ("year:>=2000", False), ('"a = b"', False), ("bath.isbn=1", True)],
)
def test_cql_detection(text, is_cql):
    from connectors.query import looks_like_cql

    assert looks_like_cql(text) is is_cql


@pytest.mark.parametrize(
    "text, words",
    [("dc.nosuch = x", "unknown CQL index"), ("dc.title =/relevant x", "modifiers"),
     ("a prox b", "PROX"), ("x sortBy dc.title", "sortBy"), ("dc.title = ((", "CQL"),
     ('> dc = "info:srw/cql-context-set/1/dc-v1.1" dc.title = x', "prefix")],
)
def test_cql_errors(text, words):
    with pytest.raises(QueryError, match=words):
        parse(text, cql=True)


def test_cql_roundtrip_examples():
    for text in ['dc.title = "war and peace" and dc.creator = tolstoy',
                 "(dc.subject = history or dc.subject = art) not dc.date < 1900",
                 'cql.serverChoice = 中国发展报告', 'dc.title all "zheng dang"', "dc.title = histor*"]:
        q = parse(text, cql=True)
        assert parse(to_cql(q, expand=False), cql=True) == q


# ------------------------------------------------------------------ property tests

_word_chars = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\x85\u180e")
# Terms as the reader syntax gives them back: full-width ASCII and Chinese quotation marks are read as their
# ASCII forms (reader_form), so a term never holds them.
words = st.text(_word_chars, min_size=1, max_size=8).filter(
    lambda w: not w.isspace() and w.strip("*") and reader_form(w) == w)
phrases = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda p: p.strip() and p.strip("*") and reader_form(p) == p
)
reader_fields = st.sampled_from(["any", "title", "author", "subject", "isbn", "issn", "publisher", "year", "id"])


@st.composite
def reader_clauses(draw):
    field = draw(reader_fields)
    if field == "year":  # a year: anything else is refused with what to write instead
        relation = draw(st.sampled_from(["=", "<", "<=", ">", ">="]))
        year = str(draw(st.integers(0, 9999)))
        return Clause("year", relation, year[:3] + "*" if relation == "=" and draw(st.booleans()) else year)
    if draw(st.booleans()):
        return Clause(field, "=", draw(phrases), True)
    return Clause(field, "=", draw(words), False)


def _bools(kids):
    return st.tuples(st.sampled_from(["and", "or", "not"]), kids, kids).map(lambda t: Bool(*t))


reader_queries = st.recursive(reader_clauses(), _bools, max_leaves=8)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(reader_queries)
def test_reader_roundtrip(query):
    text = to_text(query)
    assert parse(text, cql=False) == query


cql_clauses = st.builds(
    Clause,
    reader_fields,
    st.sampled_from(["=", "==", "adj", "<", ">", "<=", ">=", "<>"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=8).filter(
        lambda v: v.strip("*") and not v.startswith("**") and not v.endswith("**")),  # "**" at an end: see docs
    st.booleans(),
)
cql_queries = st.recursive(cql_clauses, _bools, max_leaves=6)


@settings(max_examples=300)
@given(cql_queries)
def test_cql_roundtrip(query):
    def norm(q):  # a one-word `=`, `==` or `adj` clause is a phrase when CQL quotes it; that is all we lose
        if isinstance(q, Bool):
            return Bool(q.op, norm(q.left), norm(q.right))
        forced = any(ch in '()=<>/"' for ch in q.value) or q.value.lower() in ("and", "or", "not", "prox", "sortby")
        quoted = q.relation in ("=", "==", "adj") and (
            (q.phrase and not forced) or any(ch.isspace() for ch in q.value))
        return Clause(q.field, q.relation, q.value, quoted)

    assert parse(to_cql(query, expand=False), cql=True) == norm(query)


@settings(max_examples=1000)
@given(st.text(max_size=60))
def test_random_text_raises_only_query_error(text):
    for mode in (None, True, False):
        try:
            q = parse(text, cql=mode)
        except QueryError:
            continue
        to_cql(q)
        to_rpn(q)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(['a', 'dc.title', '=', 'and', 'OR', 'not', '(', ')', '"', 'ti:', 'x*', ' ',
                                 '中国', '\\', 'all', '>=', 'year:', '/', 'prox', 'sortby']), max_size=12))
def test_token_soup_raises_only_query_error(parts):
    test_random_text_raises_only_query_error.hypothesis.inner_test("".join(parts))  # type: ignore[attr-defined]


# ------------------------------------------------------------------ Chinese in both scripts


def test_chinese_terms_go_out_in_both_scripts():
    assert to_cql(parse("ti:数据结构")) == "dc.title = 数据结构 or dc.title = 數據結構"
    assert to_cql(parse("數據*")) == "cql.serverChoice = 數據* or cql.serverChoice = 数据*"  # truncation kept
    assert pqf(to_rpn(parse('au:"严蔚敏"'))) == (
        '@attrset bib-1 @or @attr 1=1003 @attr 2=3 @attr 4=1 @attr 5=100 严蔚敏 '
        '@attr 1=1003 @attr 2=3 @attr 4=1 @attr 5=100 嚴蔚敏')
    assert expand_scripts(parse("ti:history year:2009 id:中国")) == parse("ti:history year:2009 id:中国")
    assert to_cql(parse("ti:数据结构"), expand=False) == "dc.title = 数据结构"


# ------------------------------------------------------------------ RPN / CQL rendering


def test_rpn_golden():
    q = parse('ti:"war and peace" au:tolstoy NOT year:1990 OR su:histor*')
    assert pqf(to_rpn(q)) == (
        "@attrset bib-1 @or @not @and "
        '@attr 1=4 @attr 2=3 @attr 4=1 @attr 5=100 "war and peace" '
        "@attr 1=1003 @attr 2=3 @attr 4=2 @attr 5=100 tolstoy "
        "@attr 1=31 @attr 2=3 @attr 4=4 @attr 5=100 1990 "
        "@attr 1=21 @attr 2=3 @attr 4=2 @attr 5=1 histor"
    )
    assert to_rpn(parse("id:42")) == Term("42", ((1, 12), (2, 3), (4, 2), (5, 100)))
    assert to_rpn(parse("pub:x any:y")) == Op("and", Term("x", ((1, 1018), (2, 3), (4, 2), (5, 100))),
                                              Term("y", ((1, 1016), (2, 3), (4, 2), (5, 100))))
    all_q = parse('dc.title all "a b"', cql=True)
    assert to_rpn(all_q) == Op("and", Term("a", ((1, 4), (2, 3), (4, 2), (5, 100))),
                               Term("b", ((1, 4), (2, 3), (4, 2), (5, 100))))


def test_cql_golden():
    q = parse('ti:"war and peace" au:tolstoy NOT year:<1990 OR su:histor* pub:x id:7 any:"a\\"b"')
    assert to_cql(q) == (
        '((dc.title = "war and peace" and dc.creator = tolstoy) not dc.date < 1990) or '
        '(((dc.subject = histor* and dc.publisher = x) and rec.id = 7) and cql.serverChoice = "a\\"b")'
    )


def _pqf_properties() -> dict[str, str]:
    props = {}
    for line in open("/usr/share/yaz/etc/pqf.properties", encoding="utf-8"):
        if "=" in line and not line.lstrip().startswith("#") and line[0] not in " \t":
            k, v = line.split("=", 1)
            props[k.strip()] = v.strip()
    return props


def test_use_attributes_match_pqf_properties():
    """The CQL index to_cql sends maps (in YAZ's pqf.properties) to the use attribute to_rpn sends."""
    props = _pqf_properties()
    for field in ("any", "title", "author", "subject", "isbn", "issn", "publisher", "id"):
        q = Clause(field, "=", "x")
        index = to_cql(q, expand=False).split(" ", 1)[0]
        assert props[f"index.{index}"] == f"1={to_rpn(q, expand=False).attributes[0][1]}", field
    # the one deliberate difference: dc.date is 1=30 (Date) there, Bath's year search is 1=31; see docs
    assert props["index.dc.date"] == "1=30"
    assert to_rpn(parse("year:1990")).attributes[0] == (1, 31)
    assert props["relation.eq"] == "2=3" and props["truncation.right"] == "5=1"
    assert props["truncation.none"] == "5=100"


def test_isbn_expands_to_all_forms_with_hyphenated_as_phrases():
    q = expand_identifiers(parse("isbn:7-5037-1744-0"))
    forms = {(c.value, c.phrase) for c in _clauses(q)}
    assert ("7503717440", False) in forms and ("9787503717444", False) in forms
    assert ("7-5037-1744-0", True) in forms and ("978-7-5037-1744-4", True) in forms
    issn = {(c.value, c.phrase) for c in _clauses(expand_identifiers(parse("issn:00280836")))}
    assert issn == {("00280836", False), ("0028-0836", True)}
    # an invalid ISBN is searched as typed; a truncated one is not expanded
    assert expand_identifiers(parse("isbn:12345")) == C("isbn", "12345")
    assert expand_identifiers(parse("isbn:978711*")) == C("isbn", "978711*")


def _clauses(q):
    from connectors.query import clauses

    return list(clauses(q))


def test_capability_check_names_each_part():
    caps = Capabilities(fields=frozenset({"any", "title"}), booleans=frozenset({"and", "or"}),
                        truncation=frozenset(), phrase=False)
    problems = check(parse('ti:histor* NOT pub:"zhong hua"'), caps)
    assert any("NOT" in p for p in problems)
    assert any("publisher" in p for p in problems)
    assert any("truncation" in p for p in problems)
    assert any("phrase" in p for p in problems)
    assert check(parse("ti:war peace"), caps) == []
    with pytest.raises(Unsupported) as e:
        require(parse("a NOT b"), caps, member="pku")
    assert e.value.member == "pku" and "NOT" in str(e.value)
    assert Capabilities.from_config({"not": False, "truncation": False}).booleans == frozenset({"and", "or"})


# ------------------------------------------------------------------ yaz-client accepts our PQF


@pytest.fixture(scope="module")
def ztest_port(tmp_path_factory):
    server = ZTest(tmp_path_factory.mktemp("ztest-q"))
    yield server.start()
    server.stop()


@pytest.mark.integration
@pytest.mark.parametrize("text", [
    'ti:"war and peace" au:tolstoy', "isbn:7-5037-1744-0", "中国发展报告", "year:>=2000 NOT su:histor*",
    'any:"a \\"quoted\\" word"', 'dc.title all "x y z"', "pub:a@b", "ti:{braces}",
])  # fmt: skip
def test_yaz_client_accepts_pqf(ztest_port, text):
    """yaz-client parses our PQF and yaz-ztest receives the same query back (its log shows the RPN)."""
    query = pqf(to_rpn(parse(text)))
    out = subprocess.run(["yaz-client"], input=f"open tcp:127.0.0.1:{ztest_port}/Default\nfind {query}\nquit\n",
                         capture_output=True, text=True, timeout=30).stdout  # fmt: skip
    assert "Number of hits" in out, out
    assert "Bad" not in out and "error" not in out.lower().replace("errorcode", ""), out
