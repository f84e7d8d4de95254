"""Two `balis serve` processes on loopback, each with its own store and registry: one is BALIS, the other plays
CALIS with the first as its peer. Staff work at each side's desk (the JSON API); the ISO 18626 messages go
between the processes over HTTP through each side's outbox and background sender."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ill import Store, peer_outbox
from ill import isomessages as im
from ill import machine as m
from portal.auth import set_password
from tests.peers.exchange import SECRET, SECRET_ENV, write_registries

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "desk-pass-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Side:
    """One balis process: its registry, its store (read by the test directly) and its staff at the desk API."""

    def __init__(self, name: str, folder: Path, registry: Path, port: int, staff: tuple[str, ...], reader: tuple):
        self.name, self.folder, self.registry, self.port = name, folder, registry, port
        self.db = folder / f"{name}.sqlite"
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        with Store(self.db) as store:
            for code in staff:
                store.add_user(f"s-{code.lower()}", "staff", code)
                set_password(store, f"s-{code.lower()}", PASSWORD)
            store.add_user(reader[0], "reader", reader[1])
        self.openers: dict[str, urllib.request.OpenerDirector] = {}
        self.tokens: dict[str, str] = {}

    def start(self) -> None:
        env = {**os.environ, SECRET_ENV: SECRET, "BALIS_HOME": str(self.folder / f"home-{self.name}"),
               "BALIS_PEER_SEND_EVERY": "0.3"}
        self.proc = subprocess.Popen([sys.executable, "-m", "balis.cli", "serve", "--port", str(self.port),
                                      "--registry", str(self.registry), "--db", str(self.db), "--tick-every", "0"],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/api/session", timeout=5).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"balis serve ({self.name}) ended: {self.proc.stderr.read()}") from None
                time.sleep(0.2)
        raise AssertionError(f"balis serve ({self.name}) did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            _, err = self.proc.communicate(timeout=30)
            assert "Traceback" not in err, err
        self.proc = None

    def store(self) -> Store:
        return Store(self.db, migrate=False)

    def _opener(self, staff: str) -> urllib.request.OpenerDirector:
        if staff not in self.openers:
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            token = json.loads(opener.open(self.url + "/api/session").read())["csrf_token"]
            self._post(opener, "/api/session", {"user": staff, "password": PASSWORD}, token)
            self.openers[staff], self.tokens[staff] = opener, token
        return self.openers[staff]

    def _post(self, opener, path: str, payload: dict, token: str) -> dict:
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        return json.loads(opener.open(req, timeout=30).read())

    def desk(self, staff: str, rid: int, action: str, reason: str = "") -> dict:
        """A staff member takes `action` at the desk (POST /api/desk/requests/{id}/actions)."""
        opener = self._opener(staff)
        return self._post(opener, f"/api/desk/requests/{rid}/actions", {"action": action, "reason": reason},
                          self.tokens[staff])["request"]

    def wait(self, rid: int, status: str, phase: str | None = None, timeout: float = 60) -> dict:
        """The request once it reached `status` (and `phase`): messages take a moment between the processes."""
        deadline = time.monotonic() + timeout
        with self.store() as store:
            while True:
                r = store.get(rid)
                if r["status"] == status and (phase is None or r["phase"] == phase):
                    return r
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} request {rid} is {r['status']}/{r['phase']}, not {status}; "
                                         f"outbox: {peer_outbox.listing(store)}")
                time.sleep(0.2)

    def post_raw(self, body: bytes, secret: str) -> tuple[int, im.Message]:
        req = urllib.request.Request(self.url + "/iso18626", data=body, method="POST",
                                     headers={"Content-Type": "application/xml", "Authorization": f"Bearer {secret}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, im.read(r.read())
        except urllib.error.HTTPError as e:
            return e.code, im.read(e.read())


@pytest.fixture
def sides(tmp_path):
    bp, cp = free_port(), free_port()
    a, b = write_registries(tmp_path, f"http://127.0.0.1:{bp}/iso18626", f"http://127.0.0.1:{cp}/iso18626")
    balis = Side("balis", tmp_path, a, bp, ("THU", "PKU"), ("r1", "THU"))
    calis = Side("calis", tmp_path, b, cp, ("WHU", "ZJU"), ("c1", "ZJU"))
    balis.start()
    calis.start()
    yield balis, calis
    balis.stop()
    calis.stop()


def _calis_copy_of(calis: Side, rid: int) -> int:
    deadline = time.monotonic() + 60
    with calis.store() as store:
        while time.monotonic() < deadline:
            found = [r for r in store.list_requests(member="WHU", side="lender")
                     if r["peer_request_id"] == f"BALIS-{rid}"]
            if found:
                return found[0]["id"]
            time.sleep(0.2)
    raise AssertionError(f"BALIS-{rid} never reached CALIS")


def _every_message_valid(*sides: Side) -> None:
    for side in sides:
        with side.store() as store:
            for r in store.list_requests(limit=1000):
                for _kind, body in peer_outbox.bodies(store, r["id"]):
                    im.read(body)
            for x in peer_outbox.listing(store, limit=1000):
                assert x["state"] == "sent", x


def test_two_balis_processes_exchange_requests(sides, tmp_path):
    balis, calis = sides
    with balis.store() as store:
        rid = store.submit("r1", title="敦煌学概论", work_id="w-dh", rota=["PKU"])["id"]
        cancel_rid = store.submit("r1", title="营造法式注释", work_id="w-yz", rota=["PKU"])["id"]
        unfilled_rid = store.submit("r1", title="水经注校证", work_id="w-sj", rota=["PKU"])["id"]
    # no BALIS lender can: PKU says so at its desk and the request goes to CALIS
    for r in (rid, cancel_rid, unfilled_rid):
        assert balis.desk("s-pku", r, m.ANSWER_UNFILLED, "已外借")["status"] == m.REQUEST_RECEIVED
    cid = _calis_copy_of(calis, rid)

    # the whole loan: ExpectToSupply → Loaned → Received → ShippedReturn → LoanCompleted
    calis.desk("s-whu", cid, m.EXPECT)
    balis.wait(rid, m.EXPECT_TO_SUPPLY)
    calis.desk("s-whu", cid, m.SHIP)
    balis.wait(rid, m.LOANED, m.TRANSIT)
    balis.desk("s-thu", rid, m.RECEIVED)
    calis.wait(cid, m.LOANED, m.LIBRARY)
    balis.desk("s-thu", rid, m.LEND)
    balis.desk("s-thu", rid, m.TAKE_BACK)
    balis.desk("s-thu", rid, m.SHIPPED_RETURN)
    calis.wait(cid, m.LOANED, m.RETURN_TRANSIT)
    calis.desk("s-whu", cid, m.CHECK_IN)
    balis.wait(rid, m.LOAN_COMPLETED)

    # Cancel before CALIS answers; Unfilled at CALIS ends ours with its reason
    ccancel, cunfilled = _calis_copy_of(calis, cancel_rid), _calis_copy_of(calis, unfilled_rid)
    balis.desk("s-thu", cancel_rid, m.CANCEL, "读者不再需要")
    calis.wait(ccancel, m.CANCELLED)
    calis.desk("s-whu", cunfilled, m.ANSWER_UNFILLED, "破损待修")
    r = balis.wait(unfilled_rid, m.UNFILLED)
    assert "破损待修" in r["reader_message"]

    # a CALIS request supplied by a BALIS lender from its desk
    with calis.store() as store:
        crid = store.submit("c1", title="天工开物", work_id="w-tg", rota=["WHU"])["id"]
    calis.desk("s-whu", crid, m.ANSWER_UNFILLED, "馆藏缺失")
    deadline = time.monotonic() + 60
    while True:
        with balis.store() as store:
            ours = [x for x in store.list_requests(member="THU", side="lender") if x["borrower"] == "CALIS"]
        if ours or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (mine,) = ours
    opener = balis._opener("s-thu")  # the lender's desk shows it like any other, the peer as borrowing library
    for page in ("/desk", f"/desk/requests/{mine['id']}"):
        html = opener.open(balis.url + page, timeout=30).read().decode()
        assert "天工开物" in html and "CALIS" in html
    balis.desk("s-thu", mine["id"], m.WILL)
    balis.desk("s-thu", mine["id"], m.SHIP)
    calis.wait(crid, m.LOANED, m.TRANSIT)

    # CALIS down for a while: BALIS's messages wait, nothing is lost; back up, they arrive once
    calis.stop()
    balis.desk("s-thu", mine["id"], m.NOTIFY, "请注意：此书有破损 (the book has a torn page)")
    with balis.store() as store:
        deadline = time.monotonic() + 30
        while not any(x["attempts"] for x in peer_outbox.listing(store, state="pending")):
            assert time.monotonic() < deadline, peer_outbox.listing(store)
            time.sleep(0.2)
    calis.start()
    out = subprocess.run([sys.executable, "-m", "balis.cli", "peers", "send", "--now", "--registry",
                          str(balis.registry), "--db", str(balis.db)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, SECRET_ENV: SECRET, "BALIS_HOME": str(tmp_path / "home-cli")}, timeout=120)
    assert out.returncode == 0, out.stderr
    with calis.store() as store:
        notes = [h for h in store.history(crid) if h["action"] == m.NOTIFY]
    assert len(notes) == 1 and "破损" in notes[0]["reason"]

    # a badly formed and an unauthorised message each get the standard error
    status, conf = balis.post_raw(b"<ISO18626Message xmlns='http://illtransactions.org/2013/iso18626'>", SECRET)
    assert (status, conf.text("confirmationHeader/messageStatus"), conf.text("errorData/errorType")) == (
        200, "ERROR", "BadlyFormedMessage")
    with calis.store() as store:
        body = next(b for k, b in peer_outbox.bodies(store, cid) if k == "supplyingAgencyMessage")
    status, conf = balis.post_raw(body, "not-the-secret")
    assert (status, conf.kind, conf.text("errorData/errorType")) == (
        401, "supplyingAgencyMessageConfirmation", "UnrecognisedDataValue")
    # and the same message again, with the secret: the same confirmation, no second transition
    status, conf = balis.post_raw(body, SECRET)
    assert (status, conf.text("confirmationHeader/messageStatus")) == (200, "OK")
    with balis.store() as store:
        assert [h["action"] for h in store.history(rid)].count(m.EXPECT) == 1
    _every_message_valid(balis, calis)
