"""Registry answers from a local misbehaving server (tests/faultserver.py), issue 17 item 5.

A registry target whose ``/v2/`` fails is an error for that target (exit 3); a registry whose
catalog or tag lists are hostile (nested too deep, numbers of 100,000 digits, lone surrogate
escapes, an endless tag list) is still assessed: the content rules report the bound as their
error and what was observed stands. An image read from such a registry
(``image:docker://HOST/NAME:TAG``) whose manifest crosses a bound is a one-line error, exit 2.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable
from typing import Any

from tests.faultserver import start_fault_server
from tests.hostile.corpus import Case, Ctx

TIMEOUT = "2"


def _registry(mode: str, image: bool = False) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        server = ctx.stack.enter_context(start_fault_server(mode))
        target = f"image:docker://{server.host}/x:latest" if image else f"registry:{server.url}"
        return ["scan", target, "--insecure", "--timeout", TIMEOUT, "--format", "json"]

    return build


def _content(ctx: Ctx) -> dict[str, Any]:
    con = sqlite3.connect(ctx.db.removeprefix("sqlite:///"))
    try:
        rows = con.execute("SELECT body FROM evidence").fetchall()
    finally:
        con.close()
    docs = [json.loads(zlib.decompress(body)) for (body,) in rows]
    (registry,) = [d for d in docs if d["kind"] == "registry"]
    content: dict[str, Any] = registry["data"]["content"]
    return content


def _content_error(want: str) -> Callable[[Ctx, str, str], None]:
    """The registry was assessed; its content could not be, and the error says ``want``."""

    def check(ctx: Ctx, out: str, err: str) -> None:
        assert want in _content(ctx).get("error", ""), _content(ctx)
        results = {r["rule"]: r for r in json.loads(out)["results"]}
        assert results["registry-images-signed"]["status"] == "error"
        assert want in results["registry-images-signed"]["message"]
        assert results["registry-tls-required"]["status"] == "fail"  # observed, judged

    return check


def _names_escaped(ctx: Ctx, out: str, err: str) -> None:
    (tag,) = _content(ctx)["tags"]
    assert (tag["repository"], tag["tag"]) == ("r\\xff", "t\\xfe"), tag


def _tags_bounded(ctx: Ctx, out: str, err: str) -> None:
    content = _content(ctx)
    assert any("larger than the bound on a registry's JSON answer" in e for e in content["errors"])


def _case(name: str, mode: str, defect: str, check: Any) -> Case:
    return Case(name, "registry", defect, _registry(mode), 0, None, timeout=60, check=check)


def _whole(name: str, mode: str, want: str) -> Case:
    return Case(
        name,
        "registry",
        f"fault server mode {mode!r} at GET /v2/",
        _registry(mode),
        3,
        rf"^assessor: error: registry \S+: .*{want}",
        timeout=60,
    )


CASES = [
    _case(
        "reg-catalog-deep-json",
        "deep-json",
        "the catalog nests 100,000 arrays",
        _content_error("catalog: JSON nested deeper than 64 levels"),
    ),
    _case(
        "reg-catalog-huge-int",
        "huge-int-json",
        "the catalog holds an integer of 100,000 digits",
        _content_error("catalog: JSON number of 100000 digits"),
    ),
    _case(
        "reg-catalog-malformed",
        "malformed-json",
        "the catalog is cut short",
        _content_error("catalog: malformed JSON"),
    ),
    _case(
        "reg-catalog-oversized",
        "oversized-json",
        "the catalog streams 64 MiB of valid JSON without a length",
        _content_error("catalog: larger than the bound on a registry's JSON answer"),
    ),
    _case(
        "reg-catalog-trickle",
        "trickle",
        "the catalog trickles one byte every half second, without end",
        _content_error(f"the response did not complete within {TIMEOUT} s"),
    ),
    _case(
        "reg-surrogate-names",
        "surrogate-json",
        'a repository "r\\udcff" and a tag "t\\udcfe" (lone surrogate escapes)',
        _names_escaped,
    ),
    _case(
        "reg-endless-tag-list",
        "endless-tags",
        "a repository whose tag list streams without end",
        _tags_bounded,
    ),
    Case(
        "reg-image-manifest-deep-json",
        "registry",
        "image:docker:// whose manifest nests 100,000 objects in its annotations",
        _registry("deep-manifest", image=True),
        2,
        r"^assessor: error: docker://\S+/x:latest: sha256:[0-9a-f]+: JSON nested deeper than 64",
        timeout=60,
    ),
    Case(
        "reg-image-manifest-huge-int",
        "registry",
        "image:docker:// whose manifest gives the config size in 100,000 digits",
        _registry("huge-int-manifest", image=True),
        2,
        r"^assessor: error: docker://\S+/x:latest: sha256:[0-9a-f]+: JSON number of 100000 digits",
        timeout=60,
    ),
    _whole("reg-not-a-registry", "not-registry", "not a registry: GET /v2/ answered 404"),
    _whole("reg-redirect-loop", "redirect-loop", "too many redirects"),
    _whole("reg-tls-garbage", "tls-garbage", "TLS handshake failed"),
    _whole("reg-reset", "reset", "connection closed or reset by the registry"),
]
