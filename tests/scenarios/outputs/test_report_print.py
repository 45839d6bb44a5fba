"""report.html printed to A4 and used as an interactive map, in headless Chromium with the network off.

Printing: Chromium prints the Wuhai report (Chinese and English) to PDF; every page must be A4
(portrait, or landscape for the ranked plan), and the plan's last column must be printed whole:
the text of that column (the reason of every row) is read back from the PDF by the position of each
glyph (pypdf), in the band right of the column's header, and the last row's reason is in it; the
header is repeated on every page of the plan, and no glyph lies outside the page. Before the print
stylesheet the table was cut after "cumulative cost" (a scroll box), so this failed.

Interactive map: the page is opened with a probe script that clicks the last chosen site and the
zoom button; the network log (``--log-net-log``) and the page's resource timing list every request
made, and both must hold none over http(s) or ws(s). Skipped without chromium (or pypdf for the PDF).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from paths import REPO

from siting.scenarios.outputs import i18n, rerender
from siting.scenarios.pipeline.run import run_scenario

ROOT = REPO
WUHAI = ROOT / "scenarios" / "examples" / "wuhai" / "scenario.yaml"
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
]  # fmt: skip
A4 = (595.3, 841.9)  # points


def _chromium(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="siting-chromium-") as profile:
        cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("print")
    zh = run_scenario(WUHAI, out=base / "zh").out_dir  # output.lang: zh
    en = base / "en"
    shutil.copytree(zh, en)
    rerender(en, lang="en")
    return {"zh": zh, "en": en}


def _norm(text: str) -> str:
    # PDF text of CJK glyphs may come back as compatibility forms (Kangxi radicals): NFKC folds them
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _printed(expected: str, text: str) -> bool:
    """Whether ``expected`` is in ``text`` (both normalised); a Chinese character may come back from the
    PDF as its CJK radical form (U+2E80-U+2EFF: 民 as ⺠, 车 as ⻋), which NFKC does not fold."""
    radical = "[\u2e80-\u2eff]"
    pattern = "".join(f"(?:{re.escape(c)}|{radical})" if "\u4e00" <= c <= "\u9fff" else re.escape(c) for c in expected)
    return re.search(pattern, text) is not None


def _glyphs(page: Any) -> list[tuple[float, float, str]]:
    """(x, y, text) of every text run on a PDF page, in page points."""
    found: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((x, y, text))

    page.extract_text(visitor_text=visit)
    return found


def _header_x(glyphs: list[tuple[float, float, str]], header: str) -> tuple[float, float] | None:
    """Position of the first glyph of ``header`` when its glyphs follow each other on one line."""
    target = _norm(header)
    for k in range(len(glyphs)):
        text, j = "", k
        while j < len(glyphs) and len(text) < len(target) and abs(glyphs[j][1] - glyphs[k][1]) < 1.0:
            text += _norm(glyphs[j][2])
            j += 1
        if text.startswith(target):
            return glyphs[k][0], glyphs[k][1]
    return None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_prints_to_a4_with_the_last_column_whole(reports: dict[str, Path], lang: str, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    out = reports[lang]
    pdf = tmp_path / "report.pdf"
    run = _chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}"], (out / "report.html").resolve().as_uri())
    assert pdf.is_file() and pdf.stat().st_size > 10_000, run.stderr[-2000:]
    reader = pypdf.PdfReader(str(pdf))
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    for w, h in sizes:  # A4, portrait or landscape
        assert sorted((round(w), round(h))) == [round(A4[0]), round(A4[1])], sizes
    plan = pd.read_csv(out / "plan.csv", encoding="utf-8-sig", dtype=str)
    reason_col = "reason_zh" if lang == "zh" else "reason"
    header = i18n.column_name(lang, "reason")  # the table's last column
    column_text, plan_pages = "", 0
    for page, (w, h) in zip(reader.pages, sizes):
        glyphs = _glyphs(page)
        assert all(-1 <= x <= w + 1 and -1 <= y <= h + 1 for x, y, _ in glyphs), "a glyph lies outside the page"
        at = _header_x(glyphs, header)
        if at is None or w < h:  # the ranked plan is printed on landscape pages
            continue
        plan_pages += 1
        x0, y0 = at
        band = sorted(
            (g for g in glyphs if g[0] >= x0 - 0.5 and g[1] < y0 - 1.0), key=lambda g: (-round(g[1], 0), g[0])
        )
        column_text += "".join(g[2] for g in band)
    assert plan_pages >= 1, "the ranked plan is not on a landscape page with its header"
    text = _norm(column_text)
    last = _norm(str(plan[reason_col].iloc[-1]))
    assert _printed(last, text), (last, text[-400:])
    found = sum(_printed(_norm(str(r)), text) for r in plan[reason_col])
    assert found == len(plan), f"{found} of {len(plan)} reasons printed whole"


PROBE = """
<pre id="siting-probe" style="display:none"></pre>
<script>
window.addEventListener("load", () => {
  const svg = document.querySelector("#imap svg");
  const sites = svg ? svg.querySelectorAll(".site") : [];
  const before = svg ? svg.getAttribute("viewBox") : null;
  const last = sites.length ? sites[sites.length - 1] : null;
  if (last) last.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  const zoom = document.querySelector('#imap button[data-zoom="0.8"]');
  if (zoom) zoom.click();
  const info = document.getElementById("imap-info");
  const probe = {
    sites: sites.length,
    clicked: last ? last.getAttribute("data-site") : null,
    infoHidden: info ? info.hidden : null,
    infoRows: info ? Array.from(info.querySelectorAll("tbody tr")).map((tr) => Array.from(tr.cells).map((c) => c.textContent)) : [],
    viewBoxBefore: before,
    viewBoxAfter: svg ? svg.getAttribute("viewBox") : null,
    resources: performance.getEntriesByType("resource").map((e) => e.name),
  };
  document.getElementById("siting-probe").textContent = JSON.stringify(probe);
});
</script>
"""


def test_interactive_map_works_offline_with_no_request(reports: dict[str, Path], tmp_path: Path) -> None:
    out = reports["zh"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    probe_html = tmp_path / "probe.html"
    probe_html.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    netlog = tmp_path / "net.json"
    dump = _chromium(["--window-size=1280,2000", f"--log-net-log={netlog}", "--dump-dom"], probe_html.as_uri())
    found = re.search(r'<pre id="siting-probe"[^>]*>(.*?)</pre>', dump.stdout, flags=re.DOTALL)
    assert found and found.group(1), f"the probe did not run: {dump.stderr[-2000:]}"
    probe = json.loads(html.unescape(found.group(1)))
    plan = pd.read_csv(out / "plan.csv", encoding="utf-8-sig", dtype=str)
    assert probe["sites"] == len(plan)
    # the click shows the site's rows of the plan, with the Chinese reason
    site = probe["clicked"]
    rows = plan[plan["site_id"] == site]
    assert probe["infoHidden"] is False and len(probe["infoRows"]) == len(rows), probe
    assert {r[-1] for r in probe["infoRows"]} == set(rows["reason_zh"])
    assert {r[0] for r in probe["infoRows"]} == set(rows["rank"])
    # the zoom button narrows the view box
    w_before = float(probe["viewBoxBefore"].split()[2])
    w_after = float(probe["viewBoxAfter"].split()[2])
    assert w_after == pytest.approx(0.8 * w_before, rel=1e-6)
    # no request: neither in the page's resource timing nor in Chromium's network log
    web = re.compile(r"(?i)^(https?|wss?|ftp):")
    assert [r for r in probe["resources"] if web.match(r)] == []
    assert netlog.is_file(), dump.stderr[-2000:]
    assert _page_requests(netlog) == []


def _page_requests(netlog: Path) -> list[str]:
    """URLs over the network that a page asked for, from Chromium's network log.

    Each request starts with a ``URL_REQUEST_START_JOB`` event carrying its URL and initiator; the
    browser's own background requests (time, component updates) have the initiator ``not an origin``
    and are not the page's.
    """
    text = netlog.read_text(encoding="utf-8", errors="replace")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # the browser may exit before closing the JSON array
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    web = re.compile(r"(?i)^(https?|wss?|ftp):")
    return sorted(
        ev["params"]["url"]
        for ev in log["events"]
        if ev.get("type") == start
        and web.match(str((ev.get("params") or {}).get("url", "")))
        and ev["params"].get("initiator") != "not an origin"
    )


def test_request_count_sees_a_page_request(tmp_path: Path) -> None:
    """The count can fail: a page with one web image is seen asking for it (the proxy refuses it)."""
    page = tmp_path / "control.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://example.invalid/x.png"></body></html>', encoding="utf-8"
    )
    netlog = tmp_path / "net.json"
    dump = _chromium(["--window-size=800,600", f"--log-net-log={netlog}", "--dump-dom"], page.as_uri())
    assert netlog.is_file(), dump.stderr[-2000:]
    assert _page_requests(netlog) == ["http://example.invalid/x.png"]
