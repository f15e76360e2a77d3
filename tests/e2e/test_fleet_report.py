"""``assessor report --system S --period P``: the fleet report, as a user runs it.

Fleets are stored by tests/fleetdata.py (real captured evidence judged by the real catalog):
bundle-like (one assessment per host, ``scanner_host`` the host) and SSH-like (one assessment
of many ``ssh://`` hosts)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing, run_cli
from tests.fleetdata import HostSpec, default_hosts, make_fleet

HOSTILE = '<script>alert("x")</script>&amp;'
ROW = re.compile(
    r'<tr(?: class="unreached")?><td class="num">(\d+)</td><td class="mono">(.*?)</td>'
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Seven hosts in three profiles, one not reached, one with a hostile name (bundles), plus
    an older reading of the first host that the later one supersedes."""
    tmp = tmp_path_factory.mktemp("fleet")
    url = f"sqlite:///{tmp / 'fleet.db'}"
    hosts = default_hosts(6, containers=3, unreachable=1)
    # read first as hardened (an earlier reading), then loose: the report shows loose
    make_fleet(url, [HostSpec(hosts[0].name, "hardened", 3)])
    make_fleet(url, [*hosts, HostSpec(HOSTILE, "mixed", 2)])
    make_fleet(url, default_hosts(2), period="2026-Q3")
    return url


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    env = {"ASSESSOR_KEY_DIR": str(tmp_path / "keys")}
    r = run_cli("keys", "init", "--organisation", "Fleet Org", env=env)
    assert r.code == 0, r.err
    return env


def _hosts_in_order(html: str) -> list[str]:
    start = html.index('id="host-table"')
    table = html[start : html.index("</table>", start)]
    return [unescape(re.sub(r"<[^>]+>", "", name)) for _, name in ROW.findall(table)]


def test_html_fleet_report_worst_first_with_a_file_per_host(
    tmp_path: Path, fleet: str, keys: dict[str, str]
) -> None:
    out = tmp_path / "fleet.html"
    r = run_cli(
        "report", "--system", "fleet", "--period", "2026-Q4", "-o", str(out), "--sign",
        db=fleet, env=keys,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "8 file(s) attached" in r.err  # 7 hosts and their stylesheet
    html = out.read_text()
    order = _hosts_in_order(html)
    assert len(order) == 7
    # worst first: loose hosts (most high failures), mixed ones (fewer), hardened ones (medium
    # at worst), then the host not reached; equal hosts by name
    assert order == [
        "host-0000.fleet.test",
        "host-0003.fleet.test",
        "host-0002.fleet.test",
        HOSTILE,
        "host-0001.fleet.test",
        "host-0004.fleet.test",
        "host-0005.fleet.test",
    ]
    assert "host-0005.fleet.test" in html.split('id="unreached"')[1].split("</table>")[0]
    assert "connection refused" in html
    # the earlier hardened reading of host-0000 is superseded: 7 hosts, 8 assessments read
    assert "7 hosts, each as last read in the period" in html
    assert "8 assessments" not in html and "7 assessments" in html
    # hostile text escaped in the report and in its host file; its file name is safe
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;amp;" in html
    files = sorted((tmp_path / "fleet.files" / "hosts").iterdir())
    assert len(files) == 8 and files[0].name == "00001-host-0000.fleet.test.html"
    hostile_file = next(f for f in files if "script" in f.name)
    assert re.fullmatch(r"\d{5}-[A-Za-z0-9._-]+\.html", hostile_file.name)
    assert "<script" not in hostile_file.read_text().lower()
    assert "container-memory-limited" in files[0].read_text()
    # the signature covers the report and, through its manifest, every host file
    v = run_cli("verify", str(out), env=keys)
    assert v.code == 0, v.out + v.err
    assert "8 shipped file(s) match" in v.out
    files[0].write_text(files[0].read_text().replace("fail", "pass"))
    bad = run_cli("verify", str(out), env=keys)
    assert bad.code != 0
    assert "changed after signing" in bad.out + bad.err


def test_pdf_fleet_report_signed(tmp_path: Path, fleet: str, keys: dict[str, str]) -> None:
    if shutil.which("pdftotext") is None:
        missing("pdftotext (poppler-utils)")
    out = tmp_path / "fleet.pdf"
    r = run_cli(
        "report", "--system", "fleet", "--period", "2026-Q4", "-o", str(out), "--sign",
        "--organisation", "Fleet Org", db=fleet, env=keys,
    )  # fmt: skip
    assert r.code == 0, r.err
    v = run_cli("verify", str(out), env=keys)
    assert v.code == 0, v.out + v.err
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    for heading in (
        "Fleet summary",
        "Hosts, worst first",
        "Controls across the fleet",
        "Appendix A. Assessments covered",
        "Appendix B. Each host's findings",
    ):
        assert heading in text, heading
    assert "host-0005.fleet.test" in text and "unreachable" in text
    # the worst hosts' findings are in the appendix (every host here: fewer than its limit)
    appendix = text[text.index("Appendix B. Each host's findings") :]
    assert "host-0000.fleet.test" in appendix and "container-memory-limited" in appendix
    assert "at most 3 resources per rule" in appendix
    assert 'alert("x")' in text  # the hostile name as written, shown as text


def test_ssh_fleet_names_hosts_from_their_uris(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ssh.db'}"
    make_fleet(url, default_hosts(3, containers=2), bundles=False, system="ssh-fleet")
    out = tmp_path / "ssh.html"
    r = run_cli("report", "--system", "ssh-fleet", "--period", "2026-Q4", "-o", str(out), db=url)
    assert r.code == 0, r.err
    html = out.read_text()
    assert sorted(_hosts_in_order(html)) == [f"host-{i:04d}.fleet.test" for i in range(3)]
    assert "1 assessment (" in html
    trend = run_cli("trend", "--system", "ssh-fleet", "--format", "json", db=url)
    assert trend.code == 0, trend.err
    assert '"hosts": 3' in trend.out


def test_fleet_trend_counts_each_host_once(fleet: str) -> None:
    r = run_cli("trend", "--system", "fleet", "--format", "json", db=fleet)
    assert r.code == 0, r.err
    import json

    doc = json.loads(r.out)
    assert [(p["period"], p["hosts"], len(p["assessments"])) for p in doc["periods"]] == [
        ("2026-Q3", 2, 2),
        ("2026-Q4", 7, 7),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-Q4", "1"], "give no ASSESSMENT"),
        (["--period", "2026-Q4"], "a fleet report needs --system"),
        (["--period", "2026-Q1", "--system", "fleet"], "no finished assessment of system"),
        (["--period", "2026-Q4", "--system", "nope"], "no finished assessment of system"),
    ],
)
def test_fleet_report_usage_errors(
    tmp_path: Path, fleet: str, args: list[str], message: str
) -> None:
    r = run_cli("report", "-o", str(tmp_path / "r.html"), *args, db=fleet)
    assert r.code == 2, r.err
    assert message in r.err
    assert "Traceback" not in r.err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("width", [1280, 800])
def test_fleet_report_in_chromium(tmp_path: Path, fleet: str, browser: Any, width: int) -> None:
    """The report and a host's file load cleanly (no script, nothing fetched but the host
    file's stylesheet beside it, nothing overflowing, every in-page link lands), and a host's
    link opens its file."""
    from tests.e2e import test_report_browser as rb

    out = tmp_path / "fleet.html"
    r = run_cli("report", "--system", "fleet", "--period", "2026-Q4", "-o", str(out), db=fleet)
    assert r.code == 0, r.err
    host_file = sorted((tmp_path / "fleet.files" / "hosts").glob("*.html"))[0]
    for path in (out, host_file):
        page = rb.Loaded(browser, path, width)
        try:
            info = page.page.evaluate(rb.LAYOUT_JS)
            assert page.console == [] and page.errors == [], (page.console, page.errors)
            assert info["scripts"] == 0
            foreign = [u for u in page.requests if not u.startswith(("file:", "data:"))]
            assert foreign == []
            assert info["docScrollWidth"] <= info["innerWidth"], info["wide"]
            for t in info["tables"]:
                assert t["scrollWidth"] <= t["clientWidth"] + 1, t
            assert info["broken"] == [] and info["dups"] == []
            if path == out:
                assert info["h2"][:3] == [
                    "Fleet summary",
                    "Hosts, worst first",
                    "Controls across the fleet",
                ]
                assert page.page.locator("figure.chart svg").count() == 3
                page.page.locator("#host-table a").first.click()
                page.page.wait_for_load_state()
                assert page.page.url.endswith(host_file.name)
                assert "host-0000.fleet.test" in page.page.title()
            else:  # its stylesheet applied: the badge of a failing rule is coloured
                colour = page.page.locator("span.badge.fail").first.evaluate(
                    "e => getComputedStyle(e).backgroundColor"
                )
                assert colour == "rgb(198, 40, 40)"
        finally:
            page.close()
