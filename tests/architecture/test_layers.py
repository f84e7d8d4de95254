"""The shape of the code, read from its import graph (docs/architecture.md): layers import downward only,
no package reaches into another's private names, and product code never imports the test bed."""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("members", "records", "connectors", "dedup", "federator", "routing", "indexer", "ill", "services",
           "portal", "balis")
PROJECT = (*PRODUCT, "testbed")


@cache
def _parsed(package: str) -> tuple:
    return tuple((path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
                 for path in sorted((ROOT / package).rglob("*.py")))


def _imports(tree: ast.AST):
    """(module, names) for every absolute import anywhere in the module, function-level ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None, alias.asname
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [a.name for a in node.names], None


@cache
def _graph() -> dict[str, dict[str, list[str]]]:
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for package in PROJECT:
        for path, tree in _parsed(package):
            for line, module, _names, _as in _imports(tree):
                top = module.split(".")[0]
                if top in PROJECT and top != package:
                    edges[package][top].append(f"{path.relative_to(ROOT)}:{line}")
    return edges


def _cycles(edges) -> list[list[str]]:
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for package in sorted(edges):
        if package not in state:
            visit(package, [package])
    return found


def test_no_import_cycle_between_packages():
    edges = _graph()
    cycles = _cycles(edges)
    where = ["  " + " -> ".join(c) + "  (" + "; ".join(edges[a][b][0] for a, b in zip(c, c[1:], strict=False)) + ")"
             for c in cycles]
    assert not cycles, "import cycles between packages:\n" + "\n".join(where)


def test_member_values_are_the_bottom_layer():
    assert not _graph().get("members"), "members/ imports another package of the project"


@pytest.mark.parametrize("package", PRODUCT)
def test_product_code_does_not_import_the_test_bed(package):
    hits = _graph().get(package, {}).get("testbed", [])
    assert not hits, f"{package} imports testbed at {', '.join(hits)}"


def test_no_package_uses_another_packages_private_names():
    found = []
    for package in PROJECT:
        for path, tree in _parsed(package):
            aliases = {}
            for line, module, names, asname in _imports(tree):
                top = module.split(".")[0]
                if top not in PROJECT or top == package:
                    continue
                if names is None:
                    aliases[asname or module.split(".")[0]] = module
                for name in names or []:
                    if name.startswith("_"):
                        found.append(f"{path.relative_to(ROOT)}:{line} imports {module}.{name}")
                    else:
                        aliases[name] = f"{module}.{name}"
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id in aliases and node.attr.startswith("_")
                        and not node.attr.startswith("__")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not found, "private names used across packages:\n  " + "\n  ".join(found)


def test_the_checks_see_a_cycle_and_a_private_name():
    """The checks above are not vacuous: a made-up graph with a cycle is caught."""
    assert _cycles({"a": {"b": ["x"]}, "b": {"a": ["y"]}}) == [["a", "b", "a"]]
    edges = _graph()
    assert "records" in edges["federator"] and "federator" not in edges.get("records", {})
