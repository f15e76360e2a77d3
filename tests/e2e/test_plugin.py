"""Plugins through entry points: a separately installed distribution adds a target kind (its
collector), an evaluation function and an export format without touching assessor's code
(tests/plugin/), and a plugin that clashes with a built-in name or does not load stops the
command with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Run, run_cli

PLUGIN = ROOT / "tests/plugin/assessor-example-plugin"

# an organisation's rule calling the plugin's function
ORG_RULE = """\
id: org-docker-files-owned-by-root
title: Ensure the files under /etc/docker are owned by root
description: Every file the host collector reads under /etc/docker belongs to root.
rationale: A file another user owns can be changed to weaken the daemon's configuration.
severity: medium
target: host
evidence: [files]
check:
  function: example_docker_files_owned_by_root
  args: {under: /etc/docker}
"""


def org_controls(tmp_path: Path) -> Path:
    org = tmp_path / "org"
    (org / "rules/host").mkdir(parents=True)
    (org / "rules/host/org-docker-files-owned-by-root.yaml").write_text(ORG_RULE)
    return org


def offline_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/docker").mkdir(parents=True)
    (root / "etc/docker/daemon.json").write_text('{"icc": false}\n')
    return root


def fake_distribution(where: Path, name: str, entry_points: str) -> Path:
    """An installed distribution with only metadata and entry points (a dist-info folder on
    the path is what importlib.metadata finds, as for a pip-installed package)."""
    info = where / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    return where


def with_path(extra: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), str(extra)])}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding assessor's wheel and the example plugin's, both built from their
    sources here; their dependencies come from this interpreter's site (no network)."""
    tmp = tmp_path_factory.mktemp("plugin")
    dist = tmp / "dist"
    wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    for source in (ROOT, PLUGIN):
        subprocess.run(
            [*wheel, "-w", str(dist), str(source)],
            check=True,
            timeout=300,
        )
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    site = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    own_site = next((venv / "lib").glob("python3*/site-packages"))
    (own_site / "deps.pth").write_text(site + "\n")
    wheels = sorted(str(w) for w in dist.glob("*.whl"))
    assert len(wheels) == 2, wheels
    subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--no-deps", "-q", *wheels],
        check=True,
        timeout=300,
    )
    return venv


def in_venv(venv: Path, cwd: Path, *args: str) -> Run:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ASSESSOR_DB")}
    proc = subprocess.run(
        [str(venv / "bin/assessor"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,  # away from the checkout: assessor and the plugin come from the venv
        env=env,
        timeout=300,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.slow
def test_installed_plugin_adds_a_target_kind_a_function_and_an_export_format(
    venv: Path, tmp_path: Path
) -> None:
    org = org_controls(tmp_path)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    where = in_venv(venv, tmp_path, "--version")
    assert where.code == 0, where.err

    # the org rule naming the plugin's function validates
    validate = in_venv(venv, tmp_path, "controls", "validate", str(org))
    assert validate.code == 0, validate.err

    # a scan evaluates it with the plugin's function
    root = offline_root(tmp_path)
    scan = in_venv(
        venv, tmp_path, "scan", f"host:{root}", "--controls", str(org), "--db", db,
        "--format", "json",
    )  # fmt: skip
    assert scan.code in (0, 1), scan.err
    mine = [r for r in json.loads(scan.out)["results"] if r["rule"] == ORG_RULE.split()[1]]
    owner = (root / "etc/docker").stat().st_uid
    if owner == 0:
        expected = ("pass", "2 file(s) under /etc/docker, all owned by root")
    else:
        expected = (
            "fail",
            f"not owned by root: /etc/docker (uid {owner}), /etc/docker/daemon.json (uid {owner})",
        )
    assert [(r["status"], r["message"]) for r in mine] == [expected]

    # export --format accepts the plugin's format and writes what it renders
    out = tmp_path / "tally.txt"
    export = in_venv(
        venv, tmp_path, "export", "--db", db, "--format", "example-tally", "-o", str(out)
    )
    assert export.code == 0, export.err
    assert "(example-tally, text/plain," in export.err
    results = json.loads(scan.out)["results"]
    lines = out.read_text().splitlines()
    assert lines[0] == f"assessment {json.loads(scan.out)['assessment']['uuid']}"
    statuses = sorted({r["status"] for r in results})
    assert lines[1:] == [f"{s} {sum(r['status'] == s for r in results)}" for s in statuses]

    # the plugin's target kind: its collector's container evidence, judged by built-in rules
    saved = tmp_path / "inspect"
    saved.mkdir()
    for name, privileged in (("web", False), ("debug", True)):
        doc = [{"Name": f"/{name}", "HostConfig": {"Privileged": privileged}}]
        (saved / f"{name}.json").write_text(json.dumps(doc))
    offline = in_venv(
        venv, tmp_path, "scan", f"example-inspect:{saved}", "--db", db, "--format", "json"
    )
    assert offline.code in (0, 1), offline.err
    doc = json.loads(offline.out)
    assert doc["assessment"]["status"] == "complete"
    assert doc["assessment"]["scope"] == [f"example-inspect:{saved}"]
    privileged = sorted(
        (r["resource"], r["status"]) for r in doc["results"]
        if r["rule"] == "container-privileged-disabled"
    )  # fmt: skip
    assert privileged == [("debug", "fail"), ("web", "pass")]
    # its XCCDF names no platform the Benchmark does not define (it has none for this kind)
    xccdf = tmp_path / "inspect.xccdf.xml"
    export = in_venv(venv, tmp_path, "export", "--db", db, "--format", "xccdf", "-o", str(xccdf))
    assert export.code == 0, export.err
    text = xccdf.read_text()
    assert 'id="xccdf_dev.assessor_platform_host"' in text  # the built-in kinds' platforms
    assert "platform_example-inspect" not in text

    # an unknown format's error lists the plugin's among the formats
    bad = in_venv(venv, tmp_path, "export", "--db", db, "--format", "nope", "-o", "-")
    assert bad.code == 2
    assert "'nope' is not one of" in bad.err and "'example-tally'" in bad.err


def test_without_the_plugin_the_rule_is_refused(tmp_path: Path) -> None:
    org = org_controls(tmp_path)
    r = run_cli("controls", "validate", str(org))
    assert r.code == 2
    assert "check.function: no registered evaluator 'example_docker_files_owned_by_root'" in r.err
    assert len(r.err.strip().splitlines()) == 1, r.err


def test_a_plugin_clashing_with_a_built_in_name_is_refused(tmp_path: Path) -> None:
    where = fake_distribution(
        tmp_path / "site",
        "clashing-plugin",
        "[assessor.functions]\ncontainer_execs = clashing_plugin:container_execs\n",
    )
    r = run_cli("controls", "validate", env=with_path(where))
    assert r.code == 2
    first = r.err.splitlines()[0]
    assert first == (
        "assessor: error: entry point 'container_execs' = 'clashing_plugin:container_execs' in "
        "group 'assessor.functions' (from clashing-plugin): 'container_execs' is built into "
        "assessor; a plugin cannot replace it"
    ), r.err
    assert "Traceback" not in r.err


def test_a_plugin_export_format_clashing_with_a_built_in_is_refused(tmp_path: Path) -> None:
    where = fake_distribution(
        tmp_path / "site", "sarif-again", "[assessor.exporters]\nsarif = sarif_again:SARIF\n"
    )
    r = run_cli("export", "--format", "csv", "-o", "-", env=with_path(where))
    assert r.code == 2
    assert r.err.startswith(
        "assessor: error: entry point 'sarif' = 'sarif_again:SARIF' in group "
        "'assessor.exporters' (from sarif-again): 'sarif' is built into assessor"
    ), r.err
    assert "Traceback" not in r.err


def test_a_plugin_collector_taking_a_built_in_kind_is_refused(tmp_path: Path, db: str) -> None:
    where = fake_distribution(
        tmp_path / "site", "host-again", "[assessor.collectors]\nhost = host_again:Collector\n"
    )
    root = offline_root(tmp_path)
    r = run_cli("scan", f"host:{root}", env=with_path(where), db=db)
    assert r.code == 2
    assert r.err.startswith(
        "assessor: error: entry point 'host' = 'host_again:Collector' in group "
        "'assessor.collectors' (from host-again): 'host' is built into assessor"
    ), r.err
    assert "Traceback" not in r.err


def test_a_plugin_that_does_not_load_is_one_line(tmp_path: Path, db: str) -> None:
    where = fake_distribution(
        tmp_path / "site",
        "broken-plugin",
        "[assessor.exporters]\nbroken = no_such_module_for_assessor:EXPORTER\n"
        "[assessor.functions]\nbroken_function = no_such_module_for_assessor:check\n"
        "[assessor.collectors]\nbroken-kind = no_such_module_for_assessor:Collector\n",
    )
    r = run_cli("export", "--format", "broken", "-o", "-", env=with_path(where), db=db)
    assert r.code == 2
    assert r.err.splitlines()[0] == (
        "assessor: error: entry point 'broken' = 'no_such_module_for_assessor:EXPORTER' in "
        "group 'assessor.exporters' (from broken-plugin) failed to load: "
        "ModuleNotFoundError: No module named 'no_such_module_for_assessor'"
    ), r.err
    assert "Traceback" not in r.err

    # a rule calling its function validates (the name is installed) and a scan stops on it
    org = org_controls(tmp_path)
    rule = org / "rules/host/org-docker-files-owned-by-root.yaml"
    rule.write_text(
        rule.read_text().replace("example_docker_files_owned_by_root", "broken_function")
    )
    root = offline_root(tmp_path)
    scan = run_cli(
        "scan", f"host:{root}", "--controls", str(org), "--format", "json",
        env=with_path(where), db=db,
    )  # fmt: skip
    assert scan.code == 2, (scan.out, scan.err)
    assert scan.err.splitlines()[0] == (
        "assessor: error: entry point 'broken_function' = 'no_such_module_for_assessor:check' in "
        "group 'assessor.functions' (from broken-plugin) failed to load: "
        "ModuleNotFoundError: No module named 'no_such_module_for_assessor'"
    ), scan.err
    assert "Traceback" not in scan.err

    # and its collector: the scan stops before it stores anything
    scan = run_cli("scan", "broken-kind:/anything", env=with_path(where), db=db)
    assert scan.code == 2, (scan.out, scan.err)
    assert scan.err.splitlines()[0] == (
        "assessor: error: entry point 'broken-kind' = 'no_such_module_for_assessor:Collector' in "
        "group 'assessor.collectors' (from broken-plugin) failed to load: "
        "ModuleNotFoundError: No module named 'no_such_module_for_assessor'"
    ), scan.err
    stored = run_cli("assessments", env=with_path(where), db=db)
    assert (stored.code, stored.out) == (0, "no assessments stored yet\n"), stored
