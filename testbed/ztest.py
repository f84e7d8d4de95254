"""yaz-ztest, Index Data's dummy Z39.50/SRU server, on a free loopback port (protocol corners Zebra lacks)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from testbed.zebra import ZebraError, _terminate, free_port, pid_alive, wait_for_port


class ZTest:
    """One yaz-ztest daemon; `start()` returns its port."""

    def __init__(self, workdir: Path, port: int = 0):
        self.workdir = Path(workdir).resolve()
        self.port = port

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
        """Start yaz-ztest in the background and wait until it accepts connections. A port it chose itself
        and found taken by the time yaz-ztest bound it is chosen once more."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "ztest.log"
        tries = 1 if self.port else 2
        for _ in range(tries):
            if tries > 1:
                self.port = free_port()
            cmd = ["yaz-ztest", "-D", "-l", str(log), "-p", str(self.workdir / "ztest.pid"),
                   f"tcp:127.0.0.1:{self.port}"]
            proc = subprocess.run(cmd, cwd=self.workdir, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode == 0 and wait_for_port(self.port, timeout):
                return self.port
            self.stop()
        raise ZebraError(f"yaz-ztest did not start on port {self.port}; read {log}")

    def stop(self) -> None:
        pid = self.pid
        if pid and pid_alive(pid):
            _terminate(pid, 5.0)
        (self.workdir / "ztest.pid").unlink(missing_ok=True)
