"""Fonts for the maps: the bundled Noto Sans SC first, so Chinese labels draw the same on every machine.

matplotlib has no CJK glyphs of its own; a machine may have no system font at all. The
``pylopdf-fonts-zh-cn`` dependency ships Noto Sans SC, registered in memory (never in matplotlib's
cache); system CJK fonts are the fallback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CJK_FONTS", "bundled_cjk_font", "find_cjk_font", "register_font"]

#: CJK fonts to look for, in order.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
)


def bundled_cjk_font() -> Path | None:
    """The Noto Sans SC file shipped by the ``pylopdf-fonts-zh-cn`` dependency, or None when it is absent."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    sans_path = getattr(pylopdf_fonts_zh_cn, "sans_path", None)
    if sans_path is not None:
        path = Path(sans_path())
        return path if path.is_file() else None
    # a later release without sans_path(): the file itself, beside the package
    return next(iter(sorted(Path(pylopdf_fonts_zh_cn.__file__).parent.glob("NotoSansSC*.otf"))), None)


def register_font(path: str | Path) -> str | None:
    """Add a font file to matplotlib's font manager (once per process) and return its family name.

    None when matplotlib cannot read the file. Registration lives in memory only: nothing is written
    to matplotlib's font cache, so a later change of the dependency cannot leave a stale entry.
    """
    from matplotlib import font_manager as fm

    fname = str(path)
    known = next((f.name for f in fm.fontManager.ttflist if f.fname == fname), None)
    if known is not None:
        return known
    try:
        fm.fontManager.addfont(fname)
    except (OSError, RuntimeError, ValueError):
        return None
    return next((f.name for f in fm.fontManager.ttflist if f.fname == fname), None)


def find_cjk_font() -> str | None:
    """The family name of a CJK font matplotlib can use, or None.

    The bundled Noto Sans SC first (the same map on every machine); else matplotlib's font list;
    when its cache predates the fonts (installed later), the system's ``*CJK*`` / ``*SC*`` font
    files are added to the font manager and the list is looked at again.
    """
    from matplotlib import font_manager as fm

    bundled = bundled_cjk_font()
    if bundled is not None:
        name = register_font(bundled)
        if name is not None:
            return name

    def lookup() -> str | None:
        names = {f.name for f in fm.fontManager.ttflist}
        return next((n for n in CJK_FONTS if n in names), None)

    found = lookup()
    if found is not None:
        return found
    for path in fm.findSystemFonts():
        low = path.lower()
        if "cjk" in low or "wqy" in low or "sourcehansans" in low or "notosanssc" in low:
            try:
                fm.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return lookup()
