"""Fill a framework file's ``rules:`` lists from the rules' tags.

A rule declares the requirements it meets with tags such as ``cis-docker-1.8.0:5.4``. This
tool rewrites the ``rules: [...]`` line of each requirement of that framework file so the two
never drift; ``--check`` exits 1 when the file is stale (a test runs it).

    python tools/wire_framework_rules.py cis-docker-1.8.0 [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def tagged(framework: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "controls/rules").rglob("*.yaml")):
        rule = yaml.safe_load(path.read_text())
        for tag in rule.get("tags") or []:
            fw, sep, req = str(tag).partition(":")
            if sep and fw == framework:
                found.setdefault(req, []).append(rule["id"])
    return found


def main(framework: str, check: bool) -> int:
    path = ROOT / "controls/frameworks" / f"{framework}.yaml"
    text = path.read_text()
    rules = tagged(framework)
    known = {str(r["id"]) for r in yaml.safe_load(text)["requirements"]}
    unknown = sorted(set(rules) - known)
    if unknown:
        print(f"rules tag unknown {framework} requirements: {unknown}", file=sys.stderr)
        return 1
    out: list[str] = []
    current: str | None = None
    for line in text.splitlines(keepends=True):
        m = re.match(r'^  - id: "([^"]+)"', line)
        if m:
            current = m.group(1)
        rules_line = re.match(r"^    rules: \[.*\]$", line.rstrip("\n"))
        if current is not None and rules_line:
            ids = sorted(rules.get(current, []))
            line = f"    rules: [{', '.join(ids)}]\n"
        out.append(line)
    new = "".join(out)
    if check:
        if new != text:
            fix = f"python tools/wire_framework_rules.py {framework}"
            print(f"{path.relative_to(ROOT)} is stale: run {fix}")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--check"]
    sys.exit(main(args[0] if args else "cis-docker-1.8.0", "--check" in sys.argv))
