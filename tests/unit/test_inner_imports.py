"""An import belongs at the top of its module (docs/architecture.md). The exceptions keep a
heavy module out of start-up (`assessor --version`, `assessor CMD --help`) or out of the
commands that do not use it; each is listed in LAZY with the reason and its cost, so a new
inner import is a decision, not a habit. The test fails on an inner import not listed here,
and on a listed one that is gone (the list stays true).

Costs (`python tools/inner_import_costs.py`): the wall time of the import statement run right
after importing its module, in a fresh interpreter, median of 3 (what moving it to the top would add to importing the module),
on the development machine: 2 shared cores under load, so compare them with each other, not
with a quiet machine. `python -X importtime -c 'import MODULE'` shows where a cost comes from."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# (importing module, imported module) -> why it is imported inside a function (cost)
LAZY: dict[tuple[str, str], str] = {
    (
        "assessor.audit.trend",
        "assessor.audit.waivers",
    ): "applied_waivers answers None when the waivers module is absent (the guard tests/unit/test_diff_trend.py covers) (<1 ms)",
    (
        "assessor.audit.waivers",
        "assessor.catalog.loader",
    ): "reading a waivers file (YAML reader, the catalog's error formatting): only `waivers import`; the catalog loader brings pydantic (392 ms)",
    (
        "assessor.audit.waivers",
        "pydantic",
    ): "the strict model of a waivers file: only `assessor waivers import` reads one; the other waiver commands load no pydantic (183 ms)",
    (
        "assessor.catalog.loader",
        "assessor.yamlsafe",
    ): "PyYAML, only to parse a control or waivers file: a scan whose catalog comes from the cache reads no YAML (15 ms)",
    (
        "assessor.cli",
        "assessor",
    ): "the --version fast path of cli/__init__.py, left as the start-up work laid it out (the package is loaded already) (<1 ms)",
    (
        "assessor.cli",
        "assessor.cli.app",
    ): "the --version fast path answers before Typer and the command table are imported (182 ms)",
    (
        "assessor.cli._common",
        "assessor.catalog",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (437 ms)",
    (
        "assessor.cli._common",
        "assessor.outfile",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (8 ms)",
    (
        "assessor.cli._common",
        "assessor.store",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (664 ms)",
    (
        "assessor.cli._progress",
        "rich.console",
    ): "start-up: scan's module imports the progress display at its top; only a scan on a terminal draws one (39 ms)",
    (
        "assessor.cli._progress",
        "rich.text",
    ): "start-up: as rich.console, for the status line's text (25 ms)",
    (
        "assessor.cli._common",
        "tomllib",
    ): "assessor.toml is parsed only when there is one; most runs read no TOML (2 ms)",
    (
        "assessor.cli._output",
        "rich.cells",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (2 ms)",
    (
        "assessor.cli._output",
        "rich.control",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (10 ms)",
    (
        "assessor.cli._output",
        "rich.console",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (58 ms)",
    (
        "assessor.cli._output",
        "rich.segment",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (9 ms)",
    (
        "assessor.cli._output",
        "rich.table",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (55 ms)",
    (
        "assessor.cli._output",
        "rich.text",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (39 ms)",
    (
        "assessor.cli._output",
        "shutil",
    ): "start-up: every command module imports this helper at its top, so its --help would load it (7 ms)",
    (
        "assessor.cli.attest",
        "assessor.audit.attestations",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (514 ms)",
    (
        "assessor.cli.attest",
        "assessor.audit.waivers",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (312 ms)",
    (
        "assessor.cli.collect",
        "assessor",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (the bundle writer and the collection: 239 ms)",
    (
        "assessor.cli.collect",
        "assessor.sign.keys",
    ): "cryptography, only to load the collector's signing identity; --unsigned loads none (118 ms)",
    (
        "assessor.cli.controls",
        "assessor.catalog",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (408 ms)",
    (
        "assessor.cli.controls",
        "assessor.catalog.compare",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (380 ms)",
    (
        "assessor.cli.controls",
        "assessor.catalog.schema",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (402 ms)",
    (
        "assessor.cli.controls",
        "assessor.cli._output",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (65 ms)",
    (
        "assessor.cli.controls",
        "assessor.export.oscal",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (139 ms)",
    (
        "assessor.cli.controls",
        "assessor.export.xccdf",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (112 ms)",
    (
        "assessor.cli.controls",
        "rich.markup",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (30 ms)",
    (
        "assessor.cli.controls",
        "rich.table",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (33 ms)",
    (
        "assessor.cli.controls",
        "yaml",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (45 ms)",
    (
        "assessor.cli.db",
        "assessor.store.db",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (1026 ms)",
    (
        "assessor.cli.diff",
        "assessor.audit",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (774 ms)",
    (
        "assessor.cli.diff",
        "assessor.audit.diff",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (695 ms)",
    (
        "assessor.cli.diff",
        "assessor.cli._output",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (29 ms)",
    (
        "assessor.cli.diff",
        "assessor.readmodel",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (30 ms)",
    (
        "assessor.cli.diff",
        "assessor.store",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (374 ms)",
    (
        "assessor.cli.diff",
        "rich.table",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (21 ms)",
    (
        "assessor.cli.evaluate",
        "assessor",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (21 ms)",
    (
        "assessor.cli.evaluate",
        "assessor.cli",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (43 ms)",
    (
        "assessor.cli.evaluate",
        "assessor.pipeline",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (1538 ms)",
    (
        "assessor.cli.evaluate",
        "assessor.store",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (1437 ms)",
    (
        "assessor.cli.evaluate",
        "rich.console",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (123 ms)",
    (
        "assessor.cli.history",
        "assessor.audit",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (1070 ms)",
    (
        "assessor.cli.history",
        "assessor.audit.history",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (926 ms)",
    (
        "assessor.cli.history",
        "assessor.cli._output",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (47 ms)",
    (
        "assessor.cli.history",
        "rich.table",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (56 ms)",
    (
        "assessor.cli.importer",
        "assessor.imports",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (1583 ms)",
    (
        "assessor.cli.ingest",
        "assessor",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (the pipeline: catalog, store, evaluation: 962 ms)",
    (
        "assessor.cli.ingest",
        "assessor.bundle",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (the bundle reader and signature checks: 344 ms)",
    (
        "assessor.cli.keys",
        "assessor.sign.keys",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (139 ms)",
    (
        "assessor.cli.results",
        "assessor",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (43 ms)",
    (
        "assessor.cli.results",
        "assessor.cli",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (58 ms)",
    (
        "assessor.cli.results",
        "assessor.cli._output",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (64 ms)",
    (
        "assessor.cli.results",
        "assessor.export",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (22 ms)",
    (
        "assessor.cli.results",
        "assessor.readmodel",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (47 ms)",
    (
        "assessor.cli.results",
        "assessor.store",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (673 ms)",
    (
        "assessor.cli.results",
        "rich.table",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (17 ms)",
    (
        "assessor.cli.scan",
        "assessor",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (21 ms)",
    (
        "assessor.cli.scan",
        "assessor.cli",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (45 ms)",
    (
        "assessor.cli.scan",
        "assessor.collection",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (21 ms)",
    (
        "assessor.cli.scan",
        "assessor.collectors.limits",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (103 ms)",
    (
        "assessor.cli.scan",
        "assessor.collectors.options",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (128 ms)",
    (
        "assessor.inventory",
        "assessor.yamlsafe",
    ): "PyYAML, only to read an inventory file: a scan of the targets on its command line reads no YAML (tests/unit/test_startup.py) (34 ms)",
    (
        "assessor.cli.scan",
        "assessor.cli._progress",
    ): "start-up: `assessor scan --help` loads no module of another command or helper it does not need (tests/unit/test_startup.py) (4 ms)",
    (
        "assessor.cli.scan",
        "assessor.inventory",
    ): "start-up: `assessor CMD --help` imports this command's module; only a scan reads an inventory (PyYAML for a YAML one) (34 ms)",
    (
        "assessor.cli.scan",
        "assessor.targets",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (8 ms)",
    (
        "assessor.cli.trend",
        "assessor.audit",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (660 ms)",
    (
        "assessor.cli.trend",
        "assessor.audit.trend",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (781 ms)",
    (
        "assessor.cli.trend",
        "assessor.cli._output",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (49 ms)",
    (
        "assessor.cli.trend",
        "assessor.report.data",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (1431 ms)",
    (
        "assessor.cli.trend",
        "rich.table",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (16 ms)",
    (
        "assessor.cli.verify",
        "assessor.sign.verify",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (221 ms)",
    (
        "assessor.cli.waivers",
        "assessor.audit",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (516 ms)",
    (
        "assessor.cli.waivers",
        "assessor.audit.waivers",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (443 ms)",
    (
        "assessor.cli.waivers",
        "assessor.cli._output",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (20 ms)",
    (
        "assessor.cli.waivers",
        "assessor.store.models",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (316 ms)",
    (
        "assessor.cli.waivers",
        "rich.table",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (16 ms)",
    (
        "assessor.cli.waivers",
        "rich.text",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (17 ms)",
    (
        "assessor.cli.waivers",
        "sqlalchemy",
    ): "start-up: `assessor CMD --help` imports this command's module; only the command's work loads it (192 ms)",
    (
        "assessor.collectors.engine_api",
        "assessor.collectors.engine_ssh",
    ): "asyncssh (the ssh extra), only for an engine:ssh:// target; a local or TCP engine loads none of it (120 ms)",
    (
        "assessor.collectors.engine",
        "assessor.collectors.ssh_access",
    ): "asyncssh's SFTP, to read dockerd's process over an engine:ssh:// target's connection (asyncssh is loaded by then with the tunnel); a local or TCP engine loads none of it (292 ms)",
    (
        "assessor.collectors.host",
        "assessor.collectors.ssh_access",
    ): "asyncssh (the ssh extra), only for an ssh:// target; host:/ loads none of it (351 ms)",
    (
        "assessor.collectors.image",
        "assessor.collectors.engine_api",
    ): "one image transport each: an oci or docker-archive image loads no httpx (207 ms)",
    (
        "assessor.collectors.image",
        "assessor.collectors.image.daemon",
    ): "one image transport each: an oci or docker-archive image loads no httpx (142 ms)",
    (
        "assessor.collectors.image",
        "assessor.collectors.image.registry",
    ): "one image transport each: an oci or docker-archive image loads no httpx (153 ms)",
    (
        "assessor.collectors.image.stream",
        "gzip",
    ): "isal with a zlib/gzip fallback (try/except ImportError) (<1 ms)",
    (
        "assessor.collectors.image.stream",
        "isal",
    ): "isal with a zlib/gzip fallback (try/except ImportError) (<1 ms)",
    (
        "assessor.collectors.image.stream",
        "isal.isal_zlib",
    ): "isal with a zlib/gzip fallback (try/except ImportError) (<1 ms)",
    (
        "assessor.collectors.registry.tls",
        "cryptography",
    ): "only a registry that answers TLS: describing its certificate (81 ms)",
    (
        "assessor.collectors.registry.tls",
        "cryptography.hazmat.primitives",
    ): "only a registry that answers TLS: describing its certificate (13 ms)",
    (
        "assessor.collectors.registry.tls",
        "cryptography.hazmat.primitives.asymmetric",
    ): "only a registry that answers TLS: describing its certificate (28 ms)",
    (
        "assessor.export.oscal.base",
        "trestle.oscal",
    ): "compliance-trestle is the oscal extra: OSCAL modules import without it, so the missing extra is named in one line (697 ms)",
    (
        "assessor.export.oscal.catalog",
        "trestle.oscal",
    ): "compliance-trestle is the oscal extra: OSCAL modules import without it, so the missing extra is named in one line (565 ms)",
    (
        "assessor.export.oscal.findings",
        "trestle.oscal",
    ): "compliance-trestle is the oscal extra: OSCAL modules import without it, so the missing extra is named in one line (337 ms)",
    (
        "assessor.export.oscal.observations",
        "trestle.oscal",
    ): "compliance-trestle is the oscal extra: OSCAL modules import without it, so the missing extra is named in one line (415 ms)",
    (
        "assessor.export.oscal.results",
        "trestle.oscal",
    ): "compliance-trestle is the oscal extra: OSCAL modules import without it, so the missing extra is named in one line (478 ms)",
    (
        "assessor.extensions",
        "importlib.metadata",
    ): "entry points are read when a table is first used; assessor.extensions is imported by `assessor --help` (64 ms)",
    (
        "assessor.pipeline",
        "assessor.bundle",
    ): "bundles only in ingest: a scan loads no bundle reader nor signature checking (169 ms)",
    (
        "assessor.pipeline",
        "assessor.sign.verify",
    ): "bundles only in ingest: a scan loads no signature checking (cryptography) (145 ms)",
    (
        "assessor.pipeline",
        "concurrent.futures",
    ): "only ingest --jobs N runs a process pool; a scan loads none (4 ms)",
    (
        "assessor.pipeline",
        "multiprocessing",
    ): "only ingest --jobs N forks worker processes; a scan loads none (1 ms)",
    (
        "assessor.publish",
        "assessor",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (8 ms)",
    (
        "assessor.publish",
        "assessor.catalog",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (411 ms)",
    (
        "assessor.publish",
        "assessor.export",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (4 ms)",
    (
        "assessor.publish",
        "assessor.export.data",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (22 ms)",
    (
        "assessor.publish",
        "assessor.outfile",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (4 ms)",
    (
        "assessor.publish",
        "assessor.report.attachments",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (12 ms)",
    (
        "assessor.publish",
        "assessor.report.data",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (1291 ms)",
    (
        "assessor.publish",
        "assessor.report.fleet",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (577 ms)",
    (
        "assessor.publish",
        "assessor.report.render",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (2003 ms)",
    (
        "assessor.publish",
        "assessor.sign.cms",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (269 ms)",
    (
        "assessor.publish",
        "assessor.sign.keys",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (201 ms)",
    (
        "assessor.publish",
        "assessor.sign.pdf",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (272 ms)",
    (
        "assessor.publish",
        "assessor.store",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (1176 ms)",
    (
        "assessor.publish",
        "weasyprint",
    ): "start-up: cli/report.py and cli/export.py import this module at their top; `assessor report --help` / `export --help` load none of the rendering, signing or store (2262 ms)",
    (
        "assessor.readmodel",
        "assessor.audit.attestations",
    ): "keeps SQLAlchemy and pydantic out of the modules that import the read model for its types: exports, and `controls export` (no database) (1015 ms)",
    (
        "assessor.readmodel",
        "assessor.audit.trend",
    ): "keeps SQLAlchemy and pydantic out of the modules that import the read model for its types: exports, and `controls export` (no database) (1090 ms)",
    (
        "assessor.readmodel",
        "assessor.audit.waivers",
    ): "keeps SQLAlchemy and pydantic out of the modules that import the read model for its types: exports, and `controls export` (no database) (1151 ms)",
    (
        "assessor.readmodel",
        "assessor.evaluate.sources",
    ): "keeps SQLAlchemy and pydantic out of the modules that import the read model for its types: exports, and `controls export` (no database) (834 ms)",
    (
        "assessor.readmodel",
        "assessor.store",
    ): "keeps SQLAlchemy and pydantic out of the modules that import the read model for its types: exports, and `controls export` (no database) (1143 ms)",
    (
        "assessor.readmodel",
        "assessor.store.models",
    ): "keeps SQLAlchemy and pydantic out of the modules that import the read model for its types: exports, and `controls export` (no database) (1081 ms)",
    (
        "assessor.report.attachments",
        "assessor.audit.attestations",
    ): "keeps SQLAlchemy out of `assessor verify`, which reads a report's manifest through this module (852 ms)",
    (
        "assessor.report.attachments",
        "assessor.store.models",
    ): "keeps SQLAlchemy out of `assessor verify`, which reads a report's manifest through this module (658 ms)",
    (
        "assessor.report.attachments",
        "sqlalchemy",
    ): "keeps SQLAlchemy out of `assessor verify`, which reads a report's manifest through this module (545 ms)",
    (
        "assessor.report.render",
        "jinja2",
    ): "Jinja2/WeasyPrint are the report extra: rendering names the missing extra in one line (64 ms)",
    (
        "assessor.report.render",
        "markupsafe",
    ): "Jinja2/WeasyPrint are the report extra: rendering names the missing extra in one line (<1 ms)",
    (
        "assessor.report.render",
        "weasyprint",
    ): "Jinja2/WeasyPrint are the report extra: rendering names the missing extra in one line (1840 ms)",
    ("assessor.report.text", "markupsafe"): "MarkupSafe comes with Jinja2, the report extra (2 ms)",
    (
        "assessor.sign",
        "assessor.sign.cms",
    ): "pyHanko (the report extra) only when a file is signed (366 ms)",
    (
        "assessor.sign",
        "assessor.sign.pdf",
    ): "pyHanko (the report extra) only when a file is signed (440 ms)",
    (
        "assessor.sign.cms",
        "asn1crypto",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (48 ms)",
    (
        "assessor.sign.cms",
        "pyhanko.sign.general",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1298 ms)",
    (
        "assessor.sign.cms",
        "pyhanko.sign.signers",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1229 ms)",
    (
        "assessor.sign.cms",
        "pyhanko.sign.signers.pdf_cms",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1226 ms)",
    (
        "assessor.sign.cms",
        "pyhanko.sign.timestamps",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1341 ms)",
    (
        "assessor.sign.cms",
        "pyhanko_certvalidator.registry",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (203 ms)",
    (
        "assessor.sign.pdf",
        "pyhanko.pdf_utils.incremental_writer",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (301 ms)",
    (
        "assessor.sign.pdf",
        "pyhanko.pdf_utils.misc",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (206 ms)",
    (
        "assessor.sign.pdf",
        "pyhanko.sign",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1640 ms)",
    (
        "assessor.sign.pdf",
        "pyhanko.sign.general",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1313 ms)",
    (
        "assessor.sign.pdf",
        "pyhanko.sign.timestamps",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1469 ms)",
    (
        "assessor.sign.pdf",
        "pyhanko.stamp",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (417 ms)",
    (
        "assessor.sign.verify",
        "asn1crypto",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (63 ms)",
    (
        "assessor.sign.verify",
        "pyhanko.pdf_utils.misc",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (282 ms)",
    (
        "assessor.sign.verify",
        "pyhanko.pdf_utils.reader",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (370 ms)",
    (
        "assessor.sign.verify",
        "pyhanko.sign.validation",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1595 ms)",
    (
        "assessor.sign.verify",
        "pyhanko.sign.validation.errors",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1693 ms)",
    (
        "assessor.sign.verify",
        "pyhanko.sign.validation.settings",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (1661 ms)",
    (
        "assessor.sign.verify",
        "pyhanko_certvalidator",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (258 ms)",
    (
        "assessor.sign.verify",
        "pyhanko_certvalidator.authority",
    ): "pyHanko is the report extra; `keys` and the signing-key checks run without it (194 ms)",
    (
        "assessor.store.db",
        "alembic",
    ): "Alembic only when the schema is checked or migrated (417 ms)",
    (
        "assessor.store.db",
        "alembic.config",
    ): "Alembic only when the schema is checked or migrated (457 ms)",
    ("assessor.store.db", "fcntl"): "POSIX only (try/except ImportError) (<1 ms)",
    (
        "assessor.store.queries",
        "sqlalchemy.dialects.postgresql",
    ): "the dialect of the open database only (SQLite or PostgreSQL) (141 ms)",
    (
        "assessor.store.queries",
        "sqlalchemy.dialects.sqlite",
    ): "the dialect of the open database only (SQLite or PostgreSQL) (19 ms)",
}


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _inner(node: ast.AST, inside: bool, found: set[str]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            continue  # never runs
        if inside and isinstance(child, ast.Import):
            found.update(alias.name for alias in child.names)
        elif inside and isinstance(child, ast.ImportFrom):
            assert not child.level, f"relative import at line {child.lineno}"
            found.add(child.module or "")
        scope = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
        _inner(child, inside or isinstance(child, scope), found)


def inner_imports(root: Path) -> set[tuple[str, str]]:
    """(module, imported module) of every import statement inside a function or class body
    of the package under ``root`` (not those under ``if TYPE_CHECKING:``)."""
    out: set[tuple[str, str]] = set()
    for path in sorted((root / "assessor").rglob("*.py")):
        found: set[str] = set()
        _inner(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, found)
        out.update((_module(path, root), name) for name in found)
    return out


def test_every_inner_import_is_listed() -> None:
    unlisted = sorted(inner_imports(ROOT) - LAZY.keys())
    assert unlisted == [], (
        "move these imports to the top of their module, or list them in LAZY with the reason "
        "and the measured cost"
    )


def test_every_listed_import_is_still_inner() -> None:
    assert sorted(LAZY.keys() - inner_imports(ROOT)) == []


def test_the_walk_sees_inner_imports_only(tmp_path: Path) -> None:
    pkg = tmp_path / "assessor"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "x.py").write_text(
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from assessor.store import Store\n"
        "def f():\n"
        "    import sqlalchemy.orm\n"
        "    if True:\n"
        "        from assessor.readmodel import load\n"
        "class C:\n"
        "    def g(self):\n"
        "        import weasyprint\n",
        encoding="utf-8",
    )
    assert inner_imports(tmp_path) == {
        ("assessor.x", "sqlalchemy.orm"),
        ("assessor.x", "assessor.readmodel"),
        ("assessor.x", "weasyprint"),
    }
