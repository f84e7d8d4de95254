"""`balis dedup` reads files as members send them: gzip and bzip2 (by content, not name), damaged archives
named on stderr, a file that yields no record is an error, and double-encoded records counted per file."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pymarc
from pymarc import Subfield

from dedup.batch import run, run_files
from records.marc import iter_marcxml

ROOT = Path(__file__).resolve().parents[2]
MARC = ROOT / "testbed" / "data" / "marc"


def _clusters(out: str, names: dict[str, str]) -> set[frozenset[str]]:
    """Clusters with file names replaced by the names of the originals they were made from."""
    def plain(label: str) -> str:
        path, pos = label.rsplit("#", 1)
        return f"{names[path]}#{pos}"
    return {frozenset(plain(r) for r in json.loads(line)["records"]) for line in out.splitlines()}


def _run(files: list[Path]):
    out, err = io.StringIO(), io.StringIO()
    report = run_files(files, out=out, err=err)
    return report, out.getvalue(), err.getvalue()


def test_gzip_and_bzip2_files_give_the_same_clusters_as_the_plain_files(tmp_path):
    plain = [MARC / "marc4j/chabon.mrc", MARC / "marc4j/chabon-loc.mrc", MARC / "dp2-cnmarc/sample_marcxml.xml"]
    packed = [tmp_path / "chabon.mrc.gz", tmp_path / "chabon-loc.mrc.bz2", tmp_path / "cnmarc.xml"]
    packed[0].write_bytes(gzip.compress(plain[0].read_bytes()))
    packed[1].write_bytes(bz2.compress(plain[1].read_bytes()))
    packed[2].write_bytes(gzip.compress(plain[2].read_bytes()))  # gzip without the .gz name
    report_plain, out_plain, _ = _run(plain)
    report_packed, out_packed, err = _run(packed)
    assert report_packed.unreadable == report_plain.unreadable == 0 and not report_packed.empty_files, err
    same = {str(p): p.name for p in plain}
    renamed = {str(q): p.name for p, q in zip(plain, packed, strict=True)}
    assert _clusters(out_packed, renamed) == _clusters(out_plain, same)
    assert len(out_packed.splitlines()) >= 10


def test_a_damaged_archive_is_named_and_the_run_goes_on(tmp_path):
    whole = gzip.compress((MARC / "marc4j/chabon.mrc").read_bytes())
    damaged = tmp_path / "damaged.mrc.gz"
    damaged.write_bytes(whole[: len(whole) // 2])
    report, out, err = _run([damaged, MARC / "marc4j/chabon-loc.mrc"])
    assert f"{damaged}: cannot read the file" in err and ".gz" in err
    assert report.unreadable >= 1
    assert any(f"{MARC / 'marc4j/chabon-loc.mrc'}#1" in json.loads(line)["records"] for line in out.splitlines())


def test_a_file_with_records_but_no_marc_is_reported_as_empty(tmp_path):
    dc = tmp_path / "dc.xml"
    dc.write_text('<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><records><record>'
                  '<recordSchema>dc</recordSchema><recordData><title>书</title></recordData>'
                  "</record></records></searchRetrieveResponse>", encoding="utf-8")
    report, out, err = _run([dc, MARC / "marc4j/chabon.mrc"])
    assert report.empty_files == [str(dc)]
    assert f"{dc}: no record could be read" in err and "<record>" in err
    assert len(out.splitlines()) == 2  # the good file's two records are still merged and written
    assert run([dc], out=io.StringIO(), err=io.StringIO()) == 1  # the plain count still counts it


def _double_encoded(rec: pymarc.Record) -> pymarc.Record:
    out = pymarc.Record(leader=str(rec.leader))
    for f in rec.fields:
        if f.is_control_field():
            out.add_field(f)
        else:
            out.add_field(pymarc.Field(tag=f.tag, indicators=f.indicators, subfields=[
                Subfield(s.code, s.value.encode("utf-8").decode("latin-1")) for s in f.subfields]))
    return out


def test_double_encoded_records_are_repaired_and_counted_per_file(tmp_path):
    originals = [r for _, r in iter_marcxml(MARC / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml")]
    mangled = tmp_path / "mangled.mrc"
    mangled.write_bytes(b"".join(_double_encoded(r).as_marc() if i < 4 else r.as_marc()
                                 for i, r in enumerate(originals)))
    clean = tmp_path / "clean.mrc"
    clean.write_bytes(b"".join(r.as_marc() for r in originals))
    report, out, err = _run([mangled, clean])
    assert report.double_encoded == {str(mangled): 4}
    assert f"{mangled}: 4 record(s) held double-encoded UTF-8" in err
    # repaired, each record merges with its clean copy from the other file
    clusters = [json.loads(line) for line in out.splitlines()]
    assert all(len(c["records"]) == 2 for c in clusters) and len(clusters) == len(originals)
    assert all("Ã" not in c["title"] and "ä¸" not in c["title"] for c in clusters)


def test_the_command_exits_non_zero_naming_a_file_that_gave_no_record(tmp_path):
    empty = tmp_path / "nothing.xml"
    empty.write_text('<collection xmlns="http://www.loc.gov/MARC21/slim"><record><foo/></record></collection>',
                     encoding="utf-8")
    packed = tmp_path / "chabon.gz"
    packed.write_bytes(gzip.compress((MARC / "marc4j/chabon.mrc").read_bytes()))
    out = tmp_path / "clusters.jsonl"
    done = subprocess.run([sys.executable, "-m", "balis.cli", "dedup", str(packed), str(empty), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert str(empty) in done.stderr and "no record could be read" in done.stderr
    assert "Traceback" not in done.stderr
    labels = [r for line in out.read_text(encoding="utf-8").splitlines() for r in json.loads(line)["records"]]
    assert sorted(labels) == [f"{packed}#0", f"{packed}#1"]
