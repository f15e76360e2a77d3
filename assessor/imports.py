"""Import results of other tools into an assessment: an OpenSCAP evaluation (ARF).

Each XCCDF TestResult of the file becomes one target ``openscap:HOST/PROFILE`` (kind host)
with one ``xccdf-rule`` evidence document per evaluated rule, judged by the catalog's
``xccdf-rule`` rules (the evaluation stays pure: evidence and catalog in, results out, so
``assessor evaluate`` re-judges the stored evidence the same way). The target is written in
one transaction, like a scanned one.

Into which assessment: ``assessment`` when given; else, unless ``new``, the latest one of
``system`` (in ``period`` when given); else a new one, marked complete. A finalised
assessment is refused, and so is a second import of the same host and profile into one
assessment (whatever the file): results are never duplicated nor silently replaced.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assessor.audit.periods import check_period, check_system, current_period
from assessor.catalog import Catalog
from assessor.collectors.oscap_arf import KIND, Run, read_arf
from assessor.errors import AssessorError
from assessor.evaluate import evaluate
from assessor.evidence import Evidence
from assessor.results import Result
from assessor.store import Store, queries
from assessor.store.models import Assessment
from assessor.vocab import AssessmentStatus, TargetKind, TargetStatus


@dataclass
class ImportedRun:
    """One TestResult as stored: its target, OpenSCAP's counts and ours."""

    uri: str
    hostname: str
    profile: str
    counts: dict[str, int]  # by OpenSCAP result (pass, fail, notapplicable, ...)
    statuses: dict[str, int]  # by our status
    results: list[Result] = field(default_factory=list)


@dataclass
class ImportSummary:
    assessment_id: int
    period: str
    system: str | None
    created: bool  # a new assessment was made for the import
    source: str
    runs: list[ImportedRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _finalised(a: Assessment) -> AssessorError:
    return AssessorError(f"assessment {a.id} is finalised; import into a new one with --new")


def _choose(
    store: Store,
    ref: str | None,
    system: str | None,
    period: str | None,
    new: bool,
) -> Assessment | None:
    """The assessment to import into, or None for a new one."""
    if ref is not None and new:
        raise AssessorError("--assessment and --new exclude each other")
    if new:
        return None
    if ref is None:
        a = queries.latest_assessment(store, system, period)
    else:
        a = queries.get_assessment(store, ref)
        if period is not None and a.period != period:
            raise AssessorError(f"assessment {a.id} is of period {a.period}, not {period}")
        if system is not None and a.system != system:
            raise AssessorError(
                f"assessment {a.id} is of system {a.system or '(none)'}, not {system}"
            )
    if a is not None and a.finalised_at is not None:
        raise _finalised(a)
    return a


def _check_targets(store: Store, a: Assessment, runs: list[Run], name: str) -> list[str]:
    """Refuse a host and profile the assessment has results for; note a host it never
    scanned."""
    targets = queries.get_targets(store, a.id)
    by_uri = {t.uri: t for t in targets}
    for run in runs:
        old = by_uri.get(run.uri)
        if old is None:
            continue
        identity = old.identity or {}
        if identity.get("source_sha256") == run.sha256:
            raise AssessorError(
                f"{name} was imported into assessment {a.id} already (target {run.uri}); "
                "nothing to do"
            )
        raise AssessorError(
            f"assessment {a.id} has OpenSCAP results for {run.uri} already (from "
            f"{identity.get('source_file')}, sha256 {str(identity.get('source_sha256'))[:12]}); "
            "import into a new one with --new"
        )
    hosts = sorted(
        {
            str((t.identity or {}).get("hostname"))
            for t in targets
            if t.kind == TargetKind.HOST and not t.uri.startswith("openscap:")
        }
    )
    return [
        f"assessment {a.id} scanned host {', '.join(hosts)}, not {run.hostname!r}: check that "
        "this is the right file"
        for run in runs
        if hosts and run.hostname not in hosts
    ]


def import_oscap_arf(
    store: Store,
    catalog: Catalog,
    path: Path,
    *,
    system: str | None = None,
    assessment: str | None = None,
    new: bool = False,
    period: str | None = None,
) -> ImportSummary:
    """Store the OpenSCAP evaluation(s) in ``path`` (see the module doc)."""
    system = check_system(system)
    period = check_period(period) if period else None
    name = str(path)
    runs = _read_runs(path)
    rule_ids = [r.id for r in catalog.rules.values() if r.target.value == KIND]
    if not rule_ids:
        raise AssessorError(f"the catalog has no rule of target {KIND!r} to judge {name} with")
    judged: list[tuple[Run, list[Evidence], list[Result]]] = []
    for run in runs:
        evidence = run.evidence()
        judged.append((run, evidence, evaluate(catalog, evidence, {run.uri: {KIND}}, rule_ids)))
    chosen = _choose(store, assessment, system, period, new)
    created = chosen is None
    a, notes = _target_assessment(store, catalog, chosen, runs, name, system, period)
    summary = ImportSummary(a.id, a.period, a.system, created, name, notes=notes)
    for run, evidence, results in judged:
        if not created and queries.get_assessment(store, str(a.id)).finalised_at is not None:
            raise _finalised(a)
        queries.record_target(
            store,
            a.id,
            run.uri,
            "host",
            status=TargetStatus.COLLECTED,
            identity=run.identity(),
            evidence=evidence,
            results=results,
        )
        profile = run.profile.get("title") or run.profile.get("id") or "(default)"
        summary.runs.append(
            ImportedRun(
                run.uri,
                run.hostname,
                profile,
                run.counts,
                dict(Counter(r.status.value for r in results)),
                results,
            )
        )
    if not created:  # the assessment's scope names every target it holds
        queries.add_to_scope(store, a.id, [r.uri for r in summary.runs])
    if created:
        queries.finish_assessment(
            store,
            a.id,
            AssessmentStatus.COMPLETE,
            f"imported from OpenSCAP result {path.name} (sha256 {runs[0].sha256})",
        )
    return summary


def _read_runs(path: Path) -> list[Run]:
    """The ARF's evaluations: each evaluated a rule, and no two of the same host and profile."""
    name = str(path)
    runs = read_arf(path)
    for run in runs:
        if not run.results:
            raise AssessorError(
                f"{name}: TestResult {run.test_result!r} evaluated no rule (every rule-result "
                "is notselected)"
            )
    uris = Counter(run.uri for run in runs)
    twice = sorted(u for u, n in uris.items() if n > 1)
    if twice:
        raise AssessorError(f"{name}: several TestResults of the same host and profile: {twice[0]}")
    return runs


def _target_assessment(
    store: Store,
    catalog: Catalog,
    chosen: Assessment | None,
    runs: list[Run],
    name: str,
    system: str | None,
    period: str | None,
) -> tuple[Assessment, list[str]]:
    """The assessment the runs go into (a new one when none was chosen), and notes on how an
    existing one differs."""
    if chosen is None:
        assessment_id = queries.create_assessment(
            store,
            period or current_period(),
            [run.uri for run in runs],
            catalog.digest,
            system=system,
        )
        return queries.get_assessment(store, str(assessment_id)), []
    notes = _check_targets(store, chosen, runs, name)
    if chosen.catalog_digest != catalog.digest:
        notes.append(
            f"assessment {chosen.id} was judged with catalog {chosen.catalog_digest}; the "
            f"imported results with {catalog.digest}"
        )
    return chosen, notes


__all__ = ["ImportSummary", "ImportedRun", "import_oscap_arf"]
