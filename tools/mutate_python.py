"""Mutation testing of the registered evaluation functions with mutmut (``make mutation``).

The run works on a copy of the checkout (build/mutation): ``mutmut run`` mutates the modules
listed under ``[tool.mutmut]`` in pyproject.toml and runs the tests named there (the golden rule
fixtures and tests/unit/test_evaluators.py). Evaluators are plain functions, named in
assessor.extensions.FUNCTIONS. mutmut 3 leaves decorated functions alone, and a commit from
before that table (``--ref``) registered each with ``@register("name")``: in its copy the
decorators become plain ``register("name")(fn)`` calls at the end of the module (the same
registrations, in the same order).

Every surviving mutant must be listed in tests/mutation/equivalent-python.txt with the reason
no evidence tells it apart (``<mutant name>\\t<reason>``, one a line); the run fails on any other
survivor, on a mutant no test reaches, and on a stale entry (a mutant that makes the tests
hang, killed by mutmut's timeout, counts as killed).

Usage: python tools/mutate_python.py [--jobs N] [--keep] [mutant-glob ...]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
EQUIVALENTS = ROOT / "tests" / "mutation" / "equivalent-python.txt"
COPIED = ("assessor", "controls", "tests", "pyproject.toml")
DECORATOR = re.compile(r"^@register\((?P<args>[^)\n]*)\)\n(?=def (?P<name>\w+)\()", re.M)
RESULT = re.compile(r"^\s+(?P<name>[\w.]+): (?P<status>.+)$")


def targets() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def undecorate(source: str) -> str:
    """``@register(X)`` before ``def fn`` moves to ``register(X)(fn)`` at the module's end."""
    # register() runs at import, before any mutant is active: its mutants could never be judged
    source = re.sub(r"^(def register\(.*:)$", r"\1  # pragma: no mutate block", source, flags=re.M)
    calls = [f"register({m['args']})({m['name']})" for m in DECORATOR.finditer(source)]
    if not calls:
        return source
    body = DECORATOR.sub("", source).rstrip("\n")
    return (
        body
        + "\n\n\n# registered here, not by decorators: mutmut mutates no decorated function\n"
        + ("\n".join(calls) + "\n")
    )


def prepare(work: Path, ref: str | None = None) -> None:
    """Copy the working tree (or the commit ``ref``) to ``work``, evaluators undecorated."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if ref is not None:
        archive = subprocess.run(
            ["git", "archive", ref, *COPIED], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED if ref is None else ():
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        else:
            shutil.copy2(src, work / name)
    for rel in targets():
        path = work / rel
        if path.exists():
            path.write_text(undecorate(path.read_text()))


def add_pytest_args(pyproject: Path, extra: list[str]) -> None:
    text = pyproject.read_text()
    head, sep, tail = text.partition("pytest_add_cli_args = [")
    if not sep:
        raise SystemExit(f"{pyproject}: no pytest_add_cli_args under [tool.mutmut]")
    quoted = "".join(f"{json.dumps(a)}, " for a in extra)
    pyproject.write_text(head + sep + quoted + tail)


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition("\t")
        if not reason.strip():
            raise SystemExit(f"{path}:{n}: expected '<mutant name>\\t<reason>'")
        found[name.strip()] = reason.strip()
    return found


def results(work: Path, mutmut: str) -> dict[str, str]:
    out = subprocess.run(
        [mutmut, "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {m["name"]: m["status"].strip() for m in map(RESULT.match, out.splitlines()) if m}


def diff(work: Path, mutmut: str, name: str) -> list[str]:
    """The changed lines of one mutant (``mutmut show``), to judge it without a second step."""
    shown = subprocess.run(
        [mutmut, "show", name], cwd=work, capture_output=True, text=True, check=False
    ).stdout
    return [
        line
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ref", help="test this commit (git archive) instead of the work tree")
    parser.add_argument(
        "--pytest-arg",
        action="append",
        default=[],
        help="one more pytest argument for the run (repeatable), e.g. --deselect=TEST",
    )
    parser.add_argument("--keep", action="store_true", help="reuse build/mutation's results")
    parser.add_argument("names", nargs="*", help="only the mutants matching these globs")
    args = parser.parse_args(argv)
    mutmut = str(Path(sys.executable).parent / "mutmut")
    started = time.monotonic()
    if not args.keep:
        prepare(WORK, args.ref)
        if args.pytest_arg:
            add_pytest_args(WORK / "pyproject.toml", args.pytest_arg)
    cmd = ["nice", "-n", "10", mutmut, "run", "--max-children", str(args.jobs), *args.names]
    run = subprocess.run(cmd, cwd=WORK, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.stdout.write(run.stdout[-4000:] + run.stderr[-4000:])
        print(f"mutmut run failed ({run.returncode})")
        return 1
    statuses = results(WORK, mutmut)
    if args.names:
        statuses = {
            k: v for k, v in statuses.items() if any(fnmatch.fnmatch(k, g) for g in args.names)
        }
    equivalents = load_equivalents()
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    survivors = sorted(k for k, v in statuses.items() if v == "survived" and k not in equivalents)
    equivalent = sorted(k for k, v in statuses.items() if v == "survived" and k in equivalents)
    # a mutant that makes the tests hang (an endless loop) is caught by the timeout: killed
    other = sorted(
        f"{k}: {v}" for k, v in statuses.items() if v not in ("killed", "timeout", "survived")
    )
    stale = sorted(
        k
        for k in equivalents
        if (statuses.get(k) != "survived") and (not args.names or k in statuses)
    )
    for name in survivors:
        print(f"survived: {name}")
        for line in diff(WORK, mutmut, name):
            print(f"    {line}")
    for line in other:
        print(f"not judged: {line}")
    for name in stale:
        print(f"stale equivalence (killed or no such mutant): {name}")
    killed = counts.get("killed", 0)
    timeouts = counts.get("timeout", 0)
    print(
        f"python mutants: {len(statuses)} in {', '.join(targets())}; {killed} killed, "
        f"{timeouts} killed by the timeout, "
        f"{len(equivalent)} equivalent (listed), {len(survivors)} survived, {len(other)} "
        f"other; {time.monotonic() - started:.0f} s"
    )
    print(f"details: cd {WORK.relative_to(ROOT)} && {mutmut} show <name>")
    return 1 if survivors or other or stale else 0


if __name__ == "__main__":
    sys.exit(main())
