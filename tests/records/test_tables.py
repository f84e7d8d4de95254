"""Pinyin is read in one place (records/tables.py), and the process's collector policy is the entry points'
(balis/process.py): library modules leave the collector alone, the `balis` command loads the pinyin table and
keeps it, with its modules, out of full collections before it merges."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import records.tables
from balis.process import YOUNG_THRESHOLD
from dedup import keys
from federator import rank

ROOT = Path(__file__).resolve().parents[2]
MARC = ROOT / "testbed" / "data" / "marc" / "yaz" / "marccol1.u8.marc"


def fresh(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_our_modules_take_pinyin_from_the_one_import():
    for module in (keys, rank):
        assert module.lazy_pinyin is records.tables.lazy_pinyin


def test_importing_every_layer_leaves_the_collector_as_python_set_it():
    """A library user (a test, a notebook) keeps its own policy: importing what the portal imports, pypinyin
    included, neither freezes objects nor changes the thresholds nor switches the collector off."""
    code = ("import gc; default = gc.get_threshold(); import portal.app, dedup, indexer.harvest, records.tables; "
            "print(gc.get_freeze_count(), gc.get_threshold() == default, gc.isenabled())")
    assert fresh(code) == ["0", "True", "True"]


def test_the_balis_command_freezes_the_tables_and_collects_the_young_less_often():
    """`balis dedup` (like search, harvest and serve) settles before it merges: the pinyin table is loaded (kept
    in the home folder: pypinyin is not imported) and frozen with the command's modules, so full collections no
    longer walk them, and the youngest generation waits for YOUNG_THRESHOLD."""
    code = "\n".join([
        "import contextlib, gc, io, sys",
        "from balis.cli import main",
        "with contextlib.redirect_stdout(io.StringIO()):",
        f"    rc = main(['dedup', {str(MARC)!r}, '--out', '-'])",
        "import records.tables",
        "tracked = {id(o) for o in gc.get_objects()}",
        "t = records.tables.load()",
        "print(rc, id(t) in tracked, gc.is_tracked(t), gc.get_freeze_count() > 10000,",
        "      gc.get_threshold()[0], 'pypinyin' in sys.modules)",
    ])
    fresh(code)  # the first run in a new home folder builds the table with pypinyin
    assert fresh(code) == ["0", "False", "True", "True", str(YOUNG_THRESHOLD), "False"]  # frozen, not untracked
