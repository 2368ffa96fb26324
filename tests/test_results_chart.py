"""The results chart: a real PNG whose series and axes are the period's posts, drawn only when asked
(matplotlib stays out of the console's start-up)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from matplotlib.colors import to_rgb
from PIL import Image

from core.charts import png, views_figure
from core.domain import Platform, PostNumbers
from core.results_report import summarize
from core.scheduler.digests import draw_chart

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _posts() -> list[PostNumbers]:
    def post(i: int, platform: Platform, days_ago: float, views: int | None) -> PostNumbers:
        return PostNumbers(i, platform, None, NOW - timedelta(days=days_ago), views, 1, 0)

    return [
        post(1, Platform.YOUTUBE, 6, 1200),
        post(2, Platform.YOUTUBE, 3, 300),
        post(3, Platform.INSTAGRAM, 5, 800),
        post(4, Platform.INSTAGRAM, 1, 2400),
        post(5, Platform.LINKEDIN, 2, None),  # no numbers: not drawn as a zero
    ]


def test_the_chart_has_a_series_per_platform_and_labelled_axes() -> None:
    figure = views_figure(_posts(), days=7, tz="Europe/Berlin")
    (axes,) = figure.axes
    assert axes.get_xlabel() == "Published (Europe/Berlin)" and axes.get_ylabel() == "Views"
    assert axes.get_title() == "Views per post, last 7 days"
    lines = {line.get_label(): list(line.get_ydata()) for line in axes.get_lines()}
    assert lines == {"Instagram": [800, 2400], "YouTube": [1200, 300]}
    legend = axes.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["Instagram", "YouTube"]

    image = Image.open(io.BytesIO(png(figure)))
    assert image.format == "PNG" and image.size == (800, 450)
    # Both series' colours are on the picture, not just the frame.
    pixels = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=800 * 450) or []}

    for line in axes.get_lines():
        rgb = tuple(round(c * 255) for c in to_rgb(line.get_color()))
        assert rgb in pixels, (line.get_label(), rgb)


def test_the_digest_draws_the_chart_only_when_there_are_views() -> None:
    posts = _posts()
    report = summarize(posts, [], days=7, until=NOW, tz="UTC")
    chart = draw_chart(report)
    assert chart is not None and chart == png(views_figure(posts, days=7, tz="UTC"))
    assert Image.open(io.BytesIO(chart)).size == (800, 450)
    # Only posts without numbers (LinkedIn's, a week not read yet): the numbers go out alone.
    blank = summarize([p for p in posts if p.views is None], [], days=7, until=NOW, tz="UTC")
    assert draw_chart(blank) is None


def test_the_console_starts_without_the_plotting_library() -> None:
    # The console, and every process's wiring with the digest job and both chats' notifiers.
    code = (
        "import sys, adapters.console.repl, core.service, bot.wiring, adapters.slack.run, "
        "adapters.discord.run; print('matplotlib' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
