"""One query model for every member: reader syntax and CQL parse to one AST, rendered as CQL or Bib-1 RPN.

Reader syntax: free words, "quoted phrases", `ti:` `au:` `su:` `isbn:` `issn:` `pub:` `year:` `id:` `any:`
prefixes (also on a parenthesised group, `ti:(war peace)`), `AND`/`OR`/`NOT` in any case (implicit AND
between terms; NOT is and-not, as in Z39.50), parentheses, `word*` for right truncation. Chinese text without
spaces stays one term (members segment it). Raw CQL is parsed with the maintained `cql-parser` package.
See docs/query-syntax.md.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from cql.lexer import CQLLexer, CQLLexerError
from cql.parser import CQLParser12, CQLParserError, CQLSearchClause, CQLTriple

from connectors.errors import Unsupported
from connectors.rpn import RELATION, STRUCTURE, TRUNCATION, USE, Op, Rpn, Term

MAX_QUERY_LENGTH = 1000  # characters; longer input is refused rather than sent to 70 members
MAX_CLAUSES = 64  # search clauses after parsing (before ISBN/ISSN expansion)
MAX_DEPTH = 32  # nesting of parentheses / boolean nodes

FIELDS = ("any", "title", "author", "subject", "isbn", "issn", "publisher", "year", "id")
# Fields the harvest asks with and readers never type: every record, the member's record id (001) as a whole
# key (a trailing `*`: ids starting with it), and the time its record last changed (005, yyyymmddhhmmss).
HARVEST_FIELDS = ("all_records", "record_id", "modified")
BOOLEANS = ("and", "or", "not")
# Relations the AST carries (CQL names; the reader syntax only produces "=" and, for year:, < <= > >=).
RELATIONS = ("=", "==", "all", "any", "adj", "<", "<=", ">", ">=", "<>")

# Reader-syntax field prefixes → normalised field.
READER_FIELDS = {
    "any": "any", "kw": "any",
    "ti": "title", "title": "title",
    "au": "author", "author": "author",
    "su": "subject", "subject": "subject",
    "isbn": "isbn", "issn": "issn",
    "pub": "publisher", "publisher": "publisher",
    "year": "year", "py": "year",
    "id": "id",
}  # fmt: skip
# The prefix each field is written with when rendering reader syntax.
READER_PREFIX = {"any": "any", "title": "ti", "author": "au", "subject": "su", "isbn": "isbn",
                 "issn": "issn", "publisher": "pub", "year": "year", "id": "id"}  # fmt: skip

# CQL index names (lower case, context-set prefix optional) → normalised field.
CQL_INDEXES = {
    "cql.serverchoice": "any", "serverchoice": "any", "srw.serverchoice": "any",
    "cql.anywhere": "any", "cql.keywords": "any", "any": "any", "anywhere": "any", "keyword": "any",
    "dc.title": "title", "title": "title", "bath.title": "title",
    "dc.creator": "author", "dc.author": "author", "creator": "author", "author": "author",
    "bath.name": "author", "bath.author": "author", "bath.personalname": "author",
    "dc.subject": "subject", "subject": "subject", "bath.subject": "subject",
    "bath.isbn": "isbn", "isbn": "isbn", "bib.isbn": "isbn",
    "bath.issn": "issn", "issn": "issn", "bib.issn": "issn",
    "dc.publisher": "publisher", "publisher": "publisher",
    "dc.date": "year", "date": "year", "year": "year", "bath.date": "year",
    "rec.id": "id", "id": "id", "dc.resourceidentifier": "id", "bath.localnumber": "id",
}  # fmt: skip
# The CQL index each field is sent as (all mapped by YAZ's pqf.properties, which Zebra applies to SRU).
CQL_INDEX = {"any": "cql.serverChoice", "title": "dc.title", "author": "dc.creator", "subject": "dc.subject",
             "isbn": "bath.isbn", "issn": "bath.issn", "publisher": "dc.publisher", "year": "dc.date",
             "id": "rec.id", "all_records": "cql.allRecords", "record_id": "rec.id",
             "modified": "rec.lastModificationDate"}  # fmt: skip
CQL_RELATIONS = {"=": "=", "scr": "=", "==": "==", "exact": "==", "all": "all", "any": "any", "adj": "adj",
                 "<": "<", "<=": "<=", ">": ">", ">=": ">=", "<>": "<>"}  # fmt: skip

# Bib-1 use attributes per field.
BIB1_USE = {"any": 1016, "title": 4, "author": 1003, "subject": 21, "isbn": 7, "issn": 8,
            "publisher": 1018, "year": 31, "id": 12}  # fmt: skip
BIB1_RELATION = {"=": 3, "==": 3, "all": 3, "any": 3, "adj": 3, "<": 1, "<=": 2, ">": 5, ">=": 4, "<>": 6}
PHRASE, WORD, KEY, YEAR = 1, 2, 3, 4  # Bib-1 structure values (KEY: the whole field)
RIGHT, LEFT, BOTH, NO_TRUNCATION = 1, 2, 3, 100  # Bib-1 truncation values

_KNOWN_INDEX = "|".join(re.escape(k) for k in sorted(CQL_INDEXES, key=len, reverse=True) if k != "any")
_CQL_HINT = re.compile(
    r"(?:^|[\s(])(?:cql|dc|bath|rec|srw|bib|bib1)\.[a-z]+"  # context-set index names
    # relation symbols: touching a word (title=x, a<b), or after an index name (title = x, year >= 2000); a
    # lone " = " after another word is ISBD's parallel title, pasted with the title ("Hamlet = 哈姆雷特")
    r"|(?<=\S)[=<>]|[=<>](?=[^\s=<>])"
    r"|(?:^|[\s(])(?:" + _KNOWN_INDEX + r")\s*[=<>]"
    r"|(?:^|[\s(])(?:" + _KNOWN_INDEX + r")\s+(?:all|any|adj|exact)\s+(?=\S)",  # index all|any|adj term
    re.IGNORECASE,
)
# ISBD punctuation standing alone between words, as a title pasted from a results list or a catalogue card
# has it ("报告 : 北京的经验", "Hamlet = 哈姆雷特", "数据结构 / 严蔚敏", "丛书 ; 5", "—"): not a search term.
_ISBD_ALONE = re.compile(r"[:/=;.,+\-–—…·。、]+")
_READER_YEAR = re.compile(r"[A-Za-z][A-Za-z0-9_.]*:(?:<=|>=|<>|<|>)")
_NOT_TEXT = re.compile("[\ud800-\udfff]")  # lone surrogates: no character, cannot be encoded or converted


class QueryError(ValueError):
    """The reader's query cannot be understood; `position` is the 0-based character offset of the problem.

    `kind` says what is wrong, for servers that answer with standard diagnostics (the union SRU server):
    syntax, index (unknown field), relation, relation_modifier, boolean, sort, context_set, too_complex.
    """

    def __init__(self, message: str, position: int = 0, *, kind: str = "syntax", zh: str | None = None) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.message = message
        self.position = position
        self.kind = kind
        self.zh = zh  # the same in Chinese, for readers

    def in_language(self, lang: str) -> str:
        """The message for a reader of `lang` ("zh" or "en"), with the position."""
        if lang == "en" or self.zh is None:
            return str(self)
        return f"{self.zh}（第 {self.position + 1} 个字符）"

    def in_both(self) -> str:
        """The English message, and under it the Chinese one when there is one (for the command line)."""
        return str(self) + (f"\n{self.in_language('zh')}" if self.zh else "")


@dataclass(frozen=True, slots=True)
class Clause:
    """One search clause: a field, a CQL relation, the value as typed, and whether it is a phrase.

    A leading or trailing `*` in `value` means truncation there; any other `*` is literal.
    """

    field: str
    relation: str
    value: str
    phrase: bool = False

    def __post_init__(self) -> None:
        if self.field not in FIELDS and self.field not in HARVEST_FIELDS:
            raise ValueError(f"unknown field {self.field!r}; expected one of {', '.join(FIELDS)}")
        if self.relation not in RELATIONS:
            raise ValueError(f"unknown relation {self.relation!r}; expected one of {', '.join(RELATIONS)}")

    @property
    def truncation(self) -> str | None:
        """`right`, `left`, `both` or None, from `*` at the ends of the value."""
        stem = self.value.strip("*")
        if not stem or stem == self.value:
            return None
        right, left = self.value.endswith("*"), self.value.startswith("*")
        return "both" if right and left else "right" if right else "left"

    @property
    def stem(self) -> str:
        """The value without truncation marks."""
        return self.value.strip("*") if self.truncation else self.value


@dataclass(frozen=True, slots=True)
class Bool:
    """A boolean node: `and`, `or`, or `not` (meaning and-not)."""

    op: str
    left: Query
    right: Query

    def __post_init__(self) -> None:
        if self.op not in BOOLEANS:
            raise ValueError(f"unknown boolean {self.op!r}; expected and, or, not")


Query = Clause | Bool


def clauses(query: Query) -> Iterator[Clause]:
    """Every clause of the query, left to right."""
    if isinstance(query, Clause):
        yield query
    else:
        yield from clauses(query.left)
        yield from clauses(query.right)


def parse(text: str, *, cql: bool | None = None) -> Query:
    """Parse a reader's query or raw CQL (`cql=None` detects CQL by its index names and relations)."""
    if not isinstance(text, str):
        raise QueryError("the query must be text", 0, zh="检索式必须是文本")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"the query is {len(text)} characters long; shorten it to at most {MAX_QUERY_LENGTH}",
            MAX_QUERY_LENGTH, zh=f"检索式有 {len(text)} 个字符，请缩短到 {MAX_QUERY_LENGTH} 个以内",
        )
    if not text.strip():
        raise QueryError("the query is empty; type some words to search for", 0, zh="检索式是空的，请输入要检索的词")
    if bad := _NOT_TEXT.search(text):
        raise QueryError(f"the query holds U+{ord(bad.group()):04X}, which is not a character; remove it",
                         bad.start(), zh=f"检索式中有无法识别的字符 U+{ord(bad.group()):04X}，请删除它")
    if cql is None:
        cql = looks_like_cql(text)
    query = _parse_cql(text) if cql else _ReaderParser(text).parse()
    _check_size(query, text)
    return query


def looks_like_cql(text: str) -> bool:
    """Whether the text uses CQL index names (dc.title, cql.serverChoice, bath.isbn) or CQL relations."""
    return bool(_CQL_HINT.search(_READER_YEAR.sub(" ", _strip_quoted(text))))


def _strip_quoted(text: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"?', '""', text)


def _check_size(query: Query, text: str) -> None:
    n = sum(1 for _ in clauses(query))
    if n > MAX_CLAUSES:
        raise QueryError(f"the query has {n} search terms; use at most {MAX_CLAUSES}", len(text), kind="too_complex",
                         zh=f"检索式有 {n} 个检索词，最多可用 {MAX_CLAUSES} 个")


# --------------------------------------------------------------------------- reader syntax

_OPERATORS = {"and", "or", "not"}
_SPECIAL = set('()"\\')
_FIELD_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9_.]*):(?=[^\s:])")
_YEAR_RELATION = re.compile(r"(<=|>=|<>|<|>)")
_YEAR_RANGE = re.compile(r"^(?:(\d{1,4})年?)?\s*(?:([-–~至])\s*(?:(\d{1,4})年?)?)?$")
_YEAR_STEM = re.compile(r"^\d{1,3}\*$")  # 199*: the 1990s
YEAR_HINT = "a year such as 2009, a range such as 2000-2010, or a comparison such as year:>=2000"


def year_range(value: str) -> tuple[int | None, int | None] | None:
    """A year or range as readers write it: `2009` and `2009年` → (2009, 2009); `2000-2010` (also with –, ~
    or 至) → (2000, 2010); `2000-` → (2000, None); `-2010` → (None, 2010). None when it is not one, or the
    range runs backwards."""
    m = _YEAR_RANGE.match(value.strip())
    if not m or not (m.group(1) or m.group(3)) or (m.group(3) and not m.group(2)):
        return None
    lo = int(m.group(1)) if m.group(1) else None
    if not m.group(2):
        return lo, lo
    hi = int(m.group(3)) if m.group(3) else None
    if lo is not None and hi is not None and lo > hi:
        return None
    return lo, hi


def year_query(lo: int | None, hi: int | None) -> Query:
    """The clauses of a span from `year_range`: one year, an open range, or both ends."""
    if lo == hi:
        return Clause("year", "=", str(lo))
    if hi is None:
        return Clause("year", ">=", str(lo))
    if lo is None:
        return Clause("year", "<=", str(hi))
    return Bool("and", Clause("year", ">=", str(lo)), Clause("year", "<=", str(hi)))


@dataclass(slots=True)
class _Token:
    kind: str  # word | phrase | lparen | rparen | op | field
    text: str
    pos: int
    escaped_start: bool = False  # the word began with a backslash escape (so `\>` is not a relation)


# Chinese input methods type the syntax full width: ti：数据结构, “短语”, （a OR b）, ＩＳＢＮ：, ２００９. Read
# them as their ASCII forms (one character for one, so positions in messages stay those of the typed text);
# a full-width letter or digit in a search term becomes the form catalogues use.
_HALF_WIDTH = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " ",
                             "“": '"', "”": '"', "「": '"', "」": '"'})


def reader_form(text: str) -> str:
    """The reader's text with full-width ASCII, the ideographic space and Chinese quotation marks made
    ASCII: what the reader syntax reads."""
    return text.translate(_HALF_WIDTH)


_NUMBER_LABEL = re.compile(r"^(isbn(?:-?1[03])?|issn)[:：]?", re.IGNORECASE)


_ISBN_SHAPE = re.compile(r"^(?:97[89]-?)?(?:\d-?){9}[\dXx]$")


def _labelled_as(label: str, word: str) -> bool:
    """Whether a word after the label ISBN or ISSN is that number: a valid one, or for an ISBN one of its
    shape with a wrong check digit (printed in the book, and catalogued so by members)."""
    if _standard_number(word) == label:
        return True
    return label == "isbn" and bool(_ISBN_SHAPE.match(word)) and len(re.sub(r"-", "", word)) in (10, 13)


def _standard_number(word: str) -> str | None:
    """"isbn" or "issn" when the word is one with a valid check digit (9787500401148, 7-5004-0114-7; an ISSN
    only hyphenated, 0028-0836, since eight bare digits are often something else), else None."""
    from stdnum import isbn, issn

    if isbn.is_valid(word):
        return "isbn"
    if "-" in word and issn.is_valid(word):
        return "issn"
    return None


class _ReaderParser:
    """Recursive descent over reader tokens: OR < AND/NOT (implicit AND) < field/group < term."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(self._tokenize(reader_form(text)))
        self.i = 0

    # tokens ---------------------------------------------------------------
    def _tokenize(self, text: str) -> Iterator[_Token]:
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
            elif c == "(":
                yield _Token("lparen", c, i)
                i += 1
            elif c == ")":
                yield _Token("rparen", c, i)
                i += 1
            elif c == '"':
                start, i, buf = i, i + 1, []
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n:
                        i += 1
                    buf.append(text[i])
                    i += 1
                if i >= n:
                    raise QueryError('a quotation mark is not closed; add the closing "', start,
                                     zh="引号没有配对，请补上后引号")
                i += 1
                yield _Token("phrase", "".join(buf), start)
            else:
                m = _FIELD_PREFIX.match(text, i)
                if m:
                    yield _Token("field", m.group(1), i)
                    i = m.end()
                    continue
                start, buf, escaped = i, [], False
                while i < n and not text[i].isspace() and text[i] not in '()"':
                    if text[i] == "\\":
                        if i + 1 >= n:
                            raise QueryError("a backslash at the end of the query escapes nothing; remove it", i,
                                             zh="检索式末尾的反斜杠 \\ 后面没有字符，请删除它")
                        i += 1
                        escaped = True
                    buf.append(text[i])
                    i += 1
                word = "".join(buf)
                if not escaped and word.endswith(":") and word[:-1].lower() in READER_FIELDS \
                        and not self._label_of_number(word, text, i):
                    raise QueryError(f"{word} needs a search term right after the colon, without a space", start,
                                     zh=f"{word} 后面要紧接检索词，冒号后不要留空格")
                if not escaped and _ISBD_ALONE.fullmatch(word):
                    continue
                if not escaped and word.lower() in _OPERATORS:
                    yield _Token("op", word.lower(), start)
                else:
                    yield _Token("word", word, start, escaped_start=text[start] == "\\")

    @staticmethod
    def _label_of_number(word: str, text: str, i: int) -> bool:
        """Whether `word` ("ISBN:", "ISSN:") labels the standard number after it, as pasted from a book."""
        m = re.compile(r"\s*([^\s()\"]+)").match(text, i)
        label = word[:-1].lower()
        return bool(m) and label in ("isbn", "issn") and _labelled_as(label, m.group(1))

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    # grammar --------------------------------------------------------------
    def parse(self) -> Query:
        query = self._or(None, 0)
        tok = self._peek()
        if tok is not None:
            if tok.kind == "rparen":
                raise QueryError("this closing parenthesis has no opening one; remove it or add a (", tok.pos,
                                 zh="这个右括号没有对应的左括号，请删除它或补上左括号")
            raise QueryError(f"unexpected {tok.text!r}", tok.pos)  # pragma: no cover - grammar is total
        return query

    def _or(self, default: str | None, depth: int) -> Query:
        if depth > MAX_DEPTH:
            raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels; simplify it", self._pos(),
                             kind="too_complex", zh=f"检索式的括号嵌套超过 {MAX_DEPTH} 层，请简化")
        left = self._and(default, depth)
        while (tok := self._peek()) is not None and tok.kind == "op" and tok.text == "or":
            self._next()
            self._expect_operand(tok)
            left = Bool("or", left, self._and(default, depth))
        return left

    def _and(self, default: str | None, depth: int) -> Query:
        left = self._primary(default, depth)
        while (tok := self._peek()) is not None and tok.kind != "rparen" and not (
            tok.kind == "op" and tok.text == "or"
        ):
            op = "and"
            if tok.kind == "op":
                op = self._next().text
                self._expect_operand(tok)
            left = Bool(op, left, self._primary(default, depth))
        return left

    def _expect_operand(self, op: _Token) -> None:
        tok = self._peek()
        if tok is None or tok.kind == "rparen" or tok.kind == "op":
            where = tok.pos if tok is not None else len(self.text)
            raise QueryError(
                f"{op.text.upper()} has nothing after it; add a search term or remove the {op.text.upper()}", where,
                zh=f"{op.text.upper()} 后面没有检索词，请补上检索词或删除 {op.text.upper()}",
            )

    def _pos(self) -> int:
        tok = self._peek()
        return tok.pos if tok is not None else len(self.text)

    def _primary(self, default: str | None, depth: int) -> Query:
        tok = self._peek()
        if tok is None:
            raise QueryError("the query ends where a search term was expected", len(self.text),
                             zh="检索式在应有检索词的地方结束了，请补上检索词")
        if tok.kind == "op":
            raise QueryError(
                f"{tok.text.upper()} has nothing before it; add a search term before it or remove it", tok.pos,
                zh=f"{tok.text.upper()} 前面没有检索词，请在前面补上检索词或删除它",
            )
        if tok.kind == "rparen":
            raise QueryError("this closing parenthesis has no opening one, or the group is empty", tok.pos,
                             zh="这个右括号没有对应的左括号，或括号里是空的")
        self._next()
        if tok.kind == "lparen":
            inner = self._or(default, depth + 1)
            close = self._peek()
            if close is None or close.kind != "rparen":
                raise QueryError("this opening parenthesis is not closed; add a )", tok.pos,
                                 zh="左括号没有配对，请补上右括号")
            self._next()
            return inner
        if tok.kind == "field":
            name = tok.text.lower()
            if name not in READER_FIELDS:
                known = ", ".join(f"{p}:" for p in READER_PREFIX.values())
                raise QueryError(f"unknown field {tok.text + ':'!r}; use one of {known}", tok.pos, kind="index",
                                 zh=f"没有检索字段 {tok.text + ':'}；可用的字段有 {known}")
            if default is not None:
                raise QueryError("a field prefix inside a field group is not allowed; remove one of them", tok.pos,
                                 zh="字段括号内不能再加字段前缀，请删除其中一个")
            target = READER_FIELDS[name]
            nxt = self._peek()
            if nxt is not None and nxt.kind == "lparen":
                return self._primary(target, depth)
            if nxt is None or nxt.kind not in ("word", "phrase"):
                raise QueryError(f"{tok.text}: needs a search term right after the colon", tok.pos,
                                 zh=f"{tok.text}: 后面要紧接检索词")
            return self._term(self._next(), target)
        if default is None and tok.kind == "word" and not tok.escaped_start:
            labelled = self._labelled_number(tok)
            if labelled is not None:
                return labelled
            standard = _standard_number(tok.text)
            if standard:  # a reader pasting an ISBN or ISSN into the box means that number
                return Clause(standard, "=", tok.text)
        return self._term(tok, default or "any")

    def _labelled_number(self, tok: _Token) -> Clause | None:
        """A number pasted with its label, as a book or a web page prints it: "ISBN 978-7-...", "ISBN7-5037-
        1744-0", "ISSN 0028-0836" is that number, not the word ISBN and a number (no record has the word)."""
        m = _NUMBER_LABEL.match(tok.text)
        if m is None:
            return None
        label = m.group(1).lower()[:4]
        rest = tok.text[m.end():]
        if rest:
            return Clause(label, "=", rest) if _labelled_as(label, rest) else None
        nxt = self._peek()
        if nxt is None or nxt.kind != "word" or nxt.escaped_start or not _labelled_as(label, nxt.text):
            return None
        self._next()
        return Clause(label, "=", nxt.text)

    def _term(self, tok: _Token, field: str) -> Query:
        if field == "year":
            return self._year(tok)
        if not tok.text.strip():
            raise QueryError("an empty phrase searches for nothing; put words between the quotes", tok.pos,
                             zh="引号里是空的，检索不到任何内容；请在引号之间输入检索词")
        return Clause(field, "=", tok.text, phrase=tok.kind == "phrase")

    def _year(self, tok: _Token) -> Query:
        """year: takes a year, a range, a comparison or a truncated year (199*); anything else would find
        nothing at every member, so it is refused with what to write instead."""
        value = tok.text.strip()
        m = _YEAR_RELATION.match(value)
        if m and tok.kind == "word" and not tok.escaped_start:
            span = year_range(value[m.end():])
            if span is None or span[0] != span[1]:
                raise QueryError(f"year:{m.group(1)} needs a year after it, such as year:{m.group(1)}2000", tok.pos,
                                 zh=f"year:{m.group(1)} 后面要跟年份，例如 year:{m.group(1)}2000")
            return Clause("year", m.group(1), str(span[0]))
        if _YEAR_STEM.match(value):
            return Clause("year", "=", value)
        span = year_range(value)
        if span is None:
            backwards = _YEAR_RANGE.match(value)
            if backwards and backwards.group(1) and backwards.group(3):
                earlier = f"year:{backwards.group(3)}-{backwards.group(1)}"
                raise QueryError(f"the years of {value!r} run backwards; write the earlier one first, such as "
                                 f"{earlier}", tok.pos, zh=f"{value} 的年份前后颠倒，请先写较早的年份，例如 {earlier}")
            raise QueryError(f"year: takes {YEAR_HINT}; {tok.text!r} is none of these", tok.pos,
                             zh=f"year: 后面应是年份（如 2009）、年份范围（如 2000-2010）或比较（如 year:>=2000），"
                                f"“{tok.text}”都不是")
        return year_query(*span)


def to_text(query: Query) -> str:
    """Render the query in reader syntax (what `parse(..., cql=False)` reads back to the same AST)."""
    return _text(query, top=True)


def _text(node: Query, top: bool = False) -> str:
    if isinstance(node, Clause):
        return _text_clause(node)
    left = _text(node.left)
    right = _text(node.right)
    # Left-associative grammar: a Bool on the right always needs parentheses; on the left only OR under AND.
    if isinstance(node.left, Bool) and node.left.op == "or" and node.op != "or":
        left = f"({left})"
    if isinstance(node.right, Bool):
        right = f"({right})"
    return f"{left} {node.op.upper()} {right}"


def _text_clause(c: Clause) -> str:
    year_relation = c.field == "year" and c.relation in ("<", "<=", ">", ">=", "<>")
    if c.relation != "=" and not year_relation:
        raise Unsupported(f"relation {c.relation!r} has no reader syntax; use CQL (to_cql) for this query")
    bare = c.field == "any" and (c.phrase or not _standard_number(c.value))  # a bare ISBN would read as isbn:
    prefix = ("" if bare else READER_PREFIX[c.field] + ":") + (c.relation if year_relation else "")
    if c.phrase:
        return prefix + '"' + c.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if not c.value or any(ch.isspace() for ch in c.value):
        raise Unsupported(f"the word {c.value!r} is empty or has spaces; make the clause a phrase")
    value = "".join("\\" + ch if ch in _SPECIAL or ch == ":" else ch for ch in c.value)
    first_is_relation = c.field == "year" and not year_relation and c.value[0] in "<>"
    isbd = _ISBD_ALONE.fullmatch(c.value)  # unescaped, it would be read as punctuation between words
    if (c.value.lower() in _OPERATORS or first_is_relation or isbd) and not value.startswith("\\"):
        value = "\\" + value
    return prefix + value


# --------------------------------------------------------------------------- CQL


class _Quoted(str):
    """A CQL term that was written in quotes (so `=` on it is a phrase search)."""


class _Lexer(CQLLexer):
    """cql-parser's lexer, extended: keeps whether a term was quoted and undoes backslash escapes."""

    def t_CHAR_STRING1(self, tok):  # noqa: N802 - ply naming
        r"""[^\s()=<>"/]+"""
        tok.type = self.reserved.get(tok.value.lower(), tok.type)
        if tok.type == "CHAR_STRING1":
            tok.value = _unescape(tok.value)
        return tok

    def t_CHAR_STRING2(self, tok):  # noqa: N802 - ply naming
        r'''"(?:\\.|[^"\\])*"'''
        tok.value = _Quoted(_unescape(tok.value[1:-1]))
        return tok

    def t_error(self, tok):
        raise CQLLexerError(f"character {tok.value[0]!r} is not allowed here", tok.lexpos)


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s) if "\\" in s else s


class _Parsers(threading.local):
    """One built cql-parser per thread (ply parsers keep state while parsing)."""

    def __init__(self) -> None:
        for name in ("cql", "cql.parser", "cql.lexer"):
            logging.getLogger(name).setLevel(logging.CRITICAL)  # it logs every syntax error at ERROR level
        self.lexer = _Lexer()
        self.lexer.build()
        self.parser = CQLParser12()
        self.parser.build(self.lexer, debug=False)


_parsers: _Parsers | None = None  # made at the first CQL query: building the parser tables costs ~30 ms


def _parse_cql(text: str) -> Query:
    global _parsers
    if _parsers is None:
        _parsers = _Parsers()
    p = _parsers
    try:
        tree = p.parser.parse(text, tracking=True)
    except CQLLexerError as e:
        pos = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], int) else p.lexer.lexer.lexpos
        if "'\"'" in str(e.args[0]):
            raise QueryError(f'a quotation mark is not closed; add the closing ", e.g. {_EXAMPLE}', pos,
                             zh=f"引号没有配对，请补上后引号，例如 {_EXAMPLE}") from None
        raise QueryError(f"CQL cannot read the character here; put a term with symbols in quotes, e.g. {_EXAMPLE}",
                         pos, zh=f"CQL 检索式在此处有无法识别的字符；含符号的检索词请加引号，例如 {_EXAMPLE}") from None
    except CQLParserError as e:
        pos = min(p.lexer.lexer.lexpos, len(text))
        en, zh = _cql_message(str(e))
        raise QueryError(f"CQL syntax error: {en}; e.g. {_EXAMPLE}", pos,
                         zh=f"CQL 检索式语法有误：{zh}；例如 {_EXAMPLE}") from None
    except RecursionError:
        raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels; simplify it", 0,
                         kind="too_complex", zh=f"检索式的括号嵌套超过 {MAX_DEPTH} 层，请简化") from None
    if tree is None:
        raise QueryError("the query is empty; type some words to search for", 0, zh="检索式是空的，请输入要检索的词")
    return _from_cql(tree.root, text, 0)


_EXAMPLE = 'dc.title = "数据结构" AND dc.creator = 严蔚敏'
_UNSUPPORTED_TOKENS = {"PROX", "sortBy", "/"}  # what readers are not told to write: refused if written
_CQL_TOKENS_ZH = {"a search term": "检索词", "a quoted term": "带引号的检索词", "the end of the query": "检索式结尾"}
_CQL_TOKENS = {"LPAREN": "(", "RPAREN": ")", "MODSTART": "/", "CHAR_STRING1": "a search term",
               "CHAR_STRING2": "a quoted term", "AND": "AND", "OR": "OR", "NOT": "NOT", "PROX": "PROX",
               "SORTBY": "sortBy", "$end": "the end of the query", "EQ": "=", "EQUALS": "==", "LT": "<",
               "GT": ">", "LE": "<=", "GE": ">=", "NE": "<>"}  # fmt: skip


def _cql_message(msg: str) -> tuple[str, str]:
    """cql-parser's message in our words: (English, Chinese); never its internal text."""
    if "EOF" in msg:
        return ("the query ends too early (a parenthesis not closed, or an operator with nothing after it)",
                "检索式提前结束（括号没有闭合，或运算符后面没有检索词）")
    if msg.startswith("Missing closing parenthesis"):
        return "a parenthesis is not closed; add a )", "括号没有闭合，请补上右括号"
    if msg.startswith("Missing opening parenthesis"):
        return "this closing parenthesis has no opening one; remove it or add a (", "这个右括号没有对应的左括号，请删除它或补上左括号"
    if msg.startswith("Missing right side"):
        return "a boolean operator has nothing after it", "AND、OR 或 NOT 后面没有检索词"
    m = re.match(r"Found symbol '([^']+)'\. Expected any of: (.*)", msg)
    if m:
        expected = [t for t in dict.fromkeys(_CQL_TOKENS.get(t.strip(), t.strip()) for t in m.group(2).split(","))
                    if t not in _UNSUPPORTED_TOKENS] or ["a search term"]
        found = _CQL_TOKENS.get(m.group(1), m.group(1))
        zh = "、".join(_CQL_TOKENS_ZH.get(t, t) for t in expected)
        return (f"{found} is not expected here; expected {', '.join(expected)}",
                f"此处不应出现 {_CQL_TOKENS_ZH.get(found, found)}，应为 {zh}")
    return "the query cannot be read as CQL", "无法按 CQL 语法读取该检索式"


def _from_cql(node, text: str, depth: int) -> Query:
    if depth > MAX_DEPTH:
        raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels; simplify it", 0, kind="too_complex",
                         zh=f"检索式的括号嵌套超过 {MAX_DEPTH} 层，请简化")
    if getattr(node, "prefixes", None):
        raise QueryError("CQL prefix assignments (> dc = ...) are not supported; use dc., bath., cql. names", 0,
                         kind="context_set", zh="不支持 CQL 前缀声明（> dc = ...），请直接写 dc.、bath.、cql. 开头的字段名")
    if getattr(node, "sortSpecs", None):
        raise QueryError("CQL sortBy is not supported; remove it (results are ranked by the federator)", 0,
                         kind="sort", zh="不支持 CQL 的 sortBy，请删除它（可在结果页选择排序方式）")
    if isinstance(node, CQLTriple):
        op = str(node.operator.value).lower()
        if op not in BOOLEANS:
            raise QueryError(f"CQL boolean {op.upper()!r} is not supported; use AND, OR or NOT", _find(text, op),
                             kind="boolean", zh=f"不支持 CQL 运算符 {op.upper()}，请用 AND、OR 或 NOT")
        if node.operator.modifiers:
            raise QueryError(f"CQL boolean modifiers ({node.operator.toCQL()}) are not supported", _find(text, op),
                             kind="boolean", zh=f"不支持 CQL 运算符修饰（{node.operator.toCQL()}），请删除")
        return Bool(op, _from_cql(node.left, text, depth + 1), _from_cql(node.right, text, depth + 1))
    assert isinstance(node, CQLSearchClause)
    term = node.term
    if node.index is None:
        field, relation = "any", "="
    else:
        name = str(node.index.name)
        field = CQL_INDEXES.get(name.lower())
        if field is None:
            known = ", ".join(sorted(set(CQL_INDEX.values())))
            raise QueryError(f"unknown CQL index {name!r}; use one of {known}", _find(text, name), kind="index",
                             zh=f"不认识的检索字段 {name}；可用 dc.title（题名）、dc.creator（责任者）、dc.subject（主题）、"
                                f"dc.publisher（出版者）、dc.date（年份）、bath.isbn、bath.issn，或不写字段，"
                                f"例如 {_EXAMPLE}")
        rel_name = str(node.relation.comparitor.name).lower()
        if rel_name.startswith("cql."):
            rel_name = rel_name[4:]
        relation = CQL_RELATIONS.get(rel_name)
        if relation is None:
            raise QueryError(f"CQL relation {rel_name!r} is not supported; use =, ==, all, any or adj",
                             _find(text, rel_name), kind="relation",
                             zh=f"不支持 CQL 关系 {rel_name}，请用 =、==、all、any 或 adj")
        if node.relation.modifiers:
            mods = node.relation.toCQL()
            raise QueryError(f"CQL relation modifiers ({mods}) are not supported; remove them", _find(text, mods),
                             kind="relation_modifier", zh=f"不支持 CQL 关系修饰（{mods}），请删除")
    value = str(term)
    if not value.strip():
        raise QueryError("an empty term searches for nothing", _find(text, '""'), zh="空的检索词检索不到任何内容，请填写检索词")
    # Quotes make a phrase, unless the word had to be quoted anyway (it holds ( ) = < > / or ").
    quoted_word = isinstance(term, _Quoted) and not _CQL_MUST_QUOTE.search(value)
    phrase = relation in ("=", "==", "adj") and (quoted_word or any(c.isspace() for c in value))
    return Clause(field, relation, value, phrase)


_CQL_MUST_QUOTE = re.compile(r'[()=<>/"]|^$|^(?:and|or|not|prox|sortby)$', re.IGNORECASE)


def _find(text: str, part: str) -> int:
    i = text.lower().find(part.lower())
    return max(i, 0)


def to_cql(query: Query, *, expand: bool = True) -> str:
    """The query as CQL with dc./bath./cql. index names, expanded as members are sent it (`expand_terms`)."""
    if expand:
        query = expand_terms(query)
    return _cql(query)


def _cql(node: Query) -> str:
    if isinstance(node, Clause):
        return f"{CQL_INDEX[node.field]} {node.relation} {_cql_term(node)}"
    left, right = _cql(node.left), _cql(node.right)
    if isinstance(node.left, Bool):
        left = f"({left})"
    if isinstance(node.right, Bool):
        right = f"({right})"
    return f"{left} {node.op} {right}"


def _cql_term(c: Clause) -> str:
    stem = c.stem
    body = re.sub(r'([\\"*?^])', r"\\\1", stem)
    if c.truncation in ("left", "both"):
        body = "*" + body
    if c.truncation in ("right", "both"):
        body = body + "*"
    quote = c.phrase or any(ch.isspace() for ch in body) or bool(_CQL_MUST_QUOTE.search(body))
    return f'"{body}"' if quote else body


# --------------------------------------------------------------------------- ISBN / ISSN


_TYPED_ISBN = re.compile(r"^[0-9Xx]+(?:[-\s‐‑][0-9Xx]+)+$")


def isbn_forms(text: str) -> list[str]:
    """Forms of an ISBN members may have catalogued (records.identifiers); the text itself when invalid.

    A hyphenated ISBN is also sent as typed when its hyphens differ from the standard ones: a member whose word
    index splits at hyphens (7-503-71744-0 → 7 / 503 / 71744 / 0) finds its record only by the same split,
    and a reader who copied the number from that member's record typed exactly that."""
    from records.identifiers import isbn_search_forms

    forms = list(isbn_search_forms(text)) or [text]
    typed = re.sub(r"[\s‐‑]+", "-", text.strip()).upper()
    if _TYPED_ISBN.match(typed) and typed not in forms:
        forms.append(typed)
    return forms


def issn_forms(text: str) -> list[str]:
    """An ISSN with and without its hyphen (as given when it is not a valid ISSN)."""
    from stdnum import issn

    try:
        compact = issn.validate(text)
    except Exception:
        return [text]
    return [compact, issn.format(compact)]


def expand_identifiers(query: Query) -> Query:
    """Replace each `isbn`/`issn` equality clause by an OR of its forms; hyphenated forms become phrases."""
    if isinstance(query, Bool):
        return Bool(query.op, expand_identifiers(query.left), expand_identifiers(query.right))
    if query.field not in ("isbn", "issn") or query.relation not in ("=", "==", "adj") or query.truncation:
        return query
    forms = isbn_forms(query.value) if query.field == "isbn" else issn_forms(query.value)
    nodes: list[Query] = [
        Clause(query.field, query.relation, form, phrase=query.phrase or "-" in form or " " in form)
        for form in forms
    ]
    node = nodes[0]
    for other in nodes[1:]:
        node = Bool("or", node, other)
    return node


_TITLE_WORD = re.compile(r"[^\W_]+")


def known_item_query(title: str, year: int | None = None) -> Query | None:
    """A search for an edition by its title proper (every word) and year, for a member that found nothing by
    ISBN because its record has none: what it finds is the same edition only if dedup merges it with the
    records found by ISBN (the caller's check). None when the title has no word to search for."""
    words = _TITLE_WORD.findall(title or "")
    if not words:
        return None
    node: Query = Clause("title", "all", " ".join(words[:8]))
    if year is not None:
        node = Bool("and", node, Clause("year", "=", str(year)))
    return node


# --------------------------------------------------------------------------- Chinese scripts

SCRIPT_FIELDS = frozenset({"any", "title", "author", "subject", "publisher"})


def expand_scripts(query: Query) -> Query:
    """Replace each clause of Chinese text by an OR of its simplified and traditional forms
    (`records.fold.script_forms`): a member that catalogued the book in the other script finds it too."""
    if isinstance(query, Bool):
        return Bool(query.op, expand_scripts(query.left), expand_scripts(query.right))
    if query.field not in SCRIPT_FIELDS:
        return query
    from records.fold import script_forms

    forms = script_forms(query.value)
    return from_clauses([Clause(query.field, query.relation, form, query.phrase) for form in forms], "or")


@lru_cache(maxsize=256)
def expand_terms(query: Query) -> Query:
    """What members are sent for the query: identifiers in every form catalogued, Chinese in both scripts.
    Remembered: each member's connector renders the same query (70 of them in a search, about 20 µs each)."""
    return expand_scripts(expand_identifiers(query))


# --------------------------------------------------------------------------- RPN (Z39.50 Type-1, Bib-1)


def to_rpn(query: Query, *, expand: bool = True) -> Rpn:
    """The query as Type-1 RPN with Bib-1 attributes (use, relation, structure, truncation).

    Chosen so that Zebra gives the same hits for this RPN over Z39.50 as for `to_cql(query)` over SRU
    (which it maps with pqf.properties). `all`/`any` on several words become AND/OR of word terms.
    """
    if expand:
        query = expand_terms(query)
    return _rpn(query)


def _rpn(node: Query) -> Rpn:
    if isinstance(node, Bool):
        return Op(node.op, _rpn(node.left), _rpn(node.right))
    if node.relation in ("all", "any") and not node.phrase:
        words = node.value.split()
        if len(words) > 1:
            op = "and" if node.relation == "all" else "or"
            terms: list[Rpn] = [_rpn(Clause(node.field, "=", w)) for w in words]
            out = terms[0]
            for t in terms[1:]:
                out = Op(op, out, t)
            return out
    return _rpn_term(node)


def _rpn_term(c: Clause) -> Term:
    stem = c.stem
    if c.field in HARVEST_FIELDS:
        return _harvest_term(c)
    if c.field == "year" and not c.phrase:
        structure = YEAR
    elif c.phrase or any(ch.isspace() for ch in stem):
        structure = PHRASE
    else:
        structure = WORD
    truncation = {"right": RIGHT, "left": LEFT, "both": BOTH, None: NO_TRUNCATION}[c.truncation]
    attrs = ((USE, BIB1_USE[c.field]), (RELATION, BIB1_RELATION[c.relation]), (STRUCTURE, structure),
             (TRUNCATION, truncation))  # fmt: skip
    return Term(stem, attrs)


def _harvest_term(c: Clause) -> Term:
    """The harvest's clauses in the attributes Zebra and the members' servers index them under: every record
    (Bib-1 Any, always-matches), the record id as a whole key (Local-number, structure 3), the 005 time
    (Date/time-last-modified, structure 4)."""
    if c.field == "all_records":
        return Term("", ((USE, BIB1_USE["any"]), (RELATION, 103)))
    if c.field == "record_id":
        attrs: tuple[tuple[int, int], ...] = ((USE, 12), (STRUCTURE, KEY))
        return Term(c.stem, attrs + (((TRUNCATION, RIGHT),) if c.truncation == "right" else ()))
    return Term(c.value, ((USE, 1012), (RELATION, BIB1_RELATION[c.relation]), (STRUCTURE, YEAR)))


# --------------------------------------------------------------------------- clauses the harvest asks with

MEMBER_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")  # every BALIS member's 005 is Beijing time


def all_records() -> Clause:
    """Every record of the member's catalogue (CQL `cql.allRecords = 1`)."""
    return Clause("all_records", "=", "1")


def record_id(value: str, *, prefix: bool = False) -> Clause:
    """The record whose id (001) is `value`, or with `prefix`, every record whose id starts with it."""
    return Clause("record_id", "=", value.rstrip("*") + ("*" if prefix else ""))


def modified_since(when: str | date | datetime) -> Clause:
    """The records changed at or after `when`: a 005 stamp (yyyymmddhhmmss), or a date or time (a time without
    a zone is the members' local time, one with a zone is converted to it)."""
    if isinstance(when, str) and when.isdigit() and len(when) in (8, 14):
        stamp = when.ljust(14, "0")
    else:
        if isinstance(when, str):
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        if not isinstance(when, datetime):
            when = datetime(when.year, when.month, when.day)
        if when.tzinfo is not None:
            when = when.astimezone(MEMBER_TIME)
        stamp = when.strftime("%Y%m%d%H%M%S")
    return Clause("modified", ">=", stamp)


# --------------------------------------------------------------------------- member capabilities


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a member's OPAC can search: its indexes, booleans, relations, truncation and phrases."""

    fields: frozenset[str] = field(default_factory=lambda: frozenset(FIELDS))
    booleans: frozenset[str] = field(default_factory=lambda: frozenset(BOOLEANS))
    relations: frozenset[str] = field(default_factory=lambda: frozenset(RELATIONS))
    truncation: frozenset[str] = field(default_factory=lambda: frozenset({"right", "left", "both"}))
    phrase: bool = True

    @classmethod
    def from_config(cls, data: dict) -> Capabilities:
        """From a registry table such as `{fields = ["title", "author"], not = false, truncation = ["right"]}`."""
        kw: dict = {}
        if "fields" in data:
            kw["fields"] = frozenset(data["fields"])
        if "booleans" in data:
            kw["booleans"] = frozenset(data["booleans"])
        if data.get("not") is False:
            kw["booleans"] = kw.get("booleans", frozenset(BOOLEANS)) - {"not"}
        if "relations" in data:
            kw["relations"] = frozenset(data["relations"])
        if "truncation" in data:
            t = data["truncation"]
            kw["truncation"] = frozenset(t if isinstance(t, list | tuple) else (["right"] if t else []))
        if "phrase" in data:
            kw["phrase"] = bool(data["phrase"])
        return cls(**kw)


FULL = Capabilities()


def check(query: Query, capabilities: Capabilities = FULL) -> list[str]:
    """What in the query this member cannot do, one sentence each (empty when it can do all of it)."""
    problems: list[str] = []

    def add(msg: str) -> None:
        if msg not in problems:
            problems.append(msg)

    def walk(node: Query) -> None:
        if isinstance(node, Bool):
            if node.op not in capabilities.booleans:
                add(f"{node.op.upper()} is not supported by this member")
            walk(node.left)
            walk(node.right)
            return
        if node.field in HARVEST_FIELDS:  # the harvest's own clauses: the member's answer says if it can
            return
        if node.field not in capabilities.fields:
            add(f"searching by {node.field} is not supported by this member (no {node.field} index)")
        if node.relation not in capabilities.relations:
            add(f"the relation {node.relation!r} ({node.field}) is not supported by this member")
        if node.truncation and node.truncation not in capabilities.truncation:
            add(f"{node.truncation} truncation ({node.value!r}) is not supported by this member")
        if node.phrase and not capabilities.phrase:
            add(f"phrase search ({node.value!r}) is not supported by this member")

    walk(query)
    return problems


def require(query: Query, capabilities: Capabilities, member: str | None = None) -> None:
    """Raise `Unsupported` naming every part of the query the member cannot do."""
    problems = check(query, capabilities)
    if problems:
        raise Unsupported("; ".join(problems) + "; this member was not searched", member=member)


def from_clauses(nodes: Iterable[Query], op: str = "and") -> Query:
    """Join queries left to right with one boolean (for building queries in code)."""
    it = iter(nodes)
    try:
        out = next(it)
    except StopIteration:
        raise QueryError("the query is empty; type some words to search for", 0, zh="检索式是空的，请输入要检索的词") from None
    for n in it:
        out = Bool(op, out, n)
    return out


__all__ = [
    "FIELDS", "HARVEST_FIELDS", "MEMBER_TIME", "Bool", "Capabilities", "Clause", "Query", "QueryError",
    "all_records", "check", "clauses", "expand_identifiers", "modified_since", "record_id",
    "expand_scripts", "expand_terms", "from_clauses", "isbn_forms", "issn_forms", "known_item_query",
    "looks_like_cql", "parse",
    "reader_form", "require", "to_cql", "to_rpn", "to_text", "year_query", "year_range",
]  # fmt: skip
