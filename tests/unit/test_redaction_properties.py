"""Property tests of secret redaction (hypothesis): a random secret in any of the shapes, between
random text, never survives; redaction is idempotent; text with nothing secret-shaped comes
back unchanged; and no input, however large or hostile, makes it raise."""

from __future__ import annotations

import json
import string
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessor.evidence import Evidence, Redactor, canonical_json

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A secret: starts with an upper-case letter and a digit (so it can never be part of the
# surrounding text, drawn from lower-case letters, nor of a marker), then letters, digits and
# the punctuation passwords hold.
SECRET = st.builds(
    lambda a, b, rest: a + b + rest,
    st.sampled_from("QXZVW"),
    st.sampled_from("3579"),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.!%*+~", min_size=6, max_size=40),
)
URL_SECRET = st.builds(
    lambda a, b, rest: a + b + rest,
    st.sampled_from("QXZVW"),
    st.sampled_from("3579"),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.!%*+~/@", min_size=6, max_size=40),
)
B64 = string.ascii_letters + string.digits
# surrounding text: lower-case words, numbers, paths and punctuation
CONTEXT = st.text(alphabet=string.ascii_lowercase + string.digits + " \n.,:/-_=", max_size=200)

Shape = Callable[[str], str]
SHELL_SHAPES: list[Shape] = [
    lambda s: f"app --password={s}",
    lambda s: f"app --password {s} --name web",
    lambda s: f"tool --client-secret {s}",
    lambda s: f"tool --api-key={s}",
    lambda s: f"mysql -u root -p{s} db",
    lambda s: f"mysql -h db -p {s}",
    lambda s: f"PGPASSWORD={s} psql -h db",
    lambda s: f"sh -c 'mysql -p{s} db'",
    lambda s: f'curl -H "Authorization: Bearer {s}" https://api.example.org/',
    lambda s: f"wget --header 'X-Api-Key: {s}' http://svc.local/",
    lambda s: f"curl -u admin:{s} https://x/",
    lambda s: f"sshpass -p {s} ssh host",
    lambda s: f"DB_PASSWORD={s}",
    lambda s: f"MYAPP_SECRET={s}",
    lambda s: f"Server=db;User Id=sa;Password={s};Database=app",
    lambda s: f'{{"password": "{s}", "user": "app"}}',
    lambda s: f"api_key: {s}",
]
URL_SHAPES: list[Shape] = [
    lambda s: f"https://deploy:{s}@registry.example.com/v2/",
    lambda s: f"redis://:{s}@cache:6379/0",
    lambda s: f"postgres://app:{s}@db:5432/app",
    lambda s: f"ftp://mirror:{s}@ftp.example.org/pub/",
]
TOKEN_SHAPES: list[Callable[[str], str]] = [
    lambda t: "ghp_" + (t * 8)[:36],
    lambda t: "AKIA" + "".join(c for c in (t * 8).upper() if c.isalnum())[:16],
    lambda t: "sk_live_" + (t * 8)[:24],
    lambda t: "xoxb-1234567890-" + (t * 8)[:24],
    lambda t: "glpat-" + (t * 8)[:20],
    lambda t: "AIza" + (t * 8)[:35],
]
TOKEN_BODY = st.text(alphabet=B64, min_size=8, max_size=12).filter(
    lambda t: any(c.isdigit() for c in t) and any(c.isupper() for c in t)
)


def _around(before: str, shape: str, after: str) -> str:
    return f"{before}\n{shape}\n{after}"


@SETTINGS
@given(st.sampled_from(SHELL_SHAPES), SECRET, CONTEXT, CONTEXT)
def test_a_secret_in_a_command_never_survives(shape: Shape, secret: str, a: str, b: str) -> None:
    text = _around(a, shape(secret), b)
    red = Redactor()
    out = red.shell(text, "t")
    assert secret not in out, out
    assert red.found and all(r.location == "t" for r in red.found)


@SETTINGS
@given(st.sampled_from(URL_SHAPES), URL_SECRET, CONTEXT, CONTEXT)
def test_a_url_password_never_survives(shape: Shape, secret: str, a: str, b: str) -> None:
    text = _around(a, shape(secret), b)
    for out in (Redactor().text(text, "t"), Redactor().shell(text, "t")):
        assert secret not in out, out


@SETTINGS
@given(st.sampled_from(TOKEN_SHAPES), TOKEN_BODY, CONTEXT, CONTEXT)
def test_a_token_never_survives_anywhere(
    shape: Callable[[str], str], body: str, a: str, b: str
) -> None:
    token = shape(body)
    text = _around(a, f"value {token} here", b)
    assert token not in Redactor().text(text, "t")
    env = Redactor().env([f"NEUTRAL_NAME={token}"], "Env")
    assert token not in env[0]
    # the sweep every evidence goes through catches it wherever it sits in a document
    ev = Evidence("container", "engine:unix:///x.sock", "c", {"x": [{"y": text}], a: b})
    assert token not in canonical_json(ev.document()).decode()


@SETTINGS
@given(st.sampled_from(SHELL_SHAPES + URL_SHAPES), SECRET, CONTEXT, CONTEXT)
def test_redaction_is_idempotent(shape: Shape, secret: str, a: str, b: str) -> None:
    text = _around(a, shape(secret), b)
    for method in ("text", "shell"):
        once = getattr(Redactor(), method)(text, "t")
        red = Redactor()
        assert getattr(red, method)(once, "t") == once
        assert red.found == []


@SETTINGS
@given(st.text(max_size=2000))
def test_redaction_of_any_text_is_idempotent(text: str) -> None:
    for method in ("text", "shell"):
        once = getattr(Redactor(), method)(text, "t")
        assert getattr(Redactor(), method)(once, "t") == once


BENIGN = st.lists(
    st.sampled_from(
        [
            *("run", "app", "web", "server", "nginx:1.25", "node", "server.js", "8080", "--rm"),
            *("--name", "-d", "-p", "80:80", "-e", "NODE_ENV=production", "LANG=C.UTF-8"),
            *("/usr/local/bin", "/etc/docker/key.pem", "--tlskey=/etc/docker/key.pem"),
            *("--tlsverify", "mkdir", "-p", "/app", "&&", ";", "|", "apt-get", "install", "-y"),
            *("https://example.com/x", "https://host:8080/app", "sha256:" + "ab" * 32),
            *("org.opencontainers.image.version=1.2.3", "com.docker.compose.project=web"),
            *("-w", "/etc/passwd", "-k", "docker", "key=docker", "TOKEN_TTL=3600"),
            *("DB_PASSWORD_FILE=/run/secrets/db", "$API_TOKEN", "--password-stdin"),
            *("the", "password", "policy", "requires", "14", "characters", "\n", "'", '"'),
        ]
    ),
    max_size=60,
).map(" ".join)


@SETTINGS
@given(BENIGN)
def test_text_with_nothing_secret_shaped_is_unchanged(text: str) -> None:
    for method in ("text", "shell"):
        red = Redactor()
        assert getattr(red, method)(text, "t") == text, [r.to_json() for r in red.found]


HOSTILE = st.lists(
    st.sampled_from(
        [
            *("a:", "://", "@", "=", "'", '"', "\\", '\\"', "-p", " -p ", "key=", "password="),
            *(":$apr1$", "eyJ", "eyJabc.", "-----BEGIN PRIVATE KEY-----", "PRIVATE KEY", "END"),
            *("mysql ", "curl -u ", "sh -c '", "$(", "`", ";", "|", "&&", "\n", "\t", " ", "a"),
            *("Authorization: ", "X-Api-Key: ", "ghp_", "AKIA", "\x00", "\ud800", "é", "<redacted"),
        ]
    ),
    max_size=400,
).map("".join)


@SETTINGS
@given(st.one_of(st.text(max_size=3000), HOSTILE))
def test_no_input_makes_redaction_raise(text: str) -> None:
    red = Redactor()
    out: list[object] = [
        red.text(text, "t"),
        red.shell(text, "t"),
        red.env(text.splitlines(), "Env"),
        red.args(text.split(" "), "Cmd"),
        red.args(["sh", "-c", text], "Cmd"),
        red.healthcheck(["CMD-SHELL", text], "H"),
        red.mapping({text: text, "password": text}, "Labels"),
        red.tree({text: [text, {"token": text}]}, "file"),
        red.sweep({text: [text]}),
    ]
    json.dumps(out)  # (canonical_json refuses lone surrogates, whatever redaction does)
    json.dumps([r.to_json() for r in red.found])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(["a:", "://", "@", "=", "key=", " -p", "'", "eyJa.", ":$apr1$"]),
        min_size=1,
        max_size=5,
    )
)
def test_huge_hostile_values_finish(parts: list[str]) -> None:
    """1 MB of a repeated hostile fragment: a hang detector, with a generous bound."""
    unit = "".join(parts)
    value = unit * (1_000_000 // len(unit))
    t = time.monotonic()
    Redactor().shell(value, "t")
    assert time.monotonic() - t < 5.0
