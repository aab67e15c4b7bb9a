"""Matplotlib charts rendered to inline SVG strings (text kept as text, no external resources).

Each function takes the aggregated numbers from :mod:`phonotheque.report.stats` and returns the SVG,
or ``None`` when there is nothing to draw (the report then says so instead of an empty axis).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

BLUE, ORANGE, GREY, GREEN = "#2b6cb0", "#dd6b20", "#718096", "#2f855a"
KEYS = ("C", "C♯/D♭", "D", "D♯/E♭", "E", "F", "F♯/G♭", "G", "G♯/A♭", "A", "A♯/B♭", "B")

plt.rcParams.update({
    "svg.fonttype": "none",          # text stays text: small, sharp, searchable
    "svg.hashsalt": "phonotheque",   # stable ids: same data, same SVG
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
})


def _fig(w: float = 7.6, h: float = 3.4, left: float = 0.8) -> tuple[Figure, Any]:
    """A figure with fixed margins in inches (tight_layout would draw everything twice)."""
    fig = plt.figure(figsize=(w, h))
    fig.subplots_adjust(left=left / w, right=1 - 0.2 / w, bottom=0.6 / h, top=1 - 0.15 / h)
    return fig, fig.add_subplot(1, 1, 1)


def _svg(fig: Figure, tight: bool = False) -> str:
    buf = io.StringIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)


def _pct_label(v: float, _: object = None) -> str:
    """A share as a percentage with as many decimals as it needs (0.001 %, 2 %, 100 %)."""
    x = 100.0 * v
    if x <= 0:
        return "0 %"
    if x < 1e-3:
        return f"{x:.0e} %"
    decimals = max(0, -int(np.floor(np.log10(x))))
    return f"{x:.{decimals}f} %"


PCT = FuncFormatter(_pct_label)


def _thousands(ax: Any, axis: str = "y") -> None:
    fmt = FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1 or v == 0 else f"{v:g}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def popularity_hist(rows: Sequence[dict[str, Any]], *, log: bool) -> str | None:
    known = [(r["popularity"], r["tracks"]) for r in rows if r["popularity"] is not None]
    if not known:
        return None
    fig, ax = _fig()
    x, y = zip(*sorted(known), strict=True)
    ax.bar(x, y, width=1.0, color=BLUE, edgecolor="none")
    ax.set_xlabel("popularity (0–100)")
    ax.set_ylabel("tracks" + (" (log scale)" if log else ""))
    ax.set_xlim(-1, 101)
    if log:
        ax.set_yscale("log")
    else:
        _thousands(ax)
    return _svg(fig)


def listens_by_popularity(rows: Sequence[dict[str, Any]]) -> str | None:
    known = sorted((r["popularity"], r["expected_listens"]) for r in rows if r["popularity"] is not None)
    total = sum(r["expected_listens"] for r in rows)
    if not known or total <= 0:
        return None
    fig, ax = _fig()
    x, y = zip(*known, strict=True)
    share = np.array(y) / total
    ax.bar(x, np.maximum(share, 1e-300), width=1.0, color=ORANGE, edgecolor="none", label="share of listens")
    ax.set_yscale("log")
    ax.set_xlabel("popularity (0–100)")
    ax.set_ylabel("share of all listens (log scale)")
    ax.yaxis.set_major_formatter(PCT)
    ax.set_xlim(-1, 101)
    return _svg(fig)


def coverage_tracks(by_pop: Sequence[tuple[int, float, float]], plan_curve: Sequence[dict[str, Any]] | None,
                    plan_point: tuple[float, float] | None) -> str | None:
    pts = [(t, ls) for _, t, ls in by_pop if t > 0]
    if not pts or by_pop[-1][2] <= 0:
        return None
    fig, ax = _fig(7.6, 3.8)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], color=GREY, marker=".", ms=4,
            label="tracks ranked by popularity")
    xmin = pts[0][0]
    if plan_curve and len(plan_curve) > 1:
        c = [p for p in plan_curve if p["share_of_tracks"] > 0]
        ax.plot([p["share_of_tracks"] for p in c], [p["share_of_listens"] for p in c],
                color=BLUE, lw=2, label="the plan, in release order")
        xmin = min(xmin, c[0]["share_of_tracks"])
    if plan_point:
        ax.scatter([plan_point[0]], [plan_point[1]], color=ORANGE, zorder=5, s=50, label="the plan")
        ax.annotate(f"{100 * plan_point[0]:.1f} % of tracks\n{100 * plan_point[1]:.2f} % of listens",
                    plan_point, textcoords="offset points", xytext=(-40, -45), fontsize=9, ha="right",
                    arrowprops={"arrowstyle": "-", "color": GREY})
    ax.set_xscale("log")
    ax.set_xlim(xmin / 1.5, 1.05)
    ax.set_ylim(0, 1.03)
    ax.xaxis.set_major_formatter(PCT)
    ax.yaxis.set_major_formatter(PCT)
    ax.set_xlabel("share of tracks kept (log scale)")
    ax.set_ylabel("share of listens preserved")
    ax.legend(loc="lower right", fontsize=9)
    return _svg(fig)


def coverage_bytes(plan_curve: Sequence[dict[str, Any]] | None, budget: int | None) -> str | None:
    if not plan_curve or plan_curve[-1]["bytes"] <= 0:
        return None
    top = max(plan_curve[-1]["bytes"], budget or 0)
    unit, div = ("TB", 1e12) if top >= 1e12 else ("GB", 1e9) if top >= 1e9 else ("MB", 1e6)
    pts = [c for c in plan_curve if c["bytes"] > 0]
    fig, ax = _fig()
    x = [c["bytes"] / div for c in pts]
    ax.plot(x, [c["share_of_listens"] for c in pts], color=BLUE, lw=2, label="the plan, in release order")
    ax.scatter([x[-1]], [pts[-1]["share_of_listens"]], color=ORANGE, zorder=5, s=50, label="the plan")
    if budget:
        ax.axvline(budget / div, color=GREY, ls="--", lw=1, label=f"budget {budget / div:g} {unit}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"storage used, in release order ({unit}, log scale)")
    ax.set_ylabel("share of listens preserved")
    ax.yaxis.set_major_formatter(PCT)
    ax.set_ylim(0, 1.03)
    ax.legend(loc="lower right", fontsize=9)
    return _svg(fig)


def bars(labels: Sequence[Any], values: Sequence[float], *, xlabel: str, ylabel: str, log: bool = False,
         color: str = BLUE, horizontal: bool = False, width: float = 0.8, h: float = 3.4) -> str | None:
    if not values or not any(v > 0 for v in values):
        return None
    rotate = not horizontal and len(labels) > 8 and not all(isinstance(v, int | float) for v in labels)
    fig, ax = _fig(7.6, h + (0.4 if rotate else 0), left=(0.25 + 0.075 * max(len(str(s)) for s in labels))
                   if horizontal else 0.8)
    if rotate:
        fig.subplots_adjust(bottom=1.0 / (h + 0.4))
    if horizontal:
        pos = np.arange(len(values))
        ax.barh(pos, values, color=color)
        ax.set_yticks(pos, [str(s) for s in labels])
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        if log:
            ax.set_xscale("log")
        else:
            _thousands(ax, "x")
    else:
        numeric = all(isinstance(v, int | float) for v in labels)
        pos = np.asarray(labels, dtype=float) if numeric else np.arange(len(values))
        ax.bar(pos, values, color=color, width=width)
        if not numeric:
            ax.set_xticks(pos, [str(s) for s in labels], rotation=45 if len(labels) > 8 else 0,
                          ha="right" if len(labels) > 8 else "center")
        if log:
            ax.set_yscale("log")
        else:
            _thousands(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _svg(fig)


def explicit_share(rows: Sequence[tuple[str, int, int]]) -> str | None:
    if not rows:
        return None
    fig, ax = _fig()
    labels = [r[0] for r in rows]
    share = [r[2] / r[1] if r[1] else 0.0 for r in rows]
    colors = [ORANGE] + [BLUE] * (len(rows) - 1)
    ax.bar(np.arange(len(rows)), share, color=colors)
    ax.set_xticks(np.arange(len(rows)), labels)
    ax.yaxis.set_major_formatter(PCT)
    ax.set_xlabel("popularity band (first bar: all tracks)")
    ax.set_ylabel("share of tracks marked explicit")
    return _svg(fig)


def key_mode(rows: Sequence[tuple[int, int, int]]) -> str | None:
    if not rows:
        return None
    counts = np.zeros((12, 2))
    for k, m, n in rows:
        counts[k, m] = n
    fig, ax = _fig()
    x = np.arange(12)
    ax.bar(x - 0.2, counts[:, 1], width=0.4, color=BLUE, label="major")
    ax.bar(x + 0.2, counts[:, 0], width=0.4, color=ORANGE, label="minor")
    ax.set_xticks(x, KEYS, rotation=30)
    fig.subplots_adjust(bottom=0.26)
    ax.set_xlabel("key")
    ax.set_ylabel("tracks")
    _thousands(ax)
    ax.legend(fontsize=9)
    return _svg(fig)


def correlations(names: Sequence[str], matrix: Sequence[Sequence[float]]) -> str | None:
    if len(names) < 2:
        return None
    fig, ax = _fig(6.4, 5.2)
    m = np.array(matrix, dtype=float)
    im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.grid(False)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(m[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, label="Pearson correlation (−1 to 1)")
    return _svg(fig, tight=True)


def plan_status(status: dict[str, int]) -> str | None:
    items = [(k, v) for k, v in status.items() if v > 0]
    if not items:
        return None
    return bars([k.replace("_", " ") for k, _ in items], [v for _, v in items], xlabel="tracks",
                ylabel="", horizontal=True, color=GREEN, h=2.6)
