"""How fast each member has been answering, remembered between processes.

A search asks its members in an order worked out from their recent answer times (`fanout.asking_order`:
the fastest and the slowest first). A new process knows nothing, so its first search asks them in
registry order, and the fastest member may be the 40th to be sent its request. Every `balis search` is a
new process, and so is a portal that was restarted; with the times kept in a small JSON file they start
where the last one left off.

The file is a hint, never a requirement: a missing, unreadable or corrupt file means "nothing known" (with
a warning naming the file), and a file that cannot be written is reported once and otherwise ignored. A
member's time is used only while the endpoint it was measured at is still one of the member's endpoints
(a test bed rebuilt on other ports, a member that moved, starts from nothing). Several processes may share
one file: each writes what it knows, atomically; the last write wins, which for a hint is enough.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from members import Member, paths

log = logging.getLogger(__name__)

ENV = "BALIS_ANSWER_TIMES"
VERSION = 1
WEIGHT = 0.3  # a member's latest answer time against its earlier ones (exponentially weighted average)
SAVE_EVERY = 30.0  # seconds: a long-lived process (the portal) writes the file at most this often


def default_path() -> Path:
    """$BALIS_ANSWER_TIMES, else answer-times.json in the home folder ($BALIS_HOME)."""
    env = os.environ.get(ENV)
    return Path(env) if env else paths.answer_times_file()


class AnswerTimes:
    """Per member, its recent answer time in ms (weighted average) and the endpoint it was measured at.

    `ms` is what the asking order reads. Without a `path` nothing is read or written (a Federator made for
    one test or one benchmark run). `load(members)` takes from the file the times of those members whose
    endpoint is unchanged; `save()` writes them back (with the file's entries for members this process was
    not given, unchanged), at most every `save_every` seconds unless `force`.
    """

    def __init__(self, path: str | Path | None = None, *, save_every: float = SAVE_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path) if path is not None else None
        self.save_every = save_every
        self.clock = clock
        self.ms: dict[str, float] = {}
        self.endpoints: dict[str, str] = {}  # code → address the time was measured at
        self._others: dict[str, dict] = {}  # entries of the file for members not loaded here, written back as read
        self._dirty = False
        self._saved_at = -math.inf
        self._write_failed = False

    def load(self, members: Iterable[Member]) -> None:
        """Read the file (if any) and keep the times of `members` measured at one of their endpoints."""
        if self.path is None:
            return
        entries = self._read()
        wanted = {m.code: {e.address for e in m.endpoints} for m in members}
        for code, entry in entries.items():
            if code in wanted and entry["endpoint"] in wanted[code]:
                self.ms[code] = entry["ms"]
                self.endpoints[code] = entry["endpoint"]
            elif code not in wanted:
                self._others[code] = entry

    def learn(self, code: str, endpoint: str, ms: float) -> None:
        """A member answered (or timed out) after `ms`: fold it into the member's weighted time."""
        last = self.ms.get(code)
        if last is None or self.endpoints.get(code) != endpoint:
            self.ms[code] = float(ms)
        else:
            self.ms[code] = WEIGHT * ms + (1 - WEIGHT) * last
        self.endpoints[code] = endpoint
        self._dirty = True

    def save(self, *, force: bool = False) -> bool:
        """Write the times if anything changed and the last write is `save_every` seconds old (or `force`).
        Returns whether the file was written; never raises."""
        if self.path is None or not self._dirty:
            return False
        now = self.clock()
        if not force and now - self._saved_at < self.save_every:
            return False
        members = dict(self._others)
        members.update({code: {"endpoint": self.endpoints[code], "ms": round(ms, 1)} for code, ms in self.ms.items()})
        text = json.dumps({"version": VERSION, "members": dict(sorted(members.items()))}, ensure_ascii=False,
                          indent=1)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            if not self._write_failed:
                log.warning("members' answer times not saved to %s (%s); searches still work, but a new "
                            "process will ask the members in registry order; set %s to a writable file",
                            self.path, exc.strerror or exc, ENV)
                self._write_failed = True
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return False
        self._dirty = False
        self._saved_at = now
        return True

    def _read(self) -> dict[str, dict]:
        """The file's entries {code: {"endpoint", "ms"}}; nothing (with a warning) if it cannot be used."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("members' answer times in %s could not be read (%s); starting without them (the file "
                        "is rewritten after the next search)", self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("members"), dict):
            log.warning("members' answer times in %s are not a version %d file; starting without them (the "
                        "file is rewritten after the next search)", self.path, VERSION)
            return {}
        out = {}
        for code, entry in data["members"].items():
            if (isinstance(entry, dict) and isinstance(entry.get("endpoint"), str)
                    and isinstance(entry.get("ms"), int | float) and not isinstance(entry["ms"], bool)
                    and math.isfinite(entry["ms"]) and entry["ms"] >= 0):
                out[code] = {"endpoint": entry["endpoint"], "ms": float(entry["ms"])}
            else:
                log.warning("members' answer times in %s: the entry for %r is not {endpoint, ms}; ignored",
                            self.path, code)
        return out
