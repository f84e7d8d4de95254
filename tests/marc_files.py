"""The MARC records in a folder of files (the real ones in ../shared/data/marc, the project's in testbed/data),
for tests that read every record there is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from records.errors import RecordError
from records.marc import iter_iso2709, iter_marcxml
from records.normalise import normalise

ROOT = Path(__file__).resolve().parents[1]
SHARED_MARC = ROOT.parent / "shared" / "data" / "marc"
PROJECT_MARC = ROOT / "testbed" / "data" / "marc"


def readable_marc(folder: Path | None = None) -> Iterator[tuple[Path, int, object]]:
    """(file, position, pymarc record) of every record the readers can read in the folder's MARC files (ISO 2709
    and MARCXML; READMEs and licences skipped), file by file in name order. No folder: the real records beside
    the project, or the project's own where those are not there."""
    if folder is None:
        folder = SHARED_MARC if SHARED_MARC.is_dir() else PROJECT_MARC
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith(("LICENSE", "README")) or path.suffix in (".md", ".txt"):
            continue
        reader = iter_marcxml(path) if path.suffix == ".xml" else iter_iso2709(path)
        for position, marc in reader:
            if not isinstance(marc, RecordError):
                yield path, position, marc


def readable_records(limit: int = 3000) -> list:
    """Up to `limit` records of `readable_marc()` normalised (the ones normalising refuses left out), spread over
    seven members so that merging them makes editions held by several."""
    out = []
    for path, position, marc in readable_marc():
        try:
            out.append(normalise(marc, syntax="auto", member=f"M{len(out) % 7}", record_id=f"{path.stem}:{position}"))
        except RecordError:
            continue
        if len(out) >= limit:
            break
    return out
