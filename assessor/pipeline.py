"""One scan: for each target, collect, evaluate, and store, one transaction per target.

The assessment row is written first (incomplete); each target lands whole or not at all;
the assessment is marked complete only when every target was collected. Targets are
collected a few at once (``assessor.collection``: in a child process for ``assessor
scan``), and evaluated and stored in the order given.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from assessor import collection as collecting
from assessor import readmodel
from assessor.audit.periods import check_period, check_system, current_period
from assessor.audit.waivers import import_waivers, read_waivers_file
from assessor.catalog import Catalog, load_catalog
from assessor.collection import Collected, Collection
from assessor.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    AssessorError,
    TargetUnreachableError,
)
from assessor.evaluate import evaluate
from assessor.evaluate.engine import load_plugin_functions
from assessor.evidence import Evidence
from assessor.export import render, tabular
from assessor.results import Result
from assessor.store import Store, open_store, queries
from assessor.targets import Target
from assessor.vocab import (
    FAILING_STATUSES,
    AssessmentStatus,
    BundleNote,
    Severity,
    TargetStatus,
    at_or_above,
)

if TYPE_CHECKING:
    from assessor.bundle import Bundle, BundleError, BundleLimits
    from assessor.collectors.options import CollectOptions
    from assessor.readmodel import AssessmentView
    from assessor.store.models import Assessment
    from assessor.store.models import Target as StoredTarget


@dataclass
class TargetOutcome:
    target: Target
    status: TargetStatus
    error: str | None = None
    evidence: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class ScanSummary:
    assessment_id: int
    status: AssessmentStatus
    results: list[Result] = field(default_factory=list)
    targets: list[TargetOutcome] = field(default_factory=list)

    @property
    def unreachable(self) -> list[TargetOutcome]:
        return [t for t in self.targets if t.status != TargetStatus.COLLECTED]


Progress = Callable[[str], None]


def run_scan(
    store: Store,
    catalog: Catalog,
    targets: Sequence[Target],
    period: str,
    progress: Progress | None = None,
    options: CollectOptions | None = None,
    system: str | None = None,
    collection: Collection | None = None,
) -> ScanSummary:
    """Scan ``targets`` into a new assessment: collected by ``collection`` when the caller
    started one (``assessor scan`` does, in a child process, before loading the catalog),
    else here, a few at once; evaluated and stored in the order given."""
    say = progress or (lambda _msg: None)
    if collection is None:
        collection = collecting.start(targets, options, say)
    else:
        collection.say = say
    try:
        # every collector and every plugin's evaluation function loaded before anything is
        # stored: a plugin that does not load stops the scan with its one line, leaving no
        # assessment
        collection.ready()
        load_plugin_functions(catalog)
        assessment_id = queries.create_assessment(
            store, period, [str(t) for t in targets], catalog.digest, system=system
        )
        summary = ScanSummary(assessment_id, AssessmentStatus.INCOMPLETE)
        for i, target in enumerate(targets):
            _scan_target(store, catalog, assessment_id, target, collection.result(i), say, summary)
    finally:
        collection.close()
    summary.status = (
        AssessmentStatus.INCOMPLETE if summary.unreachable else AssessmentStatus.COMPLETE
    )
    note = "; ".join(f"{t.target}: {t.error}" for t in summary.unreachable) or None
    queries.finish_assessment(store, assessment_id, summary.status, note)
    return summary


def _scan_target(
    store: Store,
    catalog: Catalog,
    assessment_id: int,
    target: Target,
    collected: Collected,
    say: Progress,
    summary: ScanSummary,
) -> None:
    """Evaluate and store one collected target (whole or not at all); a target that failed
    is stored with its error and the evidence of the failure, and the scan goes on."""
    if collected.error is None:
        say(f"evaluating {target}")
    outcome, t = _judge(catalog, target, collected)
    queries.record_target(
        store,
        assessment_id,
        t.uri,
        t.kind,
        status=t.status,
        identity=t.identity,
        error=t.error,
        evidence=t.evidence,
        results=t.results,
    )
    summary.results.extend(t.results)
    summary.targets.append(outcome)


def _judge(
    catalog: Catalog, target: Target, collected: Collected
) -> tuple[TargetOutcome, queries.TargetRecord]:
    """One collected target judged: what became of it, and what to store of it. A target that
    could not be collected keeps its error, and the rules judge the evidence of the failure
    the collector gives (if any)."""
    e = collected.error
    if e is None:
        evidence = collected.evidence
        results = evaluate(catalog, evidence, {str(target): collected.kinds})
        outcome = TargetOutcome(
            target, TargetStatus.COLLECTED, evidence=len(evidence), warnings=collected.warnings
        )
        record = queries.TargetRecord(
            str(target),
            str(target.kind),
            TargetStatus.COLLECTED,
            collected.identity,
            None,
            evidence,
            results,
        )
        return outcome, record
    status = (
        TargetStatus.UNREACHABLE if isinstance(e, TargetUnreachableError) else TargetStatus.ERROR
    )
    failed = collected.failure
    kinds = {str(target): frozenset(ev.kind for ev in failed)}
    results = evaluate(catalog, failed, kinds) if failed else []
    record = queries.TargetRecord(
        str(target), str(target.kind), status, {}, e.message, failed, results
    )
    return TargetOutcome(target, status, e.message), record


# --- assessor scan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanRequest:
    """What ``assessor scan`` was asked: the targets (parsed), the period and system (checked),
    how to collect, a waivers file to store first, the controls folders and the database."""

    targets: Sequence[Target]
    period: str
    system: str | None = None
    options: CollectOptions | None = None
    waivers_file: Path | None = None
    controls: Sequence[Path] = ()
    db: str | None = None
    # what to give besides the read model: "json", the JSON document of ``assessor results``;
    # an export format, its bytes (scan --format sarif|junit); None, nothing
    output: str | None = None


@dataclass
class ScanRun:
    """A stored scan: its summary, its read model, and the output asked for (the JSON
    document, or an export's bytes)."""

    summary: ScanSummary
    view: AssessmentView
    document: dict[str, Any] | None = None
    body: bytes | None = None

    @property
    def warnings(self) -> list[str]:
        return [w for t in self.summary.targets for w in t.warnings]

    def exit_code(self, fail_on: Severity | None) -> int:
        """3 when a target could not be reached, 2 when one was reached but its content is
        invalid or hostile, 1 when a fail or error result is at least ``fail_on``, else 0."""
        failed = self.summary.unreachable
        if any(t.status == TargetStatus.UNREACHABLE for t in failed):
            return EXIT_UNREACHABLE
        if failed:
            return EXIT_USAGE
        if fail_on is not None and any(
            r.status in FAILING_STATUSES and at_or_above(r.severity, fail_on)
            for r in self.view.results
        ):
            return EXIT_FINDINGS
        return EXIT_OK


def scan(
    request: ScanRequest,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    collection: Collection | None = None,
) -> ScanRun:
    """``assessor scan``: store the waivers file (read before anything is stored: a
    malformed one stops the scan), scan the targets into a new assessment (collected by
    ``collection`` when the caller started one), and read it back."""
    say = warn or (lambda _msg: None)
    try:
        catalog = load_catalog(list(request.controls))
        today = datetime.now(UTC).date()
        file_waivers = None
        if request.waivers_file is not None:
            file_waivers = read_waivers_file(request.waivers_file, catalog, today)
        store = open_store(request.db)
    except BaseException:
        if collection is not None:
            collection.close()
        raise
    try:
        if file_waivers is not None:
            with store.session() as s:
                outcome = import_waivers(s, file_waivers, today)
                s.commit()
            for warning in outcome.warnings:
                say(warning)
        summary = run_scan(
            store,
            catalog,
            request.targets,
            request.period,
            progress,
            request.options,
            request.system,
            collection,
        )
        view = readmodel.load(store, catalog, str(summary.assessment_id))
        return _output(ScanRun(summary, view), request.output)
    finally:
        store.close()


def _output(run: ScanRun, fmt: str | None) -> ScanRun:
    """``run`` with the output asked for, made while the store is open (it reads evidence)."""
    if fmt == "json":
        run.document = tabular.document(run.view)
    elif fmt is not None:
        run.body = render(fmt, run.view)
    return run


@dataclass
class EvaluateSummary:
    assessment_id: int
    source_id: int
    status: AssessmentStatus
    results: list[Result] = field(default_factory=list)
    evidence: int = 0


def evaluate_stored(
    store: Store,
    catalog: Catalog,
    source_id: int,
    period: str | None = None,
    progress: Progress | None = None,
) -> EvaluateSummary:
    """Re-run ``catalog`` on a stored assessment's evidence into a new assessment.

    The source is only read, never written (a finalised one stays frozen). Each stored body is
    rebuilt into an Evidence whose hash must equal its key; the new assessment keeps the
    source's scope and system, and its period unless ``period`` is given. Targets that were
    unreachable stay unreachable (their failure evidence, if any, is judged again).
    """
    say = progress or (lambda _msg: None)
    source = queries.get_assessment(store, str(source_id))
    targets = queries.get_targets(store, source.id)
    loaded = _stored_evidence(store, catalog, source, targets)
    new_period = check_period(period) if period else source.period
    assessment_id = queries.create_assessment(
        store, new_period, list(source.scope), catalog.digest, system=source.system
    )
    summary = EvaluateSummary(assessment_id, source.id, AssessmentStatus.INCOMPLETE)
    for t, (_tid, evidence, kinds) in zip(targets, loaded, strict=True):
        say(f"evaluating {t.uri}")
        results = evaluate(catalog, evidence, {t.uri: kinds}) if kinds else []
        queries.record_target(
            store,
            assessment_id,
            t.uri,
            t.kind,
            status=t.status,
            identity=dict(t.identity),
            error=t.error,
            evidence=evidence,
            results=results,
        )
        summary.results.extend(results)
        summary.evidence += len(evidence)
    complete = source.status == AssessmentStatus.COMPLETE and all(
        t.status == TargetStatus.COLLECTED for t in targets
    )
    summary.status = AssessmentStatus.COMPLETE if complete else AssessmentStatus.INCOMPLETE
    notes = [f"re-evaluated from assessment {source.id} with catalog {catalog.digest}"]
    notes += [
        f"{t.uri}: {t.error}" for t in targets if t.status != TargetStatus.COLLECTED and t.error
    ]
    queries.finish_assessment(store, assessment_id, summary.status, "; ".join(notes))
    return summary


def _stored_evidence(
    store: Store, catalog: Catalog, source: Assessment, targets: Sequence[StoredTarget]
) -> list[tuple[int, list[Evidence], set[str]]]:
    """Each stored target's evidence, rebuilt and checked against its hash, and the kinds of
    its scope: (target id, evidence, kinds)."""
    rules_seen = queries.result_rules_by_target(store, source.id)
    loaded: list[tuple[int, list[Evidence], set[str]]] = []
    for t in targets:
        evidence: list[Evidence] = []
        for h, at, doc in queries.stored_evidence(store, t.id):
            if doc is None:
                raise AssessorError(
                    f"assessment {source.id}: evidence {h[:16]} of {t.uri} is missing from "
                    "the store"
                )
            try:
                ev = Evidence.from_document(doc, at)
            except (KeyError, TypeError, ValueError) as e:
                raise AssessorError(
                    f"assessment {source.id}: evidence {h[:16]} of {t.uri} is not an evidence "
                    f"document: {type(e).__name__}: {e}"
                ) from e
            if ev.sha256 != h:
                raise AssessorError(
                    f"assessment {source.id}: evidence {h[:16]} of {t.uri} was changed: it "
                    f"rebuilds to {ev.sha256[:16]}",
                    hint="'assessor history verify' checks finalised assessments",
                )
            evidence.append(ev)
        # the scope as the collector declared it: the kinds it produced evidence of, and the
        # kinds of the rules that judged this target (a kind with no resource still gets its
        # "not applicable: no container found" results)
        kinds = {ev.kind for ev in evidence}
        kinds |= {
            catalog.rules[r].target.value for r in rules_seen.get(t.id, ()) if r in catalog.rules
        }
        loaded.append((t.id, evidence, kinds))
    return loaded


# --- assessor ingest --------------------------------------------------------------------------


@dataclass
class IngestOutcome:
    """One bundle ingested: the assessment it is stored as, and whether this run stored it
    (False: it was stored already, and nothing was added)."""

    bundle: Bundle
    assessment_id: int
    stored: bool
    status: AssessmentStatus
    targets: list[TargetOutcome] = field(default_factory=list)
    results: int = 0


@dataclass
class Judged:
    """A verified bundle judged, ready to store: what became of each target, and the rows."""

    bundle: Bundle
    record: queries.IngestRecord
    outcomes: list[TargetOutcome]
    targets: list[queries.TargetRecord]


def judge_bundle(
    catalog: Catalog, bundle: Bundle, *, period: str | None = None, system: str | None = None
) -> Judged:
    """A verified bundle evaluated with ``catalog`` (pure: nothing stored): the assessment it
    makes, started and finished when it was collected, its scanner host the machine that
    collected it, its period ``period`` (default: the quarter it was collected in)."""
    judged = [_judge(catalog, t, c) for t, c in bundle.targets]
    outcomes = [o for o, _ in judged]
    failed = [o for o in outcomes if o.status != TargetStatus.COLLECTED]
    record = queries.IngestRecord(
        digest=bundle.digest,
        hostname=bundle.hostname,
        signer=bundle.signer,
        started=bundle.collected_at,
        finished=bundle.finished_at,
        period=period or current_period(bundle.collected_at.astimezone(UTC)),
        system=system,
        scope=[str(t) for t, _ in bundle.targets],
        catalog_digest=catalog.digest,
        status=AssessmentStatus.INCOMPLETE if failed else AssessmentStatus.COMPLETE,
        note=bundle_note(bundle, failed),
    )
    return Judged(bundle, record, outcomes, [r for _, r in judged])


def store_judged(store: Store, judged: Judged) -> IngestOutcome:
    """Store a judged bundle as one assessment, whole or not at all; a bundle stored already
    (by its manifest's digest, even by another process at this moment) adds nothing."""
    assessment_id, stored = queries.record_ingested(store, judged.record, judged.targets)
    results = sum(len(t.results) for t in judged.targets)
    status = judged.record.status
    return IngestOutcome(judged.bundle, assessment_id, stored, status, judged.outcomes, results)


def ingest_bundle(
    store: Store,
    catalog: Catalog,
    bundle: Bundle,
    *,
    period: str | None = None,
    system: str | None = None,
) -> IngestOutcome:
    """Evaluate a verified bundle with ``catalog`` and store it as one assessment
    (``judge_bundle``, then ``store_judged``); a bundle stored already is not evaluated again
    and adds nothing."""
    known = queries.ingested_assessment(store, bundle.digest)
    if known is not None:
        return IngestOutcome(bundle, known, False, AssessmentStatus.COMPLETE)
    return store_judged(store, judge_bundle(catalog, bundle, period=period, system=system))


def bundle_note(bundle: Bundle, failed: Sequence[TargetOutcome] = ()) -> str:
    """The stored assessment's note: which bundle it came from, collected where and signed by
    whom (an unsigned one says so first), then each target that was not collected."""
    origin = (
        f"{BundleNote.SIGNED} {bundle.digest[:16]} signed by {bundle.signer}"
        if bundle.signer is not None
        else f"{BundleNote.UNSIGNED} {bundle.digest[:16]} (ingested with --allow-unsigned: who "
        "collected it is not proven)"
    )
    notes = [f"{origin}, collected on {bundle.hostname} by assessor {bundle.tool_version}"]
    notes += [f"{t.target}: {t.error}" for t in failed]
    return "; ".join(notes)


@dataclass(frozen=True)
class IngestRequest:
    """What ``assessor ingest`` was asked: the bundle files, whose signatures to trust
    (``trust``: certificate files; none: the key directory's), whether an unsigned bundle may
    be stored, the period and system (checked), the bounds, controls and database, and how
    many bundles are read, verified and judged at once (``jobs``, in processes of their own;
    the store is written by this one)."""

    bundles: Sequence[Path]
    trust: Sequence[Path] = ()
    allow_unsigned: bool = False
    period: str | None = None
    system: str | None = None
    limits: BundleLimits | None = None
    controls: Sequence[Path] = ()
    db: str | None = None
    jobs: int = 1


Told = Callable[["IngestOutcome | BundleError"], None]


def ingest(request: IngestRequest, told: Told) -> list[IngestOutcome | BundleError]:
    """``assessor ingest``: each bundle read and verified, then evaluated and stored, in the
    order given; a bundle refused (its BundleError) stores nothing, and the others go on.
    ``told`` hears of each bundle as it is done."""
    # bundles only here: a scan loads no signature checking (cryptography, 50 ms)
    from assessor.sign.verify import load_anchors

    global _PREPARING
    catalog = load_catalog(list(request.controls))
    load_plugin_functions(catalog)
    store = open_store(request.db)
    try:
        known = queries.ingested_digests(store)
    finally:
        store.close()  # no connection open when the workers are forked
    _PREPARING = _Preparing(catalog, load_anchors(list(request.trust) or None), request, known)
    done: list[IngestOutcome | BundleError] = []
    with _prepared(request) as prepared:
        store = open_store(request.db)
        try:
            for item in prepared:
                outcome = store_judged(store, item) if isinstance(item, Judged) else item
                told(outcome)
                done.append(outcome)
        finally:
            store.close()
    return done


@dataclass(frozen=True)
class _Preparing:
    """What each bundle is read and judged with, and the bundles stored already (manifest
    digest -> assessment), set before the worker processes are forked."""

    catalog: Catalog
    anchors: list[Any]
    request: IngestRequest
    known: dict[str, int]


_PREPARING: _Preparing | None = None
Prepared: TypeAlias = "Judged | IngestOutcome | BundleError"


def _prepare(path: Path) -> Prepared:
    """One bundle read and verified, then judged unless it is stored already (in a worker
    process with ``jobs`` > 1)."""
    from assessor.bundle import BundleError, read_bundle

    assert _PREPARING is not None
    p, request = _PREPARING, _PREPARING.request
    try:
        bundle = read_bundle(
            path, anchors=p.anchors, allow_unsigned=request.allow_unsigned, limits=request.limits
        )
    except BundleError as e:
        return e
    stored = p.known.get(bundle.digest)
    if stored is not None:
        bundle.targets = []
        return IngestOutcome(bundle, stored, False, AssessmentStatus.COMPLETE)
    judged = judge_bundle(p.catalog, bundle, period=request.period, system=request.system)
    judged.bundle.targets = []  # what was collected travels in the rows now
    return judged


@contextmanager
def _prepared(request: IngestRequest) -> Iterator[Iterator[Prepared]]:
    """Each bundle prepared (``_prepare``), in the order given: here one at a time, or in
    ``jobs`` forked processes, at most 2 x jobs bundles ahead of the one being stored."""
    if request.jobs <= 1 or len(request.bundles) <= 1:
        yield (_prepare(p) for p in request.bundles)
        return
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(request.jobs, mp_context=fork) as pool:
        paths = iter(request.bundles)
        # the first window submitted now: the workers are forked before the store is opened
        ahead: deque[Future[Prepared]] = deque(
            pool.submit(_prepare, path) for path in itertools.islice(paths, 2 * request.jobs)
        )

        def results() -> Iterator[Prepared]:
            while ahead:
                got = ahead.popleft().result()
                for path in itertools.islice(paths, 1):
                    ahead.append(pool.submit(_prepare, path))
                yield got

        try:
            yield results()
        finally:
            for future in ahead:
                future.cancel()


__all__ = [
    "EvaluateSummary",
    "IngestOutcome",
    "IngestRequest",
    "Judged",
    "ScanRequest",
    "ScanRun",
    "ScanSummary",
    "check_period",
    "check_system",
    "current_period",
    "evaluate_stored",
    "ingest",
    "ingest_bundle",
    "judge_bundle",
    "run_scan",
    "scan",
    "store_judged",
]
