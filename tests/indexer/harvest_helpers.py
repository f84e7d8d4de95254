"""Helpers for the harvest tests: what the index should hold (fetched directly from the members), what it holds,
and records to add or edit at a test bed member."""

from __future__ import annotations

import asyncio
import hashlib
import json
import zlib
from pathlib import Path

from lxml import etree

from connectors.factory import open_connector
from dedup.keys import match_keys
from dedup.work import index_keys, merge
from indexer.harvest import harvest_endpoint
from indexer.schema import dump_work
from indexer.store import Upsert, match_blob
from records.normalise import from_raw

MARC = "http://www.loc.gov/MARC21/slim"


async def _member_records(member) -> list:
    endpoint = harvest_endpoint(member)
    conn = open_connector(member.target(endpoint))
    out = []
    try:
        async for raw in conn.harvest():
            out.append(raw)
    finally:
        await conn.close()
    return [from_raw(r.data, syntax=r.syntax, charset=r.charset, member=member.code, position=r.position)
            for r in out]


def expected_content(registry) -> dict[str, dict]:
    """Every member's current catalogue, fetched in one go, normalised and merged: {work_id: stored work}."""

    async def all_records():
        lists = await asyncio.gather(*(_member_records(m) for m in registry))
        return [r for recs in lists for r in recs]

    records = sorted(asyncio.run(all_records()), key=lambda r: (r.member, r.record_id))
    return {w.work_id: json.loads(zlib.decompress(dump_work(w))) for w in merge(records)}


def index_content(index_dir: Path) -> dict[str, dict]:
    """What the local index holds: {work_id: stored work}."""
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(Path(index_dir) / "whoosh"))
    try:
        with ix.searcher() as s:
            return {d["work_id"]: json.loads(zlib.decompress(d["work"])) for d in s.documents()}
    finally:
        ix.close()


def record_keys(work: dict) -> set[str]:
    return {f"{r['member']}:{r['record_id']}" for r in work["records"]}


def works_with(content: dict[str, dict], key: str) -> list[dict]:
    return [w for w in content.values() if key in record_keys(w)]


def _title_field(root) -> etree._Element:
    for tag in ("245", "200"):
        field = root.find(f"{{{MARC}}}datafield[@tag='{tag}']/{{{MARC}}}subfield[@code='a']")
        if field is not None:
            return field
    raise AssertionError("record without 245$a / 200$a")


def title_of(xml: bytes) -> str:
    return _title_field(etree.fromstring(xml)).text or ""


def edited(xml: bytes, title: str) -> bytes:
    """The record with its title proper replaced."""
    root = etree.fromstring(xml)
    _title_field(root).text = title
    return etree.tostring(root, encoding="UTF-8")


def new_record(xml: bytes, record_id: str, title: str) -> bytes:
    """A new record made from an existing one: another 001, another title, no ISBN (a different edition)."""
    root = etree.fromstring(xml)
    for cf in root.findall(f"{{{MARC}}}controlfield[@tag='001']"):
        cf.text = record_id
    for df in list(root.findall(f"{{{MARC}}}datafield")):
        if df.get("tag") in ("020", "010"):
            root.remove(df)
    _title_field(root).text = title
    return etree.tostring(root, encoding="UTF-8")


def upsert_of(rec, *, match: bool = True) -> Upsert:
    """A normalised record as a harvest writes it into the store (its raw record left out), with its match
    keys (`match`) or, as a store written before they were kept, without."""
    digest = hashlib.blake2b(repr(rec).encode(), digest_size=16).hexdigest()
    keys = match_keys(rec)
    return Upsert(record_id=rec.record_id, hash=digest, raw=b"", syntax=rec.syntax, charset="utf-8", record=rec,
                  keys=index_keys(keys), match=match_blob(keys) if match else None)
