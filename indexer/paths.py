"""Where the local index lives: `--index DIR` > `$BALIS_INDEX` > `index/` in the home folder (members.paths)."""

from __future__ import annotations

import os
from pathlib import Path

from members import paths


def resolve_index_dir(arg: str | os.PathLike | None = None) -> Path:
    """The index folder chosen by the command line, then the environment, then the home folder ($BALIS_HOME/index).

    The folder holds `whoosh/` (the searchable index of editions) and `harvest.sqlite` (the harvested
    member records, their content hashes and the per-member checkpoints).
    """
    if arg:
        return Path(arg).expanduser().resolve()
    env = os.environ.get("BALIS_INDEX")
    if env:
        return Path(env).expanduser().resolve()
    return paths.index_dir()
