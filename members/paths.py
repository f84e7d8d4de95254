"""Where balis finds its files, decided in this one module (docs/architecture.md, "Where the data lives").

Two kinds of files:
- what balis writes (harvest store and union index, ILL store, answer times, the demo test bed) lives in
  the home folder: `$BALIS_HOME`, else `var/` of the source checkout when balis runs from one, else the
  per-user data folder (`$XDG_DATA_HOME/balis`, default `~/.local/share/balis`);
- what balis ships (the registry `members.toml`, `districts.toml`) is package data: the checkout's
  `config/` folder, installed as the data-only package `balis_config` (docs/decisions/0008-paths-and-config.md).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "BALIS_HOME"
CONFIG_PACKAGE = "balis_config"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the checkout, when balis runs from one


def checkout_root() -> Path | None:
    """The source checkout balis runs from, or None when it runs from an installed copy."""
    root = _SOURCE_ROOT
    if (root / "pyproject.toml").is_file() and (root / "config" / "members.toml").is_file():
        return root
    return None


def home() -> Path:
    """The folder for everything balis writes: $BALIS_HOME, else the checkout's var/, else the user's data folder."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    root = checkout_root()
    if root is not None:
        return root / "var"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "balis"


def config_file(name: str) -> Path:
    """A file of the shipped config/ folder (`members.toml`, `districts.toml`): the checkout's own when balis
    runs from one, else the installed package data."""
    root = checkout_root()
    if root is not None:
        return root / "config" / name
    from importlib import resources  # an installed copy only

    return Path(str(resources.files(CONFIG_PACKAGE).joinpath(name)))


def index_dir() -> Path:
    """The default union index folder (whoosh/ and harvest.sqlite)."""
    return home() / "index"


def ill_db() -> Path:
    """The default ILL store, a SQLite file."""
    return home() / "ill.sqlite"


def testbed_dir() -> Path:
    """The default state folder of the demo test bed (its registry.toml is used when it exists)."""
    return home() / "testbed"


def holidays_file() -> Path:
    """The holiday calendar centre administrators enter on /admin/holidays (ill/holidays.py)."""
    return home() / "holidays.toml"


def answer_times_file() -> Path:
    """The members' recent answer times, kept between processes."""
    return home() / "answer-times.json"
