"""One colour-blind-safe palette for map.png and the QGIS styles of plan.gpkg.

Colours are the eight of Okabe & Ito (2008), "Color Universal Design", distinguishable with the
common forms of colour blindness. Services and coverage states never share a colour: services take
reddish purple, orange, blue, sky blue (and black, then shapes, for more); coverage states take
bluish green (reached), yellow (partly) and vermillion (not reached). Each service also has its own
marker shape, so the map reads in grey print too.
"""

from __future__ import annotations

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Marker (matplotlib code) and colour of the common services.
SERVICE_STYLE = {
    "elderly_care": ("o", OKABE_ITO["reddish_purple"]),
    "childcare": ("^", OKABE_ITO["orange"]),
    "ev_charging": ("s", OKABE_ITO["blue"]),
    "public_toilet": ("D", OKABE_ITO["sky_blue"]),
}
#: Other services, in order: black with further shapes (colours of the coverage states are kept apart).
SPARE_STYLE = [
    ("P", "#000000"),
    ("X", "#000000"),
    ("v", "#000000"),
    ("h", "#000000"),
    ("*", "#000000"),
    ("p", "#000000"),
]
#: Coverage states of demand points.
COVERED = OKABE_ITO["bluish_green"]
PARTLY = OKABE_ITO["yellow"]
UNCOVERED = OKABE_ITO["vermillion"]
#: Background layers drawn from the scenario's own data.
STREET = "#bdbdbd"
BUILDING = "#e0dcd5"
WATER = "#cfe3f2"
GREEN = "#e3eedb"
PLOT_EDGE = "#555555"


def service_styles(services: list[str]) -> dict[str, tuple[str, str]]:
    """Marker and colour per service: fixed for the common four, then from :data:`SPARE_STYLE`, in order."""
    out: dict[str, tuple[str, str]] = {}
    spare = iter(SPARE_STYLE)
    for s in services:
        out[s] = SERVICE_STYLE.get(s) or next(spare, ("o", "#444444"))
    return out


def rgb(hex_colour: str, alpha: int = 255) -> str:
    """``#RRGGBB`` -> ``"r,g,b,a"`` (QGIS colour strings)."""
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


__all__ = [
    "BUILDING",
    "COVERED",
    "GREEN",
    "OKABE_ITO",
    "PARTLY",
    "PLOT_EDGE",
    "SERVICE_STYLE",
    "SPARE_STYLE",
    "STREET",
    "UNCOVERED",
    "WATER",
    "rgb",
    "service_styles",
]
