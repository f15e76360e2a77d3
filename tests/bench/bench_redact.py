"""Secret redaction throughput: realistic evidence text and adversarial text, in MB/s.

Redaction runs on every string of every evidence document (``Evidence`` sweeps its data), so
it must stay linear and fast whatever a target puts in a label or an environment value.
Measured in the same run, the best of ``--runs`` runs each (as ``timeit`` does: the least
disturbed by other work on the machine):

- ``realistic``: ``--mb`` MB of mixed evidence text (environment lines, labels, shell and exec
  command lines, Dockerfile history steps, inspect-like JSON, audit rules, digests), with a
  secret in about one line in fifty (and a GPG_KEY, redacted too, in one in twenty), redacted
  as one text (``Redactor.text``: the shape detectors) and as a document of one string per line
  (``Redactor.sweep``: what every ``Evidence`` goes through);
- ``adversarial``: 1 MB single values built to make a backtracking pattern re-read them (long
  runs of ``a:``, ``://``, ``@``, ``=``, ``key=``, `` -p``, unclosed quotes, half tokens, ...);
- the baseline: one ``str.lower()`` and one ``str.find`` pass over the same text (the cheapest
  full reads of it), and each redaction's time as a ratio to it.

Goals: 10 MB of realistic text in under a second, and no adversarial MB slower than 5 s (the
unit test's hang bound); a quadratic pattern shows as a ratio in the thousands.

    .venv/bin/python tests/bench/bench_redact.py               # 10 MB, 3 runs
    .venv/bin/python tests/bench/bench_redact.py --mb 2 --runs 1
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

GOAL_SECONDS_10MB = 1.0
HANG_SECONDS_1MB = 5.0


def _rand(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def realistic(size: int, seed: int = 17) -> str:
    """About ``size`` characters of evidence-like text (a fixed seed: the same text each run)."""
    rng = random.Random(seed)
    hexd = "0123456789abcdef"
    plain: list[Callable[[], str]] = [
        lambda: "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        lambda: f"NODE_VERSION={rng.randint(14, 22)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        lambda: rng.choice(["LANG=C.UTF-8", "APP_ENV=production", "TZ=Europe/Paris", "HOME=/root"]),
        lambda: f"JAVA_HOME=/opt/java/openjdk-{rng.randint(11, 21)}",
        lambda: "GPG_KEY=" + _rand(rng, 40, "0123456789ABCDEF"),
        lambda: "org.opencontainers.image.source=https://github.com/example/app",
        lambda: f"org.opencontainers.image.revision={_rand(rng, 40, hexd)}",
        lambda: f"com.docker.compose.config-hash={_rand(rng, 64, hexd)}",
        lambda: "traefik.http.routers.web.rule=Host(`app.example.com`) && PathPrefix(`/api`)",
        lambda: (
            "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
            "curl ca-certificates && rm -rf /var/lib/apt/lists/*"
        ),
        lambda: (
            f"docker run -d --name web{rng.randint(1, 99)} -p 8080:80 -e NODE_ENV=production "
            "--restart=on-failure:3 nginx:1.25"
        ),
        lambda: "RUN /bin/sh -c mkdir -p /app && chown -R 1000:1000 /app # buildkit",
        lambda: "COPY --chown=1000:1000 . /app # buildkit",
        lambda: (
            '{"Id": "sha256:'
            + _rand(rng, 64, hexd)
            + '", "Created": "2026-01-02T03:04:05Z", "Config": {"User": "1000", "WorkingDir": "/app", '
            '"Cmd": ["node", "server.js", "--port", "8080"], "Labels": {"maintainer": "ops@example.com"}}}'
        ),
        lambda: "-w /usr/bin/dockerd -p wa -k docker",
        lambda: "-a always,exit -F arch=b64 -S execve -F key=docker",
        lambda: (
            "dockerd -H fd:// --containerd=/run/containerd/containerd.sock "
            "--tlsverify --tlskey=/etc/docker/key.pem"
        ),
        lambda: f"https://registry.example.com/v2/app/manifests/sha256:{_rand(rng, 64, hexd)}",
        lambda: "healthcheck: curl -fsS http://localhost:8080/health || exit 1",
        lambda: "The password policy requires at least 14 characters; see the key rotation notes.",
    ]
    secret: list[Callable[[], str]] = [
        lambda: f"DB_PASSWORD={_rand(rng, 20)}",
        lambda: f"DATABASE_URL=postgres://app:{_rand(rng, 16)}@db:5432/app",
        lambda: f"mysql -h db -u root -p{_rand(rng, 12)} -e 'select 1'",
        lambda: f'curl -H "Authorization: Bearer {_rand(rng, 40)}" https://api.example.com/',
        lambda: "GITHUB_TOKEN=ghp_" + _rand(rng, 36),
        lambda: '{"apiKey": "' + _rand(rng, 32) + '", "region": "eu"}',
    ]
    lines: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(secret)() if rng.random() < 0.02 else rng.choice(plain)()
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)


MB = 1_000_000
ADVERSARIAL: dict[str, str] = {
    "a: run": "a:" * (MB // 2),
    ":// run": "://" * (MB // 3),
    "@ run": "@" * MB,
    "= run": "=" * MB,
    "key= run": "key=" * (MB // 4),
    "x://a: run": "x://a:" * (MB // 6),
    "' -p' run": " -p" * (MB // 3),
    "mysql -p run": "mysql -p " * (MB // 9),
    "--password run": "--password " * (MB // 11),
    "unclosed quote": "password='" + "a" * MB,
    "escaped quotes": '"' + '\\"' * (MB // 2),
    "half token": "ghp_" + "a" * MB,
    "eyJ run": "eyJaaaaaaaaaa." * (MB // 14),
    "BEGIN no END": "-----BEGIN PRIVATE KEY-----" * (MB // 27),
    "hash run": "a:$apr1$" * (MB // 8),
    "letters": "a" * MB,
    "1 MB label value": "lorem ipsum dolor sit amet " * (MB // 27)
    + "clone https://deploy:pw@git.example.org/x.git",
    "200 KB env value": "a" * 200_000,
}


def _best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from assessor.evidence import Redactor

    text = realistic(int(args.mb * MB))
    size = len(text) / MB
    base = _best(lambda: (text.lower(), text.find("\0")), args.runs)
    print(f"realistic text: {size:.1f} MB, {text.count(chr(10)) + 1:,} lines")
    print(f"{'what':28} {'seconds':>8} {'MB/s':>8} {'x baseline':>11}")
    print(f"{'baseline (lower + find)':28} {base:8.3f} {size / base:8.1f} {1.0:11.1f}")
    lines = text.split("\n")
    runs: list[tuple[str, Callable[[], object]]] = [
        ("realistic, one text", lambda: Redactor().text(text, "bench")),
        (f"realistic, {len(lines):,} strings", lambda: Redactor().sweep({"lines": lines})),
    ]
    worst_realistic = 0.0
    for name, fn in runs:
        secs = _best(fn, args.runs)
        worst_realistic = max(worst_realistic, secs * 10 / size)
        print(f"{name:28} {secs:8.3f} {size / secs:8.1f} {secs / base:11.1f}")
    red = Redactor()
    red.text(text, "bench")
    print(f"  ({len(red.found):,} secrets redacted)")
    worst_adversarial = 0.0
    for name, value in ADVERSARIAL.items():
        mb = len(value) / MB
        vbase = _best(lambda v=value: (v.lower(), v.find("\0")), args.runs)  # type: ignore[misc]
        secs = max(
            _best(lambda v=value: Redactor().text(v, "bench"), 1),  # type: ignore[misc]
            _best(lambda v=value: Redactor().shell(v, "bench"), 1),  # type: ignore[misc]
        )
        worst_adversarial = max(worst_adversarial, secs / mb)
        print(f"{'adversarial ' + name:28} {secs:8.3f} {mb / secs:8.1f} {secs / vbase:11.0f}")
    ok = worst_realistic < GOAL_SECONDS_10MB and worst_adversarial < HANG_SECONDS_1MB
    print(
        f"realistic: {worst_realistic:.2f} s per 10 MB (goal < {GOAL_SECONDS_10MB:.0f} s); "
        f"slowest adversarial: {worst_adversarial:.2f} s per MB (bound {HANG_SECONDS_1MB:.0f} s): "
        + ("met" if ok else "NOT met")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
