"""The collector interface: observe one kind of target, yield evidence, never judge."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from assessor.evidence import Evidence
from assessor.targets import Target

if TYPE_CHECKING:
    from assessor.collectors.options import CollectOptions

T = TypeVar("T")


class Collector(ABC):
    """Reads one kind of target. Raises TargetUnreachableError when it cannot be reached."""

    # the evidence kinds this collector produces (rules of other kinds don't apply to it)
    kinds: frozenset[str]

    def __init__(self, options: CollectOptions | None = None) -> None:  # noqa: B027 - optional
        """``options``: what the user set for collection (CollectOptions); each collector
        reads what concerns it, and a new one is made for every target."""

    @abstractmethod
    def collect(self, target: Target) -> Iterator[Evidence]:
        """Yield evidence documents, already redacted."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What identifies the target (host id, engine id and version), after collect()."""

    def warnings(self) -> list[str]:
        """What the target held that could not be read, though the target was collected (an
        offline root's daemon.json past a bound, say): one line each, naming the target and
        the file, after collect(). The CLI prints them; none by default."""
        return []

    def failure_evidence(self, target: Target, message: str) -> list[Evidence]:
        """When collect() failed as a whole: evidence whose every rule reports ``error`` with
        the cause, so the failure shows among the results. None by default (the target is
        listed as unreachable)."""
        return []


def read_live(path: str, limit: int = 4 << 20) -> str | None:
    """A live machine file (/proc, /sys), at most ``limit`` characters; None if unreadable."""
    try:
        with open(path) as f:
            return f.read(limit)
    except OSError:
        return None


def in_daemon_thread(fn: Callable[..., T], *args: Any, name: str) -> Future[T]:
    """``fn(*args)`` in a thread of its own, its outcome in the future. The interpreter does
    not wait for the thread at exit: Ctrl-C (or an error) while it still reads a target ends
    the scan at once. (A ThreadPoolExecutor's threads are joined at exit.)"""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as e:  # handed to whoever waits on the future
            future.set_exception(e)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
