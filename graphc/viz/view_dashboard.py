"""The viewer's training dashboard for a fitted model: its loss and metric curves per epoch
(inline SVG, drawn here: no chart library, no network) and the summary of its training step's
profile (fit(profile=True), a ProfilerCallback, or gc.view's profile=).

The model's History is read by its attributes (`history`: {metric: [value per epoch]},
`epoch`: [epoch numbers], and `profile` when fit profiled the step): graphc does not import
the frontend that defines it.
"""

from __future__ import annotations

import html
import math

WIDTH, HEIGHT, PAD = 360, 150, 34  # one chart's size and the margin for its axis labels
COLOURS = ("#2563eb", "#dc2626")  # training, validation
TOP_KERNELS = 5


def finite(values) -> list:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def scaled(values: list, epochs: list, low: float, high: float) -> str:
    """SVG polyline points of `values` over `epochs`, in the chart's frame."""
    first, last = epochs[0], epochs[-1]
    span_x, span_y = (last - first) or 1, (high - low) or 1
    return " ".join(
        f"{PAD + (WIDTH - PAD - 8) * (e - first) / span_x:.1f},"
        f"{HEIGHT - PAD + 12 - (HEIGHT - PAD) * (v - low) / span_y:.1f}"
        for e, v in zip(epochs, values))


def curve_svg(name: str, series: dict, epochs: list) -> str:
    """One chart: `series` ({label: values per epoch}) against the epochs."""
    drawn = {label: finite(v) for label, v in series.items() if len(finite(v)) == len(epochs)}
    if not drawn or not epochs:
        return ""
    every = [v for values in drawn.values() for v in values]
    low, high = min(every), max(every)
    lines = "".join(
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
        f'points="{scaled(values, epochs, low, high)}"><title>{html.escape(label)}</title>'
        f"</polyline>"
        for (label, values), colour in zip(drawn.items(), COLOURS))
    legend = " ".join(f'<tspan fill="{colour}">{html.escape(label)}</tspan>'
                      for label, colour in zip(drawn, COLOURS))
    bottom = HEIGHT - PAD + 12
    return (
        f'<svg class="curve" width="{WIDTH}" height="{HEIGHT + 10}" '
        f'data-metric="{html.escape(name)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{PAD}" y="10" font-size="11">{legend}</text>'
        f'<line x1="{PAD}" y1="{bottom}" x2="{WIDTH - 8}" y2="{bottom}" stroke="#94a3b8"/>'
        f'<line x1="{PAD}" y1="12" x2="{PAD}" y2="{bottom}" stroke="#94a3b8"/>'
        f'<text x="2" y="20" font-size="10">{high:.4g}</text>'
        f'<text x="2" y="{bottom}" font-size="10">{low:.4g}</text>'
        f'<text x="{PAD}" y="{bottom + 14}" font-size="10">epoch {epochs[0] + 1}</text>'
        f'<text x="{WIDTH - 8}" y="{bottom + 14}" font-size="10" text-anchor="end">'
        f"epoch {epochs[-1] + 1}</text>{lines}</svg>")


def curves_html(history: dict, epochs: list) -> str:
    """A chart per metric, its validation curve ('val_' + metric) beside the training one."""
    charts = []
    for name in history:
        if name.startswith("val_"):
            continue
        series = {name: history[name]}
        if "val_" + name in history:
            series["val_" + name] = history["val_" + name]
        charts.append(curve_svg(name, series, epochs))
    return "".join(charts)


def profile_html(report) -> str:
    """The step time, the kernels' sum and the slowest kernels of a gc.profile report."""
    rows = "".join(
        f"<tr><td>{html.escape(k.name)}</td><td>{100 * report.share(k):.1f}%</td>"
        f"<td>{k.mean_seconds * 1e6:.1f}</td><td>{k.gflops:.2f}</td></tr>"
        for k in report.kernels[:TOP_KERNELS])
    return (
        f'<p class="profile-summary">step {report.step_seconds * 1e3:.3f} ms measured, kernels '
        f"sum to {report.kernel_seconds * 1e3:.3f} ms ({report.backend}, {report.threads} "
        f"thread(s), {len(report.kernels)} kernels)</p>"
        f'<table class="ranking"><tr><th>slowest kernels</th><th>share</th><th>us/call</th>'
        f"<th>GFLOP/s</th></tr>{rows}</table>")


def dashboard_html(history, report) -> str:
    """The dashboard box for a model's History and profile report (either may be None), or
    "" when there is nothing to show."""
    curves = curves_html(dict(history.history), list(history.epoch)) if history else ""
    summary = profile_html(report) if report is not None else ""
    if not curves and not summary:
        return ""
    return (f'<details id="dashboard" open><summary>training</summary>{curves}{summary}'
            f"</details>")
