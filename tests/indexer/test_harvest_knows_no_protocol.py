"""The harvest asks a member's connector what it can do, never which protocol it speaks (read from the AST of
indexer/harvest.py, so its docstrings may still name the protocols to explain them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import connectors.factory
import indexer.harvest

PROTOCOLS = {"sru", "z3950", "oaipmh", "oai", "rpn", "cql", "bib1"}
PROTOCOL_MODULES = ("connectors.sru", "connectors.z3950", "connectors.oaipmh", "connectors.rpn")


def _tree(module) -> ast.Module:
    return ast.parse(Path(module.__file__).read_text(encoding="utf-8"))


def _docstrings(tree: ast.Module) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))]
    return {id(n.body[0].value) for n in nodes
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.asname or node.name]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    return []


def protocol_mentions(tree: ast.Module) -> list[str]:
    """Every protocol name in code: a string constant that is one, an identifier with one as a word, an import
    of a protocol's module."""
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if node.value.strip().lower() in PROTOCOLS:
                found.append(f"line {node.lineno}: the string {node.value!r}")
        for name in _names(node):
            if PROTOCOLS & set(name.lower().strip("_").split("_")):
                found.append(f"line {getattr(node, 'lineno', '?')}: the name {name!r}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PROTOCOL_MODULES):
            found.append(f"line {node.lineno}: imports {node.module}")
    return found


def test_the_harvest_never_names_a_protocol():
    assert protocol_mentions(_tree(indexer.harvest)) == []


@pytest.mark.parametrize("code, why", [
    ('if endpoint.protocol == "z3950":\n    pass\n', "the string 'z3950'"),
    ("def run_oai(conn):\n    pass\n", "the name 'run_oai'"),
    ("from connectors.rpn import Term\n", "imports connectors.rpn"),
    ("conn.search_cql(q)\n", "the name 'search_cql'"),
])
def test_the_check_sees_a_protocol_in_code(code, why):
    found = protocol_mentions(ast.parse('"""About SRU and Z39.50: a docstring may name them."""\n' + code))
    assert len(found) == 1 and why in found[0]


def test_the_factory_reaches_into_no_connector():
    """connectors/factory.py uses the connectors' public methods only (no `connector._x`)."""
    tree = _tree(connectors.factory)
    private = [f"line {n.lineno}: {n.attr}" for n in ast.walk(tree)
               if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
               and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"))]
    assert private == []
