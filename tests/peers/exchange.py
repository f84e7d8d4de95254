"""Two ILL stores, one playing BALIS and one CALIS, each with its own registry naming the other as its ISO 18626
peer; `Exchange.send` posts each side's outbox to the other side's `ill.peers.receive` in process (the HTTP
path is tested with two `balis serve` processes in test_two_processes.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ill import Store, peer_outbox
from ill import isomessages as im
from ill.peers import deliver, receive, secret_of
from members import load_registry

SECRET = "s3cret-for-tests"
SECRET_ENV = "BALIS_TEST_PEER_SECRET"

BALIS_TOML = """
[[member]]
code = "THU"
name = "清华大学"
name_en = "Tsinghua University"
[[member]]
code = "PKU"
name = "北京大学"
name_en = "Peking University"

[[peers]]
code = "CALIS"
name = "CALIS 中国高等教育文献保障系统"
agency_id = "CALIS:CN-100000"
agencies = ["CALIS:*"]
endpoint = "{calis}"
services = ["loan", "copy"]
secret_env = "{env}"
"""

CALIS_TOML = """
[[member]]
code = "WHU"
name = "武汉大学"
name_en = "Wuhan University"
agency_id = "CALIS:CN-100000"
[[member]]
code = "ZJU"
name = "浙江大学"
name_en = "Zhejiang University"
agency_id = "CALIS:CN-200000"

[[peers]]
code = "BALIS"
name = "BALIS 北京地区高校图书馆文献资源保障体系"
agency_id = "BALIS:THU"
agencies = ["BALIS:*"]
endpoint = "{balis}"
services = ["loan", "copy"]
secret_env = "{env}"
"""


def write_registries(folder: Path, balis_url: str, calis_url: str) -> tuple[Path, Path]:
    a, b = folder / "balis.toml", folder / "calis.toml"
    a.write_text(BALIS_TOML.format(calis=calis_url, env=SECRET_ENV), encoding="utf-8")
    b.write_text(CALIS_TOML.format(balis=balis_url, env=SECRET_ENV), encoding="utf-8")
    return a, b


class Exchange:
    """BALIS (members THU, PKU) and CALIS (members WHU, ZJU) with their staff and one reader each."""

    def __init__(self, folder: Path, clock, monkeypatch, urls: dict[str, str] | None = None):
        monkeypatch.setenv(SECRET_ENV, SECRET)
        a, b = write_registries(folder, "http://balis.test/iso18626", "http://calis.test/iso18626")
        self.registry = {"balis": load_registry(a), "calis": load_registry(b)}
        urls = urls or {side: str(folder / f"{side}.sqlite") for side in ("balis", "calis")}
        self.store = {side: Store(urls[side], clock=clock, registry=self.registry[side]) for side in ("balis", "calis")}
        self.down: set[str] = set()
        self.seen: list[bytes] = []  # every message and confirmation that went over the wire
        for side, codes in (("balis", ("THU", "PKU")), ("calis", ("WHU", "ZJU"))):
            for code in codes:
                self.store[side].add_user(f"s-{code.lower()}", "staff", code)
        self.store["balis"].add_user("r1", "reader", "THU")
        self.store["calis"].add_user("c1", "reader", "ZJU")

    def close(self) -> None:
        for s in self.store.values():
            s.close()

    def _post_for(self, sender: str):
        async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            to = "calis" if "calis.test" in url else "balis"
            if to in self.down:
                from ill.peers import PeerUnreachable

                raise PeerUnreachable(f"cannot connect to {url} (down)")
            self.seen.append(body)
            answer = receive(self.store[to], self.registry[to], body, secret_of(headers.get("Authorization")))
            self.seen.append(answer.body)
            return answer.status, answer.body
        return post

    def send(self, *, due_only: bool = False) -> None:
        """Post both outboxes until nothing more moves."""
        for _ in range(10):
            moved = 0
            for side in ("balis", "calis"):
                report = asyncio.run(deliver(self.store[side], self.registry[side], self._post_for(side),
                                             due_only=due_only))
                moved += report.sent + report.failed
            if not moved:
                return

    def outbox(self, side: str) -> list[dict]:
        return peer_outbox.listing(self.store[side])

    def all_valid(self) -> None:
        for body in self.seen:
            im.read(body)  # raises on anything the schema refuses
