"""The registered evaluation functions, one behaviour at a time: status AND message.

These tests kill the mutants ``make mutation`` (mutmut) makes of assessor/evaluate/*.py that
the golden fixtures alone let through. Each starts from a golden fixture's evidence (a state the
collector produced) and changes the one field under test, then asserts the status and the words
of the message that name the offending value.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from assessor.catalog import Catalog, load_catalog
from assessor.catalog.schema import FunctionCheck
from assessor.errors import EvaluationError
from assessor.evaluate import evaluate_rule
from assessor.evaluate.engine import evaluator
from assessor.evaluate.functions import Outcome
from assessor.evidence import Evidence

RULES = Path(__file__).resolve().parent.parent / "rules"


def fixture(rule: str, name: str) -> dict[str, Any]:
    """A golden fixture's evidence data (a fresh copy each call)."""
    doc = json.loads((RULES / rule / name).read_text())
    return copy.deepcopy(doc["data"])


def run(function: str, data: Any, **args: Any) -> Outcome:
    return evaluator(function)(data, args)


# --- openscap_rule_result -------------------------------------------------------------------

OSCAP = "host-os-baseline-scan"


def oscap(result: str, **changes: Any) -> dict[str, Any]:
    data = fixture(OSCAP, "pass-fixed-by-remediation.json")
    data["result"] = result
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("result", "status", "explained"),
    [
        ("pass", "pass", None),
        ("fixed", "pass", "fixed by OpenSCAP's remediation during the scan"),
        ("informational", "pass", "informational only"),
        ("fail", "fail", None),
        ("error", "error", "OpenSCAP could not evaluate the rule"),
        ("unknown", "error", "OpenSCAP could not tell the result"),
        ("notapplicable", "not_applicable", "the rule does not apply to this platform"),
        ("notchecked", "manual", "OpenSCAP has no automated check for it: verify by hand"),
    ],
)
def test_openscap_each_xccdf_result(result: str, status: str, explained: str | None) -> None:
    out = run("openscap_rule_result", oscap(result))
    assert out.status == status
    head = f"Disable storing core dumps: {result}, severity medium, profile Example Base Profile"
    assert out.message == (head + f" ({explained})" if explained else head)
    assert out.severity == "medium"


def test_openscap_not_a_result_value_is_an_error_naming_it() -> None:
    out = run("openscap_rule_result", oscap("bogus"))
    assert out.status == "error"
    assert out.message.endswith(
        ": bogus, severity medium, profile Example Base Profile: not an XCCDF result value"
    )
    assert out.severity is None


def test_openscap_empty_result_says_so() -> None:
    out = run("openscap_rule_result", oscap(""))
    assert out.status == "error"
    assert ": (no result), severity" in out.message


@pytest.mark.parametrize("data", [None, [], {"rule": "x"}])
def test_openscap_without_a_result_raises(data: Any) -> None:
    with pytest.raises(EvaluationError, match=r"^evidence 'result' is absent$"):
        run("openscap_rule_result", data)


def test_openscap_names_title_idents_rule_and_profile() -> None:
    data = oscap("fail", idents=[{"value": "CCE-1"}, {"value": ""}, "x", {"value": "CCE-2"}])
    assert run("openscap_rule_result", data).message.startswith(
        "Disable storing core dumps (CCE-1, CCE-2): fail"
    )
    data = oscap("fail", title="", idents=None)
    assert run("openscap_rule_result", data).message.startswith(
        "xccdf_org.example_rule_coredump_disable_storage: fail"
    )
    data = oscap("fail", title=None, rule=None)
    assert run("openscap_rule_result", data).message.startswith("?: fail")
    data = oscap("fail", profile={"id": "p-id", "title": ""})
    assert run("openscap_rule_result", data).message.endswith("profile p-id")
    data = oscap("fail", profile={"id": None})
    assert run("openscap_rule_result", data).message.endswith("profile (default profile)")
    data = oscap("fail", profile="not a mapping")
    assert run("openscap_rule_result", data).message.endswith("profile (default profile)")


@pytest.mark.parametrize(
    ("severity", "ours"),
    [("high", "high"), ("medium", "medium"), ("low", "low"), ("info", "info"), ("unknown", None)],
)
def test_openscap_severity_is_mapped(severity: str, ours: str | None) -> None:
    out = run("openscap_rule_result", oscap("fail", severity=severity))
    assert out.severity == ours
    assert f"severity {severity}," in out.message


# --- image evaluators (assessor/evaluate/image.py) ------------------------------------------


def image() -> dict[str, Any]:
    """A captured image's evidence: one setuid file, USER 1000, no HEALTHCHECK, a base ADD."""
    return fixture("image-setuid-removed", "manual-captured-setuid-file.json")


def setuid_file(path: str, bits: str = "setuid") -> dict[str, Any]:
    return {"bits": bits, "gid": 0, "mode": "4755", "path": path, "type": "file", "uid": 0}


def test_image_absent_evidence_is_an_error_naming_the_path() -> None:
    data = image()
    del data["config"]["User"]
    with pytest.raises(EvaluationError, match=r"^evidence 'config\.User' is absent$"):
        run("image_user_not_root", data)
    with pytest.raises(EvaluationError, match=r"^evidence 'config\.User' is absent$"):
        run("image_user_not_root", {"config": "x"})
    with pytest.raises(EvaluationError, match=r"^evidence 'files\.devices' is not a list$"):
        run("image_none_found", {"files": {"devices": "x"}}, evidence="files.devices", found="x")


def test_image_none_found_counts_and_names_items() -> None:
    data = image()
    args = {"evidence": "files.setuid", "found": "setuid files"}
    out = run("image_none_found", data, **args)
    assert (out.status, out.message) == (
        "fail",
        "1 setuid files: /app/helper (file 4755, uid 0:0, setuid)",
    )
    data["files"]["setuid"] = {"items": [setuid_file("/a", bits="")], "count": 12}
    out = run("image_none_found", data, **args)
    assert out.message == "12 setuid files: /a (file 4755, uid 0:0); and 11 more"
    data["files"]["setuid"] = {"items": [setuid_file("/a")]}  # no count: the items are all
    assert run("image_none_found", data, **args).message.startswith("1 setuid files: /a (")
    data["files"]["setuid"] = ["plain", {"port": 23, "proto": "tcp"}]
    out = run("image_none_found", data, **args)
    assert out.message == "2 setuid files: plain; port=23, proto=tcp"
    data["files"]["setuid"] = {"items": None, "count": 0}
    out = run("image_none_found", data, **args)
    assert (out.status, out.message) == ("pass", "no setuid files")
    out = run("image_none_found", data, **args, none="nothing here")
    assert (out.status, out.message) == ("pass", "nothing here")


def test_image_listing_shows_ten_and_counts_the_rest() -> None:
    data = image()
    items = [setuid_file(f"/f{i}") for i in range(12)]
    data["files"]["setuid"] = {"items": items, "count": 12}
    out = run("image_none_found", data, evidence="files.setuid", found="files")
    assert out.message.count("(file 4755") == 10
    assert out.message.endswith("/f9 (file 4755, uid 0:0, setuid); and 2 more")
    data["files"]["setuid"] = {"items": items[:11], "count": 11}
    out = run("image_none_found", data, evidence="files.setuid", found="files")
    assert out.message.endswith("; and 1 more")


def test_image_secret_items_show_where_key_and_fingerprint_never_the_value() -> None:
    secret = {
        "where": "ENV",
        "key": "API_TOKEN",
        "secret": "token",
        "fingerprint": "sha256:ab12",
        "layer": "sha256:0123456789abcdef0123456789",
    }
    out = run("image_none_found", {"secrets": [secret]}, evidence="secrets", found="secrets")
    assert (
        out.message == "1 secrets: ENV (API_TOKEN, token, sha256:ab12, layer sha256:0123456789ab)"
    )
    short = {"where": "label", "key": "pw", "secret": "password", "fingerprint": "", "layer": ""}
    out = run("image_none_found", {"secrets": [short]}, evidence="secrets", found="secrets")
    assert out.message == "1 secrets: label (pw, password)"


def test_image_setuid_without_allow_list_is_manual_listing_the_files() -> None:
    out = run("image_setuid_reviewed", image())
    assert out.status == "manual"
    assert out.message == (
        "1 setuid/setgid file to review (CIS 4.8: keep the bits only where the executable "
        "needs them; no organisation allow-list is set): /app/helper (file 4755, uid 0:0, "
        "setuid)"
    )
    data = image()
    data["files"]["setuid"] = {"items": [setuid_file("/a"), setuid_file("/b")], "count": 2}
    assert run("image_setuid_reviewed", data).message.startswith("2 setuid/setgid files to")


def test_image_setuid_none_passes() -> None:
    data = image()
    data["files"]["setuid"] = {"items": [], "count": 0}
    out = run("image_setuid_reviewed", data, allowed=["/app/helper"])
    assert (out.status, out.message) == ("pass", "no setuid or setgid file in the image")


@pytest.mark.parametrize("allowed", ["/app/helper", ["app/helper"], [1], {"/a": 1}])
def test_image_setuid_allow_list_must_be_absolute_paths(allowed: Any) -> None:
    with pytest.raises(EvaluationError, match=r"^args.allowed must be a list of absolute paths$"):
        run("image_setuid_reviewed", image(), allowed=allowed)


def test_image_setuid_allow_list_fails_the_files_outside_it() -> None:
    data = image()
    files = [setuid_file("/bin/su"), setuid_file("/app/helper"), "odd", setuid_file("/x")]
    data["files"]["setuid"] = {"items": files, "count": 4}
    out = run("image_setuid_reviewed", data, allowed=["/bin/su", "/app/helper"])
    assert out.status == "fail"
    assert out.message == (
        "2 setuid/setgid files outside the allow-list: odd; /x (file 4755, uid 0:0, setuid) "
        "| allow-listed: /bin/su; /app/helper"
    )
    out = run("image_setuid_reviewed", data, allowed=["/elsewhere"])
    assert out.message.startswith("4 setuid/setgid files outside the allow-list: /bin/su (")
    assert out.message.endswith(" | allow-listed: none")
    data["files"]["setuid"] = {"items": files[:1], "count": 1}
    out = run("image_setuid_reviewed", data, allowed=["/elsewhere"])
    assert out.message.startswith("1 setuid/setgid file outside the allow-list: /bin/su (")


def test_image_setuid_allow_list_shows_ten_allowed_files() -> None:
    data = image()
    files = [setuid_file(f"/ok{i}") for i in range(11)] + [setuid_file("/bad")]
    data["files"]["setuid"] = {"items": files, "count": 12}
    out = run("image_setuid_reviewed", data, allowed=[f"/ok{i}" for i in range(11)])
    assert out.message.endswith(" | allow-listed: " + "; ".join(f"/ok{i}" for i in range(10)))


def test_image_setuid_allow_list_covering_every_file_passes() -> None:
    data = image()
    data["files"]["setuid"] = {"items": [setuid_file("/a"), setuid_file("/b")], "count": 2}
    out = run("image_setuid_reviewed", data, allowed=["/a", "/b", "/c"])
    assert (out.status, out.message) == (
        "pass",
        "2 setuid/setgid files, all 2 on the allow-list: /a; /b",
    )


def test_image_setuid_allow_list_with_unnamed_files_is_manual() -> None:
    data = image()
    data["files"]["setuid"] = {"items": [setuid_file("/a")], "count": 3, "truncated": True}
    out = run("image_setuid_reviewed", data, allowed=["/a"])
    assert out.status == "manual"
    assert out.message == (
        "3 setuid/setgid files: the evidence names 1, all on the allow-list; "
        "2 more to review (allow-listed: /a)"
    )


@pytest.mark.parametrize(
    ("user", "status", "message"),
    [
        ("", "fail", "no USER instruction: containers of this image run as root"),
        ("root", "fail", "USER is 'root': containers of this image run as root"),
        ("0", "fail", "USER is '0': containers of this image run as root"),
        ("0:0", "fail", "USER is '0:0': containers of this image run as root"),
        ("root:staff", "fail", "USER is 'root:staff': containers of this image run as root"),
        ("1000", "pass", "USER is '1000'"),
        ("rooter", "pass", "USER is 'rooter'"),
        ("10", "pass", "USER is '10'"),
        ("app:root", "pass", "USER is 'app:root'"),
    ],
)
def test_image_user(user: str, status: str, message: str) -> None:
    data = image()
    data["config"]["User"] = user
    out = run("image_user_not_root", data)
    assert (out.status, out.message) == (status, message)


def test_image_user_not_a_string_is_an_error() -> None:
    data = image()
    data["config"]["User"] = None
    with pytest.raises(EvaluationError, match=r"^evidence 'config.User' is not a string$"):
        run("image_user_not_root", data)


@pytest.mark.parametrize(
    ("check", "status", "message"),
    [
        (None, "fail", "no HEALTHCHECK instruction"),
        ({"Test": ["NONE"]}, "fail", "HEALTHCHECK NONE: the health check is disabled"),
        ({"Test": []}, "fail", "HEALTHCHECK NONE: the health check is disabled"),
        ({}, "fail", "HEALTHCHECK NONE: the health check is disabled"),
        ("CMD true", "fail", "HEALTHCHECK NONE: the health check is disabled"),
        ({"Test": ["CMD", "NONE"]}, "pass", "HEALTHCHECK CMD NONE"),
        ({"Test": ["CMD-SHELL", "x" * 300]}, "pass", "HEALTHCHECK CMD-SHELL " + "x" * 190),
    ],
)
def test_image_healthcheck(check: Any, status: str, message: str) -> None:
    data = image()
    data["config"]["Healthcheck"] = check
    out = run("image_healthcheck", data)
    assert (out.status, out.message) == (status, message)


def step(n: int, instruction: str, **more: Any) -> dict[str, Any]:
    return {"step": n, "instruction": instruction, "created_by": f"{instruction} {n}", **more}


def test_image_history_not_a_list_is_an_error() -> None:
    data = image()
    data["history"] = {"steps": []}
    for function in ("image_update_alone", "image_copy_not_add"):
        with pytest.raises(EvaluationError, match=r"^evidence 'history' is not a list$"):
            run(function, data)


def test_image_update_alone() -> None:
    data = image()
    data["history"] = [
        step(1, "RUN", run="apt-get update"),
        step(2, "RUN", run="apt-get update && apt-get install -y curl"),
        step(3, "CMD", run="apt-get update"),
        "junk",
        {"instruction": "RUN", "run": "apk update"},
    ]
    out = run("image_update_alone", data)
    assert out.status == "fail"
    assert out.message == (
        "2 package index update(s) without an install in the same step: step 1: RUN 1; step None: "
    )
    data["history"] = [step(i, "RUN", run="yum makecache") for i in range(12)]
    data["history"][0]["created_by"] = "y" * 200
    out = run("image_update_alone", data)
    assert out.message.startswith("12 package index update(s) without an install in the same ")
    assert f"step 0: {'y' * 160}; step 1: RUN 1;" in out.message
    assert out.message.endswith("; step 9: RUN 9")
    data["history"] = [step(1, "RUN", run="apt-get update && apt-get upgrade -y")]
    assert run("image_update_alone", data).message == (
        "no update step alone in 1 recorded build steps"
    )
    data["history"] = [step(1, "RUN")]
    assert run("image_update_alone", data).status == "pass"
    data["history"] = []
    out = run("image_update_alone", data)
    assert (out.status, out.message) == ("pass", "the image records no build history")


def test_image_copy_not_add_names_each_kind_remote_first() -> None:
    data = image()
    base = step(1, "ADD", add={"source": "base-rootfs"})
    data["history"] = [
        base,
        step(2, "ADD", add={"source": "local"}),
        step(3, "ADD", add={"source": "local-archive"}),
        step(4, "ADD", add={"source": "remote"}),
        step(5, "COPY"),
    ]
    out = run("image_copy_not_add", data)
    assert out.status == "fail"
    assert out.message == (
        "1 ADD of a remote URL (fetched unverified: the worst case): step 4: ADD 4 | "
        "1 ADD of local files where COPY would do: step 2: ADD 2 | "
        "1 ADD unpacking a local archive (COPY it and unpack in a RUN step): step 3: ADD 3 | "
        "base root filesystem, not judged: step 1: ADD 1"
    )
    data["history"] = [step(i, "ADD", add={"source": "local"}) for i in range(12)]
    out = run("image_copy_not_add", data)
    assert out.message.startswith("12 ADD of local files where COPY would do: step 0: ADD 0; ")
    assert out.message.endswith("; step 9: ADD 9")
    data["history"] = [base, dict(base, step=2, created_by="ADD 2")]
    out = run("image_copy_not_add", data)
    assert (out.status, out.message) == (
        "pass",
        "no ADD in the image's own build steps (base root filesystem, not judged: "
        "step 1: ADD 1; step 2: ADD 2)",
    )
    data["history"] = [step(1, "COPY")]
    out = run("image_copy_not_add", data)
    assert (out.status, out.message) == ("pass", "no ADD instruction in the recorded build steps")


@pytest.mark.parametrize("add", [None, {}, {"source": "git"}])
def test_image_copy_not_add_unknown_source_is_an_error(add: Any) -> None:
    data = image()
    data["history"] = [step(7, "ADD", add=add)]
    source = None if not add else add.get("source")
    with pytest.raises(EvaluationError) as e:
        run("image_copy_not_add", data)
    assert e.value.message == f"ADD at step 7 has no known source: {source!r}"


def test_image_age() -> None:
    data = image()
    data["created"], data["age_days"] = "2026-01-01T00:00:00Z", 339
    out = run("image_age", data)
    assert (out.status, out.message) == (
        "fail",
        "built 339 days ago (2026-01-01T00:00:00Z); rebuild at least every 180 days",
    )
    out = run("image_age", data, max_days=339)
    assert (out.status, out.message) == ("pass", "built 339 days ago (2026-01-01T00:00:00Z)")
    assert run("image_age", data, max_days="338").status == "fail"
    data["age_days"] = 180
    assert run("image_age", data).status == "pass"
    data["age_days"] = 181
    assert run("image_age", data).status == "fail"


@pytest.mark.parametrize(
    ("created", "age"),
    [("", 3), (None, 3), ("2026-01-01T00:00:00Z", None), ("1970-01-01T00:00:00Z", 20000)],
)
def test_image_age_without_a_build_time_is_not_applicable(created: Any, age: Any) -> None:
    data = image()
    data["created"], data["age_days"] = created, age
    out = run("image_age", data)
    assert (out.status, out.message) == (
        "not_applicable",
        "the image records no build time (or the epoch, as reproducible builds do)",
    )


def test_image_age_of_1980_is_judged() -> None:
    data = image()
    data["created"], data["age_days"] = "1980", 17000
    assert run("image_age", data).status == "fail"
    del data["created"]
    with pytest.raises(EvaluationError, match=r"^evidence 'created' is absent$"):
        run("image_age", data)


# --- registry evaluators (assessor/evaluate/registry.py) ------------------------------------


def reg() -> dict[str, Any]:
    """A registry's evidence: TLS 1.3, Basic auth, one repository app (1.0, latest)."""
    return fixture("registry-tls-strong", "pass-tls13.json")


def error_of(function: str, data: Any, **args: Any) -> str:
    with pytest.raises(EvaluationError) as e:
        run(function, data, **args)
    return e.value.message


def test_registry_sections_absent_or_failed_are_errors() -> None:
    data = reg()
    del data["transport"]["tls"]
    assert error_of("registry_tls_strong", data) == "evidence 'transport.tls' is absent"
    assert error_of("registry_tls_strong", {"transport": 1}) == "evidence 'transport.tls' is absent"
    assert error_of("registry_tls_strong", None) == "evidence 'transport' is absent"
    data["transport"]["tls"] = ["x"]
    assert error_of("registry_tls_strong", data) == "evidence 'transport.tls' is not an object"
    data["transport"]["tls"] = {"error": "handshake failed", "checked": True}
    assert error_of("registry_tls_strong", data) == (
        "transport.tls could not be observed: handshake failed"
    )
    data = reg()
    del data["scheme"]
    assert error_of("registry_tls_required", data) == "evidence 'scheme' is absent"
    data = reg()
    del data["transport"]["http"]["outcome"]
    assert error_of("registry_tls_required", data) == "evidence 'transport.http.outcome' is absent"


def test_registry_tls_required() -> None:
    data = reg()
    out = run("registry_tls_required", data)
    assert (out.status, out.message) == (
        "pass",
        "TLS; plain HTTP at http://127.0.0.1:5000/v2/ is refused (GET http://127.0.0.1:5000/v2/ "
        "answered 400 without the registry API)",
    )
    data["transport"]["http"].update(outcome="redirected to https", detail="301")
    assert run("registry_tls_required", data).message.endswith(" is redirected to HTTPS (301)")
    data["transport"]["http"].update(outcome="served", detail="GET answered 200")
    out = run("registry_tls_required", data)
    assert (out.status, out.message) == (
        "fail",
        "plain HTTP is served besides TLS: GET answered 200",
    )
    data["scheme"] = "http"
    out = run("registry_tls_required", data)
    assert (out.status, out.message) == (
        "fail",
        "https://127.0.0.1:5000 serves the registry API in plain HTTP: images, tokens and "
        "passwords cross the network unencrypted and unauthenticated",
    )


def test_registry_tls_strong() -> None:
    data = reg()
    out = run("registry_tls_strong", data)
    assert (out.status, out.message) == (
        "pass",
        "TLSv1.3 with TLS_AES_128_GCM_SHA256; TLSv1 and TLSv1.1 refused",
    )
    tls = data["transport"]["tls"]
    tls.update(protocol="TLSv1.2", old_protocols={"TLSv1": None, "TLSv1.1": False})
    assert run("registry_tls_strong", data).message == (
        "TLSv1.2 with TLS_AES_128_GCM_SHA256; TLSv1.1 refused; TLSv1 not tested "
        "(this machine's OpenSSL cannot offer it)"
    )
    tls.update(old_protocols={"TLSv1": None, "TLSv1.1": None})
    assert run("registry_tls_strong", data).message == (
        "TLSv1.2 with TLS_AES_128_GCM_SHA256; TLSv1, TLSv1.1 not tested "
        "(this machine's OpenSSL cannot offer it)"
    )
    tls.update(old_protocols=None)
    assert run("registry_tls_strong", data).message == "TLSv1.2 with TLS_AES_128_GCM_SHA256"
    tls.update(
        protocol="TLSv1.1",
        cipher="AES128-SHA",
        aead=False,
        forward_secret=False,
        old_protocols={"TLSv1": True, "TLSv1.1": True},
    )
    out = run("registry_tls_strong", data)
    assert (out.status, out.message) == (
        "fail",
        "negotiates TLSv1.1; cipher AES128-SHA is not an AEAD cipher (GCM, ChaCha20-Poly1305); "
        "cipher AES128-SHA has no forward secrecy (no ECDHE/DHE); accepts TLSv1 and TLSv1.1",
    )
    tls.update(protocol="TLSv1.3", aead=True, forward_secret=True, old_protocols={"TLSv1": True})
    assert run("registry_tls_strong", data).message == "accepts TLSv1"
    tls.update(checked=False)
    out = run("registry_tls_strong", data)
    assert (out.status, out.message) == (
        "not_applicable",
        "https://127.0.0.1:5000 serves no TLS (judged by registry-tls-required)",
    )


def test_registry_certificate_valid() -> None:
    data = reg()
    cert = data["transport"]["tls"]["certificate"]
    out = run("registry_certificate", data, check="valid")
    assert (out.status, out.message) == (
        "pass",
        "valid from 2026-09-01 until 2027-09-01 (276 days)",
    )
    cert.update(expired=True, days_left=-3)
    out = run("registry_certificate", data, check="valid")
    assert (out.status, out.message) == (
        "fail",
        "the certificate expired on 2027-09-01 (3 days ago)",
    )
    del cert["days_left"]
    assert run("registry_certificate", data, check="valid").message.endswith("(0 days ago)")
    cert.update(expired=False, not_yet_valid=True)
    out = run("registry_certificate", data, check="valid")
    assert (out.status, out.message) == ("fail", "the certificate is not valid before 2026-09-01")
    cert.update(not_yet_valid=False, not_before=None, not_after="")
    assert run("registry_certificate", data, check="valid").message == (
        "valid from ? until ? (None days)"
    )


def test_registry_certificate_renewal() -> None:
    data = reg()
    cert = data["transport"]["tls"]["certificate"]
    out = run("registry_certificate", data, check="renewal")
    assert (out.status, out.message) == (
        "pass",
        "the certificate expires on 2027-09-01, in 276 days",
    )
    cert["days_left"] = 30
    assert run("registry_certificate", data, check="renewal").status == "pass"
    cert["days_left"] = 29
    out = run("registry_certificate", data, check="renewal")
    assert (out.status, out.message) == (
        "fail",
        "the certificate expires on 2027-09-01, in 29 days (under 30 days)",
    )
    assert run("registry_certificate", data, check="renewal", warn_days=29).status == "pass"
    assert run("registry_certificate", data, check="renewal", warn_days="30").status == "fail"
    del cert["days_left"]
    assert run("registry_certificate", data, check="renewal").message.endswith(
        "in 0 days (under 30 days)"
    )
    cert.update(expired=True, days_left=-1)
    out = run("registry_certificate", data, check="renewal")
    assert (out.status, out.message) == ("fail", "the certificate expired on 2027-09-01; renew it")


def test_registry_certificate_hostname() -> None:
    data = reg()
    cert = data["transport"]["tls"]["certificate"]
    out = run("registry_certificate", data, check="hostname")
    assert (out.status, out.message) == ("pass", "127.0.0.1 matches the certificate (IP:127.0.0.1)")
    cert.update(hostname_match=False, dns_names=[f"h{i}" for i in range(11)], hostname="reg")
    out = run("registry_certificate", data, check="hostname")
    assert out.status == "fail"
    assert out.message == (
        "the certificate names " + ", ".join(f"DNS:h{i}" for i in range(10)) + ", not reg"
    )
    cert.update(dns_names=None, ip_addresses=None)
    assert run("registry_certificate", data, check="hostname").message == (
        "the certificate names no subject alternative name, not reg"
    )


def test_registry_certificate_trusted() -> None:
    data = reg()
    tls = data["transport"]["tls"]
    out = run("registry_certificate", data, check="trusted")
    assert (out.status, out.message) == (
        "pass",
        "issued by CN=assessor test CA, verified against system CA store, "
        "/etc/docker/certs.d/127.0.0.1:5000/ca.crt",
    )
    tls.update(trusted=False, verify_error="unable to get local issuer certificate")
    out = run("registry_certificate", data, check="trusted")
    assert (out.status, out.message) == (
        "fail",
        "its chain does not verify: unable to get local issuer certificate (issuer CN=assessor "
        "test CA; trusted: system CA store, /etc/docker/certs.d/127.0.0.1:5000/ca.crt)",
    )
    tls["certificate"]["self_signed"] = True
    tls["trust_anchors"] = None
    assert run("registry_certificate", data, check="trusted").message == (
        "a self-signed certificate does not verify: unable to get local issuer certificate "
        "(issuer CN=assessor test CA; trusted: )"
    )


def test_registry_certificate_errors_and_no_tls() -> None:
    data = reg()
    assert error_of("registry_certificate", data, check="color") == (
        "registry_certificate: unknown check 'color'"
    )
    data["transport"]["tls"]["certificate"] = None
    assert error_of("registry_certificate", data, check="valid") == (
        "the registry presented no certificate"
    )
    data["transport"]["tls"]["checked"] = False
    out = run("registry_certificate", data, check="valid")
    assert (out.status, out.message) == (
        "not_applicable",
        "https://127.0.0.1:5000 serves no TLS (judged by registry-tls-required)",
    )


def test_registry_anonymous_base() -> None:
    data = reg()
    out = run("registry_anonymous", data, probe="base")
    assert (out.status, out.message) == (
        "pass",
        "GET https://127.0.0.1:5000/v2/ answers 401 (Basic challenge)",
    )
    data["api"]["challenge"] = None
    assert run("registry_anonymous", data, probe="base").message.endswith(
        "answers 401 (no challenge)"
    )
    data["api"]["challenge"] = {"scheme": ""}
    assert run("registry_anonymous", data, probe="base").message.endswith("(no challenge)")
    del data["api"]["status"]
    assert error_of("registry_anonymous", data, probe="base") == "evidence 'api.status' is absent"
    data["api"]["anonymous_access"] = True
    out = run("registry_anonymous", data, probe="base")
    assert (out.status, out.message) == (
        "fail",
        "GET https://127.0.0.1:5000/v2/ answers 200 without credentials: anyone who reaches it "
        "may use the registry",
    )
    del data["api"]["anonymous_access"]
    assert error_of("registry_anonymous", data, probe="base") == (
        "evidence 'api.anonymous_access' is absent"
    )


def test_registry_anonymous_catalog_pull_push() -> None:
    data = reg()
    anon = data["anonymous"]
    out = run("registry_anonymous", data, probe="catalog")
    assert (out.status, out.message) == (
        "pass",
        "GET https://127.0.0.1:5000/v2/_catalog without credentials: 401",
    )
    anon["catalog"]["allowed"] = True
    out = run("registry_anonymous", data, probe="catalog")
    assert (out.status, out.message) == (
        "fail",
        "GET https://127.0.0.1:5000/v2/_catalog lists the repositories to anyone (200)",
    )
    out = run("registry_anonymous", data, probe="pull")
    assert (out.status, out.message) == ("pass", "anonymous pull of app refused (401)")
    anon["pull"]["allowed"] = True
    out = run("registry_anonymous", data, probe="pull")
    assert (out.status, out.message) == (
        "fail",
        "anonymous pull is allowed: manifest app:1.0 answered 401",
    )
    del anon["pull"]["manifest_status"]
    anon["pull"].update(probe_repository=True, tags_status=200)
    out = run("registry_anonymous", data, probe="pull")
    assert out.message == (
        "anonymous pull is allowed: tags/list of a repository that does not exist (app) answered 200"
    )
    anon["pull"]["allowed"] = False
    assert run("registry_anonymous", data, probe="pull").message == (
        "anonymous pull of a repository that does not exist (app) refused (200)"
    )
    out = run("registry_anonymous", data, probe="push")
    assert (out.status, out.message) == (
        "pass",
        "an anonymous blob upload to app was refused (401)",
    )
    anon["push"].update(allowed=True, status=202, cancelled=True)
    out = run("registry_anonymous", data, probe="push")
    assert (out.status, out.message) == (
        "fail",
        "anyone may write: an anonymous blob upload to app was accepted (202; cancelled at once, "
        "never completed)",
    )
    anon["push"]["cancelled"] = False
    assert (
        "(202; could NOT be cancelled, never completed)"
        in run("registry_anonymous", data, probe="push").message
    )
    anon["push"]["skipped"] = "no push probe without --probe-push"
    out = run("registry_anonymous", data, probe="push")
    assert (out.status, out.message) == ("not_applicable", "no push probe without --probe-push")
    assert error_of("registry_anonymous", data, probe="delete") == (
        "evidence 'anonymous.delete' is absent"
    )
    anon["delete"] = {}
    assert error_of("registry_anonymous", data, probe="delete") == (
        "registry_anonymous: unknown probe 'delete'"
    )
    anon["pull"] = {"error": "timed out"}
    assert error_of("registry_anonymous", data, probe="pull") == (
        "anonymous.pull could not be observed: timed out"
    )


def tag(repo: str, name: str, age: int | None, **more: Any) -> dict[str, Any]:
    return {
        "repository": repo,
        "tag": name,
        "age_days": age,
        "created": "2026-01-02T00:00:00Z",
        **more,
    }


def test_registry_stale_images() -> None:
    data = reg()
    content = data["content"]
    out = run("registry_stale_images", data)
    assert (out.status, out.message) == ("pass", "2 tag(s) built 28 days ago (limit 90)")
    content["tags"] = [tag("a", "1", 10), tag("a", "2", 90), tag("b", "1", None), "junk"]
    out = run("registry_stale_images", data)
    assert (
        out.message == "2 tag(s) built 10 to 90 days ago (limit 90); 1 tag(s) record no build time"
    )
    content["tags"] = [tag("a", "1", 91), tag("a", "2", 400, created=None), tag("b", "x", 5)]
    out = run("registry_stale_images", data)
    assert (out.status, out.message) == (
        "fail",
        "2 of 3 tag(s) older than 90 days: a:2 (400 days, built ?), a:1 (91 days, built 2026-01-02)",
    )
    content["stale_days"] = 0
    assert run("registry_stale_images", data, max_days=95).message.startswith(
        "1 of 3 tag(s) older than 95 days: a:2"
    )
    content["stale_days"] = 30
    assert run("registry_stale_images", data, max_days=500).message.startswith(
        "2 of 3 tag(s) older than 30 days"
    )
    content["tags"] = [tag("r", str(i), 100 + i) for i in range(12)]
    out = run("registry_stale_images", data)
    assert out.message.endswith("r:2 (102 days, built 2026-01-02) and 2 more")
    content.update(tags=[tag("a", "1", None)], tags_truncated=True)
    out = run("registry_stale_images", data)
    assert (out.status, out.message) == (
        "not_applicable",
        "none of the 1 tag(s) records a build time (or only the epoch, as reproducible builds "
        "do); only the first 1 tags were read",
    )
    content.update(
        tags=[tag("a", "1", None, error="manifest unknown"), tag("b", "1", 1, error="x")],
        tags_truncated=False,
        repositories_truncated=True,
    )
    out = run("registry_stale_images", data)
    assert (out.status, out.message) == (
        "not_applicable",
        "the registry holds no readable tag; only the first 2 tags were read; 2 tag(s) "
        "unreadable: manifest unknown; x",
    )
    content.update(
        tags=[tag("a", str(i), 1, error=f"e{i}") for i in range(4)] + [tag("z", "1", 1)],
        repositories_truncated=False,
    )
    assert run("registry_stale_images", data).message == (
        "1 tag(s) built 1 days ago (limit 30); 4 tag(s) unreadable: e0; e1; e2"
    )
    content["tags"] = None
    assert run("registry_stale_images", data).message == "the registry holds no readable tag"
    del content["tags"]
    assert error_of("registry_stale_images", data) == "evidence 'content.tags' is absent"
    content["tags"] = []
    del content["stale_days"]
    assert error_of("registry_stale_images", data) == "evidence 'content.stale_days' is absent"


def test_registry_latest_current() -> None:
    data = reg()
    content = data["content"]
    out = run("registry_latest_current", data)
    assert (out.status, out.message) == ("pass", "'latest' is the newest image in app")
    content["latest"].append(
        {
            "repository": "web",
            "current": False,
            "newest_tag": "2",
            "created": "2026-01-01T00:00:00Z",
            "newest_created": None,
        }
    )
    out = run("registry_latest_current", data)
    assert (out.status, out.message) == (
        "fail",
        "web:latest (built 2026-01-01) is older than web:2 (built ?)",
    )
    content["latest"] = ["junk"]
    out = run("registry_latest_current", data)
    assert (out.status, out.message) == ("not_applicable", "no repository has a 'latest' tag")
    content["latest"] = None
    assert run("registry_latest_current", data).status == "not_applicable"
    del content["latest"]
    assert error_of("registry_latest_current", data) == "evidence 'content.latest' is absent"


def test_registry_signed_images() -> None:
    data = reg()
    content = data["content"]
    out = run("registry_signed_images", data)
    assert (out.status, out.message) == ("fail", "2 of 2 tag(s) unsigned: app:1.0, app:latest")
    for t in content["tags"]:
        t.update(signed=True, signature_kinds=["notation", "cosign"])
    content["tags"][1]["signature_kinds"] = None
    content["tags_truncated"] = True
    out = run("registry_signed_images", data)
    assert (out.status, out.message) == (
        "pass",
        "2 tag(s) signed (cosign, notation); only the first 2 tags were read",
    )
    content["tags"] = []
    out = run("registry_signed_images", data)
    assert (out.status, out.message) == (
        "not_applicable",
        "the registry holds no readable tag; only the first 0 tags were read",
    )


def test_registry_daemon_secure() -> None:
    data = reg()
    view = data["daemon"]
    out = run("registry_daemon_secure", data)
    assert (out.status, out.message) == (
        "pass",
        "127.0.0.1:5000 is insecure for build-host only through dockerd's built-in 127.0.0.0/8 "
        "(loopback traffic stays on this machine)",
    )
    view.update(default_loopback_cidr=False, mirrors=["m1", "m2"])
    out = run("registry_daemon_secure", data)
    assert (out.status, out.message) == (
        "fail",
        "build-host treats 127.0.0.1:5000 as insecure (insecure-registries CIDR 127.0.0.0/8): it "
        "pulls from it over plain HTTP or unverified TLS; registry mirrors: m1, m2",
    )
    view.update(insecure=False, engine=None, mirrors=None)
    out = run("registry_daemon_secure", data)
    assert (out.status, out.message) == ("pass", "the local engine verifies TLS for 127.0.0.1:5000")
    view.update(checked=False, reason="")
    out = run("registry_daemon_secure", data)
    assert (out.status, out.message) == ("not_applicable", "no local Docker engine")
    view.update(reason="the engine is remote")
    assert run("registry_daemon_secure", data).message == "the engine is remote"


def test_image_list_holding_the_word_items_is_a_list() -> None:
    out = run("image_none_found", {"ports": ["items"]}, evidence="ports", found="ports")
    assert (out.status, out.message) == ("fail", "1 ports: items")


def test_registry_listing_of_exactly_ten_has_no_remainder() -> None:
    data = reg()
    data["content"]["tags"] = [tag("r", str(i), 1) for i in range(10)]
    out = run("registry_signed_images", data)
    assert out.message == "10 of 10 tag(s) unsigned: " + ", ".join(f"r:{i}" for i in range(10))


def test_registry_anonymous_pull_refused_names_the_manifest_status_first() -> None:
    data = reg()
    data["anonymous"]["pull"].update(manifest_status=401, tags_status=404)
    assert run("registry_anonymous", data, probe="pull").message == (
        "anonymous pull of app refused (401)"
    )


def test_registry_stale_images_default_limit_and_notes() -> None:
    data = reg()
    content = data["content"]
    content.update(stale_days=None, tags=[tag("a", "1", 90), tag("a", "2", None)])
    content["tags_truncated"] = True
    out = run("registry_stale_images", data)
    assert (out.status, out.message) == (
        "pass",
        "1 tag(s) built 90 days ago (limit 90); only the first 2 tags were read; "
        "1 tag(s) record no build time",
    )
    content["tags"][0]["age_days"] = 91
    assert run("registry_stale_images", data).message.startswith(
        "1 of 2 tag(s) older than 90 days: a:1 (91 days"
    )


def test_registry_ca_files() -> None:
    data = fixture("registry-daemon-ca-files-mode", "not_applicable-no-ca-files.json")
    out = run("registry_ca_files", data, max_mode="0444")
    assert (out.status, out.message) == (
        "not_applicable",
        "the local engine has no CA file in /etc/docker/certs.d/127.0.0.1:5000",
    )
    data["docker"]["certs_dir"] = None
    assert run("registry_ca_files", data, max_mode="0444").message == (
        "the local engine has no CA file in /etc/docker/certs.d/HOST"
    )


# --- container and engine evaluators (assessor/evaluate/functions.py) -------------------------


def container() -> dict[str, Any]:
    """A captured container: SecurityOpt [no-new-privileges], the daemon's default false."""
    return fixture("container-no-new-privileges", "pass-captured-no-new-privileges.json")


@pytest.mark.parametrize("sep", ["=", ":"])
@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_no_new_privileges_true_spellings(sep: str, value: str) -> None:
    data = container()
    opt = f"no-new-privileges{sep}{value}"
    data["HostConfig"]["SecurityOpt"] = ["no-new-privileges=false", opt]
    out = run("container_no_new_privileges", data)
    assert (out.status, out.message) == (
        "pass",
        f"restricted: the container's own SecurityOpt {opt!r} (overrides the daemon's default)",
    )


@pytest.mark.parametrize("sep", ["=", ":"])
@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False"])
def test_no_new_privileges_false_spellings(sep: str, value: str) -> None:
    data = container()
    data["Assessor"]["DaemonNoNewPrivileges"]["value"] = True
    opt = f"no-new-privileges{sep}{value}"
    data["HostConfig"]["SecurityOpt"] = ["no-new-privileges", opt, "seccomp=unconfined"]
    out = run("container_no_new_privileges", data)
    assert (out.status, out.message) == (
        "fail",
        f"may acquire new privileges: the container's own SecurityOpt {opt!r} (overrides the "
        "daemon's default)",
    )


def test_no_new_privileges_refused_value_and_absent_evidence() -> None:
    data = container()
    data["HostConfig"]["SecurityOpt"] = ["no-new-privileges=yes"]
    assert error_of("container_no_new_privileges", data) == (
        "SecurityOpt 'no-new-privileges=yes': dockerd would refuse this value"
    )
    data["HostConfig"]["SecurityOpt"] = ["no-new-privilegesX=1", "label=no-new-privileges"]
    assert run("container_no_new_privileges", data).status == "fail"
    del data["Assessor"]["DaemonNoNewPrivileges"]
    assert error_of("container_no_new_privileges", data) == (
        "evidence 'Assessor.DaemonNoNewPrivileges' is absent"
    )
    del data["HostConfig"]["SecurityOpt"]
    assert error_of("container_no_new_privileges", data) == (
        "evidence 'HostConfig.SecurityOpt' is absent"
    )
    assert error_of("container_no_new_privileges", None) == (
        "evidence 'HostConfig.SecurityOpt' is absent"
    )


def test_no_new_privileges_from_the_daemon() -> None:
    data = container()
    data["HostConfig"]["SecurityOpt"] = None
    daemon = data["Assessor"]["DaemonNoNewPrivileges"]
    daemon.update(value=True, origin="daemon.json")
    out = run("container_no_new_privileges", data)
    assert (out.status, out.message) == (
        "pass",
        "restricted by the daemon's default (CIS 2.15: no-new-privileges true, from "
        "daemon.json); the container does not opt out",
    )
    daemon.update(value=False, origin=None)
    out = run("container_no_new_privileges", data)
    assert (out.status, out.message) == (
        "fail",
        "may acquire new privileges: no no-new-privileges in SecurityOpt, and the daemon's "
        "default is false (from not observed)",
    )
    daemon.update(value=None)
    out = run("container_no_new_privileges", data)
    assert (out.status, out.message) == (
        "fail",
        "no no-new-privileges in SecurityOpt, and the daemon's default could not be read (not "
        "a local dockerd): CIS 5.26 audit requires it in SecurityOpt",
    )
    daemon.update(value=1)
    assert run("container_no_new_privileges", data).message.startswith("no no-new-privileges")


def caps(add: Any, drop: Any, privileged: bool = False) -> Outcome:
    data = container()
    data["HostConfig"].update(CapAdd=add, CapDrop=drop, Privileged=privileged)
    return run("container_capabilities", data)


TAIL = "; CIS 5.4: remove NET_RAW unless required (waive with the reason when it is)"


def test_capabilities() -> None:
    out = caps(["cap_sys_admin", "CHOWN", "sys_ptrace"], ["NET_RAW"])
    assert (out.status, out.message) == (
        "fail",
        "adds dangerous capabilities: SYS_ADMIN, SYS_PTRACE (CapAdd=['SYS_ADMIN', 'CHOWN', "
        "'SYS_PTRACE'] CapDrop=['NET_RAW'])" + TAIL,
    )
    out = caps(None, None, privileged=True)
    assert out.message == (
        "runs --privileged (every capability, NET_RAW included) (CapAdd=none CapDrop=none)" + TAIL
    )
    assert caps(["NET_RAW"], ["ALL"]).message == (
        "adds NET_RAW back (CapAdd=['NET_RAW'] CapDrop=['ALL'])" + TAIL
    )
    assert caps(["ALL"], ["ALL"]).message.startswith(
        "adds dangerous capabilities: ALL; adds NET_RAW back ("
    )
    assert caps(["CHOWN"], ["MKNOD"]).message == (
        "keeps NET_RAW (in Docker's default set; not in CapDrop) (CapAdd=['CHOWN'] "
        "CapDrop=['MKNOD'])" + TAIL
    )
    for drop in (["ALL"], ["cap_net_raw"]):
        out = caps(["CHOWN"], drop)
        assert out.status == "pass"
        assert out.message == (
            f"no dangerous capability added and NET_RAW removed (CapAdd=['CHOWN'] "
            f"CapDrop={_expected_caps(drop)}); whether the remaining capabilities are needed is "
            "for the reviewer (CIS 5.4 audit)"
        )
    assert caps("ALL", ["ALL"]).status == "pass"  # not a list: nothing added


def _expected_caps(drop: list[str]) -> str:
    return str([c.upper().removeprefix("CAP_") for c in drop])


def test_capabilities_absent_evidence() -> None:
    data = container()
    del data["HostConfig"]["CapDrop"]
    assert error_of("container_capabilities", data) == "evidence 'HostConfig.CapDrop' is absent"
    del data["HostConfig"]["CapAdd"]
    assert error_of("container_capabilities", data) == "evidence 'HostConfig.CapAdd' is absent"
    assert error_of("container_capabilities", []) == "evidence 'HostConfig.CapAdd' is absent"


def selinux(engine: list[str], host: Any, options: Any, label: Any) -> Outcome:
    data = fixture("container-selinux-options", "pass-process-label.json")
    data["Assessor"].update(EngineSecurity=engine, HostSELinux=host)
    data["HostConfig"]["SecurityOpt"] = options
    data["ProcessLabel"] = label
    return run("container_selinux", data)


def test_selinux() -> None:
    label = "system_u:system_r:container_t:s0:c1,c2"
    out = selinux(["seccomp", "selinux"], True, None, label)
    assert (out.status, out.message) == ("pass", f"SELinux label: {label}")
    out = selinux(["selinux"], True, ["label:type:svirt_t", "seccomp=x"], "")
    assert (out.status, out.message) == ("pass", "SELinux label: label:type:svirt_t")
    out = selinux(["selinux"], True, ["label=level:s0"], label)
    assert out.message == f"SELinux label: {label}, label=level:s0"
    out = selinux(["selinux"], True, ["label:disable"], label)
    assert (out.status, out.message) == (
        "fail",
        "SELinux labelling disabled for this container (label:disable)",
    )
    out = selinux(["selinux"], None, [], None)
    assert (out.status, out.message) == (
        "fail",
        "dockerd runs with SELinux but the container has no SELinux label",
    )
    out = selinux(["seccomp"], True, [], label)
    assert (out.status, out.message) == (
        "fail",
        "the host has SELinux enabled (/sys/fs/selinux/enforce) but dockerd runs without "
        "selinux-enabled (info.SecurityOptions has no selinux): containers get no SELinux label",
    )
    out = selinux([], False, [], "")
    assert (out.status, out.message) == (
        "not_applicable",
        "neither the host (no /sys/fs/selinux) nor dockerd uses SELinux",
    )
    out = selinux([], None, [], "")
    assert (out.status, out.message) == (
        "not_applicable",
        "dockerd does not run with SELinux; whether its host has SELinux was not observed "
        "(the engine is not local)",
    )


def test_selinux_absent_evidence() -> None:
    data = fixture("container-selinux-options", "pass-process-label.json")
    del data["ProcessLabel"]
    assert error_of("container_selinux", data) == "evidence 'ProcessLabel' is absent"
    del data["Assessor"]["HostSELinux"]
    assert error_of("container_selinux", data) == "evidence 'Assessor.HostSELinux' is absent"
    data["Assessor"]["EngineSecurity"] = None
    assert error_of("container_selinux", data) == "evidence 'Assessor.EngineSecurity' is absent"
    del data["HostConfig"]["SecurityOpt"]
    assert error_of("container_selinux", data) == "evidence 'HostConfig.SecurityOpt' is absent"
    assert error_of("container_selinux", "x") == "evidence 'HostConfig.SecurityOpt' is absent"


def test_overlay_networks_encrypted() -> None:
    data = fixture("engine-swarm-overlay-encrypted", "pass-captured-encrypted.json")
    overlay = {"Driver": "overlay", "Options": {"encrypted": ""}}
    data["networks"] = [
        {"Name": "bridge", "Driver": "bridge", "Options": {}},
        dict(overlay, Name="a"),
        dict(overlay, Name="b"),
        "junk",
    ]
    out = run("engine_overlay_networks_encrypted", data)
    assert (out.status, out.message) == ("pass", "every overlay network is encrypted: a, b")
    data["networks"] += [
        dict(overlay, Name="c", Options=None),
        dict(overlay, Name="d", Options={"x": "1"}),
    ]
    out = run("engine_overlay_networks_encrypted", data)
    assert (out.status, out.message) == ("fail", "overlay networks not encrypted: c, d")
    data["networks"] = [{"Name": "bridge", "Driver": "bridge"}]
    out = run("engine_overlay_networks_encrypted", data)
    assert (out.status, out.message) == ("not_applicable", "the engine has no overlay network")
    data["networks"] = None
    assert error_of("engine_overlay_networks_encrypted", data) == "evidence 'networks' is absent"
    assert error_of("engine_overlay_networks_encrypted", 3) == "evidence 'networks' is absent"


def test_container_sprawl() -> None:
    data = fixture("engine-container-sprawl", "pass-all-running.json")
    data["containers"] = {"total": 30, "running": 4, "stopped": 26}
    out = run("engine_container_sprawl", data, max_stopped=25)
    assert (out.status, out.message) == (
        "fail",
        "26 stopped and 4 running of 30 containers: more stopped than the threshold of 25",
    )
    out = run("engine_container_sprawl", data, max_stopped="26")
    assert (out.status, out.message) == (
        "pass",
        "26 stopped and 4 running of 30 containers (threshold: more than 26 stopped)",
    )
    for broken in ({"total": 1, "running": 1}, {"total": 1, "running": "1", "stopped": 0}, None):
        data["containers"] = broken
        assert error_of("engine_container_sprawl", data, max_stopped=1) == (
            "evidence 'containers' (total, running, stopped) is absent"
        )
    assert error_of("engine_container_sprawl", [], max_stopped=1) == (
        "evidence 'containers' (total, running, stopped) is absent"
    )


SWARM = [
    {"port": 2377, "protocol": "tcp"},
    {"port": 7946, "protocol": "tcp"},
    {"port": 7946, "protocol": "udp"},
]


def test_host_port_bound_to_interface() -> None:
    data = fixture("host-swarm-port-bound", "pass-captured-manager-bound.json")
    data["listening"] = [
        {"address": "10.0.0.5", "port": 2377, "protocol": "tcp"},
        {"address": "10.0.0.5", "port": 7946},
        {"address": "0.0.0.0", "port": 2377, "protocol": "udp"},
        {"address": "0.0.0.0", "port": 22, "protocol": "tcp"},
        "junk",
    ]
    out = run("host_port_bound_to_interface", data, ports=SWARM)
    assert (out.status, out.message) == (
        "pass",
        "bound to specific addresses: 10.0.0.5:2377/tcp, 10.0.0.5:7946/tcp",
    )
    data["listening"] += [
        {"address": "::", "port": 7946, "protocol": "udp"},
        {"address": "0.0.0.0", "port": 7946, "protocol": "tcp"},
    ]
    out = run("host_port_bound_to_interface", data, ports=SWARM)
    assert (out.status, out.message) == (
        "fail",
        "listening on every interface: :::7946/udp, 0.0.0.0:7946/tcp",
    )
    out = run("host_port_bound_to_interface", data, port=22)
    assert (out.status, out.message) == ("fail", "listening on every interface: 0.0.0.0:22/tcp")
    out = run("host_port_bound_to_interface", data, ports=[{"port": "2376", "protocol": "TCP"}])
    assert (out.status, out.message) == ("not_applicable", "nothing listens on 2376/tcp")
    out = run(
        "host_port_bound_to_interface", data, ports=[{"port": 22, "protocol": "udp"}, {"port": 23}]
    )
    assert (out.status, out.message) == ("not_applicable", "nothing listens on 22/udp, 23/tcp")
    data["listening"] = None
    assert error_of("host_port_bound_to_interface", data, port=22) == (
        "evidence 'listening' is absent (only a live host shows it)"
    )
    assert error_of("host_port_bound_to_interface", "x", port=22) == (
        "evidence 'listening' is absent (only a live host shows it)"
    )


def mounts(
    *ms: dict[str, Any],
    paths: dict[str, str] | None = None,
    resolved: bool = True,
    reason: str | None = None,
) -> dict[str, Any]:
    """The captured /etc bind container with these mounts and resolved sources."""
    data = fixture("container-sensitive-host-paths-not-mounted", "fail-captured-bind-etc.json")
    data["Mounts"] = list(ms)
    data["Assessor"]["MountSources"] = {"paths": paths or {}, "resolved": resolved, "root": "/"}
    if reason is not None:
        data["Assessor"]["MountSources"]["reason"] = reason
    return data


def bind(src: str, dst: str, rw: bool | None = True, **more: Any) -> dict[str, Any]:
    m = {"Type": "bind", "Source": src, "Destination": dst, **more}
    if rw is not None:
        m["RW"] = rw
    return m


RESOLVED = "sources resolved on the engine's host"


def test_sensitive_mounts() -> None:
    data = mounts(
        bind("/srv/data", "/data"),
        bind("/etc", "/host-etc", rw=False),
        bind("//usr//local/", "/l", rw=None),
        bind("/home/x/link", "/x", rw=False),
        {"Type": "volume", "Source": "/var/lib/docker/volumes/v/_data", "Destination": "/v"},
        bind("/", "/host"),
        "junk",
        paths={"/home/x/link": "/etc/ssl", "//usr//local/": "/usr/local"},
    )
    out = run("container_sensitive_mounts", data)
    assert out.status == "fail"
    assert out.message == (
        f"sensitive host paths mounted (2 read-write, 2 read-only; {RESOLVED}): "
        "/usr/local -> /l (rw; below /usr), / -> /host (rw; is /), "
        "/etc -> /host-etc (ro; is /etc), /home/x/link -> /x (ro; resolves to /etc/ssl, below /etc)"
    )
    data = mounts(bind("/home/x/etc", "/e"), paths={"/home/x/etc": "/etc"})
    assert run("container_sensitive_mounts", data).message.endswith(
        "/home/x/etc -> /e (rw; resolves to /etc, is /etc)"
    )
    data = mounts(bind("/srv", "/srv"), bind("/etcetera", "/x"), bind("/x", "/y"), paths={"/x": ""})
    out = run("container_sensitive_mounts", data)
    assert (out.status, out.message) == ("pass", f"no sensitive host path is mounted ({RESOLVED})")
    data = mounts(bind("/srv", "/srv"))
    out = run("container_sensitive_mounts", data, paths=["/srv/"])
    assert out.message.endswith("/srv -> /srv (rw; is /srv)")


def test_sensitive_mounts_unresolved_sources() -> None:
    data = mounts(
        bind("/home/x/link", "/x"),
        paths={"/home/x/link": "/etc"},
        resolved=False,
        reason="remote engine",
    )
    out = run("container_sensitive_mounts", data)
    assert (out.status, out.message) == (
        "pass",
        "no sensitive host path is mounted (sources as the engine names them (remote engine))",
    )
    data = mounts(bind("/etc", "/e"), resolved=False)
    assert run("container_sensitive_mounts", data).message.startswith(
        "sensitive host paths mounted (1 read-write, 0 read-only; sources as the engine names "
        "them (not resolved)): /etc -> /e (rw; is /etc)"
    )
    data["Assessor"]["MountSources"] = None
    assert error_of("container_sensitive_mounts", data) == (
        "evidence 'Assessor.MountSources' is absent"
    )
    data["Assessor"] = None
    assert error_of("container_sensitive_mounts", data) == (
        "evidence 'Assessor.MountSources' is absent"
    )
    data = mounts()
    data["Mounts"] = None
    assert error_of("container_sensitive_mounts", data) == "evidence 'Mounts' is absent"


def sockets(data: dict[str, Any], *paths: str) -> dict[str, Any]:
    data["Assessor"]["DaemonSockets"] = {"hosts": [], "paths": list(paths), "resolved": True}
    return data


def test_docker_socket_mounted() -> None:
    data = sockets(
        mounts(
            bind("/srv/docker.sock", "/a"),
            bind("/run", "/b"),
            bind("/data/docker.sock", "/c"),
            bind("/home/x/sock", "/d"),
            bind("/", "/e"),
            {"Type": "volume", "Source": "/srv/docker.sock", "Destination": "/v"},
            paths={"/home/x/sock": "/srv/docker.sock"},
        ),
        "/srv/docker.sock",
        "/run/docker.sock",
    )
    out = run("container_docker_socket_mounted", data)
    assert out.status == "fail"
    assert out.message == (
        "Docker socket mounted: /srv/docker.sock -> /a (the daemon's socket /srv/docker.sock); "
        "/run -> /b (a folder holding the daemon's socket /run/docker.sock); "
        "/data/docker.sock -> /c (a file named docker.sock (CIS 5.32 audit)); "
        "/home/x/sock -> /d (the daemon's socket /srv/docker.sock); "
        "/ -> /e (a folder holding the daemon's socket /srv/docker.sock)"
    )
    data = sockets(
        mounts(bind("/srv/x", "/a"), bind("/srv/docker.sockets", "/b"), bind("/ru", "/c")),
        "/srv/docker.sock",
        "/run/docker.sock",
    )
    out = run("container_docker_socket_mounted", data)
    assert (out.status, out.message) == (
        "pass",
        "no mount gives the Docker socket (checked the daemon's sockets: /srv/docker.sock, "
        f"/run/docker.sock; {RESOLVED})",
    )
    data["Assessor"]["DaemonSockets"] = {"paths": "/run/docker.sock"}
    assert error_of("container_docker_socket_mounted", data) == (
        "evidence 'Assessor.DaemonSockets' is absent"
    )
    data["Assessor"]["DaemonSockets"] = None
    assert error_of("container_docker_socket_mounted", data) == (
        "evidence 'Assessor.DaemonSockets' is absent"
    )


def test_mount_propagation_shared() -> None:
    data = mounts(
        bind("/a", "/a", Propagation="rshared"),
        {"Type": "volume", "Name": "vol", "Destination": "/v", "Propagation": "SHARED"},
        bind("/b", "/b", Propagation="rslave"),
        bind("/c", "/c"),
    )
    out = run("container_mount_propagation_shared", data)
    assert (out.status, out.message) == (
        "fail",
        "mounts with shared propagation: /a -> /a (rshared), vol -> /v (SHARED)",
    )
    data = mounts(bind("/b", "/b", Propagation="private"))
    out = run("container_mount_propagation_shared", data)
    assert (out.status, out.message) == ("pass", "no mount uses shared propagation")


def ports(
    running: bool,
    bound: Any,
    requested: Any,
    publish_all: bool = False,
    exposed: Any = None,
    default_ip: Any = None,
) -> dict[str, Any]:
    data = fixture("container-ports-bound-to-interface", "pass-captured-port-high-localhost.json")
    data["State"]["Running"] = running
    data["NetworkSettings"]["Ports"] = bound
    data["HostConfig"].update(PortBindings=requested, PublishAllPorts=publish_all)
    data["Config"]["ExposedPorts"] = exposed
    data["Assessor"]["DefaultBindIP"] = default_ip
    return data


BOUND = "bound, NetworkSettings.Ports"
REQUESTED = "requested, HostConfig.PortBindings: the container is not running"


def test_ports_running_read_what_is_bound() -> None:
    data = ports(
        True,
        {
            "80/tcp": [
                {"HostIp": "0.0.0.0", "HostPort": "32768"},
                {"HostIp": "::", "HostPort": "32768"},
            ],
            "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}],
            "53/udp": None,
        },
        {},
    )
    out = run("container_ports_on_all_interfaces", data)
    assert (out.status, out.message) == (
        "fail",
        f"ports bound to all host interfaces ({BOUND}): 0.0.0.0:32768->80/tcp, :::32768->80/tcp",
    )
    data = ports(
        True, {"443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}], "53/udp": []}, None
    )
    out = run("container_ports_on_all_interfaces", data)
    assert (out.status, out.message) == (
        "pass",
        f"every published port is bound to one address ({BOUND}): 127.0.0.1:8443->443/tcp",
    )
    out = run("container_ports_on_all_interfaces", ports(True, None, {"80/tcp": [{}]}))
    assert (out.status, out.message) == ("pass", f"no published ports ({BOUND})")


def test_ports_stopped_read_what_was_requested() -> None:
    data = ports(
        False,
        {},
        {"80/tcp": [{"HostIp": "", "HostPort": ""}], "81/tcp": [None]},
        publish_all=True,
        exposed={"80/tcp": {}, "90/tcp": {}},
    )
    out = run("container_ports_on_all_interfaces", data)
    assert out.message == (
        f"ports bound to all host interfaces ({REQUESTED}): 0.0.0.0:(chosen at start)->80/tcp, "
        "0.0.0.0:(chosen at start)->81/tcp, 0.0.0.0:(chosen at start)->90/tcp"
    )
    data = ports(
        False, {}, {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, exposed={"90/tcp": {}}
    )
    assert run("container_ports_on_all_interfaces", data).message.endswith("0.0.0.0:8080->80/tcp")
    data = ports(False, {}, None, publish_all=True, exposed=None)
    assert (
        run("container_ports_on_all_interfaces", data).message
        == f"no published ports ({REQUESTED})"
    )
    data["Config"] = None
    assert run("container_ports_on_all_interfaces", data).status == "pass"


def test_ports_stopped_with_the_daemons_bind_address() -> None:
    default = {"address": "127.0.0.1", "from": "network bridge: option x"}
    data = ports(
        False,
        {},
        {"80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8081"}]},
        default_ip=default,
    )
    out = run("container_ports_on_all_interfaces", data)
    suffix = "; no HostIp binds 127.0.0.1 (network bridge: option x)"
    assert (out.status, out.message) == (
        "fail",
        f"ports bound to all host interfaces ({REQUESTED}{suffix}): :::8081->80/tcp",
    )
    data["HostConfig"]["PortBindings"] = {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "81/tcp": None,
    }
    out = run("container_ports_on_all_interfaces", data)
    assert (out.status, out.message) == (
        "pass",
        f"every published port is bound to one address ({REQUESTED}{suffix}): 127.0.0.1:8080->80/tcp",
    )
    for address in ("", "0.0.0.0", "::", None):
        data["Assessor"]["DefaultBindIP"] = {"address": address, "from": "x"}
        out = run("container_ports_on_all_interfaces", data)
        assert (
            out.message == f"ports bound to all host interfaces ({REQUESTED}): 0.0.0.0:8080->80/tcp"
        )
    data["Assessor"]["DefaultBindIP"] = "127.0.0.1"
    assert run("container_ports_on_all_interfaces", data).status == "fail"


def test_ports_absent_evidence() -> None:
    data = ports(True, {}, {})
    del data["NetworkSettings"]["Ports"]
    assert (
        error_of("container_ports_on_all_interfaces", data)
        == "evidence 'NetworkSettings.Ports' is absent"
    )
    data["NetworkSettings"] = None
    assert (
        error_of("container_ports_on_all_interfaces", data)
        == "evidence 'NetworkSettings.Ports' is absent"
    )
    del data["State"]["Running"]
    assert (
        error_of("container_ports_on_all_interfaces", data) == "evidence 'State.Running' is absent"
    )
    data["State"] = None
    assert (
        error_of("container_ports_on_all_interfaces", data) == "evidence 'State.Running' is absent"
    )
    del data["HostConfig"]["PublishAllPorts"]
    assert (
        error_of("container_ports_on_all_interfaces", data)
        == "evidence 'HostConfig.PublishAllPorts' is absent"
    )
    del data["HostConfig"]["PortBindings"]
    assert (
        error_of("container_ports_on_all_interfaces", data)
        == "evidence 'HostConfig.PortBindings' is absent"
    )
    data["HostConfig"] = None
    assert (
        error_of("container_ports_on_all_interfaces", data)
        == "evidence 'HostConfig.PortBindings' is absent"
    )
    assert (
        error_of("container_privileged_ports_mapped", [])
        == "evidence is not a container inspect document"
    )


def test_privileged_ports() -> None:
    data = ports(
        True,
        {
            "80/tcp": [{"HostIp": "", "HostPort": "80"}, {"HostIp": "::", "HostPort": "1023"}],
            "81/tcp": [
                {"HostIp": "127.0.0.1", "HostPort": "1024"},
                {"HostPort": "0"},
                {"HostPort": ""},
                None,
            ],
            "82/tcp": [{"HostIp": "10.0.0.1", "HostPort": "443-450"}],
            "83/tcp": None,
        },
        {},
    )
    out = run("container_privileged_ports_mapped", data)
    assert (out.status, out.message) == (
        "fail",
        f"host ports below 1024 mapped ({BOUND}): 0.0.0.0:80->80/tcp, :::1023->80/tcp, 10.0.0.1:443->82/tcp",
    )
    out = run("container_privileged_ports_mapped", data, below=80)
    assert (out.status, out.message) == ("pass", f"no host port below 80 is mapped ({BOUND})")
    out = run("container_privileged_ports_mapped", data, below="81")
    assert out.message == f"host ports below 81 mapped ({BOUND}): 0.0.0.0:80->80/tcp"


# --- host evaluators (assessor/evaluate/host.py) ----------------------------------------------

DOCKERD = ["/usr/bin/dockerd", "/usr/sbin/dockerd"]
LOADED = "the rules loaded in the kernel (auditctl -l)"


def audited_host(*rules: dict[str, Any]) -> dict[str, Any]:
    """A live host with auditd running, /usr/sbin/dockerd installed, and these loaded rules."""
    data = fixture("host-audit-dockerd", "pass-loaded.json")
    data["audit"]["rules"] = list(rules)
    return data


def arule(
    path: str | None, action: str = "always", watch: str = "path", **more: Any
) -> dict[str, Any]:
    """An audit rule as the collector records it (text: what auditctl -l prints)."""
    rule = {
        "action": action,
        "filters": [],
        "list": "exit",
        "origin": "auditctl -l",
        "path": path,
        "perms": "wa",
        "resolved": path,
        "syscalls": "all",
        "watch": watch,
        "text": f"-w {path} -p wa -k k" if path else f"-a {action},exit -S all",
    }
    rule.update(more)
    return rule


def watched(data: dict[str, Any], **args: Any) -> Outcome:
    return run("host_audit_watched", data, **({"paths": DOCKERD} | args))


def test_audit_watch_on_the_file_or_a_directory_above() -> None:
    out = watched(audited_host(arule("/usr/sbin/dockerd")))
    assert (out.status, out.message) == (
        "pass",
        f"audited: /usr/sbin/dockerd by '-w /usr/sbin/dockerd -p wa -k k' (auditctl -l) (read: {LOADED})",
    )
    out = watched(audited_host(arule("/usr/sbin", watch="dir", text="", perms="wa")))
    assert out.message == (
        "audited: /usr/sbin/dockerd by '-a always,exit -F dir=/usr/sbin' (auditctl -l) "
        f"(permissions wa) (read: {LOADED})"
    )
    out = watched(audited_host(arule("/usr/sbin/dockerd", text="", watch="path", perms=None)))
    assert out.message.startswith(
        "audited: /usr/sbin/dockerd by '-a always,exit -F path=/usr/sbin/dockerd' (auditctl -l) (read:"
    )
    text = "-a always,exit -F path=/usr/sbin/dockerd -F perm=wa"
    out = watched(audited_host(arule("/usr/sbin/dockerd", text=text)))
    assert out.message == f"audited: /usr/sbin/dockerd by '{text}' (auditctl -l) (read: {LOADED})"
    out = watched(audited_host(arule("/", watch="dir", resolved="/usr/sbin/")))
    assert out.status == "pass"
    out = watched(audited_host(dict(arule("/x", watch="dir"), resolved=None, path="/usr")))
    assert out.status == "pass"


def test_audit_path_watch_does_not_reach_below_it() -> None:
    out = watched(
        audited_host(
            arule("/usr/sbin"), arule("/usr/sbin/dockerd2"), arule("/usr/sbin/docker", watch="dir")
        )
    )
    assert (out.status, out.message) == (
        "fail",
        "no rule watches /usr/sbin/dockerd; '-w /usr/sbin -p wa -k k' (auditctl -l) watches "
        f"/usr/sbin itself only, not what is below it (read: {LOADED})",
    )
    out = watched(
        audited_host(
            arule(None, resolved=None),
            dict(arule("/usr/sbin/", watch="dir"), resolved=None, path=None),
        )
    )
    assert out.message == f"no rule watches /usr/sbin/dockerd (read: {LOADED})"


def test_audit_first_matching_rule_decides() -> None:
    never = arule(
        "/usr/sbin/dockerd", action="never", text="-a never,exit -F path=/usr/sbin/dockerd"
    )
    out = watched(audited_host(never, arule("/usr/sbin/dockerd")))
    assert (out.status, out.message) == (
        "fail",
        "/usr/sbin/dockerd is not audited: '-a never,exit -F path=/usr/sbin/dockerd' (auditctl -l) "
        f"suppresses it (read: {LOADED})",
    )
    task = arule(None, action="never", list="task", text="-a task,never")
    out = watched(audited_host(task, arule("/usr/sbin/dockerd")))
    assert out.message == (
        "/usr/sbin/dockerd is not audited: '-a task,never' (auditctl -l) suppresses syscall "
        f"auditing for every task (read: {LOADED})"
    )
    exit_never = arule(None, action="never", text="-a never,exit -S all")
    assert watched(audited_host(exit_never, arule("/usr/sbin/dockerd"))).message.endswith(
        f"suppresses every syscall event (read: {LOADED})"
    )
    conditional = [
        arule(None, action="never", list="task", filters=["uid=0"]),
        arule(None, action="never", list="task", syscalls="open"),
        arule(None, action="never", filters=["uid=0"]),
        arule(None, action="never", syscalls="open"),
        arule(None, action="always"),
        arule("/usr/sbin/dockerd", list="user"),
    ]
    out = watched(audited_host(*conditional, arule("/usr/sbin/dockerd")))
    assert out.status == "pass"
    out = watched(audited_host(*conditional))
    assert out.message == f"no rule watches /usr/sbin/dockerd (read: {LOADED})"


def test_audit_live_host_without_auditd() -> None:
    data = audited_host(arule("/usr/sbin/dockerd"))
    data["audit"]["file_rules"] = [
        arule("/usr/sbin/dockerd", origin="/etc/audit/rules.d/a.rules:3")
    ]
    data["audit"]["auditd"] = {"installed": True, "running": False, "pids": []}
    out = watched(data)
    assert (out.status, out.message) == (
        "fail",
        "auditd is not running, so nothing is audited; /etc/audit/rules.d/a.rules has a watch on "
        "/usr/sbin/dockerd, but nothing is loaded",
    )
    data["audit"]["file_rules"] = [arule("/usr/sbin/dockerd", action="never"), "junk"]
    data["audit"]["auditd"] = {"installed": False}
    out = watched(data)
    assert out.status == "fail"
    assert out.message == (
        "auditd is not installed, so nothing is audited; the rules files have no watch on "
        "/usr/sbin/dockerd"
    )
    data["audit"]["file_rules"] = []
    assert watched(data).message.endswith("; the rules files have no watch on /usr/sbin/dockerd")


def test_audit_live_host_disabled_or_unreadable() -> None:
    data = audited_host(arule("/usr/sbin/dockerd"))
    data["audit"]["status"] = {"enabled": 0}
    out = watched(data)
    assert (out.status, out.message) == (
        "fail",
        "auditing is disabled in the kernel (auditctl -s: enabled 0)",
    )
    data["audit"]["status"] = {"enabled": 2}
    assert watched(data).status == "pass"
    data["audit"]["source"] = "files"
    data["audit"]["loaded"] = {"command": "auditctl -l", "returncode": 1, "stderr": "denied"}
    assert error_of("host_audit_watched", data, paths=DOCKERD) == (
        "the loaded audit rules could not be read (auditctl -l exit 1: denied)"
    )


def test_audit_offline_root_reads_the_rules_files() -> None:
    data = audited_host(arule("/usr/sbin/dockerd"))
    data["audit"].update(live=False, auditd=None, loaded=None, status=None)
    data["audit"]["files"] = [
        {"path": "/etc/audit/rules.d/a.rules", "loaded_by_auditd": True},
        {"path": "/etc/audit/audit.rules", "loaded_by_auditd": False},
        {"path": "/etc/audit/rules.d/b.rules", "loaded_by_auditd": True},
    ]
    out = watched(data)
    assert out.message.endswith(
        "(read: the rules files of an offline root, /etc/audit/rules.d/a.rules, "
        "/etc/audit/rules.d/b.rules; whether they are loaded cannot be seen)"
    )
    data["audit"]["files"] = None
    assert watched(data).message.endswith(
        "(read: the rules files of an offline root, none found; whether they are loaded cannot be seen)"
    )


def test_audit_one_file_under_two_names() -> None:
    data = audited_host(arule("/usr/bin/dockerd"))
    data["files"]["/usr/bin/dockerd"] = dict(
        data["files"]["/usr/sbin/dockerd"], path="/usr/bin/dockerd"
    )
    data["audit"]["real_paths"]["/usr/sbin/dockerd"] = "/usr/bin/dockerd"
    data["audit"]["real_paths"]["/usr/bin/dockerd"] = "/usr/bin/dockerd"
    out = watched(data, paths=["/usr/bin/dockerd", "/usr/sbin/dockerd", "/usr/bin//dockerd"])
    assert out.message.startswith(
        "audited: /usr/bin/dockerd, /usr/sbin/dockerd by '-w /usr/bin/dockerd"
    )
    data["audit"]["rules"] = []
    data["audit"]["real_paths"]["/usr/sbin/dockerd"] = None
    data["files"]["/usr/sbin/dockerd"]["link_target"] = "/opt/docker/dockerd"
    out = watched(data, paths=["/usr/sbin/dockerd"])
    assert out.message == (
        f"no rule watches /usr/sbin/dockerd (the file /opt/docker/dockerd) (read: {LOADED})"
    )


def test_audit_not_installed_names_what_was_looked_for() -> None:
    data = audited_host()
    data["files"] = {}
    data["systemd"]["units"] = {}
    data["docker"]["data_root"] = None
    out = watched(data, paths=["/usr/local/bin/dockerd"], units=["docker.service"], data_root=True)
    assert (out.status, out.message) == (
        "not_applicable",
        "nothing to audit: none of /usr/local/bin/dockerd, the docker.service unit, Docker's data"
        " root exists on this host",
    )
    assert watched(data, paths=["/x"]).message == "nothing to audit: /x does not exist on this host"


def test_audit_absent_evidence() -> None:
    for key in (
        "rules",
        "source",
        "live",
        "files",
        "file_rules",
        "real_paths",
        "auditd",
        "loaded",
        "status",
    ):
        data = audited_host()
        del data["audit"][key]
        assert (
            error_of("host_audit_watched", data, paths=DOCKERD)
            == f"evidence 'audit.{key}' is absent"
        )
    for key in ("auditd", "loaded", "status"):
        data = audited_host()
        data["audit"][key] = None
        assert (
            error_of("host_audit_watched", data, paths=DOCKERD)
            == f"evidence 'audit.{key}' is absent"
        )
    data = audited_host()
    data["audit"] = []
    assert error_of("host_audit_watched", data, paths=DOCKERD) == "evidence 'audit' is absent"
    data["files"] = None
    assert error_of("host_audit_watched", data, paths=DOCKERD) == "evidence 'files' is absent"
    assert error_of("host_audit_watched", None, paths=DOCKERD) == "evidence 'files' is absent"
    data = audited_host()
    del data["systemd"]["units"]
    assert (
        error_of("host_audit_watched", data, units=["docker.service"])
        == "evidence 'systemd.units' is absent"
    )
    data = audited_host()
    del data["docker"]["data_root"]
    assert (
        error_of("host_audit_watched", data, data_root=True)
        == "evidence 'docker.data_root' is absent"
    )
    data["docker"] = None
    assert (
        error_of("host_audit_watched", data, tls=["tlscacert"])
        == "evidence 'docker.tls_files' is absent"
    )


def tls_host(**stat: Any) -> dict[str, Any]:
    """An offline root whose daemon.json names /etc/docker/tls/ca.pem (root:root 0444)."""
    data = fixture("host-tls-ca-cert-owner-root", "pass-captured-offline-hardened.json")
    data["files"]["/etc/docker/tls/ca.pem"].update(stat)
    return data


def test_file_permissions() -> None:
    args = {"tls": ["tlscacert"], "owners": ["root:root"], "max_mode": "0444"}
    out = run("host_file_permissions", tls_host(), **args)
    assert (out.status, out.message) == ("pass", "/etc/docker/tls/ca.pem 0444 root:root")
    out = run("host_file_permissions", tls_host(mode="0644", user="app", uid=1000), **args)
    assert (out.status, out.message) == (
        "fail",
        "/etc/docker/tls/ca.pem: mode 0644 (at most 0444), owner app:root (expected root:root)",
    )
    out = run("host_file_permissions", tls_host(mode="0644"), tls=["tlscacert"], max_mode="0444")
    assert out.message == "/etc/docker/tls/ca.pem: mode 0644 (at most 0444)"
    data = tls_host(user="docker", group="docker")
    out = run(
        "host_file_permissions", data, tls=["tlscacert"], owners=["root:root", "docker:docker"]
    )
    assert out.status == "pass"
    out = run("host_file_permissions", data, tls=["tlscacert"], owners=["root:root", "root:docker"])
    assert (
        out.message
        == "/etc/docker/tls/ca.pem: owner docker:docker (expected root:root or root:docker)"
    )
    del data["files"]["/etc/docker/tls/ca.pem"]["user"]
    del data["files"]["/etc/docker/tls/ca.pem"]["group"]
    data["files"]["/etc/docker/tls/ca.pem"].update(uid=0, gid=0)
    out = run("host_file_permissions", data, tls=["tlscacert"], owners=["root:root"])
    assert (out.status, out.message) == ("pass", "/etc/docker/tls/ca.pem 0444 0:0")


def test_file_permissions_shows_five_files() -> None:
    data = tls_host()
    paths = [f"/etc/docker/f{i}" for i in range(7)]
    for p in paths:
        data["files"][p] = dict(data["files"]["/etc/docker/tls/ca.pem"], path=p)
    out = run("host_file_permissions", data, paths=paths, max_mode="0444")
    assert out.message == (
        ", ".join(f"/etc/docker/f{i} 0444 root:root" for i in range(5)) + " and 2 more"
    )
    out = run("host_file_permissions", data, paths=paths[:5], max_mode="0444")
    assert out.message == ", ".join(f"/etc/docker/f{i} 0444 root:root" for i in range(5))


def test_file_permissions_none_exists() -> None:
    data = tls_host(exists=False)
    out = run("host_file_permissions", data, tls=["tlscacert", "nokey"], paths=["/etc/x"])
    assert (out.status, out.message) == (
        "not_applicable",
        "none of /etc/x, /etc/docker/tls/ca.pem exists on this host",
    )
    data["docker"]["tls_files"] = {"tlscacert": ""}
    out = run("host_file_permissions", data, tls=["tlscacert"])
    assert out.message == "dockerd's configuration names no tlscacert file"


def test_file_permissions_nothing_named_says_what_was_looked_for() -> None:
    """Not applicable with no file to look at: the reason names what the rule asked for."""
    data = tls_host()
    data["docker"]["tls_files"] = {}
    out = run("host_file_permissions", data, tls=["tlscert", "tlskey"])
    assert (out.status, out.message) == (
        "not_applicable",
        "dockerd's configuration names no tlscert or tlskey file",
    )
    data["docker"]["data_root"] = None
    out = run("host_file_permissions", data, data_root=True, units=[])
    assert out.message == "Docker's data root is not known"
    out = run("host_file_permissions", data)
    assert out.message == "none of the files this rule checks exists on this host"
    out = run("host_file_permissions", data, paths=["/etc/y"])
    assert out.message == "/etc/y does not exist on this host"


def test_file_permissions_registry_certs() -> None:
    data = tls_host()
    cert = dict(data["files"]["/etc/docker/tls/ca.pem"], path="/etc/docker/certs.d/r:5000/ca.crt")
    data["docker"]["registry_certs"] = [cert, "junk"]
    out = run("host_file_permissions", data, registry_certs=True, max_mode="0444")
    assert (out.status, out.message) == ("pass", "/etc/docker/certs.d/r:5000/ca.crt 0444 root:root")
    data["docker"]["registry_certs"] = None
    out = run("host_file_permissions", data, registry_certs=True, max_mode="0444")
    assert (out.status, out.message) == (
        "not_applicable",
        "no registry certificate under /etc/docker/certs.d exists on this host",
    )
    del data["docker"]["registry_certs"]
    assert error_of("host_file_permissions", data, registry_certs=True) == (
        "evidence 'docker.registry_certs' is absent"
    )
    data["docker"] = None
    assert error_of("host_file_permissions", data, registry_certs=True) == (
        "evidence 'docker.registry_certs' is absent"
    )


def test_file_permissions_units_and_data_root() -> None:
    data = audited_host()
    unit = data["systemd"]["units"]["docker.service"]
    data["files"][unit["path"]] = unit["file"]
    out = run(
        "host_file_permissions", data, units=["docker.service", "nope.service"], max_mode="0644"
    )
    assert out.message.startswith(f"{unit['path']} ")
    data["systemd"]["units"]["bad.service"] = {"path": "", "file": {}}
    data["systemd"]["units"]["odd.service"] = "x"
    out = run("host_file_permissions", data, units=["bad.service", "odd.service"], max_mode="0644")
    assert out.message == (
        "the bad.service unit is not installed; the odd.service unit is not installed"
    )
    root = data["docker"]["data_root"]
    data["files"][root] = dict(unit["file"], path=root, mode="0711")
    out = run("host_file_permissions", data, data_root=True, max_mode="0700")
    assert out.message == f"{root}: mode 0711 (at most 0700)"
    data["docker"]["data_root"] = ""
    assert run("host_file_permissions", data, data_root=True).status == "not_applicable"
    data["systemd"] = {"units": None}
    assert run("host_file_permissions", data, units=["docker.service"]).status == "not_applicable"


def data_root(**changes: Any) -> dict[str, Any]:
    """An offline root whose data root /var/lib/docker is a tmpfs of its own."""
    data = fixture("host-docker-data-root-separate-partition", "pass-offline-tmpfs-data-root.json")
    data["docker"].update(changes)
    return data


READ = "read: /etc/fstab and the scanning machine's /proc/self/mountinfo under the root"


def test_data_root_partition() -> None:
    out = run("host_data_root_partition", data_root())
    assert (out.status, out.message) == (
        "pass",
        f"Docker's data root /var/lib/docker is its own mount: /var/lib/docker (tmpfs, tmpfs) ({READ})",
    )
    data = data_root(data_root="/srv/docker-link", data_root_real="/var/lib/docker")
    assert run("host_data_root_partition", data).message.startswith(
        "Docker's data root /srv/docker-link (the directory /var/lib/docker) is its own mount"
    )
    parent = {
        "dev": "254:0",
        "device": "/dev/vda",
        "fstype": "ext4",
        "options": "rw",
        "point": "/",
        "root": "/",
    }
    mount = dict(parent, point="/var/lib/docker", root="/var/lib/docker")
    out = run(
        "host_data_root_partition", data_root(data_root_mount=mount, data_root_parent_mount=parent)
    )
    assert (out.status, out.message) == (
        "fail",
        "Docker's data root /var/lib/docker is a mount point, but a bind mount of /var/lib/docker "
        f"of /dev/vda, the filesystem that holds /: not a separate partition ({READ})",
    )
    bound = dict(mount, dev="254:7", options="rw,bind", root=None)
    out = run(
        "host_data_root_partition", data_root(data_root_mount=bound, data_root_parent_mount=None)
    )
    assert out.message == (
        "Docker's data root /var/lib/docker is a mount point, but a bind mount of a directory of "
        f"/dev/vda, the filesystem that holds None: not a separate partition ({READ})"
    )
    undev = dict(mount, dev=None, options="rw,binder")
    out = run(
        "host_data_root_partition",
        data_root(data_root_mount=undev, data_root_parent_mount=dict(parent, dev=None)),
    )
    assert out.status == "pass"
    out = run("host_data_root_partition", data_root(data_root_mount=parent))
    assert (out.status, out.message) == (
        "fail",
        f"Docker's data root /var/lib/docker is not a mount point: it lies on / (/dev/vda, ext4) ({READ})",
    )
    nameless = {"point": "/", "device": None, "fstype": None}
    assert run("host_data_root_partition", data_root(data_root_mount=nameless)).message == (
        "Docker's data root /var/lib/docker is not a mount point: it lies on / (no mount table "
        f"entry names it) ({READ})"
    )
    half = {"point": "/", "device": "/dev/vda", "fstype": None}
    assert (
        "it lies on / (/dev/vda, None)"
        in run("host_data_root_partition", data_root(data_root_mount=half)).message
    )


def test_data_root_partition_absent_and_missing() -> None:
    out = run("host_data_root_partition", data_root(data_root_real=None))
    assert (out.status, out.message) == (
        "not_applicable",
        "Docker's data root /var/lib/docker does not exist",
    )
    assert error_of("host_data_root_partition", data_root(data_root_mount=None)) == (
        "evidence 'docker.data_root_mount' is absent"
    )
    for key in (
        "data_root",
        "data_root_from",
        "data_root_real",
        "data_root_mount",
        "data_root_parent_mount",
    ):
        data = data_root()
        del data["docker"][key]
        assert error_of("host_data_root_partition", data) == f"evidence 'docker.{key}' is absent"
    data = data_root()
    data["mounts"] = None
    assert error_of("host_data_root_partition", data) == "evidence 'mounts.source' is absent"
    data["docker"] = None
    assert error_of("host_data_root_partition", data) == "evidence 'docker' is absent"
    assert error_of("host_data_root_partition", None) == "evidence 'docker' is absent"


def execs(*sessions: dict[str, Any], user: Any = "1000") -> dict[str, Any]:
    data = fixture("container-exec-not-root", "pass-captured-exec-as-container-user.json")
    data["Assessor"]["Execs"] = list(sessions)
    data["Config"]["User"] = user
    return data


def session(
    n: int, user: str = "", privileged: bool = False, probe: bool = False
) -> dict[str, Any]:
    return {
        "ID": f"e{n}",
        "Program": "sh",
        "User": user,
        "Privileged": privileged,
        "HealthCheck": probe,
    }


def test_execs_as_root() -> None:
    data = execs(
        session(1, "root"),
        session(2, "0:1000"),
        session(3, "00"),
        session(4, ""),
        session(5, "1000:0"),
        session(6, " root :x"),
        session(7, probe=True),
        user="",
    )
    out = run("container_execs", data, root=True)
    assert (out.status, out.message) == (
        "fail",
        "exec e1 (sh) ran as root; exec e2 (sh) ran as 0:1000; exec e3 (sh) ran as 00; "
        "exec e4 (sh) ran as root (no --user, and the container sets no user); "
        "exec e6 (sh) ran as  root :x",
    )
    data = execs(session(1), session(2, "1000"), session(3, "10"), user="app")
    out = run("container_execs", data, root=True)
    assert (out.status, out.message) == (
        "pass",
        "3 exec session(s), none as flagged, as 10, 1000, app (default)",
    )
    data = execs(session(1), user="root")
    assert run("container_execs", data, root=True).message == (
        "exec e1 (sh) ran as root (no --user: the container's user)"
    )
    assert run("container_execs", data, privileged=True).status == "pass"


def test_execs_privileged() -> None:
    data = execs(session(1, "1000", privileged=True), session(2, "root"), session(3, probe=True))
    out = run("container_execs", data, privileged=True)
    assert (out.status, out.message) == ("fail", "exec e1 (sh) ran --privileged")
    out = run("container_execs", data, privileged=True, root=True)
    assert out.message == "exec e1 (sh) ran --privileged; exec e2 (sh) ran as root"
    data = execs(session(1, "1000"), session(3, probe=True), session(4, probe=True))
    out = run("container_execs", data, privileged=True)
    assert (out.status, out.message) == (
        "pass",
        "1 exec session(s), none as flagged, as 1000 (2 health-check probe(s) set aside)",
    )


def test_execs_none_or_absent() -> None:
    data = execs(session(1, probe=True), "junk")
    out = run("container_execs", data, root=True)
    assert (out.status, out.message) == (
        "not_applicable",
        "the engine holds no exec session for this container (1 health-check probe(s) set aside)",
    )
    data["Assessor"]["Execs"] = None
    assert run("container_execs", data, root=True).message == (
        "the engine holds no exec session for this container"
    )
    data = execs(session(1))
    del data["Config"]["User"]
    assert error_of("container_execs", data, root=True) == (
        "evidence 'Config.User' is absent (the user an exec defaults to)"
    )
    data["Config"] = None
    assert error_of("container_execs", data, root=True) == (
        "evidence 'Config.User' is absent (the user an exec defaults to)"
    )
    del data["Assessor"]["Execs"]
    assert error_of("container_execs", data, root=True) == "evidence 'Assessor.Execs' is absent"
    assert error_of("container_execs", None, root=True) == "evidence 'Assessor.Execs' is absent"


def test_container_functions_on_a_non_document_raise_evaluation_errors() -> None:
    assert error_of("container_mount_propagation_shared", None) == "evidence 'Mounts' is absent"
    assert (
        error_of("container_sensitive_mounts", None) == "evidence 'Assessor.MountSources' is absent"
    )
    data = container()
    data["Assessor"] = None
    assert error_of("container_no_new_privileges", data) == (
        "evidence 'Assessor.DaemonNoNewPrivileges' is absent"
    )


def test_paths_ending_in_x_are_not_their_prefix() -> None:
    data = mounts(bind("/etcX", "/a"), bind("/usrX/", "/b"))
    out = run("container_sensitive_mounts", data)
    assert (out.status, out.message) == ("pass", f"no sensitive host path is mounted ({RESOLVED})")


def test_docker_socket_after_a_volume_is_seen() -> None:
    data = sockets(
        mounts(
            {"Type": "volume", "Source": "/v", "Destination": "/v"}, bind("/run/docker.sock", "/s")
        ),
        "/run/docker.sock",
    )
    out = run("container_docker_socket_mounted", data)
    assert (out.status, out.message) == (
        "fail",
        "Docker socket mounted: /run/docker.sock -> /s (the daemon's socket /run/docker.sock)",
    )


def test_no_new_privileges_value_with_an_equals_sign_is_refused() -> None:
    data = container()
    data["HostConfig"]["SecurityOpt"] = ["no-new-privileges=true=1"]
    assert error_of("container_no_new_privileges", data) == (
        "SecurityOpt 'no-new-privileges=true=1': dockerd would refuse this value"
    )


def test_ports_every_bound_address_is_named() -> None:
    data = ports(
        True,
        {
            "80/tcp": [
                {"HostIp": "127.0.0.1", "HostPort": "8080"},
                {"HostIp": "::1", "HostPort": "8080"},
            ]
        },
        {},
    )
    assert run("container_ports_on_all_interfaces", data).message == (
        f"every published port is bound to one address ({BOUND}): 127.0.0.1:8080->80/tcp, "
        "::1:8080->80/tcp"
    )


def test_host_port_1_is_privileged() -> None:
    data = ports(True, {"80/tcp": [{"HostIp": "", "HostPort": "1"}]}, {})
    assert run("container_privileged_ports_mapped", data).message == (
        f"host ports below 1024 mapped ({BOUND}): 0.0.0.0:1->80/tcp"
    )


def test_audit_directory_watches_at_the_root_and_near_names() -> None:
    assert watched(audited_host(arule("/", watch="dir"))).status == "pass"
    out = watched(audited_host(arule("/usr/sbinX", watch="dir")))
    assert out.message == f"no rule watches /usr/sbin/dockerd (read: {LOADED})"
    out = watched(audited_host(dict(arule("/elsewhere", watch="dir"), resolved="/usr/sbin")))
    assert out.status == "pass"
    out = watched(audited_host(dict(arule("/usr/sbin", watch="path"), resolved=None)))
    assert out.message == (
        "no rule watches /usr/sbin/dockerd; '-w /usr/sbin -p wa -k k' (auditctl -l) watches "
        f"/usr/sbin itself only, not what is below it (read: {LOADED})"
    )
    out = watched(audited_host(dict(arule("/elsewhere"), resolved="/usr")))
    assert "(auditctl -l) watches /usr itself only" in out.message
    out = watched(audited_host(arule("/")))
    assert "(auditctl -l) watches / itself only, not what is below it" in out.message
    out = watched(audited_host(arule("/usr/sbinX")))
    assert out.message == f"no rule watches /usr/sbin/dockerd (read: {LOADED})"


def test_audit_paths_are_normalised() -> None:
    data = audited_host(arule("/usr/bin/dockerd"))
    data["audit"]["real_paths"]["/usr/sbin/dockerd"] = "usr//bin///dockerd/"
    out = watched(data)
    assert out.message.startswith(
        "audited: /usr/sbin/dockerd (the file /usr/bin/dockerd) by '-w /usr/bin/dockerd"
    )
    data["audit"]["real_paths"]["/usr/sbin/dockerd"] = "/opt/binX"
    assert watched(data).message.startswith(
        "no rule watches /usr/sbin/dockerd (the file /opt/binX)"
    )


def two_dockerds(*rules: dict[str, Any]) -> dict[str, Any]:
    data = audited_host(*rules)
    data["files"]["/usr/bin/dockerd"] = dict(
        data["files"]["/usr/sbin/dockerd"], path="/usr/bin/dockerd"
    )
    data["audit"]["real_paths"]["/usr/bin/dockerd"] = "/usr/bin/dockerd"
    return data


def test_audit_two_installed_copies() -> None:
    out = watched(two_dockerds(arule("/usr/bin/dockerd"), arule("/usr/sbin/dockerd")))
    assert out.message == (
        "audited: /usr/bin/dockerd by '-w /usr/bin/dockerd -p wa -k k' (auditctl -l); "
        f"/usr/sbin/dockerd by '-w /usr/sbin/dockerd -p wa -k k' (auditctl -l) (read: {LOADED})"
    )
    out = watched(two_dockerds())
    assert out.message == (
        f"no rule watches /usr/bin/dockerd; no rule watches /usr/sbin/dockerd (read: {LOADED})"
    )
    data = two_dockerds()
    data["audit"]["auditd"]["running"] = False
    data["audit"]["file_rules"] = [
        arule("/usr/sbin/dockerd", origin="/etc/audit/rules.d/x:y.rules:7")
    ]
    assert watched(data).message == (
        "auditd is not running, so nothing is audited; the rules files have no watch on "
        "/usr/bin/dockerd; /etc/audit/rules.d/x:y.rules has a watch on /usr/sbin/dockerd, but "
        "nothing is loaded"
    )
    data["audit"]["real_paths"]["/usr/sbin/dockerd"] = "/usr/bin/dockerd"
    assert watched(data).message == (
        "auditd is not running, so nothing is audited; the rules files have no watch on "
        "/usr/bin/dockerd, /usr/sbin/dockerd"
    )


def test_file_permissions_several_bad_files_and_six_good_ones() -> None:
    data = tls_host()
    paths = [f"/etc/docker/f{i}" for i in range(6)]
    for p in paths:
        data["files"][p] = dict(data["files"]["/etc/docker/tls/ca.pem"], path=p)
    out = run("host_file_permissions", data, paths=paths, max_mode="0444")
    assert out.message.endswith("/etc/docker/f4 0444 root:root and 1 more")
    out = run("host_file_permissions", data, paths=paths[:2], max_mode="0400")
    assert out.message == (
        "/etc/docker/f0: mode 0444 (at most 0400); /etc/docker/f1: mode 0444 (at most 0400)"
    )


def test_data_root_on_a_mount_with_a_type_but_no_device() -> None:
    half = {"point": "/", "device": None, "fstype": "overlay"}
    assert (
        "it lies on / (None, overlay)"
        in run("host_data_root_partition", data_root(data_root_mount=half)).message
    )


# --- every function rule's golden fixtures: the whole message, not only the status -----------
#
# The golden test checks each fixture's status; this checks the message and severity too, against
# tests/unit/evaluator_messages.json (reviewed text: what an auditor reads for that state). A
# changed message is a reviewed change: re-record with
#   .venv/bin/python tests/unit/test_evaluators.py --record
# and read the diff of evaluator_messages.json before committing it.

MESSAGES = Path(__file__).with_name("evaluator_messages.json")


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


def _function_fixtures() -> list[tuple[str, Path]]:
    catalog = _catalog()
    cases = []
    for rule in sorted(catalog.rules.values(), key=lambda r: r.id):
        if isinstance(rule.check, FunctionCheck):
            cases.extend((rule.id, p) for p in sorted((RULES / rule.id).glob("*.json")))
    return cases


def _judge(rule_id: str, path: Path) -> dict[str, Any]:
    rule = _catalog().rules[rule_id]
    result = evaluate_rule(rule, Evidence.from_document(json.loads(path.read_text())))
    return {"status": result.status.value, "message": result.message, "severity": result.severity}


def _record() -> None:
    recorded = {f"{r}/{p.name}": _judge(r, p) for r, p in _function_fixtures()}
    MESSAGES.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(recorded)} messages in {MESSAGES}")


@pytest.mark.parametrize(
    ("rule_id", "path"), _function_fixtures(), ids=lambda v: getattr(v, "name", v)
)
def test_function_rule_message(rule_id: str, path: Path) -> None:
    recorded = json.loads(MESSAGES.read_text())
    key = f"{rule_id}/{path.name}"
    assert key in recorded, f"{key}: no recorded message (see the comment above this test)"
    assert _judge(rule_id, path) == recorded[key]


def test_recorded_messages_name_existing_fixtures() -> None:
    recorded = json.loads(MESSAGES.read_text())
    cases = {f"{r}/{p.name}" for r, p in _function_fixtures()}
    assert sorted(set(recorded) - cases) == []


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--record"]:
        _record()
    else:
        sys.exit("usage: python tests/unit/test_evaluators.py --record")


def test_audit_never_rule_printed_as_a_watch_is_named_a_never_rule() -> None:
    """auditctl -l prints '-a never,exit -F path=X -F perm=wa' as '-w X -p wa': the message must
    not quote it as if it were the watch that audits the file."""
    never = arule("/usr/sbin/dockerd", action="never", text="-w /usr/sbin/dockerd -p wa -k k")
    out = watched(audited_host(never, arule("/usr/sbin/dockerd")))
    assert (out.status, out.message) == (
        "fail",
        "/usr/sbin/dockerd is not audited: '-w /usr/sbin/dockerd -p wa -k k (action never)' "
        f"(auditctl -l) suppresses it (read: {LOADED})",
    )
    always = arule("/usr/sbin/dockerd", text="-w /usr/sbin/dockerd -p wa -k k")
    assert "(action never)" not in watched(audited_host(always)).message
    ruled = arule(
        "/usr/sbin/dockerd", action="never", text="-a never,exit -F path=/usr/sbin/dockerd"
    )
    assert "(action never)" not in watched(audited_host(ruled, always)).message
