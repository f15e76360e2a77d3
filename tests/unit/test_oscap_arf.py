"""The OpenSCAP ARF reader (hostile input included), its evaluator, and storing an import.

Hand-made ARFs from tests/fixtures/oscap/ and tiny files written here; the real ARF of an
SSG evaluation is tested in tests/integration/test_oscap_import.py.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from assessor.audit import history
from assessor.catalog import load_catalog
from assessor.collectors.oscap_arf import KIND, MAX_BYTES, ArfError, read_arf
from assessor.errors import AssessorError
from assessor.evaluate import evaluate
from assessor.imports import import_oscap_arf
from assessor.pipeline import evaluate_stored
from assessor.store import Store, open_store, queries
from assessor.vocab import AssessmentStatus
from tests.conftest import ROOT

FIXTURES = ROOT / "tests/fixtures/oscap"
MINIMAL = FIXTURES / "minimal-arf.xml"
NO_BENCHMARK = FIXTURES / "no-benchmark-arf.xml"
HOSTILE = FIXTURES / "hostile-titles-arf.xml"
RULE = "host-os-baseline-scan"
P = "xccdf_org.example_rule_"
CATALOG = load_catalog()
XCCDF = "http://checklists.nist.gov/xccdf/1.2"
CONTROL = {*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path, **limits: int) -> str:
    with pytest.raises(ArfError) as e:
        read_arf(path, **limits)
    message = e.value.message
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _judge(path: Path) -> dict[str, tuple[str, str]]:
    run = read_arf(path)[0]
    results = evaluate(CATALOG, run.evidence(), {run.uri: {KIND}}, [RULE])
    return {r.resource.removeprefix(P): (r.status.value, r.message) for r in results}


# ---- reading -------------------------------------------------------------------------------


def test_reads_the_run_and_each_evaluated_rule() -> None:
    [run] = read_arf(MINIMAL)
    assert run.uri == "openscap:web01/base"
    assert run.counts == {
        "pass": 1,
        "fail": 1,
        "error": 1,
        "unknown": 1,
        "notapplicable": 1,
        "notchecked": 1,
        "informational": 1,
        "fixed": 1,
    }  # the notselected telnet rule is skipped
    ident = run.identity()
    assert ident["hostname"] == "web01"
    assert ident["fqdn"] == "web01.example.org"
    assert ident["os"] == "Debian GNU/Linux 12 (bookworm)"
    assert ident["addresses"] == ["127.0.0.1", "192.0.2.10"]
    assert ident["profile"] == "Example Base Profile (xccdf_org.example_profile_base)"
    assert ident["benchmark"] == "Example Linux Baseline 1.0 (xccdf_org.example_benchmark_TEST)"
    assert ident["scanner"] == "openscap 1.3.7"
    assert ident["scanned_as"] == "root (privileged)"
    assert ident["score"] == "62.5 of 100 (urn:xccdf:scoring:default)"
    assert ident["started"] == "2026-11-20T10:00:00+00:00"
    assert ident["source_file"] == "minimal-arf.xml"
    assert len(ident["source_sha256"]) == 64

    docs = {ev.resource.removeprefix(P): ev for ev in run.evidence()}
    assert set(docs) == {
        "sshd_disable_root_login",
        "file_permissions_etc_shadow",
        "partition_for_tmp",
        "aide_periodic_checking",
        "sysctl_kernel_randomize_va_space",
        "audit_rules_immutable",
        "banner_etc_issue",
        "coredump_disable_storage",
    }
    ssh = docs["sshd_disable_root_login"]
    assert ssh.kind == KIND
    assert ssh.target == "openscap:web01/base"
    data = ssh.data
    assert data["rule"] == P + "sshd_disable_root_login"
    assert data["title"] == "Disable SSH Root Login"
    assert data["result"] == "fail"
    assert data["severity"] == "high"
    assert data["weight"] == 1.0
    assert data["idents"] == [{"system": "https://ncp.nist.gov/cce", "value": "CCE-80901-2"}]
    assert {"href": "https://www.cisecurity.org/controls/", "text": "5"} in data["references"]
    assert data["references"][0]["text"] == "AC-6(2)"
    assert data["fix_available"] is True
    assert data["defined"] is True
    assert data["messages"] == ["PermitRootLogin yes found in /etc/ssh/sshd_config"]
    assert data["checks"][0]["name"] == "oval:example-sshd_disable_root_login:def:1"
    # the description is plain text: the html:code and html:pre markup is gone, the text kept
    assert "PermitRootLogin no" in data["description"]
    assert "<" not in data["description"]
    assert data["profile"] == {
        "id": "xccdf_org.example_profile_base",
        "title": "Example Base Profile",
    }
    assert data["test_result"]["scanner"] == "openscap 1.3.7"
    assert data["target"] == {"name": "web01", "hostname": "web01", "fqdn": "web01.example.org"}
    assert docs["file_permissions_etc_shadow"].data["fix_available"] is False


def test_evidence_is_the_same_on_every_read_and_dated_by_the_scan() -> None:
    first = [ev.sha256 for ev in read_arf(MINIMAL)[0].evidence()]
    second = [ev.sha256 for ev in read_arf(MINIMAL)[0].evidence()]
    assert first == second
    assert len(set(first)) == len(first)
    ev = read_arf(MINIMAL)[0].evidence()[0]
    assert ev.collected_at.isoformat() == "2026-11-20T10:00:05+00:00"


def test_every_xccdf_result_maps_to_a_status() -> None:
    judged = _judge(MINIMAL)
    assert {k: v[0] for k, v in judged.items()} == {
        "sshd_disable_root_login": "fail",
        "file_permissions_etc_shadow": "pass",
        "coredump_disable_storage": "pass",
        "banner_etc_issue": "pass",
        "partition_for_tmp": "not_applicable",
        "sysctl_kernel_randomize_va_space": "error",
        "audit_rules_immutable": "error",
        "aide_periodic_checking": "manual",
    }
    assert judged["sshd_disable_root_login"][1] == (
        "Disable SSH Root Login (CCE-80901-2): fail, severity high, profile Example Base Profile"
    )
    assert "fixed by OpenSCAP's remediation" in judged["coredump_disable_storage"][1]
    assert "verify by hand" in judged["aide_periodic_checking"][1]


def test_an_arf_without_its_benchmark_still_imports_with_ids_for_titles() -> None:
    [run] = read_arf(NO_BENCHMARK)
    assert run.uri == "openscap:db02/default"  # no profile: XCCDF's default selection
    assert run.os == ""
    docs = run.evidence()
    assert [ev.resource for ev in docs] == [
        P + "sshd_disable_root_login",
        P + "file_permissions_etc_shadow",
        P + "file_permissions_etc_shadow (2)",  # a repeated rule-result keeps its own resource
    ]
    assert all(ev.data["title"] == ev.data["rule"] and not ev.data["defined"] for ev in docs)
    judged = _judge(NO_BENCHMARK)
    assert judged["sshd_disable_root_login"] == (
        "fail",
        f"{P}sshd_disable_root_login: fail, severity high, profile (default profile)",
    )
    assert run.identity()["benchmark"] == "xccdf_org.example_benchmark_GONE"


def test_markup_and_control_characters_survive_as_text() -> None:
    [run] = read_arf(HOSTILE)
    [ev] = run.evidence()
    title = ev.data["title"]
    assert title.startswith("<script>alert(1)</script> Disable")
    assert "\ufffd" in title  # NEL, CSI and DEL replaced, never passed on
    for text in _strings(ev.document()) + _strings(run.identity()):
        assert not CONTROL & {ord(c) for c in text}, repr(text)
    assert ev.data["idents"] == [{"system": "https://ncp.nist.gov/cce", "value": "CCE-<i>1</i>"}]
    assert ev.data["profile"]["title"] == "<img src=x onerror=alert(2)>Profile"
    assert run.uri == "openscap:evil_host_script_/evil"
    # a token in an OpenSCAP message is redacted before the evidence exists
    assert ev.data["messages"][0].startswith("token <redacted: token, ")
    assert "ghp_" not in ev.canonical().decode()
    assert [(r.key, r.kind) for r in ev.redactions] == [("github-token", "token")]
    judged = _judge(HOSTILE)
    assert judged["script"][1].startswith("<script>alert(1)</script> Disable")


def test_several_test_results_are_several_runs(tmp_path: Path) -> None:
    def result(profile: str, outcome: str) -> str:
        return (
            f'<TestResult id="xccdf_t_testresult_{profile}"><profile idref="xccdf_t_profile_'
            f'{profile}"/><target>h1</target><rule-result idref="xccdf_t_rule_a">'
            f"<result>{outcome}</result></rule-result></TestResult>"
        )

    path = _write(
        tmp_path,
        "two.xml",
        f'<Benchmark xmlns="{XCCDF}" id="xccdf_t_benchmark_b"><Rule id="xccdf_t_rule_a">'
        f"<title>Rule A</title></Rule>{result('one', 'pass')}{result('two', 'fail')}</Benchmark>",
    )
    runs = read_arf(path)
    assert [(r.uri, r.counts) for r in runs] == [
        ("openscap:h1/one", {"pass": 1}),
        ("openscap:h1/two", {"fail": 1}),
    ]
    assert runs[1].evidence()[0].data["title"] == "Rule A"


# ---- refusing ------------------------------------------------------------------------------


def test_external_entities_are_refused_and_nothing_leaks(tmp_path: Path) -> None:
    secret = _write(tmp_path, "secret.txt", "TOP-SECRET-CONTENT")
    cases = {
        "xxe.xml": f'<!DOCTYPE t [<!ENTITY x SYSTEM "file://{secret}">]>'
        f'<TestResult xmlns="{XCCDF}" id="t"><target>&x;</target></TestResult>',
        "param.xml": f'<!DOCTYPE t [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>'
        f'<TestResult xmlns="{XCCDF}" id="t"/>',
        "dtd.xml": f'<!DOCTYPE t SYSTEM "file://{secret}"><TestResult xmlns="{XCCDF}" id="t"/>',
        "internal.xml": '<!DOCTYPE t [<!ENTITY x "y">]>'
        f'<TestResult xmlns="{XCCDF}" id="t"><target>&x;</target></TestResult>',
    }
    for name, text in cases.items():
        message = _refused(_write(tmp_path, name, text))
        assert "TOP-SECRET" not in message
        assert "DOCTYPE" in message or "not XML" in message, message


def test_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    ]
    path = _write(
        tmp_path,
        "laughs.xml",
        f"<!DOCTYPE t [{''.join(entities)}]>"
        f'<TestResult xmlns="{XCCDF}" id="t"><target>&l9;</target></TestResult>',
    )
    started = time.perf_counter()
    _refused(path)
    assert time.perf_counter() - started < 5


def test_not_xml_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.xml", "<a>\n<b>\n</a>\n")
    assert "not XML: line 3" in _refused(path)
    assert "not XML" in _refused(_write(tmp_path, "empty.xml", ""))
    # ESC is not a character XML 1.0 allows, even as a reference
    assert "not XML" in _refused(_write(tmp_path, "esc.xml", "<a>&#x1b;[2J</a>"))


def test_xml_that_is_no_openscap_result_is_refused(tmp_path: Path) -> None:
    html = _refused(_write(tmp_path, "page.xml", "<html><body>hi</body></html>"))
    assert "not an ARF or XCCDF 1.2 result file (root element 'html'" in html
    old = _write(
        tmp_path,
        "xccdf11.xml",
        '<TestResult xmlns="http://checklists.nist.gov/xccdf/1.1" id="t"/>',
    )
    assert "not an ARF or XCCDF 1.2 result file" in _refused(old)
    arf = _write(
        tmp_path,
        "empty-arf.xml",
        '<arf:asset-report-collection xmlns:arf="http://scap.nist.gov/schema/'
        'asset-reporting-format/1.1"><arf:reports/></arf:asset-report-collection>',
    )
    assert "no XCCDF 1.2 TestResult in the file" in _refused(arf)


def test_size_and_count_limits(tmp_path: Path) -> None:
    assert "over the limit of 1000 bytes" in _refused(MINIMAL, max_bytes=1000)
    big = tmp_path / "huge.xml"
    with big.open("wb") as f:  # sparse: refused from its size, never read
        f.truncate(MAX_BYTES + 1)
    assert f"over the limit of {MAX_BYTES} bytes" in _refused(big)
    assert "more than 3 evaluated rule-results" in _refused(MINIMAL, max_results=3)
    assert "not a regular file" in _refused(tmp_path)
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused(fifo)  # never blocks on open
    assert "cannot read" in _refused(tmp_path / "absent.xml")
    long_id = _write(
        tmp_path,
        "long.xml",
        f'<TestResult xmlns="{XCCDF}" id="t"><rule-result idref="{"r" * 1001}">'
        "<result>pass</result></rule-result></TestResult>",
    )
    assert "over 1000 characters" in _refused(long_id)


# ---- storing -------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'import.db'}")


def _statuses(store: Store, assessment_id: int) -> dict[str, str]:
    return {
        r.resource: r.status for r, _ in queries.get_results(store, assessment_id) if r.rule == RULE
    }


def test_import_into_a_new_assessment_then_refuse_duplicates(store: Store, tmp_path: Path) -> None:
    done = import_oscap_arf(store, CATALOG, MINIMAL, system="web", period="2026-Q3")
    assert done.created
    a = queries.get_assessment(store, str(done.assessment_id))
    assert (a.status, a.period, a.system, a.scope) == (
        "complete",
        "2026-Q3",
        "web",
        ["openscap:web01/base"],
    )
    [target] = queries.get_targets(store, a.id)
    assert (target.uri, target.kind, target.status) == ("openscap:web01/base", "host", "collected")
    assert target.identity["score"] == "62.5 of 100 (urn:xccdf:scoring:default)"
    statuses = _statuses(store, a.id)
    assert Counter(statuses.values()) == {
        "pass": 3,
        "fail": 1,
        "error": 2,
        "not_applicable": 1,
        "manual": 1,
    }
    [run] = done.runs
    assert run.counts["fail"] == 1
    assert run.statuses == dict(Counter(statuses.values()))

    # the same file again: refused, nothing written
    with pytest.raises(AssessorError, match=r"was imported into assessment \d+ already"):
        import_oscap_arf(store, CATALOG, MINIMAL, system="web")
    # another file of the same host and profile: refused too, never merged or replaced
    rescan = _write(tmp_path, "rescan.xml", MINIMAL.read_text().replace(">62.5", ">70.0"))
    with pytest.raises(AssessorError, match="has OpenSCAP results for openscap:web01/base"):
        import_oscap_arf(store, CATALOG, rescan, system="web")
    assert len(queries.get_results(store, a.id)) == 8
    with pytest.raises(AssessorError, match="exclude each other"):
        import_oscap_arf(store, CATALOG, MINIMAL, assessment=str(a.id), new=True)
    with pytest.raises(AssessorError, match="is of system web, not other"):
        import_oscap_arf(store, CATALOG, MINIMAL, assessment=str(a.id), system="other")

    # another host into the same assessment joins it as one more target
    more = import_oscap_arf(store, CATALOG, NO_BENCHMARK, system="web")
    assert (more.assessment_id, more.created) == (a.id, False)
    assert [t.uri for t in queries.get_targets(store, a.id)] == [
        "openscap:web01/base",
        "openscap:db02/default",
    ]
    # --new makes a fresh assessment (the current quarter) for the same file
    fresh = import_oscap_arf(store, CATALOG, MINIMAL, system="web", new=True)
    assert fresh.created and fresh.assessment_id != a.id
    assert _statuses(store, fresh.assessment_id) == statuses


def test_finalised_assessments_are_refused(store: Store) -> None:
    done = import_oscap_arf(store, CATALOG, NO_BENCHMARK, system="db")
    history.finalise(store, str(done.assessment_id), "Auditor")
    for kwargs in ({"assessment": str(done.assessment_id)}, {}):
        with pytest.raises(AssessorError) as e:
            import_oscap_arf(store, CATALOG, MINIMAL, system="db", **kwargs)
        assert e.value.message == (
            f"assessment {done.assessment_id} is finalised; import into a new one with --new"
        )
    assert import_oscap_arf(store, CATALOG, MINIMAL, system="db", new=True).created


def test_a_scanned_host_of_another_name_is_noted(store: Store) -> None:
    aid = queries.create_assessment(store, "2026-Q4", ["host:/"], CATALOG.digest, system="s")
    queries.record_target(
        store, aid, "host:/", "host", status="collected", identity={"hostname": "vm"}
    )
    queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    done = import_oscap_arf(store, CATALOG, MINIMAL, system="s")
    assert done.assessment_id == aid
    assert any("scanned host vm, not 'web01'" in n for n in done.notes)


def test_evaluate_rejudges_imported_evidence_the_same(store: Store) -> None:
    done = import_oscap_arf(store, CATALOG, MINIMAL)
    again = evaluate_stored(store, CATALOG, done.assessment_id)
    assert _statuses(store, again.assessment_id) == _statuses(store, done.assessment_id)
    old = {(r.resource, r.message, r.evidence_hash) for r, _ in queries.get_results(store, 1)}
    new = {
        (r.resource, r.message, r.evidence_hash)
        for r, _ in queries.get_results(store, again.assessment_id)
    }
    assert old == new


def test_each_result_keeps_openscaps_severity() -> None:
    """A high SSG failure reads high in the report's counts, not the rule's medium."""
    run = read_arf(MINIMAL)[0]
    docs = {ev.resource.removeprefix(P): ev for ev in run.evidence()}
    results = evaluate(CATALOG, docs.values(), {run.uri: {KIND}}, [RULE])
    assert CATALOG.rules[RULE].severity.value == "medium"
    for r in results:
        stated = docs[r.resource.removeprefix(P)].data["severity"]
        expected = stated if stated in ("high", "medium", "low", "info") else "medium"
        assert r.severity == expected, (r.resource, stated, r.severity)
    assert {r.resource.removeprefix(P): r.severity for r in results}[
        "sshd_disable_root_login"
    ] == "high"
