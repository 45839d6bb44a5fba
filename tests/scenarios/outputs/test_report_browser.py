"""report.html in a real browser: headless Chromium (Debian's ``chromium``), with the network blocked.

The Helsinki example is run once; its report is rendered in English and in Chinese. For each, a
copy of the page gets a small probe script appended (it only reads the layout after the load event
and writes it, as JSON, into a hidden ``<pre>``), and Chromium is run twice on that copy with the
same window width, so both runs lay the page out identically:

1. ``--dump-dom``: the probe's JSON gives the map image's natural size and box, the plan table's
   rows and box, the page height, the resource-timing entries (every fetch the page made), and the
   box of each character of the ``<h1>`` heading and of a *tofu control* (see below);
2. ``--screenshot`` with a window as tall as the page: the pixels.

Network: every request goes to a dead proxy (``--proxy-server=127.0.0.1:9`` with
``--proxy-bypass-list=<-loopback>`` so that not even loopback bypasses it), host names resolve to
nothing (``--host-resolver-rules``), and background networking, component updates, sync and QUIC are
off; a fresh profile folder is used per run. The page must render all the same, and it must have
fetched nothing over http(s).

Rendered, not blank: the screenshot's grey levels vary (standard deviation) and it has many colours;
the map's box in the screenshot has the map's colours (a broken image is a small grey icon); the
plan table has as many rows as plan.csv and ink in its box.

Chinese renders as glyphs, not boxes. A character with no glyph in any font is drawn as the font's
``.notdef`` glyph (a box, "tofu"), and that glyph is the same for every missing character. So: (a)
each of the eight characters 一刻钟社区生活圈 of the heading has ink; (b) their bitmaps are pairwise
different (eight tofu would be eight copies of one box); (c) each differs from the tofu control: the
heading element cloned, with three unassigned code points (U+0378, U+0379, U+0380, which no font
has) as its text, placed below the page, rendered in the same font, size and weight. (d) The method
is checked on itself: the three control glyphs are near-identical to each other, which is what
tofu looks like. Bitmaps are thresholded at grey 170 and compared as the fraction of pixels that
differ over a common box. Measured here: heading characters differ from each other and from tofu
in at least ~21 % of their pixels; the tofu differ from each other in 0 %. The thresholds are 8 % and 2 %.
And the check can fail: with a fontconfig offering DejaVu only (no CJK font), the same page draws
the heading as boxes and the measures drop to 0 (last test).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from paths import REPO

from siting.scenarios.outputs import rerender
from siting.scenarios.pipeline.run import run_scenario

ROOT = REPO
HELSINKI = ROOT / "scenarios" / "examples" / "helsinki" / "scenario.yaml"
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium fonts-noto-cjk; .ci/run does)"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
WIDTH = 1280
HEADING = "一刻钟社区生活圈"
TOFU = "\u0378\u0379\u0380"  # unassigned code points: no font has a glyph for them

PROBE = """
<pre id="siting-probe" style="display:none"></pre>
<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; };
  const chars = (el) => {
    const out = [];
    const node = el.firstChild;
    if (!node || node.nodeType !== 3) return out;
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      const r = range.getBoundingClientRect();
      out.push([node.data[i], r.left + scrollX, r.top + scrollY, r.width, r.height]);
    }
    return out;
  };
  const h1 = document.querySelector("h1");
  const control = h1.cloneNode(false);
  control.id = "tofu-control";
  control.textContent = "TOFU_TEXT";
  // below the content (not below the viewport: the two runs have different window heights)
  const main = document.querySelector("main") || document.body;
  const bottom = main.getBoundingClientRect().bottom + scrollY;
  control.style.cssText = "position:absolute; left:40px; top:" + Math.ceil(bottom + 20) + "px; margin:0";
  document.body.appendChild(control);
  const img = document.querySelector("img#plan-map");
  const table = document.querySelector("table#plan-table");
  const probe = {
    img: img ? {complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, box: box(img)} : null,
    tableRows: table ? table.tBodies[0].rows.length : -1,
    tableBox: table ? box(table) : null,
    heading: chars(h1),
    tofu: chars(control),
    height: Math.ceil(control.getBoundingClientRect().bottom + scrollY),
    resources: performance.getEntriesByType("resource").map((e) => e.name),
    lang: document.documentElement.lang,
  };
  document.getElementById("siting-probe").textContent = JSON.stringify(probe);
});
</script>
"""


def _chromium(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="siting-chromium-") as profile:
        cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _render(report: Path, work: Path) -> tuple[dict[str, Any], np.ndarray]:
    """The probe's findings and the screenshot (H, W, 3 uint8) of ``report``."""
    from PIL import Image

    text = report.read_text(encoding="utf-8")
    probe_html = work / "probe.html"
    probe_html.write_text(text.replace("</body>", PROBE.replace("TOFU_TEXT", TOFU) + "</body>"), encoding="utf-8")
    url = probe_html.resolve().as_uri()
    dump = _chromium([f"--window-size={WIDTH},2000", "--dump-dom"], url)
    found = re.search(r'<pre id="siting-probe"[^>]*>(.*?)</pre>', dump.stdout, flags=re.DOTALL)
    assert found and found.group(1), f"the probe did not run: {dump.stderr[-2000:]}"
    probe = json.loads(html.unescape(found.group(1)))
    height = min(int(probe["height"]) + 200, 16000)
    shot = work / "shot.png"
    run = _chromium([f"--window-size={WIDTH},{height}", f"--screenshot={shot}"], url)
    assert shot.is_file(), f"no screenshot: {run.stderr[-2000:]}"
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    return probe, pixels


def _crop(pixels: np.ndarray, box: list[float]) -> np.ndarray:
    x, y, w, h = (round(float(v)) for v in box[:4])
    return pixels[max(y, 0) : y + h, max(x, 0) : x + w]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("browser")
    en = run_scenario(HELSINKI, out=base / "en", lang="en").out_dir
    zh = base / "zh"
    shutil.copytree(en, zh)
    rerender(zh, lang="zh")
    return {"en": en, "zh": zh}


def _common_checks(out: Path, probe: dict[str, Any], pixels: np.ndarray) -> None:
    from PIL import Image

    # nothing was fetched over the network (the page's only image is a data: URI)
    assert not [r for r in probe["resources"] if re.match(r"(?i)(https?|wss?|ftp):", r)], probe["resources"]
    # not blank
    grey = pixels.mean(axis=2)
    assert pixels.shape[0] >= probe["height"] - 5 and pixels.shape[1] == WIDTH
    assert grey.std() > 20.0
    assert len(np.unique(pixels.reshape(-1, 3)[::7], axis=0)) > 200
    # the map: decoded at its full size, shown large, painted with the map's colours
    img = probe["img"]
    with Image.open(out / "map.png") as im:
        size = im.size
    assert img is not None and img["complete"] and (img["naturalWidth"], img["naturalHeight"]) == size
    assert img["box"][2] > 600 and img["box"][3] > 600
    region = _crop(pixels, img["box"])
    assert region.shape[0] > 600 and region.shape[1] > 600
    assert region.std() > 15.0
    assert len(np.unique(region.reshape(-1, 3)[::5], axis=0)) > 100
    # the plan table: every plan.csv row, with text (dark pixels) in its box
    plan = pd.read_csv(out / "plan.csv")
    assert probe["tableRows"] == len(plan) > 0
    table = _crop(pixels, probe["tableBox"])
    assert table.shape[0] > 20 * len(plan) and table.shape[1] > 600
    ink = table.mean(axis=2) < 100
    assert ink.mean() > 0.01
    lines = ink.sum(axis=1) > 0  # pixel rows with text (the light grey borders are not ink)
    bands = int(lines[0]) + int((lines[1:] & ~lines[:-1]).sum())
    assert bands >= len(plan) + 1  # at least one line of text in the header and in every row


def _ink(pixels: np.ndarray, rect: list[Any], shape: tuple[int, int]) -> np.ndarray:
    """The character's box, thresholded (True = ink), on a common box of ``shape``."""
    glyph = _crop(pixels, rect[1:5]).mean(axis=2) < 170
    out = np.zeros(shape, dtype=bool)
    h, w = min(shape[0], glyph.shape[0]), min(shape[1], glyph.shape[1])
    out[:h, :w] = glyph[:h, :w]
    return out


def _differ(a: np.ndarray, b: np.ndarray) -> float:
    return float((a != b).mean())


def test_english_report_renders_offline(reports: dict[str, Path], tmp_path: Path) -> None:
    probe, pixels = _render(reports["en"] / "report.html", tmp_path)
    assert probe["lang"] == "en"
    _common_checks(reports["en"], probe, pixels)


def _glyph_measures(probe: dict[str, Any], pixels: np.ndarray) -> dict[str, Any]:
    """Ink of each heading character and of each tofu control, the smallest difference between two
    heading characters, between a heading character and a tofu, and the largest between two tofu."""
    heading = [c for c in probe["heading"] if c[0] in HEADING]
    assert "".join(c[0] for c in heading) == HEADING
    tofu = probe["tofu"]
    assert len(tofu) == len(TOFU)
    shape = (int(max(c[4] for c in heading + tofu)) + 1, int(max(c[3] for c in heading + tofu)) + 1)
    glyphs = [_ink(pixels, c, shape) for c in heading]
    boxes = [_ink(pixels, c, shape) for c in tofu]
    return {
        "ink": [float(g.mean()) for g in glyphs],
        "tofu_ink": [float(b.mean()) for b in boxes],
        "pairs": min(_differ(glyphs[i], glyphs[j]) for i in range(len(glyphs)) for j in range(i + 1, len(glyphs))),
        "vs_tofu": min(_differ(g, b) for g in glyphs for b in boxes),
        "tofu_spread": max(_differ(boxes[0], b) for b in boxes[1:]),
    }


def _system_cjk_font() -> bool:
    """Whether fontconfig (which Chromium uses) offers a font with Chinese glyphs."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=60, check=False)
    return bool(found.stdout.strip())


def test_chinese_report_renders_glyphs_not_boxes(reports: dict[str, Path], tmp_path: Path) -> None:
    if not _system_cjk_font():
        pytest.skip(
            "no system CJK font for Chromium (apt-get install fonts-noto-cjk; .ci/run does): report.html names "
            "the fonts officials' machines have and embeds none, so a browser without one draws boxes"
        )
    probe, pixels = _render(reports["zh"] / "report.html", tmp_path)
    assert probe["lang"] == "zh-CN"
    _common_checks(reports["zh"], probe, pixels)
    m = _glyph_measures(probe, pixels)
    # (d) the control: missing glyphs have ink (a box) and all look the same
    assert min(m["tofu_ink"]) > 0.02 and m["tofu_spread"] < 0.02
    # (a) ink in every character of the heading
    assert min(m["ink"]) > 0.03, m["ink"]
    # (b) eight different characters, eight different shapes (measured: about 0.21 apart at least)
    assert m["pairs"] > 0.08, m
    # (c) none of them is the missing-glyph box (measured: about 0.21 from it at least)
    assert m["vs_tofu"] > 0.08, m


DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@pytest.mark.skipif(not DEJAVU.is_dir(), reason="needs the DejaVu fonts (fonts-dejavu-core) for the no-CJK control")
def test_glyph_check_catches_boxes_when_no_cjk_font(
    reports: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: with a fontconfig that offers DejaVu only (no CJK font), Chromium
    draws the heading as boxes, and the measures say so (every difference is about 0)."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>'
        f"<dir>{DEJAVU}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    probe, pixels = _render(reports["zh"] / "report.html", tmp_path)
    m = _glyph_measures(probe, pixels)
    assert m["pairs"] < 0.02 and m["vs_tofu"] < 0.02, m
