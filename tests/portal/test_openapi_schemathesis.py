"""schemathesis against /api/openapi.json of a running portal over the Zebra test bed: every operation, signed
out and as a reader, a staff member and an administrator; no 500, and every answer by its schema."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from portal.api import openapi
from portal.auth import set_password
from tests.portal.reader_helpers import PASSWORD, Clock, make_store, sign_in

ST = str(Path(sys.executable).with_name("st"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = int(os.environ.get("BALIS_SCHEMATHESIS_EXAMPLES", "6"))  # per operation and role
ROLES = {"anonymous": None, "reader": "R-NLC-1", "staff": "S-THU", "admin": "A-ADMIN"}


@pytest.fixture
def store():
    s = make_store(Clock())
    s.add_user("A-ADMIN", "admin", None, "管理员")
    set_password(s, "A-ADMIN", PASSWORD)
    yield s
    s.close()


async def _headers(client, user: str | None) -> list[str]:
    """The request headers of a signed-in browser (session and CSRF cookies, the CSRF header)."""
    if user:
        await sign_in(client, user)
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    cookies = "; ".join(f"{c.key}={c.value}" for c in client.session.cookie_jar)
    return ["-H", f"Cookie: {cookies}", "-H", f"X-CSRF-Token: {token}"]


@pytest.mark.parametrize("role", list(ROLES))
async def test_every_operation_answers_by_its_schema_and_never_500(make_client, store, role, tmp_path):
    client = await make_client(store=store)
    headers = await _headers(client, ROLES[role])
    url = str(client.make_url("/api/openapi.json"))
    junit = tmp_path / "junit.xml"
    # signed out, every protected operation stops at 401, so generated data is enough; signed in, also the
    # boundary values of every parameter and body field (the coverage phase)
    phases = "coverage,fuzzing" if ROLES[role] else "fuzzing"
    skip = ["--exclude-operation-id", "signOut"] if ROLES[role] else []  # it would end the run's session
    proc = await asyncio.create_subprocess_exec(
        ST, "run", url, "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--seed", "1", "--workers", "1",
        "--phases", phases, "--generation-database", "none", "--no-color",
        "--request-timeout", "30", "--report", "junit", "--report-junit-path", str(junit),
        *headers, *skip, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode("utf-8", "replace")
    print(out)
    assert proc.returncode == 0, out[-6000:]
    # every operation of the document was run (schemathesis leaves out the document's own GET)
    tested = {case.get("name") for case in ElementTree.parse(junit).iter("testcase")}
    described = {f"{method.upper()} {path}" for path, ops in openapi()["paths"].items() for method in ops}
    assert tested == described - {"GET /api/openapi.json"} - ({"DELETE /api/session"} if skip else set())


async def test_a_body_that_is_not_json_gets_the_documented_415(client):
    # schemathesis found POST /api/session answering 415, which the document did not list
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    r = await client.post("/api/session", data=b"user=R-NLC-1", headers={"X-CSRF-Token": token,
                                                                        "Content-Type": "text/plain"})
    assert r.status == 415 and (await r.json())["error"]["parameter"] == "body"
    with_body = [op for ops in openapi()["paths"].values() for op in ops.values() if "requestBody" in op]
    assert len(with_body) >= 5 and all("415" in op["responses"] for op in with_body)
