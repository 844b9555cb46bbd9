"""CPU-heavy work (password hashes) on threads of lower priority, so pages stay quick.

A password hash at 600,000 rounds keeps a CPU busy for about half a second;
a few sign-ins at once would otherwise take the CPUs from every page being
served. :func:`run` hands such work to a small pool of threads, one per CPU,
whose scheduling priority is lowered (Linux: a thread's own nice value,
``os.setpriority`` on its thread id). The calling thread waits for the
result without holding the GIL. When nothing else runs, hashes still get
every CPU: only the order changes when pages and hashes compete.

The pool belongs to one process; a process forked from this one (a worker)
makes its own at first use.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: the nice value of the threads doing CPU-heavy work (0 is the process's own)
NICENESS = 10

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_lock = threading.Lock()


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not Linux
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        with _lock:
            if _pool is None or _pool_pid != os.getpid():
                _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                           thread_name_prefix="erpcore-cpu",
                                           initializer=_lower_priority)
                _pool_pid = os.getpid()
    return _pool


def run(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` on a lower-priority thread; its result, or its exception."""
    return _executor().submit(function, *args).result()
