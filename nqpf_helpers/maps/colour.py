"""The colour scale shared by the interactive and the static maps.

One scale for all years of a map (so colours compare over time), diverging
and centred on 1 for NQPF, where above or below 1 is the point.  The scale's
ends are robust quantiles of the data (the published city and county NQPF
include negative and extreme values), and the legend says when values beyond
the ends are clipped.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import MapInputError

__all__ = ["NA_COLOUR", "ColourScale", "colour_scale"]

#: Fill colour of regions without a value.
NA_COLOUR = "#d9d9d9"


@dataclass(frozen=True)
class ColourScale:
    """A colour scale shared by the interactive and static version of a map.

    Attributes
    ----------
    vmin, vmax
        Ends of the scale; values beyond them get the end colours.
    center
        Value at the middle of a diverging scale, or None for a sequential one.
    cmap
        Matplotlib colormap name.
    clipped_low, clipped_high
        Whether some values lie below ``vmin`` / above ``vmax``.
    """

    vmin: float
    vmax: float
    center: float | None
    cmap: str
    clipped_low: bool = False
    clipped_high: bool = False

    @property
    def norm(self):
        """The matplotlib normalisation (``TwoSlopeNorm`` when centred)."""
        from matplotlib.colors import Normalize, TwoSlopeNorm

        if self.center is not None:
            return TwoSlopeNorm(vcenter=self.center, vmin=self.vmin, vmax=self.vmax)
        return Normalize(vmin=self.vmin, vmax=self.vmax)

    @property
    def colormap(self):
        """The matplotlib colormap."""
        import matplotlib

        return matplotlib.colormaps[self.cmap]

    def colours(self, values: Sequence[float] | np.ndarray) -> list[str | None]:
        """Hex colour per value (None for NaN), clipped to the scale's ends."""
        values = np.asarray(values, dtype=float)
        out: list[str | None] = [None] * values.size
        finite = np.isfinite(values)
        if finite.any():
            clipped = np.clip(values[finite], self.vmin, self.vmax)
            rgba = self.colormap(np.clip(self.norm(clipped), 0.0, 1.0))
            rgb = np.rint(np.asarray(rgba)[:, :3] * 255).astype(int)
            hexes = ["#{:02x}{:02x}{:02x}".format(*row) for row in rgb]
            for i, h in zip(np.flatnonzero(finite), hexes):
                out[i] = h
        return out

    def ticks(self, n: int = 5) -> list[tuple[float, float]]:
        """``n`` (position in [0, 1], value) pairs evenly spaced along the colour bar."""
        positions = np.linspace(0.0, 1.0, n)
        values = np.asarray(self.norm.inverse(positions), dtype=float)
        return [(float(p), float(v)) for p, v in zip(positions, values)]

    def legend_html(self, label: str, *, note: str = "") -> str:
        """A self-contained legend: title, inline-SVG colour bar, ticks, no-data swatch."""
        width, left = 200, 22
        stops = "".join(
            f'<stop offset="{t:.3f}" stop-color="{_hex(self.colormap(t))}"/>' for t in np.linspace(0, 1, 21)
        )
        ticks = []
        for k, (pos, val) in enumerate(self.ticks()):
            text = f"{val:.3g}"
            if k == 0 and self.clipped_low:
                text = "≤" + text
            if k == 4 and self.clipped_high:
                text = "≥" + text
            x = left + pos * width
            ticks.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="14" y2="18" stroke="#333"/>'
                f'<text x="{x:.1f}" y="30" text-anchor="middle" font-size="11">{html.escape(text)}</text>'
            )
        # Deterministic id (no salted hash), unique enough for several legends on a page.
        gid = "nqpf-grad-" + hashlib.sha1(repr((self, label)).encode()).hexdigest()[:10]
        svg = (
            f'<svg width="{width + 2 * left}" height="34" role="img" aria-label="{html.escape(label)} colour scale">'
            f'<defs><linearGradient id="{gid}">{stops}</linearGradient></defs>'
            f'<rect x="{left}" y="2" width="{width}" height="12" fill="url(#{gid})" stroke="#999" stroke-width="0.5"/>'
            + "".join(ticks)
            + "</svg>"
        )
        na = (
            f'<span style="display:inline-block;width:12px;height:10px;background:{NA_COLOUR};'
            'border:1px solid #999;margin-right:4px;vertical-align:middle"></span>no data'
        )
        note_html = (
            f'<div style="color:#666;font-size:10px;margin-top:2px;max-width:{width + 2 * left}px">'
            f"{html.escape(note)}</div>"
            if note
            else ""
        )
        return (
            '<div class="nqpf-legend" style="background:rgba(255,255,255,0.9);padding:6px 8px;'
            'border-radius:4px;font:12px/1.3 sans-serif;box-shadow:0 0 4px rgba(0,0,0,0.3)">'
            f"<div style=\"font-weight:bold\">{html.escape(label)}</div>{svg}<div>{na}</div>{note_html}</div>"
        )


def _hex(rgba) -> str:
    r, g, b = (int(round(c * 255)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def colour_scale(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    center: float | None = None,
    cmap: str | None = None,
    limits: tuple[float, float] | None = None,
    quantile: float = 0.02,
) -> ColourScale:
    """The colour scale the maps use for a set of values.

    Parameters
    ----------
    values
        All values the map will show (every year), NaN ignored.
    center
        Middle of a diverging scale (1 for NQPF), or None for a sequential scale.
    cmap
        Matplotlib colormap name; default ``"RdBu"`` when centred (red below,
        blue above the centre), ``"viridis"`` otherwise.
    limits
        Explicit (vmin, vmax).  By default the ``quantile`` and ``1 - quantile``
        quantiles, so that a handful of extreme values do not wash out the map
        (values beyond are drawn in the end colours and the legend says so).
    quantile
        Tail share cut off at each end when ``limits`` is None.

    Returns
    -------
    ColourScale

    Raises
    ------
    MapInputError
        If there is no finite value, or the limits do not bracket the centre.
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        raise MapInputError("No finite value to colour: every value is NaN or infinite. Check the value column.")
    if limits is not None:
        lo, hi = (float(x) for x in limits)
    elif arr.size >= 50:
        lo, hi = (float(x) for x in np.quantile(arr, [quantile, 1.0 - quantile]))
    else:
        lo, hi = float(arr.min()), float(arr.max())
    if center is not None:
        # A diverging scale needs the centre strictly inside; a little room on
        # the side the data do not reach keeps the centre colour meaningful.
        spread = max(hi - lo, abs(center) * 0.05, 1e-9)
        lo = min(lo, center - 0.05 * spread)
        hi = max(hi, center + 0.05 * spread)
        if not lo < center < hi:
            raise MapInputError(f"limits {limits} must bracket the centre {center}.")
    elif hi <= lo:
        hi = lo + max(abs(lo) * 0.01, 1e-9)
    if cmap is None:
        cmap = "RdBu" if center is not None else "viridis"
    return ColourScale(
        vmin=lo,
        vmax=hi,
        center=center,
        cmap=cmap,
        clipped_low=bool((arr < lo).any()),
        clipped_high=bool((arr > hi).any()),
    )


def _default_center(value: str, center: float | None) -> float | None:
    # NQPF columns get a diverging scale centred on 1 unless the caller says otherwise.
    return 1.0 if center is None and "nqpf" in value.lower() else center


def _default_label(value: str, label: str | None) -> str:
    return label or ("NQPF" if value.lower() == "nqpf" else value)
