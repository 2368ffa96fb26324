"""The results chart: views per post over the period, one series per platform, as a PNG.

matplotlib is imported here, inside the functions, so a process that never draws a chart never
loads it (the console starts without it; tests/test_results_chart.py checks). Figures are built
with ``matplotlib.figure.Figure`` and the Agg canvas, not pyplot: no global state, safe to draw in
a worker thread (https://matplotlib.org/stable/gallery/user_interfaces/web_application_server_sgskip.html).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.domain import PostNumbers

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def views_figure(posts: Sequence[PostNumbers], *, days: int, tz: str) -> Figure:
    """Views of each post against when it went out (the author's zone), a line per platform."""
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure

    zone = ZoneInfo(tz)
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    by_platform: dict[str, list[PostNumbers]] = {}
    for post in sorted(posts, key=lambda p: p.published_at):
        if post.views is not None:
            by_platform.setdefault(post.platform.label, []).append(post)
    for label, series in sorted(by_platform.items()):
        axes.plot(
            date2num([p.published_at.astimezone(zone) for p in series]),
            [p.views or 0 for p in series],
            marker="o",
            label=label,
        )
    axes.set_title(f"Views per post, last {days} days")
    axes.set_xlabel(f"Published ({tz})")
    axes.set_ylabel("Views")
    axes.xaxis.set_major_formatter(DateFormatter("%d %b", tz=zone))
    axes.grid(True, alpha=0.3)
    if by_platform:
        axes.legend()
    figure.autofmt_xdate()
    return figure


def png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
