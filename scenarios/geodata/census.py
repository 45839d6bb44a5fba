"""Demand groups as census shares of residents, for scenarios made from building footprints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from siting.models.errors import DataError

#: Demand groups as shares of residents (age structure), written as columns of demand.gpkg. Defaults:
#: China's 7th national census (2020): 18.70 % aged 60 and over; children under 3 about three birth
#: cohorts of about 12-15 million against 1,412 million people (about 3 %); EV households one per
#: 2.62 persons (the census' average family household) x an illustrative 6 % of households with an
#: electric car. Replace them with your district's census shares (``--share NAME=VALUE``).
CENSUS_SHARES: dict[str, float] = {
    "elderly_60plus": 0.187,
    "infants_0_3": 0.03,
    "ev_households": round(0.06 / 2.62, 4),
}


def check_shares(shares: Mapping[str, float], reserved: Sequence[str] = ()) -> dict[str, float]:
    """Demand-group shares checked: names usable as columns (not one of ``reserved``), each share in [0, 1]."""
    out: dict[str, float] = {}
    for name, value in shares.items():
        key = str(name)
        if not key.isidentifier() or key in reserved:
            raise DataError(
                f"share {key!r}: a demand group name must be a plain name (letters, digits, _) other than "
                f"{', '.join(reserved)}, e.g. elderly_60plus=0.187"
            )
        try:
            share = float(value)
        except (TypeError, ValueError):
            share = float("nan")
        if not (0.0 <= share <= 1.0):
            raise DataError(f"share {key}={value!r} must be a number from 0 to 1 (a share of residents), e.g. 0.187")
        out[key] = share
    return out


__all__ = ["CENSUS_SHARES", "check_shares"]
