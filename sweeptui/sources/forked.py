"""Reading independent parts of a sweep in forked child processes during a one-shot load.

A post-hoc load of a large experiment spends most of its time parsing files that do
not depend on each other (one trial's ``result.json`` and the next). :func:`one_shot_load`
marks the stretch of a load where a reader may hand such parts to child processes, and
:func:`forked_map` runs a function over the parts in a pool of forked children and
yields the results in order, so the caller applies them exactly as a serial read would
while the children parse the next parts.

Children are forked, never spawned: a child starts as a copy of the reader and needs
nothing but the index of its part, and returns plain picklable results. Forking is only
safe in a process with a single thread, so the live app (watcher and ingest threads)
always reads serially. Any pool problem ends the parallel part early: the caller reads
the parts it did not get serially, so a failure costs time, never data.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import islice
from typing import Any

MAX_WORKERS = 4
"""Child processes at most, whatever the core count (each holds a copy of the reader)."""
TASKS_PER_WORKER = 32
"""Parts are sent to the children in about this many batches per child: fewer batches
cost less messaging, more keep the children evenly busy and results flowing early."""
MAX_CHUNK = 128
"""Items a child takes at once, at the most."""
IN_FLIGHT = 2
"""Chunks handed to the pool per child ahead of the parent."""
AHEAD_OF_MEANWHILE = 512
"""Items handed to the pool before the parent turns to the load's ``meanwhile`` work:
enough to keep the children busy while it imports (with a chunk or two they ran dry
in a tenth of a second and waited for most of the import; with 256 runs of 1,000 lines,
once the C reader made them faster, they still waited 0.15-0.26 s each of a 0.5 s
import, with 512 ~0.05 s), few enough that their results do not pile up in its memory
(what it holds of them is mostly the columns its store keeps anyway)."""

RESULT_PIPE_BYTES = 1024 * 1024
"""Bytes the result pipe holds (Linux lets any process ask for up to 1 MB)."""

MIN_IDLE_CORES = 0.6
"""Idle cores the machine must have shown since the load began for children to be worth
it: they add about a quarter to the CPU time, which only a core otherwise idle gives back
(on a machine busy with other work they make the load slower)."""
MIN_PROBE_TICKS = 10
"""Clock ticks of CPU time (all cores) below which the idle share is not judged."""

_state = threading.local()
_work: Callable[[Any], Any] | None = None
"""The function the children run; set before forking so they inherit it."""


@contextmanager
def one_shot_load(meanwhile: Callable[[], object] | None = None) -> Iterator[None]:
    """Allow readers to read parts in child processes until the block ends.

    ``meanwhile`` is work the caller needs next (importing the modules that analyse
    the sweep): run once, in this process, while the first children read, so that the
    two cores both work. It is not run when no child is started.
    """
    previous = (getattr(_state, "allowed", False), getattr(_state, "meanwhile", None),
                getattr(_state, "began", None))  # fmt: skip
    _state.allowed, _state.meanwhile, _state.began = True, meanwhile, _cpu_ticks()
    try:
        yield
    finally:
        _state.allowed, _state.meanwhile, _state.began = previous


def spare_core() -> bool:
    """Whether the machine had a core to spare since the one-shot load began (at least
    :data:`MIN_IDLE_CORES` idle on average); True when that cannot be told (too short a
    time, or no ``/proc/stat``)."""
    began, now = getattr(_state, "began", None), _cpu_ticks()
    if began is None or now is None or now[1] - began[1] < max(MIN_PROBE_TICKS, 1):
        return True
    idle = (now[0] - began[0]) / (now[1] - began[1]) * (os.cpu_count() or 1)
    return idle >= MIN_IDLE_CORES


def _cpu_ticks() -> tuple[int, int] | None:
    """(idle, total) clock ticks of every core since boot (Linux), or None."""
    try:
        with open("/proc/stat", "rb") as handle:
            ticks = [int(field) for field in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return ticks[3] + ticks[4], sum(ticks)  # idle and waiting for I/O


def _run_meanwhile() -> bool:
    """The load's ``meanwhile`` work, once (children have just started); whether there was any.

    Its failure does not stop the children: the caller needs that work next and meets
    the error itself (an import that fails here fails again there, and says why).
    """
    work = getattr(_state, "meanwhile", None)
    _state.meanwhile = None
    if work is not None:
        with suppress(Exception):  # said by the caller, which does the work again
            work()
    return work is not None


def worker_count(parts: int) -> int:
    """Child processes to read ``parts`` independent parts with; 0 means read serially.

    Non-zero only inside :func:`one_shot_load`, in a single-threaded process where the
    fork start method exists, on a machine with more than one usable core.
    """
    if not getattr(_state, "allowed", False) or parts < 2:
        return 0
    if threading.active_count() != 1:
        return 0
    import multiprocessing  # here: the pool machinery costs ~50 ms to import, and most loads never fork

    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    cores = _usable_cores()
    if cores < 2:
        return 0
    return min(cores, MAX_WORKERS, parts)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def forked_map(work: Callable[[Any], Any], items: Sequence[Any], workers: int) -> Iterator[Any]:
    """``work(item)`` for each item, computed in ``workers`` forked children, in order.

    The children inherit ``work`` (and whatever it refers to) through the fork; only
    the items and the results are sent between processes. The iteration stops early,
    without raising, when the pool fails (a child died, a result would not pickle, or
    ``work`` raised): the caller then handles the items it did not get itself.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _work
    _work = work
    pool = None
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        _widen_result_pipe(pool)
        size = min(MAX_CHUNK, max(1, len(items) // (workers * TASKS_PER_WORKER)))
        chunks = iter([items[start : start + size] for start in range(0, len(items), size)])
        # a few chunks in flight, not all: results the parent has not taken yet wait in
        # its memory, and children that read faster than it applies would pile them up
        ahead = IN_FLIGHT * workers
        if getattr(_state, "meanwhile", None) is not None:
            ahead = max(ahead, AHEAD_OF_MEANWHILE // size)
        flight = deque(pool.submit(_run_chunk, chunk) for chunk in islice(chunks, ahead))
        if _run_meanwhile():  # the children start reading
            # They may have read all that was handed over while this process worked:
            # more for them at once, not one chunk per result taken over (they sat idle
            # ~50 ms while the parent took the first results over)
            flight.extend(pool.submit(_run_chunk, chunk) for chunk in islice(chunks, IN_FLIGHT * workers))
        while flight:
            results = flight.popleft().result()
            following = next(chunks, None)
            if following is not None:
                flight.append(pool.submit(_run_chunk, following))
            yield from results
    except Exception:  # any pool failure: the caller reads the rest serially
        return
    finally:
        _work = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _widen_result_pipe(pool: Any) -> None:
    """Make the pipe the children send results through hold a chunk's results whole.

    A child writes its results into the pipe and goes on once they are in it; a pipe of
    the default 64 KB takes a chunk of long runs' reads (~0.7 MB) only as fast as the
    parent reads, which it does between other work: the children sat idle ~0.15 s each
    in a 1,000-run load. Where the pipe cannot be widened, it stays as it was.
    """
    try:
        import fcntl

        writer = pool._result_queue._writer  # the pool's own pipe: no public handle on it
        fcntl.fcntl(writer.fileno(), fcntl.F_SETPIPE_SZ, RESULT_PIPE_BYTES)
    except (AttributeError, ImportError, OSError, ValueError):
        pass


def _run_chunk(items: Sequence[Any]) -> list[Any]:
    """The child side: run the inherited function on each item of a chunk."""
    assert _work is not None, "forked_map children inherit the function through fork"
    return [_work(item) for item in items]


__all__ = ["MAX_WORKERS", "forked_map", "one_shot_load", "spare_core", "worker_count"]
