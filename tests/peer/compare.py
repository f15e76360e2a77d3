"""Side-by-side verdicts of docker-bench-security and assessor for every CIS Docker v1.8.0 id.

    .venv/bin/python -m tests.peer.compare --markdown          # print the table
    .venv/bin/python -m tests.peer.compare --write             # record tests/peer/verdicts.json
    .venv/bin/python -m tests.peer.compare --check             # exit 1 if a recorded verdict changed
    .venv/bin/python -m tests.peer.compare --markdown --keep out/peer   # also keep raw outputs

Needs root, a running dockerd (scripts/test-setup.sh starts one), busybox-static and the peer
at ../shared/peers/docker-bench-security (or $PEER_DIR). Stages labelled containers, removes
them afterwards. While it runs, start no other process whose command line contains "dockerd".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tests.peer.peer import (
    AMBIENT,
    VERDICTS_FILE,
    Comparison,
    HarnessError,
    PeerUnavailable,
    compare,
    diff_records,
    load_record,
    write_record,
)

ORDER = ["disagree", "peer only", "assessor only", "assessor error", "agree", "no verdict"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _peer_cell(cmp: Comparison, cis: str, rec: dict[str, Any]) -> str:
    chk = cmp.bench.checks.get(cis)
    if chk is None:
        return (
            f"— (no check{'; v1.6.0 ' + rec['docker_bench_id'] if rec['docker_bench_id'] else ''})"
        )
    text = chk.result
    if rec["docker_bench"] != chk.result:
        text = f"{rec['docker_bench']} (raw {chk.result}: lists only containers not ours)"
    elif chk.console and chk.console != chk.result:
        text += f" (console {chk.console})"
    if chk.items:
        text += f" [{len(chk.items)} listed]"
    elif chk.details:
        text += f": {chk.details[:40]}"
    if chk.id != cis:
        text += f" (v1.6.0 {chk.id})"
    return _cell(text)


def _assessor_cell(cmp: Comparison, cis: str, rec: dict[str, Any]) -> str:
    text = rec["assessor"]
    if rec["assessor_all"] != rec["assessor"]:
        text += f" (with stopped: {rec['assessor_all']})"
    return _cell(text)


def _rules_cell(cmp: Comparison, cis: str) -> str:
    parts = []
    for rule, statuses in sorted(cmp.verdicts.rules.get(cis, {}).items()):
        counts = Counter(statuses)
        parts.append(f"{rule} ({', '.join(f'{s} {n}' for s, n in sorted(counts.items()))})")
    return _cell("; ".join(parts))


def markdown(cmp: Comparison) -> str:
    rec = cmp.record()
    reqs = rec["requirements"]
    sc = cmp.scenario
    out: list[str] = []
    out.append("# assessor vs docker-bench-security, CIS Docker Benchmark v1.8.0\n")
    out.append(
        f"docker-bench-security {cmp.bench.header.get('dockerbenchsecurity')} (CIS v1.6.0; its id is "
        f"shown where it differs): **{cmp.bench.wall:.1f} s** wall; "
        f"assessor scan: {cmp.assessor.wall:.1f} s wall; {cmp.containers_on_daemon} containers "
        f"on the daemon (docker-bench's time grows with all of them). "
        f"dockerd: `{cmp.bench.dockerd}`."
    )
    if cmp.bench.repaired_json:
        out.append("docker-bench's log.json was invalid JSON and was repaired before parsing.")
    out.append("")
    out.append(f"Scenario (label `assessor.test={sc.label}`):\n")
    for c in sc.containers.values():
        state = "running" if c.running else "created, not running"
        out.append(f"- `{c.role}` ({state}): {c.why}")
    out.extend(f"- note: {n}" for n in sc.notes)
    counts = Counter(r["agreement"] for r in reqs.values())
    out.append("")
    out.append(
        "Agreement: "
        + ", ".join(f"{k} {counts[k]}" for k in ORDER if counts.get(k))
        + f" (of {len(reqs)}). docker-bench PASS/WARN and assessor pass/fail are verdicts; "
        "docker-bench INFO/NOTE and assessor manual/not_applicable/none are not."
    )
    out.append("")
    out.append("| CIS v1.8.0 | title | docker-bench | assessor | agreement | assessor rules |")
    out.append("|---|---|---|---|---|---|")
    for cis, r in reqs.items():
        agree = r["agreement"]
        shown = f"**{agree}**" if agree in ("disagree", "assessor error") else agree
        out.append(
            f"| {cis} | {_cell(r['title'][:70])} | {_peer_cell(cmp, cis, r)} | "
            f"{_assessor_cell(cmp, cis, r)} | {shown} | {_rules_cell(cmp, cis)} |"
        )
    out.append("")
    out.append(
        "Ambient (count every object on the daemon, so a change is reported, not failed on): "
        + ", ".join(f"{k} ({v})" for k, v in AMBIENT.items())
        + "."
    )
    out.append("")
    out.append("## Not in agreement\n")
    for kind in ("disagree", "assessor error", "peer only", "assessor only"):
        ids = [cis for cis, r in reqs.items() if r["agreement"] == kind]
        if ids:
            out.append(f"- {kind} ({len(ids)}): {', '.join(ids)}")
    out.append("")
    out.append("## Per container (section 5 and 4.1)\n")
    out.append(
        "Cell: docker-bench / assessor. docker-bench's per-container verdict is read from the "
        "containers it lists for a check; `-` = not judged (stopped) or no result; "
        "**!** marks a disagreement, ? one judged where the other did not."
    )
    roles = list(rec["containers"])
    ids = sorted(
        {cis for c in rec["containers"].values() for cis in c["verdicts"]},
        key=lambda s: tuple(int(p) for p in s.split(".")),
    )
    out.append("")
    out.append("| CIS | " + " | ".join(roles) + " |")
    out.append("|---|" + "---|" * len(roles))
    short = {"PASS": "P", "WARN": "W", "INFO": "I", "NOTE": "N", "pass": "p", "fail": "f"}
    short |= {"not_applicable": "na", "manual": "m", "error": "E", "none": "-"}
    short |= {"not judged": "-", "absent": "-"}
    for cis in ids:
        cells = []
        for role in roles:
            v = rec["containers"][role]["verdicts"].get(cis)
            if v is None:
                cells.append("")
                continue
            mark = {"disagree": " **!**", "peer only": " ?", "assessor only": " ?"}.get(
                v["agreement"], ""
            )
            mark = " **E**" if v["agreement"] == "assessor error" else mark
            p = short.get(v["docker_bench"], v["docker_bench"])
            a = short.get(v["assessor"], v["assessor"])
            cells.append(f"{p}/{a}{mark}")
        out.append(f"| {cis} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.peer.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--markdown", action="store_true", help="print the side-by-side table")
    ap.add_argument("--json", action="store_true", help="print the record (verdicts) as JSON")
    ap.add_argument("--write", action="store_true", help=f"write {VERDICTS_FILE.name}")
    ap.add_argument("--check", action="store_true", help="exit 1 if a recorded verdict changed")
    ap.add_argument("--keep", type=Path, help="keep raw outputs of both tools in this folder")
    ap.add_argument("--record", type=Path, default=VERDICTS_FILE, help="record file")
    args = ap.parse_args(argv)
    if not (args.markdown or args.json or args.write or args.check):
        args.markdown = True
    try:
        cmp = compare(keep=args.keep)
    except (PeerUnavailable, HarnessError) as e:
        print(f"compare: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    record = cmp.record()
    if args.markdown:
        print(markdown(cmp))
    if args.json:
        print(json.dumps(record, indent=1))
    print(f"docker-bench-security wall time: {cmp.bench.wall:.2f} s", file=sys.stderr)
    code = 0
    if args.check:
        old = load_record(args.record)
        if old is None:
            print(f"no record at {args.record}; run with --write", file=sys.stderr)
            code = 1
        else:
            for tool, lines in diff_records(old, record).items():
                if lines and tool == "ambient":
                    print("changed, but they depend on the whole daemon:", file=sys.stderr)
                elif lines:
                    code = 1
                    print(f"{tool} verdicts changed:", file=sys.stderr)
                    for line in lines:
                        print(f"  {line}", file=sys.stderr)
    if args.write:
        write_record(record, args.record)
        print(f"wrote {args.record}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
