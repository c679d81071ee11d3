"""Ctrl-C and SIGTERM as a request to stop at the next step boundary.

    with graceful_stop() as stop:          # SIGINT / SIGTERM now set stop.requested
        while step < steps and not stop.requested:
            one whole step                 # sampling, refill, update, evaluation, checkpoint
        if stop.requested: write the checkpoint of the finished step, then stop

A training step changes the weights, the optimizer, the problem-stream position and the
auxiliary models together, so a checkpoint is only ever written between steps: the first signal
lets the step under way finish (its metrics are logged and its checkpoint is exact), and the
loop stops before the next one. A second signal raises ``KeyboardInterrupt`` at once -- the way
out of a step that hangs -- and the loops write no checkpoint of the unfinished step; ``--resume``
then continues from the newest checkpoint on disk (the log of later steps is dropped), so the
result is still the uninterrupted run's.

Handlers can only be installed from the main thread; elsewhere (a worker thread) the context
installs nothing and ``KeyboardInterrupt`` keeps its usual meaning. Nested contexts share the
outermost one, so a request made before an inner loop starts is seen by it.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop:
    """The stop request of one run: ``requested`` is the name of the first signal received (or None)."""

    def __init__(self, label: str = "run"):
        self.label = label
        self.requested: str | None = None

    def handle(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:
            raise KeyboardInterrupt(f"second {name}: stopped at once")
        self.requested = name
        # a signal handler may interrupt a print; os.write is safe there
        os.write(2, f"\n{name}: the {self.label} stops after the step under way and writes a checkpoint "
                    f"({name} again to stop at once, without a checkpoint of that step)\n".encode())


def active() -> GracefulStop | None:
    """The ``GracefulStop`` whose handler is installed for SIGINT, if any."""
    owner = getattr(signal.getsignal(signal.SIGINT), "__self__", None)
    return owner if isinstance(owner, GracefulStop) else None


@contextmanager
def graceful_stop(label: str = "run"):
    """Install the handlers for the duration of the block (see the module docstring)."""
    outer = active()
    if outer is not None or threading.current_thread() is not threading.main_thread():
        yield outer or GracefulStop(label)
        return
    stop = GracefulStop(label)
    previous = {s: signal.signal(s, stop.handle) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
