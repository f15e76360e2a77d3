"""An example assessor plugin: a target kind with its collector, an evaluation function and an
export format.

Neither is registered by importing this module: the distribution's entry points name them
(pyproject.toml), and assessor reads them only when a rule or ``export --format`` needs them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assessor.collectors.base import Collector
from assessor.collectors.options import CollectOptions
from assessor.errors import EvaluationError, TargetUnreachableError
from assessor.evaluate.functions import Outcome
from assessor.evidence import Evidence
from assessor.extensions import Exporter
from assessor.targets import Target
from assessor.vocab import Status

if TYPE_CHECKING:  # the read model is imported only when an export runs
    from assessor.export.data import ExportData


class InspectCollector(Collector):
    """``example-inspect:DIR``: containers as ``docker inspect`` saved them, one JSON file each,
    judged offline by the built-in container rules (the evidence kind it yields)."""

    kinds = frozenset({"container"})

    def __init__(self, options: CollectOptions | None = None) -> None:
        self._identity: dict[str, Any] = {}

    def identity(self) -> dict[str, Any]:
        return self._identity

    def collect(self, target: Target) -> Iterator[Evidence]:
        folder = Path(target.location)
        if not folder.is_dir():
            raise TargetUnreachableError(f"{target}: no such folder")
        files = sorted(folder.glob("*.json"))
        self._identity = {"folder": str(folder.resolve()), "documents": len(files)}
        for path in files:
            doc = json.loads(path.read_text())
            if isinstance(doc, list):  # docker inspect prints a list
                doc = doc[0]
            yield Evidence(
                "container", str(target), str(doc.get("Name", path.stem)).lstrip("/"), doc
            )


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
        return Outcome(Status.NOT_APPLICABLE, f"nothing exists under {under}")
    others = [f"{f['path']} (uid {f.get('uid')})" for f in seen if f.get("uid") != 0]
    if others:
        return Outcome(Status.FAIL, "not owned by root: " + ", ".join(others))
    return Outcome(Status.PASS, f"{len(seen)} file(s) under {under}, all owned by root")


def render_tally(data: ExportData) -> bytes:
    """One line per status: how many results of the assessment have it."""
    counts = Counter(r.status for r in data.results)
    lines = [f"assessment {data.uuid}"]
    lines += [f"{status} {n}" for status, n in sorted(counts.items())]
    return ("\n".join(lines) + "\n").encode()


TALLY = Exporter(
    render="assessor_example_plugin:render_tally", suffix="txt", media_type="text/plain"
)
