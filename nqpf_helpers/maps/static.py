"""Static (PNG/print) choropleths with the same colour scale as the interactive ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import MapInputError
from ..validate import format_list
from .colour import NA_COLOUR, ColourScale, _default_center, _default_label, colour_scale
from .interactive import flag_label_for
from .join import _prepare, _Prepared

if TYPE_CHECKING:  # heavy import, only needed when a map is drawn
    import matplotlib.figure

__all__ = ["StaticMapResult", "static_map", "static_small_multiples"]


@dataclass(frozen=True)
class StaticMapResult:
    """A static map figure and what it knows about itself.

    Attributes
    ----------
    figure
        The :class:`matplotlib.figure.Figure` (save it with
        ``result.figure.savefig(...)``, glue it with ``glue(name, result.figure)``).
    unmatched
        Codes that could not be drawn, with the reason (as in
        :func:`nqpf_helpers.maps.join.unmatched_codes`).
    scale
        The :class:`~nqpf_helpers.maps.colour.ColourScale` shared by every panel.
    years
        The years drawn, in order.
    level
        ``"province"``, ``"city"``, ``"county"`` or ``"world"``.
    flagged
        Number of region-years drawn hatched by ``flag=`` (0 without a flag).
    """

    figure: matplotlib.figure.Figure
    unmatched: pd.DataFrame
    scale: ColourScale
    years: tuple
    level: str
    flagged: int = 0

    def __repr__(self) -> str:
        return (
            f"StaticMapResult(level={self.level!r}, years={list(self.years)!r}, "
            f"unmatched={len(self.unmatched)}, scale={self.scale.vmin:.3g}..{self.scale.vmax:.3g})"
        )

# Equal-area projections: China Albers, and Equal Earth for the world.
_PROJECTIONS = {
    "china": "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m +no_defs",
    "world": "+proj=eqearth +lon_0=0 +datum=WGS84 +units=m +no_defs",
}


_FLAG_HATCH = "#f0a500"


def _static_prepare(df, *, value, unit, time, level, simplify, center, cmap, limits, flag=None):
    prep = _prepare(df, value=value, unit=unit, time=time, level=level, simplify=simplify, flag=flag)
    scale = colour_scale(
        prep.wide.to_numpy(dtype=float).ravel(), center=_default_center(value, center), cmap=cmap, limits=limits
    )
    features = prep.features
    if prep.level == "world":
        # PROJ wraps longitude +180 to -180, so a polygon touching the antimeridian (Fiji, Chukotka)
        # would be drawn as a band across the whole map; pull such vertices just inside it.
        import shapely

        features = features.set_geometry(
            shapely.transform(
                features.geometry.array,
                lambda xy: np.column_stack([np.clip(xy[:, 0], -179.9999, 179.9999), xy[:, 1]]),
            )
        )
    projected = features.to_crs(_PROJECTIONS["world" if prep.level == "world" else "china"])
    return prep, scale, projected


def _draw(ax, prep: _Prepared, scale: ColourScale, projected, year) -> None:
    column = year if year in prep.wide.columns else None
    if column is None:
        raise MapInputError(f"year {year!r} is not in the data; available: {format_list(prep.years)}.")
    vals = prep.wide[column].reindex(projected["key"]).to_numpy(dtype=float)
    colours = [c or NA_COLOUR for c in scale.colours(vals)]
    projected.plot(ax=ax, color=colours, edgecolor="#555555", linewidth=0.1 if prep.level == "county" else 0.3)
    if prep.flags is not None:
        marked = prep.flags[column].reindex(projected["key"]).fillna(False).to_numpy(dtype=bool)
        if marked.any():
            # Amber hatching inside a black outline: one of the two shows on any fill colour.
            projected[marked].plot(ax=ax, facecolor="none", edgecolor=_FLAG_HATCH, hatch="////", linewidth=0)
            projected[marked].plot(ax=ax, facecolor="none", edgecolor="black",
                                   linewidth=0.3 if prep.level == "county" else 0.8)
    ax.set_axis_off()
    ax.set_aspect("equal")


def _flag_legend(fig, prep: _Prepared, years: Sequence[object], flag_label: str | None) -> int:
    """Legend entry for the hatching, with the number of flagged region-years drawn; returns that number."""
    if prep.flags is None:
        return 0
    from matplotlib.patches import Patch

    n = int(prep.flags[list(years)].to_numpy().sum())
    handle = Patch(facecolor="none", edgecolor=_FLAG_HATCH, hatch="////", label=f"{flag_label} ({n})")
    fig.legend(handles=[handle], loc="lower left", fontsize=8, frameon=False)
    return n


def _colourbar(fig, axes, scale: ColourScale, label: str) -> None:
    from matplotlib.cm import ScalarMappable

    extend = {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[
        (scale.clipped_low, scale.clipped_high)
    ]
    sm = ScalarMappable(norm=scale.norm, cmap=scale.colormap)
    bar = fig.colorbar(sm, ax=axes, orientation="horizontal", fraction=0.04, pad=0.02, extend=extend, shrink=0.6)
    bar.set_label(label)
    ticks = [v for _, v in scale.ticks()]
    bar.set_ticks(ticks)
    bar.set_ticklabels([f"{v:.3g}" for v in ticks])  # as in the interactive legend


def static_map(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    unit: str = "region_code",
    year: object | None = None,
    time: str | None = "year",
    level: str | None = None,
    ax=None,
    label: str | None = None,
    simplify: float | None | str = "default",
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
    colourbar: bool = True,
    flag: str | None = None,
    flag_label: str | None = None,
) -> StaticMapResult:
    """Static (PNG/print) version of a choropleth, with the same colour scale.

    Parameters
    ----------
    df, value, time, label, simplify, cmap, center, limits
        As in :func:`~nqpf_helpers.maps.interactive.china_choropleth`; the colour scale is computed from all
        years of ``df``, exactly as in the interactive map.
    unit
        Code column; for ``level="world"`` the ISO3 column (e.g. ``"iso3"``).
    year
        The year to draw, a value of the ``time`` column (default: the last).
    level
        ``"province"``, ``"city"``, ``"county"``, ``"world"``, or None to infer
        a Chinese level from the codes.
    ax
        Matplotlib axes to draw into; a new figure is made if None.
    colourbar
        Add a horizontal colour bar.
    flag, flag_label
        Optional boolean column of region-years to hatch (with a black
        outline and a legend entry giving their number), e.g. ``"at_frontier"``
        from :func:`nqpf_helpers.quality.at_frontier`; as in :func:`~nqpf_helpers.maps.interactive.china_choropleth`.

    Returns
    -------
    StaticMapResult
        ``figure``: the map (China in an Albers projection, the world in
        Equal Earth); every boundary of the level is one polygon, grey where
        there is no value.  ``unmatched`` lists the codes that could not be
        drawn.
    """
    import matplotlib.pyplot as plt

    prep, scale, projected = _static_prepare(
        df, value=value, unit=unit, time=time, level=level, simplify=simplify, center=center, cmap=cmap, limits=limits,
        flag=flag,
    )
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 6) if prep.level != "world" else (10, 5.5))
    else:
        fig = ax.figure
    year = prep.years[-1] if year is None else year
    _draw(ax, prep, scale, projected, year)
    if time is not None:
        ax.set_title(str(year))
    if colourbar:
        _colourbar(fig, ax, scale, _default_label(value, label))
    n_flagged = _flag_legend(fig, prep, [year], flag_label_for(flag, flag_label))
    return StaticMapResult(
        figure=fig, unmatched=prep.unmatched, scale=scale, years=(year,), level=prep.level, flagged=n_flagged
    )


def static_small_multiples(
    df: pd.DataFrame,
    years: Sequence[object],
    *,
    value: str = "nqpf",
    unit: str = "region_code",
    time: str = "year",
    level: str | None = None,
    ncols: int | None = None,
    label: str | None = None,
    simplify: float | None | str = "default",
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
    flag: str | None = None,
    flag_label: str | None = None,
) -> StaticMapResult:
    """One static map per year on a grid, sharing one colour scale and colour bar.

    Parameters
    ----------
    years
        Years to draw, in order (each must be in ``df``).
    ncols
        Columns of the grid (default: up to 3).
    df, value, unit, time, level, label, simplify, cmap, center, limits, flag, flag_label
        As in :func:`static_map`.

    Returns
    -------
    StaticMapResult
        ``figure`` has ``len(years)`` map axes (titled by year) plus a colour
        bar axes.
    """
    import matplotlib.pyplot as plt

    years = list(years)
    if not years:
        raise MapInputError("years is empty; pass the years to draw, e.g. years=[2010, 2015, 2021].")
    prep, scale, projected = _static_prepare(
        df, value=value, unit=unit, time=time, level=level, simplify=simplify, center=center, cmap=cmap, limits=limits,
        flag=flag,
    )
    missing = [y for y in years if y not in prep.wide.columns]
    if missing:
        raise MapInputError(f"year(s) {format_list(missing)} not in the data; available: {format_list(prep.years)}.")
    ncols = ncols or min(3, len(years))
    nrows = -(-len(years) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows + 0.8), squeeze=False)
    used = []
    for ax, year in zip(axes.ravel(), years):
        _draw(ax, prep, scale, projected, year)
        ax.set_title(str(year))
        used.append(ax)
    for ax in axes.ravel()[len(years):]:
        fig.delaxes(ax)
    _colourbar(fig, used, scale, _default_label(value, label))
    n_flagged = _flag_legend(fig, prep, years, flag_label_for(flag, flag_label))
    return StaticMapResult(
        figure=fig, unmatched=prep.unmatched, scale=scale, years=tuple(years), level=prep.level, flagged=n_flagged
    )
