"""Stopping a command by a signal: SIGTERM (CI cancelling a job, `kill`) handled like Ctrl-C,
and what to say then: for an apply, the steps taken so far and the plan's changes not done;
for the commands that read (plan, audit, import), how many orgs were read and what was not
written.

Python turns SIGINT into KeyboardInterrupt, but SIGTERM's default ends the process at once,
silently, in the middle of whatever call was under way. During an apply the user must learn
what was changed and what was not, so there SIGTERM raises `Terminated` (a KeyboardInterrupt,
so the same unwinding runs) and the exit status stays the shell's 143.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mxsync.outcomes import Step
    from mxsync.plan import Plan

T = TypeVar("T")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived."""


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` (outside the event loop, which
    `run_until_sigterm` guards); outside the block, its handler is as before."""

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_until_sigterm(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, where SIGTERM cancels `main` at its next await (as asyncio does
    for SIGINT) and then raises `Terminated`: the calls under way end cleanly and every step
    recorded so far was recorded whole."""
    import asyncio

    stopped = False

    async def guarded() -> T:
        nonlocal stopped
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def stop() -> None:
            nonlocal stopped
            stopped = True
            if task is not None:
                task.cancel()

        previous = signal.getsignal(signal.SIGTERM)
        try:
            loop.add_signal_handler(signal.SIGTERM, stop)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals here
            return await main
        try:
            return await main
        finally:
            # asyncio leaves SIG_DFL behind: put back what was there (`sigterm_interrupts`'
            # handler), so a SIGTERM between two runs, or while the result is written or
            # shown, is still said rather than ending the process silently.
            loop.remove_signal_handler(signal.SIGTERM)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if stopped:
            raise Terminated from None
        raise


class StepRecord:
    """A progress hook that keeps every step taken, for the interruption's account."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def __call__(self, step: Step) -> None:
        from mxsync.outcomes import StepCode

        if step.code is not StepCode.PROPAGATING:  # a wait under way, not a step taken
            self.steps.append(step)

    def close(self) -> None:
        """Nothing to close."""


def interrupted_text(plan: Plan, steps: list[Step], *, terminated: bool) -> str:
    """`Terminated (SIGTERM) during apply.`, then the steps taken and the changes not done."""
    from mxsync.render.outcomes import step_line
    from mxsync.render.safe import printable

    lines = ["Terminated (SIGTERM) during apply." if terminated
             else "Interrupted (SIGINT) during apply."]
    lines.append("Done so far:" if steps else "Done so far: nothing.")
    lines += [f"  {printable(step_line(step))}" for step in steps]
    concluded = Counter((s.address, str(s.action)) for s in steps if s.concludes)
    left = []
    for change in plan.changes:
        key = (change.address, str(change.action))
        if concluded[key]:
            concluded[key] -= 1
        else:
            left.append(f"  {change.action:<11} {printable(change.address)}")
    lines.append("Not done:" if left else "Not done: nothing; every change was carried out.")
    lines += left
    if left:
        lines.append("Run plan to see what is left now (a change under way may have landed); "
                     "apply again converges.")
    return "\n".join(lines)


class ReadRecord:
    """The reading-progress hook (`flows.common.ReadProgress`) that keeps how many orgs have
    been read, and passes each count on to what shows it (`show`, if any)."""

    def __init__(self, show: Any = None) -> None:
        self.show = show
        self.orgs: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        self.orgs = (done, total)
        if self.show is not None:
            self.show(done, total)

    def close(self) -> None:
        """End what shows the count: its timer, or its line left open at a terminal."""
        close = getattr(self.show, "close", None)
        if close is not None:
            close()


@dataclass
class ReadingStopped:
    """What a command that reads (plan, audit, import) has done when a signal stops it, kept
    up to date as it goes: the command fills in `written` once it has written its result, and
    `adopting` while `import --adopt` changes the server."""

    command: str
    record: ReadRecord | None = None
    unwritten: str = ""  # what is not there when stopped now: "no plan was saved"
    written: str = ""  # what is there: "the plan was saved to plan.json"
    adopting: StepRecord | None = None

    def text(self, *, terminated: bool) -> str:
        """`Terminated (SIGTERM) during plan: read 37 of 120 orgs; nothing was changed; no
        plan was saved.`, and for an adoption under way, what it adopted."""
        from mxsync.render.outcomes import step_line
        from mxsync.render.safe import printable

        signal_name = "Terminated (SIGTERM)" if terminated else "Interrupted (SIGINT)"
        orgs = self.record.orgs if self.record is not None else None
        parts = ["no org was read yet" if orgs is None
                 else f"read {orgs[0]} of {orgs[1]} org{'s' if orgs[1] != 1 else ''}"]
        if self.adopting is None:
            parts.append("nothing was changed")
        if self.written:
            parts.append(self.written)
        elif self.unwritten:
            parts.append(self.unwritten)
        lines = [printable(f"{signal_name} during {self.command}: " + "; ".join(parts) + ".")]
        if self.adopting is not None:
            adopted = [s for s in self.adopting.steps if s.concludes]
            lines.append("Adoptions done so far:" if adopted
                         else "Adoptions done so far: none.")
            lines += [f"  {printable(step_line(step))}" for step in adopted]
            lines.append("The other adoptions were not made (one under way may have landed); "
                         "`mxsync plan` on the imported manifest shows what is left, and "
                         "adopts it.")
        return "\n".join(lines)
