"""The extension points: evaluation functions, collectors and export formats, one table each.

Each entry names where its object lives; this module imports none of them, so it sits below
every layer (the catalog checks a rule's function name here without importing evaluation).
Adding a built-in function, collector or export format is its module plus one line here.

A package adds its own through entry points (CONTRIBUTING.md): in the groups
``assessor.functions`` (a rule's function name = ``module:function``), ``assessor.collectors``
(a target kind = ``module:CollectorClass``) and ``assessor.exporters`` (a format name =
``module:EXPORTER``, an :class:`Exporter`). They are read only by the code that needs them,
merged into the tables, and a plugin whose name is built in, or that cannot be loaded, stops
the command with one line naming the entry point and its distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, cast

from assessor.errors import AssessorError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint, EntryPoints

FUNCTIONS_GROUP = "assessor.functions"
COLLECTORS_GROUP = "assessor.collectors"
EXPORTERS_GROUP = "assessor.exporters"

# evaluation function (``check: {function: NAME}`` in a rule) -> the module defining it, under
# the same name: ``(data, args) -> Outcome`` (assessor.evaluate.functions)
FUNCTIONS: dict[str, str] = {
    "container_sensitive_mounts": "assessor.evaluate.functions",
    "container_docker_socket_mounted": "assessor.evaluate.functions",
    "container_ports_on_all_interfaces": "assessor.evaluate.functions",
    "container_mount_propagation_shared": "assessor.evaluate.functions",
    "container_privileged_ports_mapped": "assessor.evaluate.functions",
    "container_execs": "assessor.evaluate.functions",
    "container_no_new_privileges": "assessor.evaluate.functions",
    "container_capabilities": "assessor.evaluate.functions",
    "container_selinux": "assessor.evaluate.functions",
    "engine_overlay_networks_encrypted": "assessor.evaluate.functions",
    "host_port_bound_to_interface": "assessor.evaluate.functions",
    "engine_container_sprawl": "assessor.evaluate.functions",
    "host_audit_watched": "assessor.evaluate.host",
    "host_file_permissions": "assessor.evaluate.host",
    "host_data_root_partition": "assessor.evaluate.host",
    "image_none_found": "assessor.evaluate.image",
    "image_setuid_reviewed": "assessor.evaluate.image",
    "image_user_not_root": "assessor.evaluate.image",
    "image_healthcheck": "assessor.evaluate.image",
    "image_update_alone": "assessor.evaluate.image",
    "image_copy_not_add": "assessor.evaluate.image",
    "image_age": "assessor.evaluate.image",
    "openscap_rule_result": "assessor.evaluate.openscap",
    "registry_tls_required": "assessor.evaluate.registry",
    "registry_tls_strong": "assessor.evaluate.registry",
    "registry_certificate": "assessor.evaluate.registry",
    "registry_anonymous": "assessor.evaluate.registry",
    "registry_stale_images": "assessor.evaluate.registry",
    "registry_latest_current": "assessor.evaluate.registry",
    "registry_signed_images": "assessor.evaluate.registry",
    "registry_daemon_secure": "assessor.evaluate.registry",
    "registry_ca_files": "assessor.evaluate.registry",
}


@dataclass(frozen=True, slots=True)
class TargetKindEntry:
    """A target kind (the scheme before the first colon of a target string)."""

    # ``module:Class``: its Collector (assessor.collectors.base), constructed with the scan's
    # CollectOptions
    collector: str
    # what its collector reads, as the report's method section lists it
    reads: str


# target kind -> its collector (a plugin's entry point names the Collector class itself)
COLLECTORS: dict[str, TargetKindEntry] = {
    "host": TargetKindEntry(
        "assessor.collectors.host:HostCollector",
        "host: files, modes and owners, daemon configuration, systemd units, audit rules, "
        "kernel features",
    ),
    "engine": TargetKindEntry(
        "assessor.collectors.engine:EngineCollector",
        "engine: the Docker Engine API (info, version, containers, networks, images, swarm) "
        "and every local image's configuration and layers, from the engine's export or, for "
        "an image ID read within --image-cache-days, from that reading (its read_at)",
    ),
    "image": TargetKindEntry(
        "assessor.collectors.image:ImageCollector",
        "image: manifest, configuration, history and every layer, streamed and never extracted",
    ),
    "registry": TargetKindEntry(
        "assessor.collectors.registry:RegistryCollector",
        "registry: the OCI distribution API, TLS, anonymous access probes, tags and signatures",
    ),
}


@dataclass(frozen=True, slots=True)
class Exporter:
    """An export format of a stored assessment (``assessor export --format NAME``)."""

    # ``module:function`` taking an ExportData (assessor.export.data) and returning bytes
    render: str
    suffix: str  # of the file it writes, without the dot
    media_type: str
    # it reads the evidence documents themselves, not only their hashes
    needs_bodies: bool = False
    # ``module:function`` of the variant carrying every result, when ``render`` carries only
    # the findings (``--all``)
    every_result: str | None = None
    # the install extra its module needs beyond the core (assessor.extras), if any
    extra: str | None = None
    # what it is, in a few words (``export --help``)
    summary: str = ""


EXPORTERS: dict[str, Exporter] = {
    "oscal": Exporter(
        "assessor.export.oscal:render_assessment_results",
        "json",
        "application/json",
        extra="oscal",
        summary="OSCAL assessment results, JSON",
    ),
    "xccdf": Exporter(
        "assessor.export.xccdf:render_xccdf",
        "xml",
        "application/xml",
        summary="XCCDF 1.2 benchmark and test result",
    ),
    "arf": Exporter(
        "assessor.export.arf:render_arf",
        "xml",
        "application/xml",
        True,
        summary="the XCCDF in an Asset Reporting Format result data stream",
    ),
    "sarif": Exporter(
        "assessor.export.sarif:render_sarif",
        "sarif",
        "application/sarif+json",
        every_result="assessor.export.sarif:render_sarif_all",
        summary="SARIF 2.1.0",
    ),
    "junit": Exporter(
        "assessor.export.junit:render_junit", "xml", "application/xml", summary="JUnit XML"
    ),
    "csv": Exporter("assessor.export.tabular:render_csv", "csv", "text/csv"),
    # json: each result's sources, read from the evidence
    "json": Exporter(
        "assessor.export.tabular:render_json",
        "json",
        "application/json",
        True,
        summary="as 'assessor results --format json'",
    ),
}


_BUILT_IN: dict[str, Mapping[str, object]] = {
    FUNCTIONS_GROUP: FUNCTIONS,
    COLLECTORS_GROUP: COLLECTORS,
    EXPORTERS_GROUP: EXPORTERS,
}


class PluginError(AssessorError):
    """An installed plugin cannot be used: its name is taken, or it does not load."""


def _describe(ep: EntryPoint) -> str:
    dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
    return f"entry point {ep.name!r} = {ep.value!r} in group {ep.group!r} (from {dist})"


@cache
def _installed() -> EntryPoints:
    """Every installed entry point, read once (one pass over the installed distributions)."""
    from importlib.metadata import entry_points

    # without arguments, Python 3.11 returns SelectableGroups, whose select(group=...) is the
    # same EntryPoints as 3.12's
    return cast("EntryPoints", entry_points())


@cache
def plugins(group: str) -> dict[str, EntryPoint]:
    """The installed entry points of ``group`` by name, not loaded; a name that is built in or
    that two distributions give is refused."""
    found: dict[str, EntryPoint] = {}
    for ep in _installed().select(group=group):
        if ep.name in _BUILT_IN[group]:
            raise PluginError(
                f"{_describe(ep)}: {ep.name!r} is built into assessor; a plugin cannot replace it",
                hint="rename the plugin's entry point, or uninstall its distribution",
            )
        if ep.name in found:
            raise PluginError(
                f"{_describe(ep)}: {_describe(found[ep.name])} has the same name",
                hint="uninstall one of the two distributions",
            )
        found[ep.name] = ep
    return found


def names(group: str) -> list[str]:
    """Every name of ``group``: the built-in ones, then the installed plugins', sorted."""
    return [*_BUILT_IN[group], *sorted(plugins(group))]


def _attribute(spec: str) -> object:
    module, _, attribute = spec.partition(":")
    return getattr(import_module(module), attribute)


def load(group: str, name: str) -> object:
    """The object ``name`` of ``group``: a built-in one (imported now), or a plugin's.

    A name neither knows is a PluginError (a catalog cached while a plugin was installed can
    name a function of a plugin removed since)."""
    installed = plugins(group)  # a plugin that takes a built-in name is refused even so
    table = _BUILT_IN[group]
    if name in table:
        entry = table[name]
        if isinstance(entry, TargetKindEntry):
            return _attribute(entry.collector)
        return entry if isinstance(entry, Exporter) else _attribute(f"{entry}:{name}")
    ep = installed.get(name)
    if ep is None:
        raise PluginError(
            f"{name!r} is neither built in nor given by an installed plugin (group {group!r})",
            hint=f"known: {', '.join(names(group))}",
        )
    try:
        return ep.load()
    except Exception as e:  # a broken plugin is one line naming it, never a traceback
        text = (str(e).splitlines() or [""])[0][:200]
        raise PluginError(
            f"{_describe(ep)} failed to load: {type(e).__name__}: {text}",
            hint="fix or uninstall that distribution",
        ) from None


def exporter(name: str) -> Exporter:
    """The export format ``name`` (built in, or a plugin's :class:`Exporter`)."""
    found = load(EXPORTERS_GROUP, name)
    if not isinstance(found, Exporter):
        ep = plugins(EXPORTERS_GROUP)[name]
        raise PluginError(
            f"{_describe(ep)} is a {type(found).__name__}, not an assessor.extensions.Exporter"
        )
    return found


def render_function(spec: str) -> object:
    """The object a ``module:attribute`` string names (an Exporter's ``render``)."""
    return _attribute(spec)
