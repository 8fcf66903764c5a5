"""Python's cyclic garbage collector, tuned for a long-running emulator.

Every full collection looks at every container object in the process, and an emulator keeps
tens of objects per finished execution (its record, the table rows, log events and reports its
Lambdas wrote): after 10,000 executions one full collection took half a second, a second of
every ten under load. Those records live until the account is reset, so looking at them again
and again finds nothing. When no execution is running, everything alive is such a record (or
the emulator itself): the collector then runs once and *freezes* what survives
(``gc.freeze()``), so later collections skip it.

A frozen object that later becomes cyclic garbage (a deleted state machine's executions, say)
is freed only when thawed: that happens when the frozen set has doubled, after ten minutes, or
on reset. Reference counting, which frees most objects, is not affected by any of this.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from typing import Any, Callable


class IdleCollector:
    """Collects and freezes survivors when the interpreter goes idle (at most every ``every_s``)."""

    def __init__(self, every_s: float = 5.0, thaw_growth: float = 2.0, thaw_every_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic, collector: Any = gc) -> None:
        self.every_s = every_s
        self.thaw_growth = thaw_growth
        self.thaw_every_s = thaw_every_s
        self._clock = clock
        self._gc = collector
        self._lock = threading.Lock()
        self._last_freeze = -math.inf
        self._last_thaw = -math.inf
        self._frozen_after_thaw: int | None = None

    def on_idle(self) -> None:
        """Called when the last running execution or branch has finished."""
        now = self._clock()
        if now - self._last_freeze < self.every_s or not self._lock.acquire(blocking=False):
            return
        try:
            self._last_freeze = now
            frozen = self._gc.get_freeze_count()
            thaw = (self._frozen_after_thaw is None or frozen > self._frozen_after_thaw * self.thaw_growth
                    or now - self._last_thaw >= self.thaw_every_s)
            if thaw:
                self._gc.unfreeze()  # look at everything once more: frees cycles among the frozen
            self._gc.collect()
            self._gc.freeze()
            if thaw:
                self._last_thaw = now
                self._frozen_after_thaw = self._gc.get_freeze_count()
        finally:
            self._lock.release()

    def thaw(self) -> None:
        """Unfreeze everything and collect (after a reset, most of it is garbage)."""
        with self._lock:
            self._gc.unfreeze()
            self._gc.collect()
            self._frozen_after_thaw = None
            self._last_freeze = -math.inf

    def stats(self) -> dict[str, int]:
        return {"frozen_objects": self._gc.get_freeze_count()}


collector = IdleCollector()
