"""The status and severity vocabularies are closed: only ``assessor/vocab.py`` spells them.

Every module under ``assessor/`` is parsed; a string constant equal to a ``Status`` or
``Severity`` value anywhere else fails this test, so code names the member
(``Status.FAIL``), and a new status or a new ordering can only be added in one place.

Other formats and programs have words of their own that happen to be ours too (SARIF's
result kind ``"pass"``, XCCDF's rule result ``"error"``, dockerd's log level ``"info"``).
Those are named constants in their module, each listed in ``FOREIGN`` with whose words
they are; only the named constant's value may hold such a word, and where it maps between
the two vocabularies only on their side (``{Status.PASS: "pass"}``, ``{"pass": Status.PASS}``).

Found on the tree before the vocabulary (6e1f6d1): 431 such strings in 35 modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessor.vocab import Severity, Status

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "assessor"
VOCAB = PACKAGE / "vocab.py"
WORDS = frozenset(s.value for s in Status) | frozenset(s.value for s in Severity)

# Where a FOREIGN constant's words may stand: as the keys of its mappings (their word ->
# our member), as anything but those keys (our member -> their word), or anywhere (a
# constant that is their word, or a tuple of their words).
KEYS, VALUES, ANYWHERE = "keys", "values", "anywhere"

# module (relative to the checkout) -> named constant -> (where its words stand, whose they are)
FOREIGN: dict[str, dict[str, tuple[str, str]]] = {
    "assessor/export/sarif.py": {
        "LEVELS": (VALUES, "SARIF result levels (error, warning, note)"),
        "KINDS": (VALUES, "SARIF result kinds (pass, fail, open, review, notApplicable)"),
        "NOTIFICATION_LEVEL": (ANYWHERE, "the SARIF level of a tool notification (error)"),
    },
    "assessor/export/xccdf.py": {
        "SEVERITY": (VALUES, "XCCDF rule severities (high, medium, low, info)"),
        "RESULT": (VALUES, "XCCDF rule-result values (pass, fail, error, notapplicable, ...)"),
        "MESSAGE_SEVERITY": (VALUES, "XCCDF message severities (error, warning)"),
        "NOTE_SEVERITY": (ANYWHERE, "XCCDF's message severity info"),
        "_SCORED": (ANYWHERE, "the XCCDF rule-result values the flat score counts"),
        "_PASSED": (ANYWHERE, "the XCCDF rule-result values the flat score counts as passed"),
    },
    "assessor/export/junit.py": {
        "ERROR_ELEMENT": (ANYWHERE, "JUnit's <error> element"),
    },
    "assessor/collectors/oscap_arf.py": {
        "RESULTS": (ANYWHERE, "XCCDF 1.2 rule-result values read from an OpenSCAP ARF"),
    },
    "assessor/evaluate/openscap.py": {
        "STATUSES": (KEYS, "XCCDF 1.2 rule-result values of an imported OpenSCAP result"),
        "SEVERITIES": (KEYS, "XCCDF 1.2 rule severities of an imported OpenSCAP result"),
        "EXPLAINED": (KEYS, "XCCDF 1.2 rule-result values of an imported OpenSCAP result"),
    },
    "assessor/export/oscal/findings.py": {
        "_STATE": (VALUES, "OSCAL objective-status states and reasons (satisfied, pass, fail)"),
    },
    "assessor/collectors/engine.py": {
        "INFO": (ANYWHERE, "the engine document's key of the Engine API's GET /info"),
    },
    "assessor/collectors/_dockerd.py": {
        "DEFAULTS": (VALUES, "dockerd's own defaults (its log-level info)"),
    },
    "assessor/evaluate/sources.py": {
        "ENGINE": (KEYS, "the engine document's evidence paths (info: the Engine API's /info)"),
    },
    "assessor/evidence_model.py": {
        "SwarmState": (ANYWHERE, "Docker's swarm LocalNodeState (inactive, ..., error, locked)"),
        "_ERROR_FIELD": (ANYWHERE, "the name of a host file's read error (FileStat.error)"),
    },
    "assessor/collectors/registry/__init__.py": {
        "ERROR_KEY": (ANYWHERE, "the key of a failed registry probe's message in its evidence"),
    },
    "assessor/evaluate/registry.py": {
        "_ERROR_KEY": (ANYWHERE, "the key of a failed registry probe's message in its evidence"),
    },
    "assessor/bundle.py": {
        "_ERROR_FIELD": (ANYWHERE, "the key of a target's error in a bundle's manifest"),
    },
    "assessor/cli/ingest.py": {
        "_ERROR_FIELD": (ANYWHERE, "the key of a target's error in ingest's JSON output"),
    },
    "assessor/audit/history.py": {
        "_ERROR_FIELD": (ANYWHERE, "the name of a target's error in the canonical form"),
    },
    "assessor/redact.py": {
        "_PASS": (ANYWHERE, "the word 'pass' of a password setting's name or a command's flag"),
    },
    "assessor/catalog/schema.py": {
        "FrameworkAssessment": (ANYWHERE, "a framework's own assessment word (CIS: Manual)"),
    },
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != VOCAB)


def _rel(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


def _named(stmt: ast.stmt) -> tuple[str, ast.expr] | None:
    """(name, value) of a module-level ``NAME = value`` or ``NAME: T = value``."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    return (target.id, value) if isinstance(target, ast.Name) else None


def _words(node: ast.AST) -> Iterator[ast.Constant]:
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in WORDS:
            yield n


def _in_keys(node: ast.AST) -> set[int]:
    """The ids of the word constants within the keys of the dicts in ``node``."""
    return {
        id(c)
        for n in ast.walk(node)
        if isinstance(n, ast.Dict)
        for k in n.keys
        if k
        for c in _words(k)
    }


def literals(path: Path, root: Path = ROOT) -> list[str]:
    """Every status or severity word spelled in ``path`` outside its FOREIGN constants (or
    on the wrong side of one's mapping), as ``path:line: 'word'``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    allowed = FOREIGN.get(_rel(path, root), {})
    exempt: set[int] = set()
    for stmt in tree.body:
        named = _named(stmt)
        if named is None or named[0] not in allowed:
            continue
        where, value = allowed[named[0]][0], named[1]
        words, keys = {id(c) for c in _words(value)}, _in_keys(value)
        exempt |= {ANYWHERE: words, KEYS: words & keys, VALUES: words - keys}[where]
    found = [c for c in _words(tree) if id(c) not in exempt]
    return [f"{_rel(path, root)}:{c.lineno}: {c.value!r}" for c in sorted(found, key=_line)]


def _line(c: ast.Constant) -> tuple[int, int]:
    return c.lineno, c.col_offset


def test_no_status_or_severity_word_outside_vocab() -> None:
    found = [hit for path in _modules() for hit in literals(path)]
    assert not found, (
        f"{len(found)} status/severity string(s) outside assessor/vocab.py; name the "
        "member (Status.FAIL, Severity.HIGH), or, for another format's own word, a named "
        "constant listed in FOREIGN:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in FOREIGN.items() for n in names]
)
def test_every_foreign_constant_exists_and_holds_a_shared_word(module: str, name: str) -> None:
    """A FOREIGN entry whose constant is gone, or no longer holds a word of ours, is stale."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    values = [named[1] for s in tree.body if (named := _named(s)) and named[0] == name]
    assert values, f"{module} has no module-level constant {name}"
    assert any(True for v in values for _ in _words(v)), f"{module}: {name} holds no shared word"


def test_the_check_finds_what_it_should(tmp_path: Path) -> None:
    """The scanner sees a word in a comparison, a call, and on our side of a FOREIGN
    mapping (either way round), and passes their side and text that merely holds a word."""
    sarif = tmp_path / "assessor" / "export" / "sarif.py"
    openscap = tmp_path / "assessor" / "evaluate" / "openscap.py"
    for path in (sarif, openscap):
        path.parent.mkdir(parents=True)
    sarif.write_text(
        'LEVELS = {Severity.HIGH: "error"}\n'
        'KINDS = {"fail": "fail"}\n'
        'x = r.status == "fail"\n'
        'f("critical")\n'
        'doc = "fail if anything failed"\n'
    )
    openscap.write_text('STATUSES = {"pass": Status.PASS, "error": "error"}\n')
    assert literals(sarif, tmp_path) == [
        "assessor/export/sarif.py:2: 'fail'",
        "assessor/export/sarif.py:3: 'fail'",
        "assessor/export/sarif.py:4: 'critical'",
    ]
    assert literals(openscap, tmp_path) == ["assessor/evaluate/openscap.py:1: 'error'"]


def _mappings() -> dict[str, tuple[object, frozenset[str]]]:
    from assessor.cli import _output, attest, controls, scan
    from assessor.export import sarif, xccdf
    from assessor.export.oscal import findings
    from assessor.report.data import labels
    from assessor.vocab import (
        ATTESTATION_STATUSES,
        REQUIREMENT_STATUSES,
        RESULT_STATUSES,
        Coverage,
    )

    results = frozenset(RESULT_STATUSES)
    severities = frozenset(Severity)
    judged = frozenset(REQUIREMENT_STATUSES) - {Status.NOT_ASSESSED}
    return {
        "sarif.KINDS": (sarif.KINDS, results),
        "sarif.LEVELS": (sarif.LEVELS, severities),
        "sarif.SECURITY_SEVERITY": (sarif.SECURITY_SEVERITY, severities),
        "xccdf.RESULT": (xccdf.RESULT, results),
        "xccdf.SEVERITY": (xccdf.SEVERITY, severities),
        "oscal findings._STATE": (findings._STATE, judged),
        "oscal findings._REMARKS": (findings._REMARKS, judged),
        "report labels.STATUS_LABELS": (labels.STATUS_LABELS, frozenset(Status)),
        "report labels.STATUS_SHORT": (labels.STATUS_SHORT, frozenset(Status)),
        "cli _output.STATUS_STYLE": (_output.STATUS_STYLE, results),
        "cli controls.COVERAGE_STYLE": (controls.COVERAGE_STYLE, frozenset(Coverage)),
        "attest --status": (
            {s.value: s for s in attest.AttestStatus},
            frozenset(ATTESTATION_STATUSES),
        ),
        "scan --fail-on": (
            {s.value: s for s in scan.FailOn if s is not scan.FailOn.NONE},
            severities,
        ),
    }


MAPPINGS = (
    "sarif.KINDS",
    "sarif.LEVELS",
    "sarif.SECURITY_SEVERITY",
    "xccdf.RESULT",
    "xccdf.SEVERITY",
    "oscal findings._STATE",
    "oscal findings._REMARKS",
    "report labels.STATUS_LABELS",
    "report labels.STATUS_SHORT",
    "cli _output.STATUS_STYLE",
    "cli controls.COVERAGE_STYLE",
    "attest --status",
    "scan --fail-on",
)


def test_the_mapping_list_is_whole() -> None:
    assert sorted(MAPPINGS) == sorted(_mappings())


@pytest.mark.parametrize("name", MAPPINGS)
def test_every_mapping_from_a_vocabulary_covers_it(name: str) -> None:
    """A table keyed by a vocabulary has a row for each member, so a new member cannot fall
    through to a default; each holds exactly the members it should."""
    table, members = _mappings()[name]
    assert isinstance(table, dict)
    assert set(table) == set(members), name
