"""The emulator's garbage-collector policy: freeze survivors when no execution runs."""

from __future__ import annotations

import gc
import threading
import time
import weakref

from labhelpers.emulator import idle_gc, speed_interpreter


class FakeGC:
    """Records calls; the freeze count is what the test says it is."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.frozen = 0
        self.alive = 0  # objects a freeze() would move to the permanent generation

    def get_freeze_count(self) -> int:
        return self.frozen

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")
        self.frozen = 0

    def collect(self) -> int:
        self.calls.append("collect")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen += self.alive
        self.alive = 0


def test_idle_collects_then_freezes_at_most_every_few_seconds_and_thaws_as_the_frozen_set_doubles():
    now = [100.0]
    fake = FakeGC()
    collector = idle_gc.IdleCollector(every_s=5, thaw_growth=2, thaw_every_s=600, clock=lambda: now[0],
                                      collector=fake)
    fake.alive = 1000
    collector.on_idle()  # the first time: a full look, then freeze
    assert fake.calls == ["unfreeze", "collect", "freeze"] and fake.frozen == 1000
    fake.calls.clear()
    now[0] += 1
    collector.on_idle()
    assert fake.calls == []  # too soon
    now[0] += 5
    fake.alive = 500
    collector.on_idle()
    assert fake.calls == ["collect", "freeze"] and fake.frozen == 1500  # only the new objects looked at
    fake.calls.clear()
    now[0] += 5
    fake.alive = 600
    collector.on_idle()  # 2,100 frozen > 2 x 1,000 after the last thaw: look at everything again
    assert fake.frozen == 2100 and fake.calls == ["collect", "freeze"]
    fake.calls.clear()
    now[0] += 5
    collector.on_idle()
    assert fake.calls == ["unfreeze", "collect", "freeze"]
    fake.calls.clear()
    now[0] += 600
    collector.on_idle()  # ten minutes since the last thaw: thaw again, even without growth
    assert fake.calls == ["unfreeze", "collect", "freeze"]


def test_reset_thaws_and_the_next_idle_starts_over():
    fake = FakeGC()
    collector = idle_gc.IdleCollector(clock=lambda: 50.0, collector=fake)
    collector.on_idle()
    fake.calls.clear()
    collector.thaw()
    assert fake.calls == ["unfreeze", "collect"]
    fake.calls.clear()
    collector.on_idle()  # same instant, but a reset clears the rate limit
    assert fake.calls == ["unfreeze", "collect", "freeze"]


def test_frozen_cyclic_garbage_is_freed_when_thawed():
    class Node:
        pass

    collector = idle_gc.IdleCollector(every_s=0, thaw_growth=1e9, thaw_every_s=1e9)
    try:
        collector.on_idle()  # freezes whatever the test process holds
        node = Node()
        node.self = node  # a cycle: only the cyclic collector frees it
        freed = threading.Event()
        ref = weakref.ref(node, lambda _: freed.set())
        collector.on_idle()  # node is alive: frozen with the rest
        del node
        gc.collect()
        assert ref() is not None  # frozen garbage stays ...
        collector.thaw()
        assert freed.is_set() and ref() is None  # ... until thawed
    finally:
        gc.unfreeze()


def test_the_interpreter_pool_reports_idle_only_when_its_last_task_ends():
    idle_calls: list[int] = []
    pool = speed_interpreter._ReusedThreads(keep_idle=4, on_all_idle=lambda: idle_calls.append(pool.running))
    release = threading.Event()
    done = threading.Semaphore(0)

    def task() -> None:
        release.wait(10)
        done.release()

    pool.start(task, "a")
    pool.start(task, "b")
    assert pool.running == 2 and idle_calls == []
    release.set()
    for _ in range(2):
        assert done.acquire(timeout=10)
    deadline = time.monotonic() + 10
    while not idle_calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert idle_calls == [0]  # once, when the second task ended
    assert pool.running == 0


def test_an_idle_emulator_has_frozen_what_survived(lab, emulator_port):
    import json
    import urllib.request

    from labhelpers import run_execution

    run_execution({"user_id": "gc", "level": 1, "time_played": 3}, lab=lab)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{emulator_port}/_lab/health", timeout=10) as answer:
            frozen = json.load(answer)["gc"]["frozen_objects"]
        if frozen:
            break
        time.sleep(0.1)
    assert frozen > 10_000  # moto's loaded models, the lab's resources and the execution record


def test_a_failing_idle_hook_leaves_the_thread_ready_for_the_next_task(caplog):
    def broken_hook() -> None:
        raise RuntimeError("hook failed")

    pool = speed_interpreter._ReusedThreads(keep_idle=1, on_all_idle=broken_hook)
    ran = threading.Semaphore(0)
    pool.start(ran.release, "first")
    assert ran.acquire(timeout=10)
    deadline = time.monotonic() + 10
    while not pool._idle and time.monotonic() < deadline:
        time.sleep(0.01)
    pool.start(ran.release, "second")  # handed to the same, now idle, thread
    assert ran.acquire(timeout=10)
    assert "idle hook failed" in caplog.text
