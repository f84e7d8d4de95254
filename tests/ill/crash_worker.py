"""Run by test_crash.py in a subprocess: take one action, announce the chosen moment, wait to be killed.

argv: URL REQUEST_ID ACTION ACTOR MOMENT, MOMENT one of "mid" (after the request row is updated, before
the audit entry is written) or "after" (after the transaction committed).
"""

import sys
import time

from sqlalchemy import event

from ill import Store


def main() -> None:
    url, rid, action, actor, moment = sys.argv[1:6]
    store = Store(url, migrate=False)

    def hold(label: str) -> None:
        print(label, flush=True)
        time.sleep(120)  # the test kills us here

    if moment == "mid":
        @event.listens_for(store.engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            if statement.lstrip().upper().startswith("INSERT INTO AUDIT"):
                hold("MID")

    store.act(int(rid), action, actor, reason="在架未找到")
    hold("AFTER")


if __name__ == "__main__":
    main()
