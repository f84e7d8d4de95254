"""pypinyin's phrase tables are kept out of the cyclic collector's walks (records/tables.py)."""

from __future__ import annotations

import gc
import subprocess
import sys

import pypinyin.constants

import records.tables
from dedup import keys
from federator import rank


def test_pinyin_tables_are_frozen_once_imported():
    assert gc.get_freeze_count() > 0
    tracked = {id(o) for o in gc.get_objects()}
    assert id(pypinyin.constants.PHRASES_DICT) not in tracked
    assert not any(id(v) in tracked for v in list(pypinyin.constants.PHRASES_DICT.values())[:1000])


def test_our_modules_take_pinyin_from_the_frozen_import():
    for module in (keys, rank):
        assert module.lazy_pinyin is records.tables.lazy_pinyin


def test_a_fresh_process_importing_the_federator_leaves_the_tables_frozen():
    """In a new interpreter (no test imports before): importing what the portal imports freezes them."""
    code = ("import gc, pypinyin.constants, portal.app; "
            "ids = {id(o) for o in gc.get_objects()}; "
            "print(id(pypinyin.constants.PHRASES_DICT) in ids, gc.get_freeze_count() > 100000)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"], out.stderr
