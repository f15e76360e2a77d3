"""OSCAL identifiers and small values shared by the assessment-results and catalog exports:
the one id mapping (``token``, ``requirement_token``, ``objective_id``), single-line values,
props, deterministic uuids (``Ids``) and the people an assessment names (``Parties``)."""

from __future__ import annotations

import functools
import re
import uuid as uuidlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trestle.core.base_model import OscalBaseModel
    from trestle.oscal import common

NS = "https://assessor.dev/ns/oscal"
_BASE = uuidlib.uuid5(uuidlib.NAMESPACE_URL, NS)
_SAFE = re.compile(r"[A-Za-z0-9.-]")


# --- identifiers and small values -------------------------------------------------------------


def _escape(s: str) -> str:
    # every character outside [A-Za-z0-9.-] (the underscore too) as _<hex>_: injective
    return "".join(c if _SAFE.fullmatch(c) else f"_{ord(c):x}_" for c in s)


def token(s: str) -> str:
    """An OSCAL token for ``s`` (a rule or framework id): ``s`` itself when it is a plain
    id starting with a letter, else escaped and, if it would not start with a letter, prefixed
    with ``_``."""
    body = _escape(s)
    return body if body[:1].isalpha() else "_" + body


def requirement_token(framework: str, requirement: str) -> str:
    """``<framework>_<requirement>``, e.g. ``nistir-8176_5.2.1-c-ii``; characters a token
    cannot hold are escaped (``CM-7(1)`` -> ``CM-7_28_1_29_``)."""
    return f"{token(framework)}_{_escape(requirement)}"


def objective_id(framework: str, requirement: str) -> str:
    """The id of a requirement's assessment objective (a part of its control): what a finding
    targets, ``<requirement_token>_obj``."""
    return f"{requirement_token(framework, requirement)}_obj"


def line(s: str | None) -> str:
    """A single-line OSCAL value (markup-line, prop value): line breaks become spaces."""
    return re.sub(r"[\r\n]+", " ", s or "").strip()


def prop(name: str, value: Any, cls: str | None = None) -> common.Property | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else line(str(value))
    if not text:
        return None
    return _property(name, text, cls)


@functools.lru_cache(maxsize=4096)
def _property(name: str, text: str, cls: str | None) -> common.Property:
    """One validated prop per distinct (name, value, class), shared by the models that carry
    it (they are only serialised): thousands of results repeat a few statuses and rules."""
    from trestle.oscal import common

    return common.Property(name=name, ns=NS, value=text, class_=cls)


def prop_list(*items: common.Property | None) -> list[common.Property] | None:
    out = [p for p in items if p is not None]
    return out or None


def flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Nested identity values as (dotted name, scalar) pairs, in key order."""
    if isinstance(value, dict):
        for k in sorted(value, key=str):
            yield from flat(f"{prefix}.{k}" if prefix else str(k), value[k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flat(f"{prefix}.{i}", v)
    else:
        yield prefix, value


def seconds(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(microsecond=0)


def parse_time(iso: str | None) -> datetime | None:
    return seconds(datetime.fromisoformat(iso)) if iso else None


def dump(model: OscalBaseModel) -> bytes:
    """Pretty JSON (two-space indent, model field order) under the model's OSCAL root key."""
    return model.oscal_serialize_json_bytes(pretty=True) + b"\n"


class Ids:
    """uuid5 under one namespace, from a tuple of stable keys."""

    def __init__(self, seed: str) -> None:
        try:
            self.ns = uuidlib.UUID(seed)
        except ValueError:
            self.ns = uuidlib.uuid5(_BASE, seed)

    def __call__(self, *keys: object) -> str:
        return str(uuidlib.uuid5(self.ns, "\x1f".join(str(k) for k in keys)))


def tool_origin(tool: str) -> list[common.Origin]:
    from trestle.oscal import common

    return [common.Origin(actors=[common.OriginActor(type="tool", actor_uuid=tool)])]


# --- the people an assessment names ---------------------------------------------------------


ROLES = {
    "assessor": (
        "Assessor",
        "Finalised the assessment: froze its results, waivers and attestations.",
    ),
    "approver": (
        "Waiver approver",
        "Approved a waiver: accepted the failures it covers as a risk until it expires.",
    ),
    "attester": (
        "Attester",
        "Attested a framework requirement by hand, answering what no rule observes.",
    ),
}


class Parties:
    """The people the assessment names (finaliser, approvers, attesters): one party per name,
    and the roles each holds."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self.uuid: dict[str, str] = {}
        self.roles: dict[str, dict[str, None]] = {r: {} for r in ROLES}

    def add(self, name: object, role: str) -> str | None:
        """The party uuid of ``name`` (None when no name is recorded), holding ``role``."""
        text = line(str(name)) if name is not None else ""
        if not text:
            return None
        party = self.uuid.setdefault(text, self.ids("party", text))
        self.roles[role][party] = None
        return party

    def metadata(self) -> dict[str, Any]:
        from trestle.oscal import common

        held = [r for r in ROLES if self.roles[r]]
        return {
            "roles": [common.Role(id=r, title=ROLES[r][0], description=ROLES[r][1]) for r in held]
            or None,
            "parties": [
                common.Parties(uuid=u, type="person", name=name)
                for name, u in sorted(self.uuid.items())
            ]
            or None,
            "responsible_parties": [
                common.ResponsibleParty(role_id=r, party_uuids=list(self.roles[r])) for r in held
            ]
            or None,
        }
