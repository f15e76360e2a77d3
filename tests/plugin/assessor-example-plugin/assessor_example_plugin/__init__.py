"""An example assessor plugin: an evaluation function and an export format.

Neither is registered by importing this module: the distribution's entry points name them
(pyproject.toml), and assessor reads them only when a rule or ``export --format`` needs them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from assessor.errors import EvaluationError
from assessor.evaluate.functions import Outcome
from assessor.export.data import ExportData
from assessor.extensions import Exporter


def docker_files_owned_by_root(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Host evidence: every file the collector read under ``args.under`` (default
    /etc/docker) is owned by root. Not applicable when none exists."""
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise EvaluationError("evidence 'files' is absent")
    under = str(args.get("under", "/etc/docker")).rstrip("/")
    seen = [
        f
        for path, f in sorted(files.items())
        if isinstance(f, dict) and f.get("exists") and (path + "/").startswith(under + "/")
    ]
    if not seen:
        return Outcome("not_applicable", f"nothing exists under {under}")
    others = [f"{f['path']} (uid {f.get('uid')})" for f in seen if f.get("uid") != 0]
    if others:
        return Outcome("fail", "not owned by root: " + ", ".join(others))
    return Outcome("pass", f"{len(seen)} file(s) under {under}, all owned by root")


def render_tally(data: ExportData) -> bytes:
    """One line per status: how many results of the assessment have it."""
    counts = Counter(r.status for r in data.results)
    lines = [f"assessment {data.uuid}"]
    lines += [f"{status} {n}" for status, n in sorted(counts.items())]
    return ("\n".join(lines) + "\n").encode()


TALLY = Exporter(
    render="assessor_example_plugin:render_tally", suffix="txt", media_type="text/plain"
)
