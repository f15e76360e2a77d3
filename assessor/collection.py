"""Collecting a scan's targets: each target's collector run, and what the scan stores of it.

Up to AHEAD targets are collected at once, each in a thread, and handed over in the order
given (``Collection.result``). A collection runs either in this process, or in a child
process (``start(..., child=True)``, what ``assessor scan`` does), which:

- keeps the reading of targets, which are hostile input, apart from the process that holds
  the store: a crash, a runaway memory use or a signal ends the child, and the targets it had
  not handed over are recorded as failed with the reason;
- runs on another core while this process loads the catalog and opens the store.

The child is forked before any thread or database exists here, and hands each target over as
one JSON frame: the evidence documents (already redacted: nothing leaves the child unswept),
the error, the collector's identity, warnings, kinds and failure evidence. Each document is
rebuilt here with its hash unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from assessor.collectors import collector_for
from assessor.collectors.base import in_daemon_thread
from assessor.errors import AssessorError, CollectorError, TargetUnreachableError
from assessor.evidence import Evidence
from assessor.targets import Target

if TYPE_CHECKING:
    from assessor.collectors.base import Collector
    from assessor.collectors.options import CollectOptions

AHEAD = 4  # targets collected at once
Progress = Callable[[str], None]
READING, COLLECTED, FAILED, UNREACHABLE = "reading", "collected", "failed", "unreachable"
_FRAME = struct.Struct(">Q")  # the length of the JSON document that follows


@dataclass
class Collected:
    """One target as collected: its evidence, or the error it stopped on and the evidence of
    that failure; the collector's identity of the target, warnings and evidence kinds."""

    evidence: list[Evidence]
    error: CollectorError | None
    identity: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    kinds: frozenset[str] = frozenset()
    failure: list[Evidence] = field(default_factory=list)


def as_collector_error(target: Target, exc: Exception) -> CollectorError:
    """What a collector raised, as the one-line error of its target.

    The collector's own errors (CollectorError, TargetUnreachableError) pass as they are. Any
    other exception is a defect of assessor met on this target's content: the target is
    recorded as failed with the exception's type and first line (escaped, shortened), and the
    scan goes on with the next target; ``ASSESSOR_DEBUG=1`` re-raises it with its traceback.
    """
    if isinstance(exc, CollectorError):
        return exc
    if os.environ.get("ASSESSOR_DEBUG"):
        raise exc
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    if len(text) > 200:
        text = text[:200] + "..."
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return CollectorError(
        f"{target}: collection failed on an internal error ({detail}); the other targets "
        "went on (ASSESSOR_DEBUG=1 shows the traceback; please report it)"
    )


def collect(target: Target, collector: Collector, say: Progress) -> Collected:
    """What ``collector`` yields for ``target``, and the error it stopped on, if any."""
    say(f"collecting {target}")
    evidence: list[Evidence] = []
    error: CollectorError | None = None
    try:
        for ev in collector.collect(target):
            evidence.append(ev)
            if ev.kind in ("container", "image"):
                say(f"collecting {target}: {ev.kind} {ev.resource}")
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a collector's defect must not lose the scan
        error = as_collector_error(target, exc)
    if error is not None:
        return Collected(evidence, error, failure=collector.failure_evidence(target, error.message))
    return Collected(evidence, None, collector.identity(), collector.warnings(), collector.kinds)


@dataclass(frozen=True)
class TargetEvent:
    """Target ``index`` began to be read (READING), or ended: COLLECTED, FAILED or
    UNREACHABLE (with its one-line ``error``), ``seconds`` after it began. Told as it
    happens, whatever the order targets are handed over in (per-host progress)."""

    index: int
    state: str
    seconds: float = 0.0
    error: str = ""


Watch = Callable[[TargetEvent], None]


def _ended(i: int, c: Collected, seconds: float) -> TargetEvent:
    if c.error is None:
        return TargetEvent(i, COLLECTED, seconds)
    state = UNREACHABLE if isinstance(c.error, TargetUnreachableError) else FAILED
    return TargetEvent(i, state, seconds, c.error.message)


def _unwatched(_event: TargetEvent) -> None:
    pass


@dataclass(frozen=True)
class Pace:
    """How a scan collects: ``jobs`` targets at once (``--jobs``), and how long one target
    may take from its start (``--target-timeout``; None: as long as it takes)."""

    jobs: int = AHEAD
    deadline: float | None = None


class Collection(ABC):
    """The targets of one scan being collected at ``pace``; each handed over by ``result``
    in the order given, progress told to ``say``, each target's start and end to ``watch``."""

    def __init__(
        self, targets: Sequence[Target], say: Progress, pace: Pace | None, watch: Watch | None
    ) -> None:
        self.targets = list(targets)
        self.say = say
        self.pace = pace or Pace()
        self.watch = watch or _unwatched

    @abstractmethod
    def ready(self) -> None:
        """Every collector is loaded (raises the one-line error of one that is not)."""

    @abstractmethod
    def result(self, i: int) -> Collected:
        """Target ``i`` collected (waits for it)."""

    @abstractmethod
    def close(self) -> None:
        """Stop collecting."""


class ThreadCollection(Collection):
    """The targets of one scan, collected in threads of this process, ``pace.jobs`` at once.

    A target that is not collected ``pace.deadline`` seconds after it started is given up:
    its result is a TargetUnreachableError naming the bound, its slot goes to the next
    target, and its thread is left to end with the process."""

    def __init__(
        self,
        targets: Sequence[Target],
        options: CollectOptions | None,
        say: Progress,
        pace: Pace | None = None,
        watch: Watch | None = None,
    ) -> None:
        super().__init__(targets, say, pace, watch)
        # every collector loaded before anything is stored: a plugin that does not load
        # stops the scan with its one line
        self._collectors = [collector_for(t, options) for t in self.targets]
        self._futures: dict[int, Future[Collected]] = {}
        self._began = {i: threading.Event() for i in range(len(self.targets))}
        self._started: dict[int, float] = {}
        self._abandoned: set[int] = set()
        self._ended: set[int] = set()  # told as ended (before their future is done)
        self._lock = threading.Lock()
        self._next = 0
        for _ in range(max(1, self.pace.jobs)):
            self._start_next()

    def _start_next(self) -> None:
        with self._lock:
            i = self._next
            if i >= len(self.targets):
                return
            self._next += 1
            self._started[i] = time.monotonic()
            # told before its thread starts: a target that ends at once (a root that is not
            # there) was told ended before it was told READING (its thread ran first)
            self.watch(TargetEvent(i, READING))
            future = in_daemon_thread(self._collect, i, name=f"collect-{i}")
            self._futures[i] = future
        self._began[i].set()
        future.add_done_callback(functools.partial(self._done, i))

    def _collect(self, i: int) -> Collected:
        """Target ``i`` collected, and told as ended before anyone can take its result (so
        its end is never lost to a process that ends once it has every result)."""
        collected = collect(self.targets[i], self._collectors[i], self._progress)
        with self._lock:
            if i not in self._abandoned:  # given up: told so already
                self._ended.add(i)
                self.watch(_ended(i, collected, time.monotonic() - self._started[i]))
        return collected

    def _done(self, i: int, _future: Future[Collected]) -> None:
        with self._lock:
            if i in self._abandoned:  # its slot went to another target already
                return
        self._start_next()

    def _progress(self, message: str) -> None:
        self.say(message)

    def ready(self) -> None:
        """Every collector is loaded (raises the one-line error of one that is not)."""

    def result(self, i: int) -> Collected:
        """Target ``i`` collected (waits for it, up to its deadline)."""
        self._began[i].wait()
        future = self._futures[i]
        if self.pace.deadline is None:
            return future.result()
        left = self._started[i] + self.pace.deadline - time.monotonic()
        try:
            return future.result(timeout=max(left, 0))
        except TimeoutError:
            with self._lock:
                late = i in self._ended  # it ended just now: its slot is handed on already
                if not late:
                    self._abandoned.add(i)
            if late:
                return future.result()
            self._start_next()
            lost = TargetUnreachableError(
                f"{self.targets[i]}: not collected within {self.pace.deadline:g} s "
                "(--target-timeout); the other targets went on"
            )
            given_up = Collected([], lost)
            self.watch(_ended(i, given_up, time.monotonic() - self._started[i]))
            return given_up

    def close(self) -> None:
        """Stop collecting (threads still reading end with the process)."""


class ChildCollection(Collection):
    """The targets of one scan, collected in a child process (see the module's doc) at the
    same pace, and handed over in order."""

    def __init__(
        self,
        targets: Sequence[Target],
        options: CollectOptions | None,
        say: Progress,
        pace: Pace | None = None,
        watch: Watch | None = None,
    ) -> None:
        super().__init__(targets, say, pace, watch)
        self._started = time.monotonic()
        self._futures: dict[int, Future[Collected]] = {i: Future() for i in range(len(targets))}
        self._ready: Future[None] = Future()
        self._lock = threading.Lock()
        self._ended: str | None = None  # how the child ended, once reaped
        self._crash: str | None = None  # the defect it ended on, if it said
        read, write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child: collect, hand over, and end without cleanup
            os.close(read)
            _child(self.targets, options, self.pace, os.fdopen(write, "wb"))
        os.close(write)
        self._reader = in_daemon_thread(self._read, os.fdopen(read, "rb"), name="collected")

    def ready(self) -> None:
        self._ready.result()

    def result(self, i: int) -> Collected:
        return self._futures[i].result()

    def close(self) -> None:
        """End the child if it still runs, and reap it."""
        self._reap(kill=True)

    def _reap(self, *, kill: bool) -> str:
        """How the child ended (killed first when ``kill``); reaped once, so a pid the
        system gave to another process since is never signalled."""
        with self._lock:
            if self._ended is None:
                if kill:
                    os.kill(self._pid, signal.SIGKILL)
                _, status = os.waitpid(self._pid, 0)
                self._ended = _status(status)
            return self._ended

    def _read(self, pipe: IO[bytes]) -> None:
        problem = None
        try:
            with pipe:
                while (frame := _read_frame(pipe)) is not None:
                    self._receive(frame)
        except Exception as e:  # any: the targets not handed over are named
            problem = f"its output could not be read ({type(e).__name__}: {e})"
        ended = self._reap(kill=problem is not None)
        if problem is None and self._crash is not None:
            problem = f"failed on an internal error ({self._crash}; please report it)"
        reason = f"the collecting process {problem or f'ended ({ended})'}"
        if not self._ready.done():
            self._ready.set_exception(AssessorError(reason))
        for i, future in self._futures.items():
            if not future.done():
                lost = CollectorError(
                    f"{self.targets[i]}: collection ended before this target was read: {reason}"
                )
                future.set_result(Collected([], lost))
                self.watch(_ended(i, Collected([], lost), time.monotonic() - self._started))

    def _receive(self, frame: dict[str, Any]) -> None:
        what = frame.get("t")
        if what == "say":
            self.say(str(frame["m"]))
        elif what == "event":
            said = TargetEvent(int(frame["i"]), str(frame["s"]), float(frame["d"]), str(frame["e"]))
            self.watch(said)
        elif what == "ready":
            self._ready.set_result(None)
        elif what == "fatal":
            error = AssessorError(str(frame["message"]), hint=frame.get("hint"))
            error.exit_code = int(frame["exit_code"])
            self._ready.set_exception(error)
        elif what == "target":
            self._futures[int(frame["i"])].set_result(from_frame(frame))
        elif what == "crash":  # a defect of assessor in the child, which ends now
            self._crash = str(frame["message"]).encode("unicode_escape").decode("ascii")


def start(
    targets: Sequence[Target],
    options: CollectOptions | None = None,
    say: Progress | None = None,
    *,
    child: bool = False,
    pace: Pace | None = None,
    watch: Watch | None = None,
) -> Collection:
    """Start collecting ``targets`` at ``pace``; in a child process when ``child`` (and
    ASSESSOR_DEBUG is not set: then a collector's defect shows its traceback here); each
    target's start and end told to ``watch``, in this process."""
    progress = say or (lambda _msg: None)
    if child and not os.environ.get("ASSESSOR_DEBUG") and targets:
        return ChildCollection(targets, options, progress, pace, watch)
    return ThreadCollection(targets, options, progress, pace, watch)


# --- the child ------------------------------------------------------------------------------


def _child(
    targets: list[Target], options: CollectOptions | None, pace: Pace, pipe: IO[bytes]
) -> None:
    """Collect ``targets`` and write each as a frame to ``pipe``; never returns."""
    code = 0
    lock = threading.Lock()

    def send(frame: dict[str, Any]) -> None:
        body = json.dumps(frame, separators=(",", ":")).encode()
        with lock:
            pipe.write(_FRAME.pack(len(body)) + body)
            pipe.flush()

    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child at once
        try:
            collection = ThreadCollection(
                targets,
                options,
                functools.partial(_say, send),
                pace,
                functools.partial(_event, send),
            )
        except AssessorError as e:
            send({"t": "fatal", "message": e.message, "hint": e.hint, "exit_code": e.exit_code})
            return
        send({"t": "ready"})
        for i in range(len(targets)):
            send({"t": "target", "i": i, **to_frame(collection.result(i))})
    except BrokenPipeError:  # the scan ended first
        code = 0
    except BaseException as e:  # a defect here ends the child; the parent names what is lost
        code = 70
        with contextlib.suppress(BaseException):
            send({"t": "crash", "message": _one_line(e)})
    finally:
        with contextlib.suppress(OSError):
            pipe.close()
        os._exit(code)  # no cleanup of what the parent owns (its buffers, its atexit)


def _say(send: Callable[[dict[str, Any]], None], message: str) -> None:
    send({"t": "say", "m": message})


def _event(send: Callable[[dict[str, Any]], None], e: TargetEvent) -> None:
    send({"t": "event", "i": e.index, "s": e.state, "d": e.seconds, "e": e.error})


def _one_line(e: BaseException) -> str:
    text = str(e).splitlines()[0][:200] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def to_frame(c: Collected) -> dict[str, Any]:
    """A collected target as the JSON document that carries it out of the child (and into an
    evidence bundle, assessor.bundle): ``from_frame`` rebuilds it, each evidence document
    with its hash unchanged."""
    error = None
    if c.error is not None:
        unreachable = isinstance(c.error, TargetUnreachableError)
        error = {"message": c.error.message, "unreachable": unreachable}
    return {
        "evidence": [_document(ev) for ev in c.evidence],
        "stopped": error,  # the error the collector stopped on
        "identity": c.identity,
        "warnings": c.warnings,
        "kinds": sorted(c.kinds),
        "failure": [_document(ev) for ev in c.failure],
    }


def _document(ev: Evidence) -> dict[str, Any]:
    return {**ev.document(), "collected_at": ev.collected_at.isoformat()}


# --- the parent -----------------------------------------------------------------------------


def _read_frame(pipe: IO[bytes]) -> dict[str, Any] | None:
    head = pipe.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    body = pipe.read(size)
    if len(body) < size:
        return None
    frame = json.loads(body)
    return frame if isinstance(frame, dict) else None


def from_frame(frame: dict[str, Any]) -> Collected:
    """The collected target a ``to_frame`` document carries (KeyError, TypeError or
    ValueError when it is not one)."""
    error: CollectorError | None = None
    stopped = frame["stopped"]
    if stopped is not None:
        kind = TargetUnreachableError if stopped["unreachable"] else CollectorError
        error = kind(str(stopped["message"]))
    return Collected(
        [_evidence(d) for d in frame["evidence"]],
        error,
        dict(frame["identity"]),
        [str(w) for w in frame["warnings"]],
        frozenset(str(k) for k in frame["kinds"]),
        [_evidence(d) for d in frame["failure"]],
    )


def _evidence(doc: dict[str, Any]) -> Evidence:
    """The child's document, as the child made it (swept there: not swept again)."""
    return Evidence.from_document(doc, datetime.fromisoformat(doc["collected_at"]))


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"killed by signal {number} ({signal.Signals(number).name})"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
