"""`balis dedup` batch mode: the clusters JSONL contract over real ISO 2709 and MARCXML files."""

from __future__ import annotations

import io
import json

from dedup.batch import run
from records.marc import read_marcxml
from testbed.generate import plan_catalogues, render_member, write_collection
from testbed.members import member_profiles


def _files(tmp_path):
    plan = plan_catalogues(4242, member_profiles(3), 40)
    thu = [read_marcxml(x).as_marc() for x in render_member(plan, "THU")]
    bad = 5
    thu[bad] = thu[bad][:60] + b"\x1d"  # a truncated record: the directory promises fields that are not there
    iso = tmp_path / "thu.mrc"
    iso.write_bytes(b"".join(thu))
    xml = tmp_path / "pku.xml"
    write_collection(render_member(plan, "PKU"), xml)
    return iso, len(thu), bad, xml, len(plan.copies["PKU"])


def test_every_readable_record_in_exactly_one_line(tmp_path):
    iso, n_iso, bad, xml, n_xml = _files(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    unreadable = run([iso, xml], fmt=None, syntax="auto", encoding=None, out=out, err=err)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    names = [r for line in lines for r in line["records"]]
    expected = [f"{iso}#{i}" for i in range(n_iso) if i != bad] + [f"{xml}#{i}" for i in range(n_xml)]
    assert sorted(names) == sorted(expected)
    assert len(names) == len(set(names))
    assert unreadable == 1
    assert f"{iso}#{bad}" in err.getvalue()
    assert all(set(line) >= {"work_id", "records", "title", "isbns"} for line in lines)
    assert len({line["work_id"] for line in lines}) == len(lines)
    # the two members share editions: some clusters hold a record from each file
    assert any({r.split("#")[0] for r in line["records"]} == {str(iso), str(xml)} for line in lines)


def test_same_input_same_output(tmp_path):
    iso, _, _, xml, _ = _files(tmp_path)
    outs = []
    for _ in range(2):
        out = io.StringIO()
        run([iso, xml], fmt=None, syntax="auto", encoding=None, out=out, err=io.StringIO())
        outs.append(out.getvalue())
    assert outs[0] == outs[1]


def test_missing_file_is_reported(tmp_path):
    err = io.StringIO()
    n = run([tmp_path / "nope.mrc"], fmt="iso2709", syntax="auto", encoding=None, out=io.StringIO(), err=err)
    assert n == 1 and "nope.mrc" in err.getvalue()
