"""yaz-ztest, Index Data's dummy Z39.50/SRU server, on a free loopback port (protocol corners Zebra lacks)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from testbed.zebra import ZebraError, _terminate, on_a_free_port, pid_alive, wait_for_port


class ZTest:
    """One yaz-ztest daemon; `start()` returns its port."""

    def __init__(self, workdir: Path, port: int = 0, *, apdu_log: bool = False):
        self.workdir = Path(workdir).resolve()
        self.port = port
        self.apdu_log = apdu_log  # YAZ writes every APDU it decodes, as text, to apdu.log.PID (`apdu_text()`)

    def apdu_text(self) -> str:
        """What yaz-ztest decoded of the APDUs it received and sent so far (needs apdu_log=True)."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("apdu.log*")))

    @property
    def pid(self) -> int | None:
        try:
            return int((self.workdir / "ztest.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return pid_alive(self.pid)

    def start(self, timeout: float = 10.0) -> int:
        """Start yaz-ztest in the background and wait until it accepts connections (on a free port when none
        was given, see `on_a_free_port`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "ztest.log"

        def attempt(port: int) -> bool:
            self.port = port
            cmd = ["yaz-ztest", "-D", "-l", str(log), "-p", str(self.workdir / "ztest.pid"),
                   *(["-a", str(self.workdir / "apdu.log")] if self.apdu_log else []), f"tcp:127.0.0.1:{port}"]
            proc = subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode == 0 and wait_for_port(port, timeout):
                return True
            self.stop()
            return False

        if on_a_free_port(attempt, self.port) is None:
            raise ZebraError(f"yaz-ztest did not start on port {self.port}; read {log}")
        return self.port

    def stop(self) -> None:
        pid = self.pid
        if pid and pid_alive(pid):
            _terminate(pid, 5.0)
        (self.workdir / "ztest.pid").unlink(missing_ok=True)
