"""assessor.extras: the modules each extra installs match pyproject.toml, and a command that
needs a missing extra stops before any work with one line naming it (exit 2)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from assessor import extras
from assessor.errors import EXIT_USAGE
from tests.conftest import ROOT

CANON = str.maketrans("_.", "--")


def _dist(requirement: str) -> str:
    name = requirement.split(";")[0]
    for stop in "<>=![ ":
        name = name.split(stop)[0]
    return name.strip().lower().translate(CANON)


def test_each_extra_lists_modules_of_its_own_distributions() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    optional = pyproject["project"]["optional-dependencies"]
    core = {_dist(r) for r in pyproject["project"]["dependencies"]}
    owners = packages_distributions()
    for extra, modules in extras.EXTRAS.items():
        wanted = {_dist(r) for r in optional[extra]}
        for module in modules:
            dists = {d.lower().translate(CANON) for d in owners.get(module, [])}
            assert dists & wanted, f"{module}: installed by {dists}, not by [{extra}] {wanted}"
            assert not dists & core, f"{module} is in the core install already"
    assert set(extras.EXTRAS) | {"all"} <= set(optional)
    assert {_dist(r) for r in optional["all"]} == {"assessor"}  # assessor[report,oscal]
    assert all(extra in optional["all"][0] for extra in extras.EXTRAS)


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    extras.require("report", "PDF and HTML reports")  # installed here: no error
    monkeypatch.setitem(extras.EXTRAS, "report", ("jinja2", "no_such_module_of_assessor"))
    assert extras.missing("report") == ["no_such_module_of_assessor"]
    with pytest.raises(extras.MissingExtraError) as e:
        extras.require("report", "PDF and HTML reports")
    assert e.value.message == (
        "PDF and HTML reports need the 'report' extra: pip install 'assessor[report]'"
    )
    assert e.value.exit_code == EXIT_USAGE


HIDDEN = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if not installed: find_spec answers None
from assessor.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize(
    ("hidden", "args", "line"),
    [
        (
            "weasyprint",
            ["report", "-o", "{tmp}/r.pdf"],
            "PDF and HTML reports need the 'report' extra: pip install 'assessor[report]'",
        ),
        (
            "pyhanko",
            ["verify", "{tmp}/r.pdf"],
            "signature checks need the 'report' extra: pip install 'assessor[report]'",
        ),
        (
            "pyhanko_certvalidator",
            ["export", "--format", "csv", "--sign", "-o", "{tmp}/r.csv"],
            "signed exports (--sign) need the 'report' extra: pip install 'assessor[report]'",
        ),
        (
            "trestle",
            ["export", "--format", "oscal", "-o", "{tmp}/r.json"],
            "OSCAL exports need the 'oscal' extra: pip install 'assessor[oscal]'",
        ),
        (
            "trestle",
            ["controls", "export", "--format", "oscal", "-o", "{tmp}/cat"],
            "OSCAL exports need the 'oscal' extra: pip install 'assessor[oscal]'",
        ),
        (
            "asyncssh",
            ["scan", "engine:ssh://root@127.0.0.1:1"],
            "engine:ssh:// targets need the 'ssh' extra: pip install 'assessor[ssh]'",
        ),
        (
            "asyncssh",
            ["scan", "ssh://root@127.0.0.1:1"],
            "ssh:// targets need the 'ssh' extra: pip install 'assessor[ssh]'",
        ),
    ],
)
def test_a_command_missing_its_extra_says_which_before_any_work(
    tmp_path: Path, hidden: str, args: list[str], line: str
) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"  # no assessment: any work would fail otherwise
    argv = [a.format(tmp=tmp_path) for a in args]
    if argv[0] != "controls":
        argv += ["--db", db] if argv[0] != "verify" else []
    proc = subprocess.run(
        [sys.executable, "-c", HIDDEN, hidden, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert proc.stderr == f"assessor: error: {line}\n"
    assert list(tmp_path.iterdir()) == []  # nothing written, no database made


@pytest.mark.parametrize("command", [["assessments"], ["db", "current"], ["db", "upgrade"]])
def test_a_postgresql_database_without_psycopg_names_the_extra(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"postgresql://nobody@/assessor?host={tmp_path}"  # plain postgresql:// means psycopg 3
    proc = subprocess.run(
        [sys.executable, "-c", HIDDEN, "psycopg", *command, "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert proc.stderr == (
        "assessor: error: PostgreSQL databases need the 'postgresql' extra: "
        "pip install 'assessor[postgresql]'\n"
    )
