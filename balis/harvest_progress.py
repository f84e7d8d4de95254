"""What `balis harvest` shows while it runs: a line per event (logs, pipes) or progress bars (a terminal)."""

from __future__ import annotations

import sys
import time

from balis.cmd_index import STATUS_ZH
from indexer.harvest import MemberReport, Progress


class PlainProgress(Progress):
    """One log line per event and at most one progress line per member every few seconds (not a TTY)."""

    def __init__(self, out=sys.stderr, every: float = 5.0) -> None:
        self.out, self.every = out, every
        self.done: dict[str, int] = {}
        self.total: dict[str, int | None] = {}
        self.last: dict[str, float] = {}

    def _say(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self.out, flush=True)

    def member_started(self, code: str, total: int | None, note: str) -> None:
        self.total[code] = total
        if note:
            self.done.setdefault(code, 0)
            self.last[code] = time.monotonic()
            self._say(f"{code} 开始 start: {note}")

    def advance(self, code: str, n: int) -> None:
        self.done[code] = self.done.get(code, 0) + n
        now = time.monotonic()
        if now - self.last.get(code, 0) >= self.every:
            self.last[code] = now
            total = self.total.get(code)
            self._say(f"{code} {self.done[code]}" + (f"/{total}" if total else "") + " records")

    def member_finished(self, r: MemberReport) -> None:
        self._say(f"{r.member} {STATUS_ZH.get(r.status, r.status)} {r.status}: {_summary(r)}")

    def phase(self, text: str) -> None:
        self._say(text)


class RichProgress(Progress):
    """Progress bars per member and overall on a terminal (rich)."""

    def __init__(self, members: list[str], console=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        self.console = console or Console(stderr=True)
        self.bars = Bars(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                         TimeElapsedColumn(), TextColumn("{task.fields[note]}"), console=self.console)
        self.overall = self.bars.add_task("总计 all", total=None, note=f"{len(members)} members")
        self.tasks: dict[str, int] = {}
        self.totals: dict[str, int] = {}

    def __enter__(self):
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    def member_started(self, code: str, total: int | None, note: str) -> None:
        if code not in self.tasks:
            self.tasks[code] = self.bars.add_task(code, total=total, note=note)
        else:
            self.bars.update(self.tasks[code], total=total, **({"note": note} if note else {}))
        if total:
            self.totals[code] = total
            self.bars.update(self.overall, total=sum(self.totals.values()))

    def advance(self, code: str, n: int) -> None:
        if code in self.tasks:
            self.bars.advance(self.tasks[code], n)
        self.bars.advance(self.overall, n)

    def member_finished(self, r: MemberReport) -> None:
        if r.member not in self.tasks:
            self.tasks[r.member] = self.bars.add_task(r.member, total=1, note="")
        task = self.tasks[r.member]
        style = "green" if r.status == "ok" else "red"
        self.bars.update(task, note=f"[{style}]{STATUS_ZH.get(r.status, r.status)}[/] {_summary(r)}")
        if r.status == "ok":
            total = self.totals.get(r.member) or r.records  # an OAI-PMH list may not say its size beforehand
            self.bars.update(task, total=total, completed=total)

    def phase(self, text: str) -> None:
        self.console.log(text)


def _summary(r: MemberReport) -> str:
    repaired = (f", {r.repaired} with double-encoded UTF-8 repaired (乱码已修复; ask the library to fix its "
                f"export)" if r.repaired else "")
    text = (f"{r.records} records, +{r.added} ~{r.changed} -{r.deleted}, {r.errors} errors{repaired}, "
            f"{r.seconds:.1f} s")
    if r.message:
        text += f" — {r.message}"
    return text
