"""Start-up: `assessor --version` loads no Typer, `assessor CMD --help` only CMD's module, and
neither loads the heavy libraries a command's work needs (tests/bench/bench_startup.py times
them). Help and usage texts stay those of the whole application."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assessor import __version__
from assessor.cli.app import COMMANDS, make_app
from tests.conftest import ROOT, run_cli

HEAVY = ("pydantic", "sqlalchemy", "httpx", "yaml", "jinja2", "rich", "cryptography", "lxml")


def modules_after(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded once the command line ``args`` has run (in a fresh interpreter),
    with ``env`` added to the environment; a name marked absent (None) is not loaded."""
    code = (
        "import json, sys\n"
        "from assessor.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m, module in sys.modules.items() if module is not None)\n"
        "sys.stderr.write('\\nMODULES ' + json.dumps(loaded))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return set(json.loads(proc.stderr.rpartition("MODULES ")[2]))


def test_version_loads_no_typer() -> None:
    loaded = modules_after("--version")
    assert "typer" not in loaded
    assert not {m for m in loaded if m.startswith("assessor.cli.")}


@pytest.mark.parametrize("command", ["scan", "report", "keys"])
def test_command_help_loads_only_its_module(command: str) -> None:
    loaded = modules_after(command, "--help")
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert not heavy, f"{command} --help loaded {heavy}"
    commands = {m for m in loaded if m.startswith("assessor.cli.")} - {
        "assessor.cli.app",
        "assessor.cli._common",
    }
    assert commands == {f"assessor.cli.{COMMANDS[command][0]}"}


def test_a_scan_loads_no_yaml_reader_nor_httpx_command_line(tmp_path: Path) -> None:
    """A scan whose catalog comes from the cache parses no YAML, and httpx's command-line
    client (click, Pygments), which httpx imports whenever click is installed, stays out."""
    root = tmp_path / "root"
    root.mkdir()
    env = {"ASSESSOR_DB": str(tmp_path / "a.db"), "ASSESSOR_CACHE_DIR": str(tmp_path / "cache")}
    args = ("scan", f"host:{root}", f"engine:unix://{tmp_path}/absent.sock")
    modules_after(*args, env=env)  # the first scan caches the catalog
    loaded = modules_after(*args, env=env)
    assert {"assessor.pipeline", "sqlalchemy"} <= loaded  # the scan ran
    # the targets were read in the child process (assessor.collection): no HTTP client here
    assert not {m for m in loaded if m.split(".")[0] in ("httpx", "httpcore")}
    # collected in this process (ASSESSOR_DEBUG): the engine's client, not its command line
    here = modules_after(*args, env={**env, "ASSESSOR_DEBUG": "1"})
    assert {"assessor.pipeline", "httpx", "sqlalchemy"} <= here
    for modules in (loaded, here):
        unused = sorted(m for m in modules if m.split(".")[0] in ("yaml", "click", "pygments"))
        assert unused == []


def test_version_fast_path_prints_what_typer_prints() -> None:
    fast = run_cli("--version")
    typer_path = run_cli("--version", "--help")  # eager --version comes first: Typer prints it
    assert fast.code == typer_path.code == 0
    assert fast.out == typer_path.out == f"assessor {__version__}\n"


def test_root_help_lists_every_command_in_order() -> None:
    out = run_cli("--help").out
    listed = [line.split()[0] for line in out.partition("Commands:\n")[2].splitlines() if line]
    assert listed == list(COMMANDS)
    assert sorted(c.name for c in make_app([]).registered_commands if c.name) == sorted(
        n for n, (_m, _a, group) in COMMANDS.items() if not group
    )


def test_unknown_command_and_option_errors_unchanged() -> None:
    unknown = run_cli("scna")
    assert unknown.code == 2 and "No such command 'scna'" in unknown.err
    bad = run_cli("scan", "--bogus")
    assert bad.code == 2 and "No such option: --bogus" in bad.err
