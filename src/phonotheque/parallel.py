"""Run pure file tasks on a local process pool or a Dask cluster, with bounded memory.

``run_tasks(fn, items)`` calls ``fn(item)`` for every item — ``fn`` must be a picklable top-level
function (or a ``functools.partial`` of one) whose result is a small picklable value — and
yields ``(item, result)`` pairs:

* ``scheduler=None``: a local :class:`~concurrent.futures.ProcessPoolExecutor` with ``workers``
  processes (``None``/``0`` = one per core);
* ``scheduler="local"``: a ``dask.distributed.LocalCluster`` of ``workers`` real worker processes;
* ``scheduler="tcp://host:8786"``: an existing Dask cluster (workers must see the same paths).

At most ``max_in_flight`` tasks (default ``4 × workers``) are submitted and not yet yielded, so
memory stays flat however many items there are. Results are yielded as they complete, or in
item order with ``ordered=True`` (then the window is counted from the oldest unfinished item, so
a slow item holds back at most ``max_in_flight`` results). The caller — one writer — commits.

A task that raises is not lost: its exception is yielded as the result (``isinstance(result,
BaseException)``) so the run goes on; the caller decides what to record.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from phonotheque.errors import SchedulerError

T = TypeVar("T")
R = TypeVar("R")


def default_workers(workers: int | None) -> int:
    return workers if workers and workers > 0 else (os.cpu_count() or 1)


def run_tasks(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[..., None] | None = None,
    ordered: bool = False,
    max_in_flight: int | None = None,
) -> Iterator[tuple[T, R | BaseException]]:
    """Yield ``(item, fn(item))`` for every item (see the module docstring)."""
    n = default_workers(workers)
    window = max_in_flight or 4 * n
    if scheduler is None:
        yield from _run_local(fn, items, n, window, ordered, progress)
    else:
        yield from _run_dask(fn, items, n, window, ordered, progress, scheduler)


def _drain(
    pending: deque[tuple[T, Any]],
    ordered: bool,
    result_of: Callable[[Any], R],
    done_of: Callable[[Any], bool],
    wait_any: Callable[[list[Any]], object],
    wait_one: Callable[[Any], object],
    limit: int,
) -> Iterator[tuple[T, R | BaseException]]:
    """Yield finished tasks until fewer than ``limit`` remain in ``pending``."""
    while len(pending) >= limit and pending:
        if ordered:
            item, fut = pending[0]
            wait_one(fut)
            pending.popleft()
            yield item, _outcome(result_of, fut)
        else:
            if not any(done_of(f) for _, f in pending):
                wait_any([f for _, f in pending])
            keep: deque[tuple[T, Any]] = deque()
            for item, fut in pending:
                if done_of(fut):
                    yield item, _outcome(result_of, fut)
                else:
                    keep.append((item, fut))
            pending.clear()
            pending.extend(keep)


def _outcome(result_of: Callable[[Any], R], fut: Any) -> R | BaseException:
    try:
        return result_of(fut)
    except Exception as exc:  # a task's own failure travels back as a value
        return exc


def _run_local(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    window: int,
    ordered: bool,
    progress: Callable[..., None] | None,
) -> Iterator[tuple[T, R | BaseException]]:
    ctx = multiprocessing.get_context("fork")  # workers need no re-import of __main__
    pending: deque[tuple[T, Future[R]]] = deque()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:

        def drain(limit: int) -> Iterator[tuple[T, R | BaseException]]:
            for pair in _drain(
                pending,
                ordered,
                lambda f: f.result(),
                lambda f: f.done(),
                lambda fs: wait(fs, return_when=FIRST_COMPLETED),
                lambda f: wait([f]),
                limit,
            ):
                if progress is not None:
                    progress(1)
                yield pair

        for item in items:
            yield from drain(window)
            pending.append((item, pool.submit(fn, item)))
        yield from drain(1)
    finally:
        for _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    window: int,
    ordered: bool,
    progress: Callable[..., None] | None,
    scheduler: str,
) -> Iterator[tuple[T, R | BaseException]]:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import wait as dask_wait
    except ImportError as exc:  # pragma: no cover - dask is a declared dependency
        raise SchedulerError(f"--scheduler {scheduler}: dask.distributed is not installed") from exc
    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        elif scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            client = Client(scheduler, timeout="30s")
        else:
            raise SchedulerError(f"--scheduler {scheduler}: expected 'local' or an address like tcp://host:8786")
    except SchedulerError:
        raise
    except Exception as exc:
        if cluster is not None:
            cluster.close()
        raise SchedulerError(f"--scheduler {scheduler}: cannot connect: {exc}") from exc
    pending: deque[tuple[T, Any]] = deque()
    try:

        def drain(limit: int) -> Iterator[tuple[T, R | BaseException]]:
            for pair in _drain(
                pending,
                ordered,
                lambda f: f.result(),
                lambda f: f.done(),
                lambda fs: dask_wait(fs, return_when="FIRST_COMPLETED"),
                lambda f: dask_wait([f]),
                limit,
            ):
                if progress is not None:
                    progress(1)
                yield pair

        for item in items:
            yield from drain(window)
            pending.append((item, client.submit(fn, item, pure=False)))
        yield from drain(1)
    finally:
        for _, fut in pending:
            fut.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
