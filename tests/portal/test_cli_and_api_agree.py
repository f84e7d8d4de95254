"""`balis search --json` and `/api/search` give the same works and the same facet counts for the same query and
selections (one facet definition: each count is what a click on it gives)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cli(registry_path: Path, query: str, facets: list[str]) -> dict:
    cmd = [sys.executable, "-m", "balis.cli", "search", "--registry", str(registry_path), "--json", "--max", "10"]
    for f in facets:
        cmd += ["--facet", f]
    out = subprocess.run([*cmd, query], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "BALIS_REGISTRY": ""})
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return json.loads(out.stdout)


def _counts(facets: dict) -> dict[str, dict[str, int]]:
    return {name: {row["value"]: row["count"] for row in rows} for name, rows in facets.items()}


@pytest.mark.parametrize("facets", [[], ["member=THU"], ["member=THU", "language=chi"], ["year=2000-2009"]])
async def test_the_cli_and_the_api_agree(client, portal_registry_path, facets):
    query = "中国"
    params = [("q", query), ("source", "live"), *[("facet", f.replace("=", ":", 1)) for f in facets]]
    api = await (await client.get("/api/search", params=params)).json()
    cli = _cli(portal_registry_path, query, facets)
    assert _counts(cli["facets"]) == _counts(api["facets"])
    assert {w["work_id"] for w in cli["works"]} == {w["work_id"] for w in api["works"]}
    if facets:  # a selected member narrows the other facets' counts too
        narrowed = sum(r["count"] for r in api["facets"]["language"])
        everything = _counts(_cli(portal_registry_path, query, [])["facets"])["language"]
        assert narrowed < sum(everything.values())
