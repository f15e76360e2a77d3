"""Start-up time of ``assessor --version`` and ``assessor scan --help`` against ``python -c pass``.

Each command runs BENCH_REPEAT times (default 15), the three interleaved so that load on the
machine weighs on each alike, after one unmeasured run each that writes the bytecode caches
(as ``pip install`` does: PYTHONDONTWRITEBYTECODE is unset for the runs). Prints the medians
(wall time, and the CPU time, which load on the machine does not stretch) and each
command's ratio to the interpreter's own start-up; exits 1 when the median CPU time of one of
assessor's is over BENCH_BUDGET_MS (default 150; on an idle machine the wall time is the CPU
time plus a few ms, on a busy one it is stretched by whatever else runs).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))
BUDGET_MS = float(os.environ.get("BENCH_BUDGET_MS", "150"))
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "assessor --version": [sys.executable, "-m", "assessor", "--version"],
    "assessor scan --help": [sys.executable, "-m", "assessor", "scan", "--help"],
}


def once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=False, timeout=60)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed ({proc.returncode}): {proc.stderr!r}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for i in range(REPEAT + 1):
        for name, argv in COMMANDS.items():
            t, cpu = once(argv, env)
            if i:
                times[name].append(t)
                cpus[name].append(cpu)
    base = statistics.median(times["python -c pass"])
    over = []
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, runs in times.items():
        m = statistics.median(runs)
        ratio = "" if name == "python -c pass" else f", {m / base:.1f}x python -c pass"
        cpu = statistics.median(cpus[name]) * 1000
        print(f"{name}: median {m * 1000:.0f} ms of {len(runs)} runs (CPU {cpu:.0f} ms){ratio}")
        if name != "python -c pass" and cpu > BUDGET_MS:
            over.append(f"{name} {cpu:.0f} ms of CPU")
    if over:
        raise SystemExit(f"over the {BUDGET_MS:.0f} ms budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
