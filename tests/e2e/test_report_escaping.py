"""Hostile strings from targets (and from the command line) are shown as text everywhere in the
report, never run: DESIGN §6 "All text from targets is escaped in HTML".

Markup is planted where a target controls the text: (a) a real container's label, which an
organisation's own rule (a controls folder made here) quotes in its failure message and
excerpt; (b) an image's ENV key names and the path of a setuid file, written as an OCI layout
here; (c) the names and labels of synthetic containers (tests/reportdata.py). Each report must
keep the markup out of its raw HTML, show it as literal text in Chromium without running it,
and print it as text in the PDF.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SOCKET, Docker, missing, run_cli

ENGINE = f"engine:unix://{SOCKET}"

LABEL = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
ENV_KEY = "<script>window.__pwned=3</script>_PASSWORD"  # '=' in a key: Env splits at it
SECRET_KEY = "<script>Object.assign(window,{__pwned:3})</script>_API_TOKEN"  # a real key name
SETUID = '<img src=x onerror="window.__pwned=6">'
PLANTED = "<script>window.__pwned=4</script>"
ORGANISATION = "<b>x</b>"
SYSTEM = "</title><script>1</script>"
WAIVER_REASON = "accepted <script>window.__pwned=7</script>"
COMPENSATING = '<img src=x onerror="window.__pwned=8">'
NOTE = "<script>window.__pwned=9</script> checked by hand"
EVIDENCE_NAME = '<b onclick="window.__pwned=10">proof.txt'
DEFAULT_FRAMEWORKS = ("nistir-8176", "cis-docker-1.8.0", "sp800-190")

RULE = """\
id: org-owner-label
title: Containers are owned by team-a
description: Every container carries the label owner=team-a.
rationale: An owner label says who answers for a container.
severity: low
target: container
evidence:
  - Config.Labels
check:
  evidence: Config.Labels.owner
  op: eq
  value: team-a
  default: ""
message: "{resource} is owned by {value}, not by team-a"
remediation: Recreate the container with --label owner=team-a.
"""
# A rule's results reach a report's results only through a framework that lists the rule.
FRAMEWORK = """\
framework:
  id: org-policy
  title: Organisation container policy
  version: "1"
  source: internal
requirements:
  - id: OWN-1
    title: Containers name their owner
    section: "1"
    section_title: Ownership
    summary: Every container is labelled with its owning team.
    rules:
      - org-owner-label
"""


def _controls(folder: Path) -> Path:
    (folder / "rules" / "container").mkdir(parents=True)
    (folder / "frameworks").mkdir()
    (folder / "rules" / "container" / "org-owner-label.yaml").write_text(RULE)
    (folder / "frameworks" / "org-policy.yaml").write_text(FRAMEWORK)
    run = run_cli("controls", "validate", str(folder))
    assert run.code == 0, run.out + run.err
    return folder


def _hostile_image(out: Path) -> Path:
    """An OCI layout: hostile ENV key names (one a secret's) and a setuid file named as markup."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode, data in (("bin", 0o755, None), (f"bin/{SETUID}", 0o4755, b"helper\n")):
            info = tarfile.TarInfo(path)
            info.mode, info.mtime = mode, 1_767_225_600
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    config = {
        "created": "2026-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin", f"{ENV_KEY}=x", f"{SECRET_KEY}=x"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(plain).hexdigest()]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "ADD rootfs.tar /"}],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **put(json.dumps(config).encode()),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                **put(gzip.compress(plain, mtime=0)),
            }
        ],
    }
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **put(json.dumps(manifest).encode()),
            }
        ],
    }
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (out / "index.json").write_text(json.dumps(index))
    return out


@dataclass
class Report:
    html: Path
    shown: list[str]  # literal texts the reader must see
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _report(db: str, out: Path, *args: str) -> Path:
    run = run_cli("report", "-o", str(out), *args, db=db)
    assert run.code == 0, run.err
    return out


@pytest.fixture(scope="module")
def controls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _controls(tmp_path_factory.mktemp("controls"))


@pytest.fixture(scope="module")
def image_report(tmp_path_factory: pytest.TempPathFactory, controls: Path) -> Report:
    """(b): the hostile image, with a hostile organisation and system name on the cover."""
    tmp = tmp_path_factory.mktemp("escape-image")
    image = _hostile_image(tmp / "image")
    db = f"sqlite:///{tmp / 'a.db'}"
    run = run_cli(
        "scan", f"image:oci:{image}", "--controls", str(controls), "--format", "json", db=db
    )
    assert run.code == 0, run.err
    by_rule = {r["rule"]: r for r in run.json()["results"]}
    # the planted strings reach the results the report shows (else this test proves nothing)
    assert by_rule["image-setuid-removed"]["status"] == "manual"
    assert SETUID in by_rule["image-setuid-removed"]["message"]
    assert by_rule["image-no-secrets"]["status"] == "fail"
    assert SECRET_KEY in by_rule["image-no-secrets"]["message"]
    common = ("--controls", str(controls), "--organisation", ORGANISATION, "--system", SYSTEM)
    html = _report(db, tmp / "image.html", *common)
    pdf = _report(db, tmp / "image.pdf", *common, "--framework", "cis-docker-1.8.0")
    return Report(
        html,
        # Env splits at the key's first "=": the secret finding names the key's part before
        # it, as text (the value is never stored)
        shown=[
            SETUID,
            f"config.Env.{ENV_KEY.split('=')[0]} (_PASSWORD, password)",
            SECRET_KEY,
            ORGANISATION,
            SYSTEM,
        ],
        title=SYSTEM,
        extra={
            "pdf": pdf,
            "sections": {
                "findings": [SECRET_KEY],
                "manual": [SETUID],
                "cover": [ORGANISATION, SYSTEM],
            },
        },
    )


@pytest.fixture(scope="module")
def engine_report(
    docker: Docker, tmp_path_factory: pytest.TempPathFactory, controls: Path
) -> Iterator[Report]:
    """(a): a real container whose owner label is markup, judged by the organisation's rule."""
    tmp = tmp_path_factory.mktemp("escape-engine")
    cid = docker.create("hostile-owner", "--label", f"owner={LABEL}")
    try:
        db = f"sqlite:///{tmp / 'a.db'}"
        run = run_cli("scan", ENGINE, "--controls", str(controls), "--format", "json", db=db)
        assert run.code == 0, run.err
        mine = [
            r
            for r in run.json()["results"]
            if r["rule"] == "org-owner-label" and "hostile-owner" in r["resource"]
        ]
        assert len(mine) == 1 and mine[0]["status"] == "fail", mine
        assert LABEL in mine[0]["message"]
        frameworks = [a for fw in ("org-policy", *DEFAULT_FRAMEWORKS) for a in ("--framework", fw)]
        html = _report(db, tmp / "engine.html", "--controls", str(controls), *frameworks)
        # the container is among the first resources of its finding, or in appendix B
        sections = {"findings all-findings": [LABEL]}
        yield Report(html, shown=[LABEL], extra={"sections": sections})
    finally:
        docker("rm", "-f", cid, check=False)


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """(c): synthetic containers whose names and labels carry a script tag."""
    from tests.reportdata import make_assessment

    tmp = tmp_path_factory.mktemp("escape-synthetic")
    db = f"sqlite:///{tmp / 'a.db'}"
    # more containers than a finding lists in the body: the rest go to appendix B
    make_assessment(db, 5, label=PLANTED)
    # what people type is shown as text too: a waiver's reason and compensating control, an
    # attestation's note and the name of its evidence file
    run = run_cli(
        "waive",
        "container-memory-limited",
        "--resource",
        "bench-00001*",
        "--reason",
        WAIVER_REASON,
        "--approver",
        "<i>approver</i>",
        "--compensating",
        COMPENSATING,
        "--expires",
        (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
        db=db,
    )
    assert run.code == 0, run.err
    proof = tmp / EVIDENCE_NAME
    proof.write_text("checked\n")
    run = run_cli(
        "attest",
        "cis-docker-1.8.0:1.2.2",
        "--status",
        "pass",
        "--by",
        "J. Tester",
        "--note",
        NOTE,
        "--evidence",
        str(proof),
        "--period",
        "2026-Q4",
        db=db,
    )
    assert run.code == 0, run.err
    return Report(
        _report(db, tmp / "synthetic.html"),
        shown=[PLANTED, f"bench-00002{PLANTED}", WAIVER_REASON, COMPENSATING, NOTE, EVIDENCE_NAME],
        extra={
            "sections": {
                "findings": [PLANTED],
                "all-findings": [f"bench-00004{PLANTED}"],
                "full-evidence": [PLANTED],
                "waivers": [WAIVER_REASON, COMPENSATING, NOTE, EVIDENCE_NAME],
            }
        },
    )


REPORTS = {
    "image": "image_report",
    "engine": pytest.param("engine_report", marks=pytest.mark.docker),
    "synthetic": "synthetic_report",
}


@pytest.fixture(params=list(REPORTS.values()), ids=list(REPORTS))
def report(request: pytest.FixtureRequest) -> Report:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_raw_html_holds_only_escaped_markup(report: Report) -> None:
    html = report.html.read_text(encoding="utf-8")
    assert "<script" not in html.lower(), "a script tag in the report"
    assert "<img" not in html.lower(), "an img tag in the report (no logo was given)"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.IGNORECASE), "an event handler"
    assert "&lt;script&gt;" in html, "the planted markup was dropped rather than escaped"
    for text in report.shown:
        assert text not in html, f"unescaped in the raw HTML: {text!r}"
    if report.title:
        assert "&lt;/title&gt;&lt;script&gt;1&lt;/script&gt;" in html
        assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_chromium_shows_the_markup_as_text_and_runs_nothing(report: Report, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))

        def on_dialog(dialog: Any) -> None:  # alert() and friends: a script ran
            errors.append(f"dialog: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(report.html.resolve().as_uri(), wait_until="load")
        state = page.evaluate(
            """() => ({pwned: typeof window.__pwned, scripts: document.scripts.length,
                       images: document.images.length, text: document.body.innerText,
                       title: document.title})"""
        )
        assert state["pwned"] == "undefined", "a planted script or handler ran"
        assert state["scripts"] == 0 and state["images"] == 0
        assert errors == []
        assert [u for u in requests if not u.startswith("file:")] == []
        assert len(requests) == 1, f"the page asked for more than itself: {requests}"
        for text in report.shown:
            assert text in state["text"], f"not shown as text: {text!r}"
        if report.title:
            assert state["title"].endswith(": " + report.title), state["title"]
    finally:
        context.close()


def test_pdf_prints_the_markup_as_text(image_report: Report) -> None:
    for tool in ("pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            missing(f"{tool} (apt-get install -y poppler-utils)")
    pdf = image_report.extra["pdf"]
    proc = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60, check=True
    )
    text = " ".join(proc.stdout.split())  # lines wrap in table cells, at spaces here
    assert "<script>window.__pwned" in text
    assert SETUID in text
    assert ORGANISATION in text and SYSTEM in text
    info = subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "Title:           Compliance assessment 2026" in info and SYSTEM in info, info


def _section(html: str, part: str) -> str:
    start = html.index(f'id="{part}"')
    return html[start : html.index("</section>", start)]


def test_each_part_shows_the_planted_text_escaped(report: Report) -> None:
    """The findings (resources, messages, excerpts), the appendices (every failing resource,
    evidence documents, manual procedures' resources) and the waivers and attestations each hold
    the planted text, escaped: present as text, never as markup."""
    from markupsafe import escape

    html = report.html.read_text(encoding="utf-8")
    sections: dict[str, list[str]] = report.extra["sections"]
    for part, texts in sections.items():
        body = "".join(_section(html, p) for p in part.split())
        for text in texts:
            assert str(escape(text)) in body, f"{part}: {text!r} is not shown there"
            if "<" in text:
                assert text not in body, f"{part}: {text!r} unescaped"
