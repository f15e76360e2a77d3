"""Secrets in evidence: what a name says and what a value looks like, found in linear time.

Two questions are asked of what a collector observed:

- *Is this name a secret's name?* :func:`key_kind` reads an environment key, a label key, a
  daemon.json key or a command-line flag word by word (``DB_PASSWORD``, ``apiKey``,
  ``--client-secret``, ``MYAPP_AUTHKEY``) and says which kind of secret its value is.
- *Where are the secrets in this text?* :func:`find` returns the spans of secrets in free
  text by their shape: private key blocks, the password of a URL, token formats (AWS, GitHub,
  GitLab, Slack, Stripe, Google, JWT...), htpasswd hashes, ``name=value``/``name: value``/
  ``"name": "value"``/``--name value`` with a secret name, HTTP headers, connection strings,
  and the password flags of known programs (``mysql -pVALUE``, ``curl -u user:pw``).
  :func:`shell_hits` parses a shell command line (quotes, ``;``/``&&``/``|``, nested
  ``sh -c '...'``) to find the secrets a program's own flags hold.

The token formats are ported from detect-secrets' plugins (Yelp/detect-secrets at commit
5e141933, ``detect_secrets/plugins/*.py``: aws, github_token, gitlab_token, slack, stripe,
jwt, sendgrid, npm, pypi_token, openai, square_oauth, twilio, azure_storage_key, private_key,
basic_auth, keyword), plus a few formats it has no plugin for (Google API keys, Hugging Face,
Vault, DigitalOcean, Anthropic). detect-secrets itself is not a dependency: its keyword
detector is built from unbounded ``\\w*``, ``\\s*`` and look-ahead patterns with back
references that backtrack on long values, and it scans line by line for files; here every
pattern is re-written to the rules below.

Linear time
-----------
Python's ``re`` backtracks, and a pattern that re-reads a run of text from each of its
positions is quadratic: the old ``[a-zA-Z][a-zA-Z0-9+.-]*://`` took a minute over a 200 KB
value. Every scan here is O(n):

- each pattern starts with a literal or one-character class (``://``, ``-``, ``:$``,
  ``PRIVATE KEY``, a secret word of the lower-cased text), so ``re`` only starts an attempt at
  a candidate, and each attempt is bounded: every repetition in it has an upper bound
  (``{0,64}``), or runs over a class that cannot hold the next candidate's first character;
- unbounded reads (a URL's authority, a quoted value, a key block) are done once per
  candidate with ``str.find`` or an anchored ``match``, and the scan then resumes after what
  was read, so no character is read twice by the same detector;
- case-insensitive words are looked for in the text lower-cased once (a case-insensitive
  alternation defeats ``re``'s fast search for the first character).

``google-re2`` (a linear engine) was measured too: it scans alternations 10-30 times faster
than ``re``, but costs 10-30 us per match through its Python binding (``re``: under 1 us), so
a text dense with candidates (an environment dump, a label of ``key=value`` pairs) is slower,
and it has no look-around; it is not used.

Redacted text
-------------
A secret is replaced by ``<redacted: KIND, N chars>`` (:data:`KINDS`). Redaction is idempotent:
no detector matches inside a marker, and a value that holds one is left alone.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# The kinds a redaction can name, and what each is.
KINDS: dict[str, str] = {
    "password": "a password-named value, a password flag (--password, mysql -pVALUE), PGPASSWORD",
    "token": "a token: token-named values, Authorization: Bearer, GitHub, GitLab, Slack, JWT, "
    "Vault, npm, PyPI and similar token formats",
    "api-key": "an API key: api_key-named values, X-Api-Key headers, Google AIza..., Stripe sk_..",
    "private-key": "a private key block (PEM, OpenSSH, PGP, PuTTY) or a private_key-named value",
    "url-password": "the password (or a token) in the user information of a URL of any scheme",
    "basic-auth": "an htpasswd hash (user:$apr1$..., user:$2y$...) or a Basic credential",
    "connection-string": "Password=, Pwd=, AccountKey= in a ;-separated connection string",
    "aws-access-key": "an AWS access key id (AKIA..., ASIA...)",
    "aws-secret-key": "an AWS secret access key",
    "secret": "any other secret-named value (secret, credentials, *_KEY names)",
}
MARKER = "<redacted"


def marker(kind: str, value: str) -> str:
    """What a secret is replaced with: its kind and length, never any of its characters."""
    return f"<redacted: {kind}, {len(value)} chars>"


@dataclass(frozen=True, slots=True)
class Hit:
    """A secret at ``text[start:end]``: its kind, and the name or format it was found by."""

    start: int
    end: int
    kind: str
    key: str


# --------------------------------------------------------------------------------------------
# Names


_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_NOT_PASS = frozenset(
    {"bypass", "compass", "encompass", "overpass", "underpass", "trespass", "surpass"}
)
_NOT_KEY = frozenset({"monkey", "donkey", "turkey", "hockey", "jockey", "whiskey", "turnkey"})
_PUBLIC = frozenset({"public", "pub", "authorized", "known"})
# a qualifier that makes *_KEY a secret whatever its value looks like (API_KEY, ACCESS_KEY)
_STRONG_KEY = frozenset(
    {
        *("api", "access", "secret", "private", "priv", "signing", "encryption", "master"),
        *("client", "session", "auth", "account", "shared", "sharedaccess", "storage", "app"),
        *("license", "consumer", "service", "db", "database", "admin", "root", "deploy", "hmac"),
    }
)
_STRONG_KEY_WORDS = frozenset(p + "key" for p in _STRONG_KEY)
# a last word that makes the name a setting *about* a secret, not the secret
# (DB_PASSWORD_FILE, TOKEN_TTL, PASSWORD_MIN_LENGTH, --password-stdin, credsStore)
_EXEMPT_LAST = frozenset(
    {
        *("file", "files", "path", "paths", "dir", "dirs", "directory", "folder", "location"),
        *("url", "urls", "uri", "uris", "endpoint", "endpoints", "host", "hostname", "port"),
        *("name", "names", "arn", "ttl", "length", "len", "size", "expiry", "expires"),
        *("expiration", "expire", "lifetime", "timeout", "age", "enabled", "enable", "disabled"),
        *("disable", "required", "type", "mode", "format", "algorithm", "alg", "header"),
        *("version", "policy", "count", "min", "max", "prefix", "provider", "helper", "helpers"),
        *("store", "field", "env", "var", "source", "method", "scheme", "scope", "scopes"),
        *("issuer", "audience", "rotation", "interval", "strength", "level", "stdin", "command"),
        *("cmd", "plugin", "plugins", "regex", "pattern", "label", "labels", "usage", "rules"),
        *("check", "validation", "complexity", "retries", "attempts", "limit", "days", "hours"),
        *("minutes", "seconds", "history", "reuse", "warn", "lock", "lockout", "realm"),
        *("server", "backend", "manager", "service", "config", "domain", "user", "username"),
        *("length", "chars", "digits", "generator", "hint", "changed", "date", "time"),
    }
)
_PASSWORD_ENDS = ("password", "passwords", "passwd", "passphrase", "pwd", "passcode", "pword")
_PASS = "pass"  # noqa: S105 - a password's short name: a setting's word, a command's flag


def _word_kind(w: str, prev: str, last: bool) -> tuple[str, bool] | None:
    if w in (_PASS, "pw", "passw") or w.endswith(_PASSWORD_ENDS):
        return "password", True
    if w.endswith(_PASS) and w not in _NOT_PASS:
        return "password", True
    if w.endswith(("token", "tokens")):
        return "token", True
    if w.endswith(("secret", "secrets")):
        return "secret", True
    if w.startswith("credential") or w.endswith(("credential", "credentials", "creds")):
        return "secret", True
    if w == "cred":
        return "secret", True
    if w.endswith(("apikey", "apikeys")) or (prev == "api" and w in ("key", "keys")):
        return "api-key", True
    if w.endswith(("privatekey", "privkey")) or (prev in ("private", "priv") and w == "key"):
        return "private-key", True
    if w in ("key", "keys") or (w.endswith("key") and w not in _NOT_KEY):
        if prev in _PUBLIC or w.endswith(("pubkey", "publickey")):
            return None
        return "secret", prev in _STRONG_KEY or w in _STRONG_KEY_WORDS
    if last:
        if w.endswith("basicauth"):
            return "basic-auth", False
        if w == "auth" or (w.endswith("auth") and len(w) > 4):
            return "token", False
        if w in ("authorization", "cookie", "cookies", "session", "sig", "signature"):
            return "token", False
        if w == "bearer":
            return "token", True
    return None


@functools.lru_cache(maxsize=8192)
def key_kind(name: str) -> tuple[str, bool] | None:
    """The kind of secret a value named ``name`` holds, and whether the name alone says so.

    ``(kind, True)``: a password, token, secret, credentials or API/private/access key name,
    whose value is a secret whatever it looks like. ``(kind, False)``: a weaker name (a bare
    ``*_KEY``, ``*_AUTH``, ``Authorization``, ``Cookie``): in free text its value counts only
    when it looks random (:func:`looks_random`). ``None``: not a secret's name, or a setting
    about one (``*_FILE``, ``*_TTL``, ``--password-stdin``). Names are split into words at
    separators and camelCase (``dbPassword``, ``APIKey``); a word ending in a secret word counts
    (``PGPASSWORD``, ``accessToken``, ``MYAPP_AUTHKEY``).
    """
    words = [w.lower() for w in _WORD.findall(name[-200:])]
    if not words or words[-1] in _EXEMPT_LAST:
        return None
    found: tuple[str, bool] | None = None
    last = len(words) - 1
    for i, w in enumerate(words):
        hit = _word_kind(w, words[i - 1] if i else "", i == last)
        if hit is not None and (found is None or (hit[1] and not found[1])):
            found = hit
    if found is None:
        return None
    if "aws" in words and found[0] in ("secret", "api-key"):
        return ("aws-secret-key" if "secret" in words else "aws-access-key"), found[1]
    return found


# --------------------------------------------------------------------------------------------
# Values that are not secrets whatever their name says


_BOOLEANS = frozenset(
    {
        *("true", "false", "yes", "no", "on", "off", "none", "null", "nil", "enabled"),
        *("disabled", "enable", "disable", "required", "optional", "undefined", "0", "1"),
    }
)
# a reference to where the value is, not the value: $VAR, ${VAR}, %VAR%, {{ template }}
_REF = re.compile(
    r"\$\{?[A-Za-z_][A-Za-z0-9_]{0,127}\}?|%[A-Za-z_][A-Za-z0-9_]{0,127}%|\{\{[^{}]{0,256}\}\}"
)
_PATH = re.compile(r"(?:~|\.{1,2})?(?:/[A-Za-z0-9._@%~-]{1,255}){1,64}/?")
_FILENAME = re.compile(
    r"[A-Za-z0-9._@-]{1,200}\.(?:pem|key|crt|cert|cer|der|p12|pfx|jks|json|ya?ml|txt|conf|cfg"
    r"|ini|env|gpg|asc|pub|sock|p8)"
)
_MIXED = re.compile(r"(?=[^/]{0,255}[a-z])(?=[^/]{0,255}[A-Z])(?=[^/]{0,255}[0-9])")


def is_path(value: str) -> bool:
    """A file path (``/run/secrets/db``, ``./key.pem``, ``~/.ssh/id_rsa``, ``server.key``):
    where a secret is, not the secret. A path segment of 20 or more mixed-case letters and
    digits looks like base64, not a file name, and makes it no path."""
    if len(value) > 4096:
        return False
    if _PATH.fullmatch(value):
        return not any(len(s) >= 20 and _MIXED.match(s) for s in value.split("/"))
    return bool(_FILENAME.fullmatch(value))


def is_placeholder(value: str) -> bool:
    """An empty value, a boolean, a variable reference, a path, a mask (``****``) or an
    already redacted value: nothing to hide."""
    v = value.strip().strip("\"'")
    if not v or MARKER in v:
        return True
    if len(v) <= 10 and v.lower() in _BOOLEANS:
        return True
    if v.strip("*\u2022") == "":
        return True
    return bool(_REF.fullmatch(v)) or is_path(v)


_LOWERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_UPPERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_ALNUM = _LOWERS | _UPPERS | _DIGITS
_SPACES = frozenset(" \t\r\n\f\v")


def looks_random(value: str) -> bool:
    """A value that looks generated, not a word: 16+ characters of two or more classes
    (lower, upper, digit, other) with a Shannon entropy of at least 3 bits per character, or
    8+ characters of three classes and 2.5 bits. (detect-secrets' entropy plugins use 4.5 for
    base64 and 3.0 for hex over long strings; values under secret-looking names are shorter.)
    """
    n = len(value)
    if n < 8:
        return False
    s = value[:256]
    chars = set(s)
    if not chars.isdisjoint(_SPACES):
        return False
    classes = (
        (not chars.isdisjoint(_LOWERS))
        + (not chars.isdisjoint(_UPPERS))
        + (not chars.isdisjoint(_DIGITS))
        + bool(chars - _ALNUM)
    )
    if classes < 2:
        return False
    size = len(s)
    entropy = -sum(c / size * math.log2(c / size) for c in Counter(s).values())
    if n >= 16:
        return entropy >= 3.0
    return classes >= 3 and entropy >= 2.5


# --------------------------------------------------------------------------------------------
# Free text: the detectors


_KEYCHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}
_SECRET_WORDS = "pass|pw|secret|token|key|auth|cred|cookie|bearer|session|sig"  # noqa: S105
_WORDS = tuple(_SECRET_WORDS.split("|"))
# after a secret word: the rest of the name, a closing quote, the separator (in the lower-cased
# text): name=value, name: value, "name": "value", name := value
_KV_TAIL = re.compile(r"[a-z0-9_.-]{0,64}(?P<q>\\?[\"'])?[ \t]{0,8}(?P<sep>:=|=|:(?![/:]))")
# --name value: the rest of the flag's name, then blanks
_FLAG_TAIL = re.compile(r"[a-z0-9_.-]{0,48}[ \t]+")
_SEP_INLINE = re.compile(r"[;|&()`]")
_SEP = re.compile(r"[\n;|&()`]")
_SHORT = re.compile(r"-(?<![^\s\"'=]-)(pass|[pPuUawkb])")
# the programs (as substrings of a command) that read a password from each short flag
_FLAG_PROGRAMS = {
    "p": ("mysql", "maria", "mongo", "sshpass", "login", "7z", "xtrabackup", "mydumper"),
    "P": ("zip", "sqlcmd", "bcp"),
    "u": ("curl",),
    "U": ("curl", "smb", "rpcclient"),
    "a": ("redis", "keydb", "valkey"),
    "w": ("ldap",),
    "k": ("openssl",),
    _PASS: ("openssl",),
    "b": ("htpasswd",),
}
_FLAG_PROGRAM_RE = {f: re.compile("|".join(names)) for f, names in _FLAG_PROGRAMS.items()}
# a bare value: up to a space, a quote, a shell operator, a closing bracket, or a comma that
# starts another name=value
_BARE = re.compile(r"(?:[^\s\"'`;&|<>,)}\]]|,(?![A-Za-z0-9_.-]{1,64}[=:]))+")
# BuildKit's secret and mount syntax (--secret id=npm,src=./token): where a secret is, not it
_PAIRS = re.compile(r"(?:id|src|source|env|type|target|dst|destination|required|mode|uid|gid)=")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+")
_HEADER_END = re.compile(r"[\"'`\r\n]")
_AUTH_SCHEME = re.compile(
    r"(?i)(?:bearer|basic|token|digest|negotiate|ntlm|oauth|apikey|api-key|key|sso-key"
    r"|aws4-hmac-sha256|hmac|jwt|splunk|gitlab|private-token)[ \t]+"
)
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

# token formats (detect-secrets' plugins, see the module doc); searched inside runs of
# [A-Za-z0-9_.-] of 20+ characters, each format anchored on its prefix
_RUN = re.compile(r"[A-Za-z0-9_.\-]{20,}")
_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?P<aws_access_key_id>(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z]))"
    r"|(?P<github_token>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{30,251}|github_pat_[A-Za-z0-9_]{22,255})"
    r"|(?P<gitlab_token>(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-"
    r"[A-Za-z0-9_-]{20,1024}|GR1348941[A-Za-z0-9_-]{20,50})"
    r"|(?P<slack_token>xox[aboprs]-[A-Za-z0-9-]{10,250})"
    r"|(?P<stripe_key>[rs]k_(?:live|test)_[0-9A-Za-z]{20,247})"
    r"|(?P<google_api_key>AIza[0-9A-Za-z_-]{35})"
    r"|(?P<jwt>eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.?[A-Za-z0-9_-]{0,4096})"
    r"|(?P<sendgrid_key>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})"
    r"|(?P<npm_token>npm_[A-Za-z0-9]{36})"
    r"|(?P<pypi_token>pypi-AgE[A-Za-z0-9_-]{50,1000})"
    r"|(?P<anthropic_key>sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_-]{80,120})"
    r"|(?P<openai_key>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200})"
    r"|(?P<huggingface_token>hf_[A-Za-z]{34,40})"
    r"|(?P<vault_token>hv[sbr]\.[A-Za-z0-9_-]{24,256})"
    r"|(?P<square_token>sq0csp-[0-9A-Za-z_-]{43}|sq0atp-[0-9A-Za-z_-]{22})"
    r"|(?P<twilio_key>SK[0-9a-f]{32})"
    r"|(?P<digitalocean_token>do[opr]_v1_[a-f0-9]{64})"
    r"|(?P<shopify_token>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})"
    r"|(?P<databricks_token>dapi[a-f0-9]{32})"
    r"|(?P<age_key>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})"
    r"|(?P<mailchimp_key>[0-9a-f]{32}-us[0-9]{1,2})"
    r")"
)
_TOKEN_KIND = {
    "aws_access_key_id": "aws-access-key",
    "stripe_key": "api-key",
    "google_api_key": "api-key",
    "sendgrid_key": "api-key",
    "anthropic_key": "api-key",
    "openai_key": "api-key",
    "twilio_key": "api-key",
    "mailchimp_key": "api-key",
    "age_key": "private-key",
}
# the first two characters of each format, to skip runs that hold none (hex digests, words)
_TOKEN_STARTS = frozenset(
    {
        *("A3", "AB", "AC", "AK", "AS", "gh", "gi", "gl", "GR", "xo", "rk", "sk", "AI", "ey"),
        *("SG", "np", "py", "hf", "hv", "sq", "SK", "do", "sh", "da", "AG"),
    }
)
_TOKEN_INNER = re.compile(
    r"[_.-](?:A3|AB|AC|AK|AS|gh|gi|gl|GR|xo|rk|sk|AI|ey|SG|np|py|hf|hv|sq|SK|do|sh|da|AG)"
    r"|-us[0-9]"
)
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_]*")
_TOKEN_TAIL_DASH = re.compile(r"[A-Za-z0-9_\-]*")
_DASHED = frozenset(
    {
        *("gitlab_token", "slack_token", "google_api_key", "jwt", "sendgrid_key", "pypi_token"),
        *("anthropic_key", "openai_key", "vault_token", "square_token"),
    }
)
# URLs whose path is the credential
_HOOKS = ("hooks.slack.com/services/", "/api/webhooks/", "webhook.office.com/webhookb2/")
_HOOK_PATH = re.compile(r"[A-Za-z0-9_/@.-]*")
# user:$apr1$..., user:$2y$..., user:{SHA}... (htpasswd, traefik basicauth.users; $$ in compose)
_HASH = re.compile(
    r":(?P<hash>\$\$?(?:apr1|2[abxy]|[1567y]|argon2(?:id|i|d)|sha1|md5|pbkdf2[a-z0-9-]{0,8})"
    r"\$[^\s\"',;]{8,}|\{SHA\}[A-Za-z0-9+/=]{20,})"
)
_NONSPACE = re.compile(r"[^\s\"',;]*")
_URL_STOP = re.compile(r"[\s\"'`]|://")


def _lower(text: str) -> str:
    """The text lower-cased without changing its length (offsets stay the same)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _quoted_or_bare(text: str, pos: int) -> tuple[int, int, str]:
    """The value at ``pos``: inside quotes (plain or backslash-escaped), else a bare word.
    Returns (start, end, quote)."""
    if text.startswith(('\\"', "\\'"), pos):
        q = text[pos : pos + 2]
        close = text.find(q, pos + 2, pos + 65536)
        if close >= 0:
            return pos + 2, close, q
    elif pos < len(text) and text[pos] in "\"'`":
        q = text[pos]
        close = text.find(q, pos + 1, pos + 65536)
        if close >= 0:
            return pos + 1, close, q
        pos += 1
    m = _BARE.match(text, pos)
    return pos, (m.end() if m else pos), ""


def _skip_blanks(text: str, pos: int, limit: int = 8) -> int:
    end = min(len(text), pos + limit)
    while pos < end and text[pos] in " \t":
        pos += 1
    return pos


def _key_start(text: str, anchor: int) -> int:
    start, floor = anchor, max(0, anchor - 128)
    while start > floor and text[start - 1] in _KEYCHARS:
        start -= 1
    return start


def _header_value(key: str, text: str, pos: int) -> tuple[int, int, str] | None:
    """The credential of a header value at ``pos`` (to the end of the line or quote); the
    auth scheme of an Authorization header (``Bearer``, ``Basic``) is kept."""
    m = _HEADER_END.search(text, pos)
    end = m.start() if m else len(text)
    while end > pos and text[end - 1] in " \t":
        end -= 1
    kind = "token"
    if key.lower() in ("authorization", "proxy-authorization"):
        s = _AUTH_SCHEME.match(text, pos, end)
        if s:
            if text[s.start() : s.end()].strip().lower() == "basic":
                kind = "basic-auth"
            pos = s.end()
    if end <= pos:
        return None
    return pos, end, kind


def _anchors(low: str) -> list[tuple[int, int]]:
    """(position, length) of every secret word in the lower-cased text, in order (one
    ``str.find`` pass per word: faster than an alternation, which ``re`` tries letter by
    letter)."""
    found: list[tuple[int, int]] = []
    for word in _WORDS:
        n = len(word)
        i = low.find(word)
        while i >= 0:
            found.append((i, n))
            i = low.find(word, i + n)
    found.sort()
    return found


def _kv_hits(text: str, low: str) -> list[Hit]:
    """``name=value``, ``name: value``, ``"name": "value"``, ``name := value``, headers, and
    ``--name value``, for names with a secret word (each occurrence of one is a candidate)."""
    hits: list[Hit] = []
    pos = 0
    n = len(text)
    for anchor, size in _anchors(low):
        if anchor < pos:
            continue
        m = _KV_TAIL.match(low, anchor + size)
        if m is None:
            hit = _flag_hit(text, low, anchor, size)
            if hit is not None:
                hits.append(hit)
                pos = hit.end
            continue
        pos = m.end()
        ks = _key_start(low, anchor)
        key_end = m.start("q") if m.group("q") else m.start("sep")
        key = text[ks:key_end].rstrip(" \t")
        if not key or (ks > 0 and text[ks - 1] == "$") or text[ks - 3 : ks] == "://":
            continue  # $NAME=, or the user of a URL (the URL detector reads those)
        kk = key_kind(key)
        sep = m.group("sep")
        header = (
            sep == ":"
            and not key.startswith("-")
            and (
                key.lower() in _AUTH_HEADERS
                or (bool(_HEADER_NAME.fullmatch(key)) and text[m.end() : m.end() + 1] in " \t")
            )
        )
        if kk is None and not (header and key.lower() in _AUTH_HEADERS):
            continue
        vpos = _skip_blanks(text, m.end())
        if header:
            hv = _header_value(key, text, vpos)
            if hv is None:
                continue
            vs, ve, kind = hv
            pos = max(pos, ve)  # a header's value runs to the end of its line: read once
            if kk is not None and kk[0] not in ("token",):
                kind = kk[0]
            if not is_placeholder(text[vs:ve]):
                hits.append(Hit(vs, ve, kind, key))
            continue
        assert kk is not None
        kind, strong = kk
        vs, ve, quote = _quoted_or_bare(text, vpos)
        if not quote:
            pos = max(pos, ve)  # a bare value is one word: never read again
        value = text[vs:ve]
        if not value or is_placeholder(value):
            continue
        if not strong and not looks_random(value):
            continue
        if sep == ":" and not quote and strong and ve < n:
            # "Password: at least 8 characters" is prose, not a setting
            after = _skip_blanks(text, ve, 2)
            if after > ve and after < n and text[after].isalpha():
                continue
        if sep == "=" and (text[ks - 1 : ks] == ";" or text[ve : ve + 1] == ";"):
            kind = "connection-string"
        hits.append(Hit(vs, ve, kind, key))
        pos = max(pos, ve)
    return hits


def _flag_hit(text: str, low: str, anchor: int, size: int) -> Hit | None:
    """``--name value``: a flag with a secret word, then its value as the next word."""
    ks = _key_start(low, anchor)
    if low[ks : ks + 1] != "-":
        return None
    m = _FLAG_TAIL.match(low, anchor + size)
    if m is None:
        return None
    name = text[ks : m.end()].rstrip(" \t")
    kk = key_kind(name)
    if kk is None:
        return None
    vs, ve, _ = _quoted_or_bare(text, m.end())
    value = text[vs:ve]
    if not value or value.startswith("-") or is_placeholder(value) or _PAIRS.match(value):
        return None  # no value; or --secret id=x,src=y (BuildKit: where a secret is)
    if not kk[1] and not looks_random(value):
        return None
    return Hit(vs, ve, kk[0], name)


def _token_hits(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for run in _RUN.finditer(text):
        start, end = run.span()
        if text[start : start + 2] not in _TOKEN_STARTS and not _TOKEN_INNER.search(
            text, start, end
        ):
            continue
        while True:
            m = _TOKEN.search(text, start, end)
            if m is None:
                break
            name = m.lastgroup or "token"
            # a longer token than the format's usual length: read on in the format's alphabet
            tail = (_TOKEN_TAIL_DASH if name in _DASHED else _TOKEN_TAIL).match(text, m.end())
            stop = tail.end() if tail and name != "aws_access_key_id" else m.end()
            hits.append(
                Hit(m.start(), stop, _TOKEN_KIND.get(name, "token"), name.replace("_", "-"))
            )
            start = stop
    return hits


def _hook_hits(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for anchor in _HOOKS:
        pos = 0
        while (i := text.find(anchor, pos)) >= 0:
            start = i + len(anchor)
            m = _HOOK_PATH.match(text, start)
            end = m.end() if m else start
            if end - start >= 8 and MARKER not in text[start:end]:
                hits.append(Hit(start, end, "token", "webhook-url"))
            pos = max(end, start)
    return hits


def _private_key_hits(text: str) -> list[Hit]:
    hits: list[Hit] = []
    pos = 0
    while (i := text.find("PRIVATE KEY", pos)) >= 0:
        begin = text.rfind("BEGIN", max(0, i - 64), i)
        if begin < 0:
            pos = i + 11
            continue
        start = begin
        while start > 0 and begin - start < 6 and text[start - 1] in "- ":
            start -= 1
        end_at = text.find("END", i + 11)
        if end_at < 0:
            end = len(text)
        else:
            tail = text.find("PRIVATE KEY", end_at, end_at + 64)
            end = (tail + 11) if tail >= 0 else end_at + 3
            stop = min(len(text), end + 6)
            while end < stop and text[end] in "- ":
                end += 1
        hits.append(Hit(start, end, "private-key", "private-key"))
        pos = end
    pos = 0
    while (i := text.find("PuTTY-User-Key-File-", pos)) >= 0:
        mac = text.find("Private-MAC:", i)
        mac_value = _NONSPACE.match(text, _skip_blanks(text, mac + 12)) if mac >= 0 else None
        end = mac_value.end() if mac_value else len(text)
        hits.append(Hit(i, end, "private-key", "putty-private-key"))
        pos = end
    return hits


def _hash_hits(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for m in _HASH.finditer(text):
        if m.start() == 0 or text[m.start() - 1] in " \t\r\n\"'=,;:":
            continue  # no user before the colon
        hits.append(Hit(m.start("hash"), m.end(), "basic-auth", "htpasswd-hash"))
    return hits


def _url_hits(text: str) -> list[Hit]:
    """The password of ``scheme://user:password@host`` (any scheme; ``redis://:pw@host``;
    a password holding ``/`` or ``@``: the last ``@`` before the host is the end)."""
    hits: list[Hit] = []
    pos = 0
    while (i := text.find("://", pos)) >= 0:
        start = i + 3
        stop = _URL_STOP.search(text, start)
        run_end = stop.start() if stop else len(text)
        pos = run_end if run_end > start else start
        at = text.rfind("@", start, run_end)
        if at < 0:
            continue
        # user:password before the last @ (a password may hold "/" and "@"; so the odd
        # https://host:8080/path/@x loses "8080/path/" too: better than a password kept)
        colon = text.find(":", start, at)
        if colon >= 0:
            value = text[colon + 1 : at]
            if value and MARKER not in value:
                hits.append(Hit(colon + 1, at, "url-password", "url-password"))
        else:
            value = text[start:at]
            if looks_random(value) and MARKER not in value:
                hits.append(Hit(start, at, "token", "url-token"))
    return hits


def _short_flag_hits(text: str) -> list[Hit]:
    """Program-specific password flags (``mysql -psecret``) inside free text: each command
    (the text between two of ``\\n;|&()```) that holds a candidate flag and names a program
    that reads a password from that flag is parsed once with :func:`shell_hits`."""
    hits: list[Hit] = []
    seg_start = seg_end = 0
    tried: set[str] = set()  # the flags already looked at in this command
    last = 0
    for m in _SHORT.finditer(text):
        q = m.start()
        if q >= seg_end:  # a new command: its bounds, reading only the text since ``last``
            before = text.rfind("\n", last, q)
            p = before + 1 if before >= 0 else last
            while (sep := _SEP_INLINE.search(text, p, q)) is not None:
                before, p = sep.start(), sep.end()
            seg_start = before + 1 if before >= 0 else seg_start if last else 0
            after = _SEP.search(text, q)
            seg_end = after.start() if after else len(text)
            tried = set()
        last = q
        flag = m.group(1)
        if flag in tried or "" in tried:
            continue
        tried.add(flag)
        segment = text[seg_start:seg_end]
        if not _FLAG_PROGRAM_RE[flag].search(segment):
            continue  # no program that reads a password from this flag here
        tried.add("")  # parsed: the whole command is done
        if any(_program(w) in _PROGRAMS for w in segment.split()):
            hits.extend(
                Hit(h.start + seg_start, h.end + seg_start, h.kind, h.key)
                for h in shell_hits(segment)
            )
    return hits


_QUICK = re.compile(
    rf"(?i){_SECRET_WORDS}|://|private key|putty|:\$|:\{{sha\}}|[a-z0-9_.-]{{20}}|-[puawk]|hooks"
)


def find(text: str) -> list[Hit]:
    """Every secret in free text, by shape (see the module doc), merged and in order."""
    return merge(detect(text))


def detect(text: str) -> list[Hit]:
    """What each detector found in ``text``, unmerged and unordered."""
    if not text or (len(text) <= 512 and not _QUICK.search(text)):
        return []
    low = _lower(text)
    return [
        *_private_key_hits(text),
        *_url_hits(text),
        *_token_hits(text),
        *_hook_hits(text),
        *_hash_hits(text),
        *_kv_hits(text, low),
        *_short_flag_hits(text),
    ]


def merge(hits: list[Hit]) -> list[Hit]:
    """Hits in order, overlapping ones joined (the first one's kind and key kept)."""
    if len(hits) < 2:
        return hits
    hits.sort(key=lambda h: (h.start, -h.end))
    out = [hits[0]]
    for h in hits[1:]:
        last = out[-1]
        if h.start < last.end:
            if h.end > last.end:
                out[-1] = Hit(last.start, h.end, last.kind, last.key)
        else:
            out.append(h)
    return out


# --------------------------------------------------------------------------------------------
# Command lines


_MYSQL = frozenset(
    {
        *("mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlshow"),
        *("mysqlpump", "mysqlsh", "mysqlbinlog", "mysqlslap", "mysql_upgrade", "mariadb"),
        *("mariadb-dump", "mariadb-admin", "mariadb-import", "mariadb-check", "mariadb-show"),
        *("mariadb-upgrade", "mariadb-binlog", "mariadb-slap", "mariabackup", "mariadb-backup"),
        *("xtrabackup", "mydumper", "myloader"),
    }
)
_MONGO = frozenset(
    {"mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat"}
)
_LDAP = frozenset(
    {"ldapsearch", "ldapadd", "ldapmodify", "ldapdelete", "ldappasswd", "ldapwhoami", "ldapcompare"}
)
# how a flag holds its secret: the next word; attached (-pVALUE) or the next word; attached
# only; user:password (the part after the colon); user%password; openssl's pass:VALUE
NEXT, EITHER, ATTACHED, USERPASS, SMB, OPENSSL = (
    "next",
    "either",
    "attached",
    "userpass",
    "smb",
    "openssl",
)
_PROGRAM_FLAGS: dict[str, dict[str, str]] = {
    **{p: {"-p": EITHER} for p in _MYSQL},
    **{p: {"-p": EITHER} for p in _MONGO},
    **{p: {"-w": NEXT} for p in _LDAP},
    "sshpass": {"-p": EITHER},
    "login": {"-p": NEXT},  # docker, podman, nerdctl, helm, oras, skopeo login
    "redis-cli": {"-a": NEXT},
    "keydb-cli": {"-a": NEXT},
    "valkey-cli": {"-a": NEXT},
    "zip": {"-P": NEXT},
    "7z": {"-p": ATTACHED},
    "7za": {"-p": ATTACHED},
    "7zz": {"-p": ATTACHED},
    "sqlcmd": {"-P": EITHER},
    "bcp": {"-P": EITHER},
    "openssl": {"-passin": OPENSSL, "-passout": OPENSSL, "-pass": OPENSSL, "-k": NEXT},
    "curl": {"-u": USERPASS, "--user": USERPASS, "-U": USERPASS, "--proxy-user": USERPASS},
    "smbclient": {"-U": SMB, "--user": SMB},
    "rpcclient": {"-U": SMB, "--user": SMB},
    "smbget": {"-U": SMB, "--user": SMB},
    "htpasswd": {},
}
_PROGRAMS = frozenset({*_PROGRAM_FLAGS, "chpasswd"})
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "su", "runuser"})
_ENV_WORDS = frozenset({"env", "export", "ENV", "ARG", "declare", "readonly", "local"})
_ENV_FLAGS = frozenset({"-e", "--env", "--build-arg", "env", "export", "--set-env", "--env-add"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
_ASSIGN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,255}")


def _program(word: str) -> str:
    return word.strip("\"'").rsplit("/", 1)[-1]


def _span(how: str, value: str) -> tuple[int, int] | None:
    """Where in ``value`` the secret is, for a flag's ``how``."""
    if how == USERPASS:
        colon = value.find(":")
        return (colon + 1, len(value)) if colon >= 0 and colon + 1 < len(value) else None
    if how == SMB:
        pct = value.find("%")
        return (pct + 1, len(value)) if pct >= 0 and pct + 1 < len(value) else None
    if how == OPENSSL:
        return (5, len(value)) if value.startswith("pass:") and len(value) > 5 else None
    return (0, len(value)) if value else None


def _header_span(value: str) -> tuple[int, int, str, str] | None:
    """The secret of a ``Name: value`` header word, if the name is a secret's."""
    name, sep, _ = value.partition(":")
    name = name.strip()
    if (
        not sep
        or not name
        or (not _HEADER_NAME.fullmatch(name) and name.lower() not in _AUTH_HEADERS)
    ):
        return None
    kk = key_kind(name)
    if kk is None and name.lower() not in _AUTH_HEADERS:
        return None
    hv = _header_value(name, value, _skip_blanks(value, len(name) + 1, 16))
    if hv is None:
        return None
    vs, ve, kind = hv
    if kk is not None and kk[0] != "token":
        kind = kk[0]
    if is_placeholder(value[vs:ve]):
        return None
    return vs, ve, kind, name


# (word index, start, end, kind, key) of a secret inside argv[index]
ArgHit = tuple[int, int, int, str, str]


def argv_hits(argv: Sequence[str], program: str | None = None) -> tuple[list[ArgHit], list[int]]:
    """Secrets in a command's words (exec form, or the words of a shell command), and the
    indices of the words that are shell strings themselves (``sh -c STRING``).

    ``program`` names the program when ``argv`` holds only its arguments (a container's
    ``Args`` beside its ``Path``, a ``Cmd`` beside its ``Entrypoint``). Rules, for any program:
    ``--secret-name=VALUE`` and ``--secret-name VALUE``; ``NAME=VALUE`` assignments
    (``PGPASSWORD=x psql``, ``docker run -e``, ``--build-arg``); ``-H``/``--header`` with a
    secret header; ``set SECRET_NAME VALUE`` (``npm config set``, ``aws configure set``). And
    per program (:data:`_PROGRAM_FLAGS`): mysql-style ``-pVALUE``/``-p VALUE``, ``curl -u
    user:pw``, ``sshpass -p``, ``redis-cli -a``, ``docker login -p``, ``htpasswd -b``, ... A
    word is taken as a program's name when it follows the command's start or a non-flag word
    (so ``docker run --name mysql -p 3306:3306`` is not mysql's ``-p``).
    """
    hits: list[ArgHit] = []
    nested: list[int] = []
    prog = _program(program) if program else ""
    pending: tuple[str, str, str, bool] | None = None  # kind, key, how, strong
    expect_program = program is None
    prev_flag = False
    htpasswd_batch = False
    started = False  # a word other than an assignment was seen
    env_words = False  # after env, export, ENV, ARG: the assignments are environment
    positionals: list[int] = []
    for i, word in enumerate(argv):
        if pending is not None:
            kind, key, how, strong = pending
            pending = None
            if how == "shell":
                if any(c in word for c in " \t\n;|&"):
                    nested.append(i)
                    continue
                expect_program, prog = True, ""  # sh -c mysql -psecret (history, unquoted)
            elif how == "header":
                h = _header_span(word)
                if h is not None:
                    hits.append((i, h[0], h[1], h[2], h[3]))
                continue
            elif not (word.startswith("-") and len(word) > 1) and not (
                how == NEXT and _PAIRS.match(word)  # --secret id=x,src=y: pairs, read by shape
            ):
                span = _span(how, word)
                secret = word[span[0] : span[1]] if span else ""
                if secret and not is_placeholder(secret) and (strong or looks_random(secret)):
                    hits.append((i, span[0], span[1], kind, key))  # type: ignore[index]
                continue
        if not word:
            continue
        if word.startswith("-") and len(word) > 1:
            if word == "--":
                expect_program = True
                continue
            flag, eq, val = word.partition("=")
            spec = _PROGRAM_FLAGS.get(prog, {})
            if (
                prog in _SHELLS
                and not word.startswith("--")
                and flag[1:].isalpha()
                and "c" in flag[1:]
            ):
                pending = ("password", word, "shell", True)
            elif prog == "htpasswd" and not word.startswith("--") and "b" in flag[1:]:
                htpasswd_batch = True
            elif flag in spec:
                how = spec[flag]
                if eq:
                    span = _span(how, val)
                    if span and not is_placeholder(val[span[0] : span[1]]):
                        off = len(flag) + 1
                        hits.append((i, off + span[0], off + span[1], "password", flag))
                elif how != ATTACHED:
                    pending = ("password", flag, NEXT if how == EITHER else how, True)
            elif (
                not word.startswith("--")
                and word[:2] in spec
                and spec[word[:2]] in (EITHER, ATTACHED, USERPASS, SMB)
            ):
                how = spec[word[:2]]
                span = _span(how if how in (USERPASS, SMB) else NEXT, word[2:])
                if span and not is_placeholder(word[2 + span[0] : 2 + span[1]]):
                    hits.append((i, 2 + span[0], 2 + span[1], "password", word[:2]))
            elif flag in ("-H", "--header"):
                if eq:
                    h = _header_span(val)
                    if h is not None:
                        off = len(flag) + 1
                        hits.append((i, off + h[0], off + h[1], h[2], h[3]))
                else:
                    pending = ("token", flag, "header", True)
            else:
                kk = key_kind(flag)
                if kk is not None:
                    kind, strong = kk
                    if eq:
                        if val and not is_placeholder(val) and (strong or looks_random(val)):
                            hits.append((i, len(flag) + 1, len(word), kind, flag))
                    else:
                        pending = (kind, flag, NEXT, strong)
            prev_flag = started = True
            continue
        name, eq, val = word.partition("=")
        if eq and _ASSIGN_NAME.fullmatch(name):
            kk = key_kind(name)
            # an environment entry (PGPASSWORD=x psql, docker run -e K=V): a secret's name
            # is enough; elsewhere a weak name (key=docker) needs a random-looking value
            env = (
                bool(_ENV_NAME.fullmatch(name))
                and name.upper() == name
                and (not started or env_words or (i > 0 and argv[i - 1] in _ENV_FLAGS))
            )
            if (
                kk is not None
                and val
                and not is_placeholder(val)
                and (kk[1] or env or looks_random(val))
            ):
                hits.append((i, len(name) + 1, len(word), kk[0], name))
            prev_flag = False
            continue
        if word.isdigit() and not started:
            continue  # the classic builder's "|2 A=x B=y" count of build arguments
        started = True
        env_words = word in _ENV_WORDS
        base = _program(word)
        if (expect_program or not prev_flag) and (base in _PROGRAMS or base in _SHELLS):
            prog = base
        elif i > 0 and argv[i - 1] == "set" and (kk := key_kind(word)) is not None and kk[1]:
            pending = (kk[0], word, NEXT, True)
        else:
            positionals.append(i)
        expect_program = False
        prev_flag = False
    if prog == "htpasswd" and htpasswd_batch and positionals:
        last = positionals[-1]
        hits.append((last, 0, len(argv[last]), "password", "htpasswd"))
    return hits, nested


# shell words: operators, words (quotes kept, possessive so nothing is re-read), redirections
_SH = re.compile(
    r"""(?P<sp>[ \t\r\f\v]+|\\\n)
    |(?P<op>&&|\|\||;;|[;&|()\n`]|\$\()
    |(?P<word>(?:[^\s'"\\;&|()`<>]++|'[^']*+'|"(?:[^"\\]++|\\.)*+"|\\.
        |<redacted:\ [a-z-]{1,24},\ [0-9]{1,12}\ chars>)++)
    |(?P<redir>[<>]+&?)
    |(?P<junk>.)""",
    re.VERBOSE | re.DOTALL,
)
_PIECE = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([^'"\\]+)|(.)""", re.DOTALL)
_DQ_ESCAPE = re.compile(r"\\([\"\\$`\n])")
MAX_SHELL = 256 * 1024


def _unquote(raw: str) -> tuple[str, list[int]]:
    """A shell word's value and, for each of its characters, its offset in ``raw``."""
    value: list[str] = []
    where: list[int] = []
    for m in _PIECE.finditer(raw):
        if m.group(1) is not None:
            s = m.start(1)
            value.append(m.group(1))
            where.extend(range(s, s + len(m.group(1))))
        elif m.group(2) is not None:
            s, body = m.start(2), m.group(2)
            k = 0
            while k < len(body):
                if body[k] == "\\" and k + 1 < len(body) and body[k + 1] in '"\\$`\n':
                    value.append(body[k + 1])
                    where.append(s + k + 1)
                    k += 2
                else:
                    value.append(body[k])
                    where.append(s + k)
                    k += 1
        elif m.group(3) is not None:
            value.append(m.group(3))
            where.append(m.start(3))
        else:
            g = m.group(4) if m.group(4) is not None else m.group(5)
            s = m.start(4) if m.group(4) is not None else m.start(5)
            value.append(g)
            where.extend(range(s, s + len(g)))
    return "".join(value), where


def shell_hits(text: str, depth: int = 0) -> list[Hit]:
    """Secrets that the programs of a shell command line hold in their flags and words
    (:func:`argv_hits`), in ``text``'s coordinates; ``sh -c '...'`` strings are read in turn.
    ``echo user:pw | chpasswd`` is read too. Text past :data:`MAX_SHELL` is left to
    :func:`find`."""
    if len(text) > MAX_SHELL or depth > 4:
        return []
    commands: list[tuple[list[tuple[int, str]], str]] = []
    words: list[tuple[int, str]] = []
    for m in _SH.finditer(text):
        group = m.lastgroup
        if group == "word":
            words.append((m.start(), m.group()))
        elif group == "op":
            commands.append((words, m.group()))
            words = []
    commands.append((words, ""))
    hits: list[Hit] = []
    for n, (cmd, op) in enumerate(commands):
        if not cmd:
            continue
        plain = [
            (s, raw, None) if not any(c in raw for c in "'\"\\") else (s, raw, _unquote(raw))
            for s, raw in cmd
        ]
        values = [raw if u is None else u[0] for _, raw, u in plain]
        found, nested = argv_hits(values)
        for i, a, b, kind, key in found:
            s, raw, u = plain[i]
            if u is None:
                hits.append(Hit(s + a, s + b, kind, key))
            elif b > a:
                where = u[1]
                hits.append(Hit(s + where[a], s + where[b - 1] + 1, kind, key))
        for i in nested:
            s, raw, _ = plain[i]
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
                inner, off = raw[1:-1], s + 1
            else:
                inner, off = raw, s
            hits.extend(
                Hit(h.start + off, h.end + off, h.kind, h.key) for h in shell_hits(inner, depth + 1)
            )
        if op == "|" and n + 1 < len(commands):
            nxt = commands[n + 1][0]
            if (
                nxt
                and _program(nxt[0][1]) == "chpasswd"
                and _program(values[0]) in ("echo", "printf")
            ):
                for i in range(1, len(values)):
                    s, raw, u = plain[i]
                    colon = raw.find(":")
                    end = len(raw) - (1 if raw[-1:] in "'\"" and len(raw) > 1 else 0)
                    if colon >= 0 and colon + 1 < end:
                        hits.append(Hit(s + colon + 1, s + end, "password", "chpasswd"))
    return hits
