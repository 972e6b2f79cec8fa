"""Stopping an apply by a signal: SIGTERM (CI cancelling a job, `kill`) handled like Ctrl-C,
and what to say then: the steps taken so far and the plan's changes not done.

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

        try:
            loop.add_signal_handler(signal.SIGTERM, stop)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals here
            return await main
        try:
            return await main
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

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
