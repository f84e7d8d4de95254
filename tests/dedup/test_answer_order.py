"""The live merged view equals `balis dedup` of the same records, whatever order the members answered in.

A federated search merges the records as they arrive (`Merger`, one view per arrival); `balis dedup` merges
a file in file order (`merge`). The editions after the last member must be the same sets of records.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup import Merger, merge
from dedup.batch import read_file
from dedup.work import record_key
from records.errors import RecordError
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles

REAL = Path(__file__).resolve().parents[2] / "testbed" / "data" / "marc"  # copies of ../shared/data/marc


def _real_records():
    """Real records with real duplicates among them (the same books at other institutions, in other forms)."""
    out = []
    for i, name in enumerate(("dp2-cnmarc/sample_cnmarc.as_marcxml.xml", "dp2-cnmarc/sample_cnmarcxml.xml",
                 "dp2-cnmarc/sample_marc21_chi.as_marcxml.xml", "dp2-cnmarc/sample_marcxml.xml",
                 "marc4j/chabon.mrc", "marc4j/chabon-loc.mrc", "loc-cc0/princeton.xml")):
        path = REAL / name
        member = f"R{i}"
        for _pos, rec in read_file(path, fmt=None, syntax="auto", encoding=None, label=member):
            if not isinstance(rec, RecordError):
                rec.member = member
                out.append(rec)
    return out


_GENERATED = plan_records(plan_catalogues(1789, member_profiles(8), 40))
_RECORDS = _GENERATED + _real_records()


def _editions(works) -> set[frozenset[str]]:
    return {frozenset(record_key(r) for r in w.records) for w in works}


BATCH = _editions(merge(_RECORDS))


def test_the_real_duplicates_are_merged():
    """The same book sent by two members (real records) is one edition in the batch merge."""
    merged = [e for e in BATCH if len({k.split(":")[0] for k in e}) > 1]
    assert any({"R4", "R5"} <= {k.split(":")[0] for k in e} for e in merged)
    assert any({"R0", "R1"} <= {k.split(":")[0] for k in e} for e in merged)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), arrivals=st.integers(1, 9))
def test_any_answer_order_gives_the_batch_editions(seed: int, arrivals: int):
    """Members answer in a random order, in `arrivals` bursts; each burst is merged into the view."""
    rng = random.Random(seed)
    by_member: dict[str, list] = {}
    for rec in _RECORDS:
        by_member.setdefault(rec.member, []).append(rec)
    order = list(by_member)
    rng.shuffle(order)
    cuts = sorted(rng.sample(range(1, len(order)), min(arrivals, len(order)) - 1))
    merger = Merger()
    seen: list = []
    for start, end in zip([0, *cuts], [*cuts, len(order)], strict=True):
        for member in order[start:end]:
            seen.extend(by_member[member])
        view = merger.merge(list(seen))
    assert _editions(view) == BATCH
