"""Per-stage timing of a run: read, validate, pseudonymise, transform, load, marts, ...

`with stage("validate"): ...` adds the block's wall time to that stage. Stages nest, and a
stage counts only its own time (a pseudonymisation inside staging is not counted twice as
transform), so the stages add up to the instrumented time. Files prepare in parallel
threads, so per-stage totals can add up to more than the run's wall time; the benchmark
(bench/) reports both. The nightly flow resets them at its start and logs them at its end.

`start_trace()` also records each stage as an event (thread, start, end) and samples the
process's resident memory and CPU time ten times a second, until `stop_trace()`: the
timeline of one run (`python -m bench.national --trace`), which says which stages ran side
by side and how many of the cores were busy.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_lock = threading.Lock()
_totals: dict[str, float] = {}
_peaks: dict[str, float] = {}
_local = threading.local()
_trace: dict | None = None  # while tracing: t0, events, samples, the sampler's stop flag


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
            if _trace is not None:
                _trace["events"].append((threading.current_thread().name, name,
                                         round(start - _trace["t0"], 3),
                                         round(start + elapsed - _trace["t0"], 3)))


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


def start_trace(interval: float = 0.1) -> None:
    """Record a timeline from now: stage events, and every `interval` seconds the resident
    memory (MiB, from /proc where there is one) and the CPU seconds used so far."""
    global _trace
    stop = threading.Event()
    trace = {"t0": time.perf_counter(), "events": [], "samples": [], "stop": stop}

    def sample() -> None:
        while not stop.is_set():
            cpu = os.times()
            trace["samples"].append((round(time.perf_counter() - trace["t0"], 3),
                                     round(_resident_mib()), round(cpu.user + cpu.system, 2)))
            stop.wait(interval)

    with _lock:
        _trace = trace
    threading.Thread(target=sample, name="timing trace", daemon=True).start()


def stop_trace() -> dict:
    """The timeline since start_trace: {"events": [(thread, stage, start, end)], "samples":
    [(seconds, resident MiB, CPU seconds)]}, times from the start."""
    global _trace
    with _lock:
        trace, _trace = _trace, None
    if trace is None:
        return {"events": [], "samples": []}
    trace["stop"].set()
    return {"events": sorted(trace["events"], key=lambda e: e[2]),
            "samples": list(trace["samples"])}


def _resident_mib() -> float:
    statm = Path("/proc/self/statm")
    if not statm.exists():  # (not Linux: the peak so far instead)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
