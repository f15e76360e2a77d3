"""export --format json and csv: the same as 'assessor results', deterministic, signed on request."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from pathlib import Path

from tests.conftest import Exported


def test_json_export_is_the_results_json(exported: Exported) -> None:
    out = exported.export("json", "a.json")
    results = exported.cli("results", exported.id, "--format", "json")
    assert results.code == 0, results.err
    assert json.loads(out.read_text()) == results.json()
    waived = [r for r in json.loads(out.read_text())["results"] if r["status"] == "waived"]
    assert waived and all(r["raw_status"] == "fail" for r in waived)
    assert {r["rule"] for r in waived} == {exported.waived_rule}


def test_csv_export_has_a_row_per_result(exported: Exported) -> None:
    out = exported.export("csv", "a.csv")
    rows = list(csv.DictReader(out.open(newline="")))
    doc = json.loads(exported.export("json", "b.json").read_text())
    assert len(rows) == len(doc["results"]) > 0
    assert [(r["rule"], r["resource"], r["status"]) for r in rows] == [
        (r["rule"], r["resource"], r["status"]) for r in doc["results"]
    ]
    waived = [r for r in rows if r["status"] == "waived"]
    assert waived and all(r["raw_status"] == "fail" and r["waiver"] for r in waived)
    # the same bytes as 'assessor results --format csv' of every result
    results = exported.cli("results", exported.id, "--format", "csv")
    assert results.code == 0, results.err
    assert out.read_text() == results.out


def test_same_assessment_same_bytes(exported: Exported) -> None:
    for fmt in ("json", "csv"):
        a = exported.export(fmt, f"d1.{fmt}").read_bytes()
        b = exported.export(fmt, f"d2.{fmt}").read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest(), fmt


def test_format_from_suffix_and_stdout(exported: Exported, tmp_path: Path) -> None:
    r = exported.cli("export", exported.id, "-o", str(tmp_path / "x.csv"))
    assert r.code == 0, r.err
    assert (
        (tmp_path / "x.csv").read_text().startswith("assessment_id,assessment_uuid,system,period,")
    )
    r = exported.cli("export", exported.id, "-o", str(tmp_path / "x.json"))
    assert r.code == 2 and "--format" in r.err
    r = exported.cli("export", exported.id, "--format", "json", "-o", "-")
    assert r.code == 0 and json.loads(r.out)["assessment"]["id"] == int(exported.id)


def test_bad_input_is_one_line(exported: Exported, tmp_path: Path) -> None:
    r = exported.cli("export", "999999", "--format", "json", "-o", str(tmp_path / "x.json"))
    assert r.code == 2 and "Traceback" not in r.err and "no assessment" in r.err
    r = exported.cli("export", "--format", "json", "-o", str(tmp_path / "nope" / "x.json"))
    assert r.code == 2 and "no such directory" in r.err
    assert not (tmp_path / "x.json").exists()


def test_signed_export_verifies(exported: Exported, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    env = {"ASSESSOR_KEY_DIR": str(keys)}
    r = exported.cli("keys", "init", "--organisation", "Export Test", env=env)
    assert r.code == 0, r.err
    out = tmp_path / "signed.csv"
    r = exported.cli("export", exported.id, "-o", str(out), "--sign", env=env)
    assert r.code == 0, r.err
    sig = out.with_name("signed.csv.p7s")
    assert sig.exists() and "signed by" in r.err
    v = exported.cli("verify", str(out), env=env)
    assert v.code == 0, v.out + v.err
    # a third party agrees: openssl checks the detached signature against our certificate
    ossl = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
         "-content", str(out), "-CAfile", str(keys / "signing-cert.pem"), "-out", "/dev/null"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ossl.returncode == 0, ossl.stderr
    # the signed content is the same bytes an unsigned export gives
    plain = exported.export("csv", "plain.csv").read_bytes()
    assert out.read_bytes() == plain
    out.write_bytes(plain.replace(b"fail", b"pass", 1))
    assert exported.cli("verify", str(out), env=env).code != 0


def test_csv_cells_never_start_a_formula() -> None:
    from assessor.export.tabular import safe_cell

    for hostile in ('=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(hostile) == "'" + hostile
    for plain in ("web (3f2a)", "", "a=b", "1-2"):
        assert safe_cell(plain) == plain


def test_csv_columns_are_the_documented_ones() -> None:
    """The module docstring's table lists the columns in order; rows carry the assessment."""
    import re

    from assessor.export import tabular

    documented = re.findall(r"^``(\w+)``  ", tabular.__doc__ or "", re.MULTILINE)
    assert tuple(documented) == tabular.CSV_COLUMNS
    assert tabular.CSV_COLUMNS[:8] == (
        "assessment_id", "assessment_uuid", "system", "period",
        "target", "target_kind", "resource", "resource_kind",
    )  # fmt: skip
