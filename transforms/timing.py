"""Per-stage timing of a run: read, validate, pseudonymise, transform, load, marts, ...

`with stage("validate"): ...` adds the block's wall time to that stage. Stages nest, and a
stage counts only its own time (a pseudonymisation inside staging is not counted twice as
transform), so the stages add up to the instrumented time. Files prepare in parallel
threads, so per-stage totals can add up to more than the run's wall time; the benchmark
(bench/) reports both. The nightly flow resets them at its start and logs them at its end.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_totals: dict[str, float] = {}
_peaks: dict[str, float] = {}
_local = threading.local()


def reset() -> None:
    with _lock:
        _totals.clear()
        _peaks.clear()


@contextmanager
def stage(name: str) -> Iterator[None]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(0.0)  # time spent in stages nested inside this one
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        nested = stack.pop()
        if stack:
            stack[-1] += elapsed
        # The process's peak so far, in MiB: the first stage whose value jumps is the one
        # that needs the memory.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with _lock:
            _totals[name] = _totals.get(name, 0.0) + elapsed - nested
            _peaks[name] = max(_peaks.get(name, 0.0), peak)


def totals() -> dict[str, float]:
    """Seconds per stage since the last reset."""
    with _lock:
        return dict(_totals)


def peaks() -> dict[str, float]:
    """The process's peak resident memory (MiB) when each stage last ended."""
    with _lock:
        return dict(_peaks)


def summary() -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in totals().items())
