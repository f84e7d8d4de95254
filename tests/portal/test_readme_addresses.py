"""The portal's addresses the README lists are there: each answers, or asks a signed-out visitor to sign in."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _listed() -> list[str]:
    return re.findall(r"^\| http://127\.0\.0\.1:8080(/[^ |]*) \|", README.read_text(encoding="utf-8"), re.M)


def test_the_readme_lists_the_portals_addresses():
    assert _listed() == ["/", "/desk", "/admin", "/sru", "/api/openapi.json"]


async def test_every_listed_address_answers(client):
    for path in _listed():
        r = await client.get(path, allow_redirects=False)
        if path in ("/desk", "/admin"):  # staff pages: a signed-out visitor is sent to sign in and back
            assert r.status == 303 and r.headers["Location"].startswith(f"/login?next={path}"), path
        else:
            assert r.status == 200, path
