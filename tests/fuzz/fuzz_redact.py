"""Fuzz redaction (``assessor.evidence.Redactor``): free text, environment entries, command
lines, label mappings and nested JSON. Nothing may raise; and a secret planted in a known
shape, between fuzzed text on either side, never comes out in clear.

The input is text (UTF-8, undecodable bytes replaced), split at the first NUL into what goes
before and after the planted secret."""

from __future__ import annotations

try:
    from tests.fuzz._harness import main
except ImportError:  # run as a script
    from _harness import main  # type: ignore[no-redef]

# a fixed secret: long, mixed, no separator a shape could split on
SECRET = "Pl4ntZq9Wx7Rv5Tn3Ky1Md8"
MARK = SECRET[:8]


def _clean(text: str) -> str:
    """Fuzzed context with no copy of the secret's start in it (so a hit is the planted one)."""
    while MARK in text:
        text = text.replace(MARK, "")
    return text


def _shapes(secret: str) -> list[tuple[str, object]]:
    """(API, input) pairs: each input carries ``secret`` in a shape the redactor must catch."""
    return [
        ("text", f"https://deploy:{secret}@registry.example.com/v2/"),
        ("text", f"redis://:{secret}@cache:6379/0"),
        ("env", f"DB_PASSWORD={secret}"),
        ("env", f"STRIPE_KEY={secret}"),
        ("args", ["mysql", f"--password={secret}"]),
        ("args", ["psql", "--password", secret]),
    ]


def check(data: bytes) -> None:
    from assessor.evidence import Redactor, canonical_json

    text = data.decode("utf-8", "replace")
    r = Redactor()
    out: list[object] = [
        r.text(text, "fuzz"),
        r.env(text.splitlines(), "fuzz.Env"),
        r.args(text.split(" "), "fuzz.Cmd"),
        r.args(["sh", "-c", text], "fuzz.Cmd"),
    ]
    key, _, value = text.partition("=")
    out.append(r.mapping({key: value, "password": value}, "fuzz.Labels"))
    out.append(r.tree({key: [value, {"token": text}]}, "fuzz.file"))
    canonical_json(out)
    canonical_json([x.to_json() for x in r.found])

    before, _, after = text.partition("\0")
    before, after = _clean(before), _clean(after)
    for api, shape in _shapes(SECRET):
        r = Redactor()
        if api == "text":
            got: object = r.text(f"{before} {shape} {after}", "fuzz")
        elif api == "env":
            got = r.env([before, str(shape), after], "fuzz.Env")
        else:
            assert isinstance(shape, list)
            got = r.args([*before.split(" "), *shape, *after.split(" ")], "fuzz.Cmd")
        shown = canonical_json(got).decode()
        assert MARK not in shown, f"planted secret in clear ({api}, {shape!r}): {shown[:300]!r}"


if __name__ == "__main__":
    main(check, ["assessor.evidence"])
