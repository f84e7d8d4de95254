"""Type-1 (RPN) query values, as sent in a Z39.50 SearchRequest, and their PQF text for logs.

Built by `connectors.query.to_rpn`; encoded to BER by `connectors.z3950`.
"""

from __future__ import annotations

from dataclasses import dataclass

BIB1 = "1.2.840.10003.3.1"

# Bib-1 attribute types
USE, RELATION, POSITION, STRUCTURE, TRUNCATION, COMPLETENESS = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True, slots=True)
class Term:
    """An attributes-plus-term operand: ((type, value), ...) and the term text."""

    term: str
    attributes: tuple[tuple[int, int], ...] = ()

    def pqf(self) -> str:
        attrs = " ".join(f"@attr {t}={v}" for t, v in self.attributes)
        return (attrs + " " if attrs else "") + _quote(self.term)


@dataclass(frozen=True, slots=True)
class Op:
    """A boolean node: `and`, `or` or `not` (Z39.50's and-not)."""

    op: str
    left: Term | Op
    right: Term | Op

    def pqf(self) -> str:
        return f"@{self.op} {self.left.pqf()} {self.right.pqf()}"


Rpn = Term | Op


def pqf(node: Rpn) -> str:
    """The query in Prefix Query Format (as yaz-client takes it), e.g. `@attr 1=4 history`."""
    return f"@attrset bib-1 {node.pqf()}"


def _quote(term: str) -> str:
    if term and all(c not in term for c in ' "\\@{}') :
        return term
    return '"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'
