"""Evaluators for registry evidence (SP 800-190 4.2, NIST IR 8176 section 7). Each names the
endpoint, the probe and what it answered, so an auditor can repeat it with curl."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessor.errors import EvaluationError
from assessor.evaluate.functions import Outcome
from assessor.evaluate.host import host_file_permissions
from assessor.vocab import Status

SHOWN = 10  # items named in a message; the evidence holds them all
_ERROR_KEY = "error"  # the key of a failed probe's message in registry evidence


def _section(data: Any, *path: str) -> dict[str, Any]:
    """A section of the evidence; its recorded ``error`` (a probe that failed) is the rule's."""
    value = data
    for i, part in enumerate(path):
        if not isinstance(value, dict) or part not in value:
            raise EvaluationError(f"evidence {'.'.join(path[: i + 1])!r} is absent")
        value = value[part]
    if not isinstance(value, dict):
        raise EvaluationError(f"evidence {'.'.join(path)!r} is not an object")
    if value.get(_ERROR_KEY):
        raise EvaluationError(f"{'.'.join(path)} could not be observed: {value[_ERROR_KEY]}")
    return value


def _key(section: Mapping[str, Any], key: str, where: str) -> Any:
    """A key the collector always records: missing, the rule cannot judge (never a pass)."""
    if key not in section:
        raise EvaluationError(f"evidence '{where + '.' if where else ''}{key}' is absent")
    return section[key]


def _tls(data: Any) -> dict[str, Any] | None:
    tls = _section(data, "transport", "tls")
    return tls if tls.get("checked") else None


def _cert(data: Any) -> dict[str, Any] | None:
    tls = _tls(data)
    if tls is None:
        return None
    cert = tls.get("certificate")
    if not isinstance(cert, dict):
        raise EvaluationError("the registry presented no certificate")
    return cert


def _no_tls(data: Any) -> Outcome:
    return Outcome(
        Status.NOT_APPLICABLE, f"{data.get('url')} serves no TLS (judged by registry-tls-required)"
    )


def registry_tls_required(data: Any, args: Mapping[str, Any]) -> Outcome:
    """The API is served over TLS only: plain HTTP at the endpoint is refused or redirected."""
    http = _section(data, "transport", "http")
    if _key(data, "scheme", "") == "http":
        return Outcome(
            Status.FAIL,
            f"{data.get('url')} serves the registry API in plain HTTP: images, tokens and "
            "passwords cross the network unencrypted and unauthenticated",
        )
    outcome = _key(http, "outcome", "transport.http")
    if outcome == "served":
        return Outcome(Status.FAIL, f"plain HTTP is served besides TLS: {http.get('detail')}")
    how = "redirected to HTTPS" if outcome == "redirected to https" else "refused"
    return Outcome(
        Status.PASS, f"TLS; plain HTTP at {http.get('url')} is {how} ({http.get('detail')})"
    )


def registry_tls_strong(data: Any, args: Mapping[str, Any]) -> Outcome:
    """TLS 1.2 or 1.3 negotiated with an AEAD, forward-secret cipher; TLS 1.0/1.1 refused."""
    tls = _tls(data)
    if tls is None:
        return _no_tls(data)
    problems = []
    protocol, cipher = tls.get("protocol"), tls.get("cipher")
    if protocol not in ("TLSv1.2", "TLSv1.3"):
        problems.append(f"negotiates {protocol}")
    if not tls.get("aead"):
        problems.append(f"cipher {cipher} is not an AEAD cipher (GCM, ChaCha20-Poly1305)")
    if not tls.get("forward_secret"):
        problems.append(f"cipher {cipher} has no forward secrecy (no ECDHE/DHE)")
    old = tls.get("old_protocols") or {}
    accepted = [name for name, ok in old.items() if ok]
    untested = [name for name, ok in old.items() if ok is None]
    if accepted:
        problems.append("accepts " + " and ".join(accepted))
    if problems:
        return Outcome(Status.FAIL, "; ".join(problems))
    note = f"; {', '.join(untested)} not tested (this machine's OpenSSL cannot offer it)"
    refused = [name for name, ok in old.items() if ok is False]
    return Outcome(
        Status.PASS,
        f"{protocol} with {cipher}"
        + (f"; {' and '.join(refused)} refused" if refused else "")
        + (note if untested else ""),
    )


def _day(stamp: Any) -> str:
    return str(stamp or "?")[:10]


def registry_certificate(data: Any, args: Mapping[str, Any]) -> Outcome:
    """One property of the registry's certificate (``check``): ``valid`` dates, ``renewal``
    (more than ``warn_days`` left), ``hostname`` match, or ``trusted`` chain."""
    cert = _cert(data)
    if cert is None:
        return _no_tls(data)
    check = args.get("check")
    until, since = _day(cert.get("not_after")), _day(cert.get("not_before"))
    if check == "valid":
        if cert.get("expired"):
            days = -int(cert.get("days_left", 0))
            return Outcome(Status.FAIL, f"the certificate expired on {until} ({days} days ago)")
        if cert.get("not_yet_valid"):
            return Outcome(Status.FAIL, f"the certificate is not valid before {since}")
        return Outcome(
            Status.PASS, f"valid from {since} until {until} ({cert.get('days_left')} days)"
        )
    if check == "renewal":
        warn = int(args.get("warn_days", 30))
        left = int(cert.get("days_left", 0))
        if cert.get("expired"):
            return Outcome(Status.FAIL, f"the certificate expired on {until}; renew it")
        if left < warn:
            return Outcome(
                Status.FAIL,
                f"the certificate expires on {until}, in {left} days (under {warn} days)",
            )
        return Outcome(Status.PASS, f"the certificate expires on {until}, in {left} days")
    if check == "hostname":
        names = [f"DNS:{n}" for n in cert.get("dns_names") or []]
        names += [f"IP:{n}" for n in cert.get("ip_addresses") or []]
        shown = ", ".join(names[:SHOWN]) or "no subject alternative name"
        host = cert.get("hostname")
        if not cert.get("hostname_match"):
            return Outcome(Status.FAIL, f"the certificate names {shown}, not {host}")
        return Outcome(Status.PASS, f"{host} matches the certificate ({shown})")
    if check == "trusted":
        tls = _tls(data) or {}
        anchors = ", ".join(str(a) for a in tls.get("trust_anchors") or [])
        if not tls.get("trusted"):
            kind = "a self-signed certificate" if cert.get("self_signed") else "its chain"
            return Outcome(
                Status.FAIL,
                f"{kind} does not verify: {tls.get('verify_error')} (issuer {cert.get('issuer')}; "
                f"trusted: {anchors})",
            )
        return Outcome(Status.PASS, f"issued by {cert.get('issuer')}, verified against {anchors}")
    raise EvaluationError(f"registry_certificate: unknown check {check!r}")


_PROBES = {
    "base": "GET /v2/",
    "catalog": "GET /v2/_catalog",
    "pull": "pull",
    "push": "blob upload",
}


def registry_anonymous(data: Any, args: Mapping[str, Any]) -> Outcome:
    """A client without credentials is refused ``probe``: ``base`` (the API), ``catalog``,
    ``pull`` (tag list and manifest of a repository) or ``push`` (a blob upload, which the
    collector cancels at once)."""
    probe = str(args.get("probe"))
    url = data.get("url")
    if probe == "base":
        api = _section(data, "api")
        if _key(api, "anonymous_access", "api"):
            return Outcome(
                Status.FAIL,
                f"GET {url}/v2/ answers 200 without credentials: anyone who reaches it may "
                "use the registry",
            )
        challenge = (api.get("challenge") or {}).get("scheme") or "no"
        status = _key(api, "status", "api")
        return Outcome(Status.PASS, f"GET {url}/v2/ answers {status} ({challenge} challenge)")
    found = _section(data, "anonymous", probe)
    if probe == "catalog":
        if found.get("allowed"):
            return Outcome(
                Status.FAIL, f"GET {url}/v2/_catalog lists the repositories to anyone (200)"
            )
        return Outcome(
            Status.PASS, f"GET {url}/v2/_catalog without credentials: {found.get('status')}"
        )
    repo = found.get("repository")
    which = f"a repository that does not exist ({repo})" if found.get("probe_repository") else repo
    if probe == "pull":
        if found.get("allowed"):
            how = (
                f"manifest {repo}:{found.get('tag')} answered {found.get('manifest_status')}"
                if "manifest_status" in found
                else f"tags/list of {which} answered {found.get('tags_status')}"
            )
            return Outcome(Status.FAIL, f"anonymous pull is allowed: {how}")
        status = found.get("manifest_status", found.get("tags_status"))
        return Outcome(Status.PASS, f"anonymous pull of {which} refused ({status})")
    if probe == "push":
        if found.get("skipped"):
            return Outcome(Status.NOT_APPLICABLE, str(found["skipped"]))
        if found.get("allowed"):
            cancelled = "cancelled at once" if found.get("cancelled") else "could NOT be cancelled"
            return Outcome(
                Status.FAIL,
                f"anyone may write: an anonymous blob upload to {which} was accepted "
                f"({found.get('status')}; {cancelled}, never completed)",
            )
        return Outcome(
            Status.PASS, f"an anonymous blob upload to {which} was refused ({found.get('status')})"
        )
    raise EvaluationError(f"registry_anonymous: unknown probe {probe!r}")


def _tags(data: Any) -> tuple[list[dict[str, Any]], str]:
    content = _section(data, "content")
    tags = [t for t in _key(content, "tags", "content") or [] if isinstance(t, dict)]
    notes = []
    if content.get("repositories_truncated") or content.get("tags_truncated"):
        notes.append(f"only the first {len(tags)} tags were read")
    failed = [t for t in tags if t.get(_ERROR_KEY)]
    if failed:
        notes.append(
            f"{len(failed)} tag(s) unreadable: " + "; ".join(str(t[_ERROR_KEY]) for t in failed[:3])
        )
    return [t for t in tags if not t.get(_ERROR_KEY)], ("; " + "; ".join(notes)) if notes else ""


def _name(t: Mapping[str, Any]) -> str:
    return f"{t.get('repository')}:{t.get('tag')}"


def _listing(items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def registry_stale_images(data: Any, args: Mapping[str, Any]) -> Outcome:
    """No tag's image is older than the collection's ``stale_days`` (``--stale-days``,
    default 90): stale images are pruned or rebuilt (SP 800-190 4.2.2)."""
    tags, note = _tags(data)
    stale_days = _key(_section(data, "content"), "stale_days", "content")
    limit = int(stale_days or args.get("max_days", 90))
    if not tags:
        return Outcome(Status.NOT_APPLICABLE, f"the registry holds no readable tag{note}")
    dated = [t for t in tags if t.get("age_days") is not None]
    stale = sorted(
        (t for t in dated if int(t["age_days"]) > limit), key=lambda t: -int(t["age_days"])
    )
    undated = len(tags) - len(dated)
    if not dated:
        return Outcome(
            Status.NOT_APPLICABLE,
            f"none of the {len(tags)} tag(s) records a build time (or only the epoch, as "
            f"reproducible builds do){note}",
        )
    if undated:
        note += f"; {undated} tag(s) record no build time"
    if stale:
        shown = [
            f"{_name(t)} ({t['age_days']} days, built {_day(t.get('created'))})" for t in stale
        ]
        return Outcome(
            Status.FAIL,
            f"{len(stale)} of {len(tags)} tag(s) older than {limit} days: {_listing(shown)}{note}",
        )
    newest = min(int(t["age_days"]) for t in dated)
    oldest = max(int(t["age_days"]) for t in dated)
    span = f"{newest}" if newest == oldest else f"{newest} to {oldest}"
    return Outcome(Status.PASS, f"{len(dated)} tag(s) built {span} days ago (limit {limit}){note}")


def registry_latest_current(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Where a repository has ``latest``, it points at the newest image of that repository."""
    content = _section(data, "content")
    latest = [x for x in _key(content, "latest", "content") or [] if isinstance(x, dict)]
    if not latest:
        return Outcome(Status.NOT_APPLICABLE, "no repository has a 'latest' tag")
    behind = [x for x in latest if not x.get("current")]
    if behind:
        shown = [
            f"{x['repository']}:latest (built {_day(x.get('created'))}) is older than "
            f"{x['repository']}:{x.get('newest_tag')} (built {_day(x.get('newest_created'))})"
            for x in behind
        ]
        return Outcome(Status.FAIL, _listing(shown))
    return Outcome(
        Status.PASS,
        "'latest' is the newest image in " + _listing([str(x["repository"]) for x in latest]),
    )


def registry_signed_images(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Every tag's image has a signature in the registry (cosign tag, or a cosign or notation
    referrer)."""
    tags, note = _tags(data)
    if not tags:
        return Outcome(Status.NOT_APPLICABLE, f"the registry holds no readable tag{note}")
    unsigned = [_name(t) for t in tags if not t.get("signed")]
    if unsigned:
        return Outcome(
            Status.FAIL,
            f"{len(unsigned)} of {len(tags)} tag(s) unsigned: {_listing(unsigned)}{note}",
        )
    kinds = sorted({k for t in tags for k in t.get("signature_kinds") or []})
    return Outcome(Status.PASS, f"{len(tags)} tag(s) signed ({', '.join(kinds)}){note}")


def registry_daemon_secure(data: Any, args: Mapping[str, Any]) -> Outcome:
    """The local Docker engine does not treat this registry as insecure (plain HTTP or
    unverified TLS). dockerd's built-in 127.0.0.0/8 for a loopback registry is not a finding:
    that traffic never leaves the machine."""
    view = _section(data, "daemon")
    if not view.get("checked"):
        return Outcome(Status.NOT_APPLICABLE, str(view.get("reason") or "no local Docker engine"))
    engine = view.get("engine") or "the local engine"
    mirrors = view.get("mirrors") or []
    extra = f"; registry mirrors: {', '.join(mirrors)}" if mirrors else ""
    if view.get("insecure") and not view.get("default_loopback_cidr"):
        return Outcome(
            Status.FAIL,
            f"{engine} treats {data.get('endpoint')} as insecure ({view.get('insecure_by')}): "
            f"it pulls from it over plain HTTP or unverified TLS{extra}",
        )
    if view.get("insecure"):
        return Outcome(
            Status.PASS,
            f"{data.get('endpoint')} is insecure for {engine} only through dockerd's built-in "
            f"127.0.0.0/8 (loopback traffic stays on this machine){extra}",
        )
    return Outcome(Status.PASS, f"{engine} verifies TLS for {data.get('endpoint')}{extra}")


def registry_ca_files(data: Any, args: Mapping[str, Any]) -> Outcome:
    """The local engine's CA files for this registry (/etc/docker/certs.d/HOST:PORT) have the
    owner and mode of CIS 3.7 and 3.8 (``host_file_permissions`` on just those files)."""
    outcome = host_file_permissions(data, {**args, "registry_certs": True})
    if outcome.status == Status.NOT_APPLICABLE:
        where = (data.get("docker") or {}).get("certs_dir") or "/etc/docker/certs.d/HOST"
        return Outcome(Status.NOT_APPLICABLE, f"the local engine has no CA file in {where}")
    return outcome
