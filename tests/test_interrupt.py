"""What a signal does between and around the event loop runs of one command (mxsync.interrupt),
and what a stopped read-only command says, as functions."""

from __future__ import annotations

import asyncio
import io
import signal

import pytest

from mxsync.interrupt import (
    ReadingStopped,
    ReadRecord,
    Terminated,
    run_until_sigterm,
    sigterm_interrupts,
)
from mxsync.render.progress import ReadingProgress


def test_sigterm_after_a_run_is_still_said_not_silent() -> None:
    """import reads, writes the manifest, then adopts: two event loop runs. A SIGTERM while
    the file is written (between them) must still raise `Terminated`, not end the process."""
    with sigterm_interrupts():
        assert run_until_sigterm(asyncio.sleep(0, result=7)) == 7
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)
        assert run_until_sigterm(asyncio.sleep(0, result=8)) == 8  # and a second run works
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)


def test_sigterm_during_a_run_stops_it_as_terminated() -> None:
    async def waits_for_the_signal() -> None:
        asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGTERM)
        await asyncio.sleep(60)

    with sigterm_interrupts(), pytest.raises(Terminated):
        run_until_sigterm(waits_for_the_signal())


def test_what_a_stopped_read_says() -> None:
    record = ReadRecord()
    stopped = ReadingStopped("audit", record, unwritten="no findings were reported")
    assert stopped.text(terminated=True) == ("Terminated (SIGTERM) during audit: no org was "
                                             "read yet; nothing was changed; no findings were "
                                             "reported.")
    record(0, 1)
    record(1, 1)
    stopped.written = "the report was printed"
    assert stopped.text(terminated=False) == ("Interrupted (SIGINT) during audit: read 1 of 1 "
                                              "org; nothing was changed; the report was "
                                              "printed.")


def test_a_path_is_said_without_its_control_characters() -> None:
    stopped = ReadingStopped("plan", unwritten="no plan was saved (a\x1b[2Jb is as it was)")
    assert "\x1b" not in stopped.text(terminated=True)


def test_closing_the_record_ends_a_line_left_open_at_a_terminal() -> None:
    screen = io.StringIO()
    record = ReadRecord(ReadingProgress(screen))
    record(0, 3)
    record(1, 3)
    record.close()
    assert record.orgs == (1, 3)
    assert screen.getvalue().endswith("\n")  # what is said next starts on a line of its own
    record.close()
    assert not screen.getvalue().endswith("\n\n")  # a second close adds nothing
