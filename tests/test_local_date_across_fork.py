"""`analytics.timezones.local_date` in a process forked after it was used (gunicorn
--preload, a worker forked by a test).

The scratch DuckDB connection that answers it was dropped in the child after the fork; its
destructor then touched the parent's DuckDB instance, whose threads do not exist in the
child, and the child died of SIGSEGV at the fork itself.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, date, datetime

from analytics.timezones import local_date

MOMENT = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)


def _in_a_forked_child() -> int:
    """Fork; the child computes a Berlin date and exits 0 when it is right. The wait status."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if local_date(MOMENT, "Europe/Berlin") == date(2026, 11, 30) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def test_a_child_forked_after_use_answers_and_exits_cleanly() -> None:
    assert local_date(MOMENT, "Europe/Berlin") == date(2026, 11, 30)  # the parent's connection
    status = _in_a_forked_child()
    assert not os.WIFSIGNALED(status), f"child killed by {signal.Signals(os.WTERMSIG(status))!r}"
    assert os.WEXITSTATUS(status) == 0
    assert local_date(MOMENT, "America/New_York") == date(2026, 11, 29)  # the parent goes on


def test_several_forks_in_a_row() -> None:
    for _ in range(3):
        local_date(MOMENT, "Asia/Kolkata")
        status = _in_a_forked_child()
        assert (os.WIFSIGNALED(status), os.WEXITSTATUS(status)) == (False, 0)
