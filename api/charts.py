"""Charts as SVG text: rows in, a self-contained `<svg>` out. Pure: no database, no I/O.

Every text that comes from data (a SKU, a station's code) is escaped here, so the page may
insert the SVG as markup. A chart has a fixed viewBox and `width="100%"`: it scales with its
box, and its fonts with it. Rows are mappings with the keys of the stats endpoints' rows.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from html import escape
from typing import Any

Row = Mapping[str, Any]

FONT = 'font-family="system-ui, DejaVu Sans, sans-serif"'
INK, MUTED, GRID = "#1d2b3a", "#555", "#dde3ea"
LINE, LIMIT, BAD, BAR = "#0050c8", "#7a5a00", "#c62828", "#3f6e9e"


@dataclass(frozen=True)
class Frame:
    """A chart's viewBox and the margins around its plot area."""

    width: int
    height: int
    left: int = 64
    right: int = 64
    top: int = 60
    bottom: int = 56

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def base(self) -> float:
        return self.height - self.bottom


# The p-chart spans the page; a Pareto chart shares its row with another, and its labels slant.
P_CHART = Frame(900, 340)
PARETO = Frame(640, 400, bottom=104)


def _a(value: object) -> str:
    """A value for an attribute between double quotes."""
    return escape(str(value), quote=True)


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _pct(share: float, decimals: int) -> str:
    return f"{100 * share:.{decimals}f} %"


def _open(title: str, subtitle: str, frame: Frame, *, kind: str, rows: int) -> list[str]:
    """The root element, its accessible name, and the title (bold) over the subtitle."""
    name = f"{title}: {subtitle}" if subtitle else title
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="100%" role="img" aria-label="{_a(name)}" class="chart" data-chart="{kind}" '
        f'data-rows="{rows}" preserveAspectRatio="xMidYMid meet" {FONT} font-size="14">',
        f"<title>{escape(name)}</title>",
        f'<text x="{frame.left}" y="22" font-size="16" font-weight="700" fill="{INK}">'
        f"{escape(title)}</text>",
        f'<text x="{frame.left}" y="42" font-size="13" fill="{MUTED}" class="subtitle">'
        f"{escape(subtitle)}</text>",
    ]


def _empty(title: str, subtitle: str, frame: Frame, *, kind: str) -> str:
    parts = _open(title, subtitle, frame, kind=kind, rows=0)
    parts.append(
        f'<text x="{frame.width / 2}" y="{frame.height / 2}" text-anchor="middle" '
        f'font-size="18" fill="{MUTED}" class="no-data">No data for this period</text>'
    )
    return "\n".join([*parts, "</svg>"])


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts `span` into about `ticks` parts."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power * 1.0001:
            return float(factor * power)
    return float(10 * power)


def _share_axis(top_value: float) -> tuple[float, float, int]:
    """The top of a 0..top share axis, its step and the decimals its percent labels need."""
    top_value = min(max(top_value, 0.0), 1.0) or 0.01
    step = nice_step(top_value)
    top = min(math.ceil(top_value / step - 1e-9) * step, 1.0)
    decimals = max(0, -math.floor(math.log10(step * 100) + 1e-9))
    return top, step, decimals


def _short(label: str, limit: int = 16) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def date_label(key: str) -> str:
    """`2024-05-01` as `1 May`; anything else (a week key) as it is."""
    if len(key) != 10:  # fromisoformat also reads week dates (2026-W18), which stay as they are
        return key
    try:
        day = date.fromisoformat(key)
    except ValueError:
        return key
    return f"{day.day} {day:%b}"


def _thin(count: int, width: float, room: float) -> int:
    """Show every n-th label so that labels `room` wide fit in `width`."""
    return max(1, math.ceil(count * room / max(width, 1.0)))


def _axes(frame: Frame, *, right_axis: bool = False) -> str:
    d = f"M{frame.left} {frame.top} V{frame.base} H{frame.width - frame.right}"
    if right_axis:
        d += f" V{frame.top}"
    return f'<path d="{d}" fill="none" stroke="{INK}" stroke-width="1.5" class="axes"/>'


def _share_ticks(
    frame: Frame,
    top: float,
    step: float,
    decimals: int,
    y: Callable[[float], float],
    *,
    right: bool,
) -> list[str]:
    """Percent labels on the left axis (with grid lines) or on the right one."""
    parts = []
    for n in range(round(top / step) + 1):
        value = min(n * step, top)
        yy = _num(y(value))
        if not right:
            parts.append(
                f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{yy}" y2="{yy}" '
                f'stroke="{GRID}"/>'
            )
        x, anchor = (frame.width - frame.right + 8, "start") if right else (frame.left - 8, "end")
        parts.append(
            f'<text x="{x}" y="{yy}" dy="0.35em" text-anchor="{anchor}" fill="{MUTED}" '
            f'class="y-label">{_pct(value, decimals)}</text>'
        )
    return parts


def line_chart_with_limits(rows: Sequence[Row], *, title: str, subtitle: str = "") -> str:
    """A p-chart: `rate` per period, the centre line, the control limits as steps.

    Args:
        rows: mappings with `key` (a date or week), `rate`, `center`, `lower`, `upper`,
            `out_of_control`, and optionally `parcels` and `defective_parcels`, in time order.
            A period without parcels has None for its rate and limits: a gap in the lines.
        title: the chart's title, also its accessible name (with the subtitle).
        subtitle: a smaller line under the title (the period, the stage).

    Returns:
        The SVG text; out-of-control points are red, larger and have `class="point ooc"`.
    """
    frame = P_CHART
    if all(r.get("rate") is None for r in rows):  # no rows, or days without a parcel closed
        return _empty(title, subtitle, frame, kind="p-chart")
    highest = max((float(r[k]) for r in rows for k in ("rate", "upper") if r.get(k) is not None),
                  default=0.0)  # fmt: skip
    top, step, decimals = _share_axis(highest)
    slot = frame.plot_w / len(rows)

    def x(i: float) -> float:
        return frame.left + slot * (i + 0.5)

    def y(v: float) -> float:
        return frame.top + frame.plot_h * (1 - min(max(float(v), 0.0), top) / top)

    parts = _open(title, subtitle, frame, kind="p-chart", rows=len(rows))
    parts.extend(_share_ticks(frame, top, step, decimals, y, right=False))
    # Period labels, thinned so that they never overlap.
    every = _thin(len(rows), frame.plot_w, 62)
    for i, row in enumerate(rows):
        if i % every == 0:
            parts.append(
                f'<text x="{_num(x(i))}" y="{frame.base + 22}" text-anchor="middle" '
                f'fill="{MUTED}" class="x-label">{escape(date_label(str(row["key"])))}</text>'
            )
    parts.append(_axes(frame))

    def path(name: str, *, flat: bool) -> str:
        """A line through the rows' values; a period without parcels (None) breaks it.

        `flat`: one level segment per period (the limits depend on each period's parcels).
        """
        d, gap = [], True
        for i, row in enumerate(rows):
            if row.get(name) is None:
                gap = True
                continue
            yy = _num(y(row[name]))
            if flat:
                d.append(f"{'M' if gap else 'L'}{_num(x(i - 0.5))} {yy} H{_num(x(i + 0.5))}")
            else:
                d.append(f"{'M' if gap else 'L'}{_num(x(i))} {yy}")
            gap = False
        return " ".join(d)

    for name in ("upper", "lower"):
        parts.append(
            f'<path d="{path(name, flat=True)}" fill="none" stroke="{LIMIT}" stroke-width="1.5" '
            f'stroke-dasharray="2 3" class="limit {name}"/>'
        )
    parts.append(
        f'<path d="{path("center", flat=True)}" fill="none" stroke="{INK}" stroke-width="1.5" '
        f'stroke-dasharray="8 5" class="center"/>'
    )
    if len(rows) > 1:
        parts.append(
            f'<path d="{path("rate", flat=False)}" fill="none" stroke="{LINE}" '
            f'stroke-width="2.5" stroke-linejoin="round" class="rate"/>'
        )
    for i, row in enumerate(rows):
        if row.get("rate") is None:  # no parcel closed: no rate to draw
            continue
        bad = bool(row.get("out_of_control"))
        tip = f"{row['key']}: {_pct(float(row['rate']), 1)}"
        if "parcels" in row:
            tip += f" ({row.get('defective_parcels', '?')} of {row['parcels']} parcels)"
        if bad:
            tip += ", out of control"
        parts.append(
            f'<circle cx="{_num(x(i))}" cy="{_num(y(row["rate"]))}" r="{7 if bad else 4}" '
            f'fill="{BAD if bad else LINE}" stroke="#fff" stroke-width="1.5" '
            f'class="point{" ooc" if bad else ""}" data-key="{_a(row["key"])}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    parts.append(_legend(frame, rows))
    return "\n".join([*parts, "</svg>"])


def _legend(frame: Frame, rows: Sequence[Row]) -> str:
    ooc = sum(1 for r in rows if r.get("out_of_control"))
    y0, x0 = frame.height - 12, frame.left
    mark = 'x1="{a}" x2="{b}" y1="{y}" y2="{y}" stroke-width="{w}"'
    items = [
        f'<line {mark.format(a=x0, b=x0 + 24, y=y0 - 4, w=2.5)} stroke="{LINE}"/>'
        f'<text x="{x0 + 30}" y="{y0}" fill="{INK}">defect rate</text>',
        f'<line {mark.format(a=x0 + 140, b=x0 + 164, y=y0 - 4, w=1.5)} stroke="{INK}" '
        f'stroke-dasharray="8 5"/><text x="{x0 + 170}" y="{y0}" fill="{INK}">centre (p̄)</text>',
        f'<line {mark.format(a=x0 + 280, b=x0 + 304, y=y0 - 4, w=1.5)} stroke="{LIMIT}" '
        f'stroke-dasharray="2 3"/>'
        f'<text x="{x0 + 310}" y="{y0}" fill="{INK}">control limits (±3σ)</text>',
        f'<circle cx="{x0 + 500}" cy="{y0 - 5}" r="6" fill="{BAD}"/>'
        f'<text x="{x0 + 512}" y="{y0}" fill="{INK}">out of control: {ooc}</text>',
    ]
    return f'<g class="legend" font-size="13">{"".join(items)}</g>'


def pareto_chart(rows: Sequence[Row], *, title: str, subtitle: str = "", limit: int = 20) -> str:
    """Bars of defects per key, largest first, and the cumulative share on a right axis.

    Args:
        rows: mappings with `key`, `defects`, `share` and `cumulative_share` (0..1), sorted
            by defects descending, as the pareto endpoint returns them.
        title: the chart's title, also its accessible name (with the subtitle).
        subtitle: a smaller line under the title (the period, the stage).
        limit: at most this many bars; the title says how many more the table holds.

    Returns:
        The SVG text, with an 80 % guide line on the share axis.
    """
    if not rows:
        return _empty(title, subtitle, PARETO, kind="pareto")
    shown = list(rows[:limit])
    if len(rows) > len(shown):
        subtitle = ", ".join(filter(None, [subtitle, f"top {len(shown)} of {len(rows)}"]))
    most = max(int(r["defects"]) for r in shown) or 1
    step = max(1.0, nice_step(most))
    top = math.ceil(most / step) * step
    slot = PARETO.plot_w / len(shown)
    # Labels slant when they would not fit side by side; thinned only when even that is crowded.
    slant = slot < 9 * 13
    frame = PARETO if slant else replace(PARETO, bottom=64)

    def x(i: float) -> float:
        return frame.left + slot * (i + 0.5)

    def y_count(v: float) -> float:
        return frame.top + frame.plot_h * (1 - float(v) / top)

    def y_share(v: float) -> float:
        return frame.top + frame.plot_h * (1 - min(max(float(v), 0.0), 1.0))

    parts = _open(title, subtitle, frame, kind="pareto", rows=len(shown))
    for n in range(round(top / step) + 1):
        yy = _num(y_count(n * step))
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{yy}" y2="{yy}" '
            f'stroke="{GRID}"/><text x="{frame.left - 8}" y="{yy}" dy="0.35em" '
            f'text-anchor="end" fill="{MUTED}" class="y-label">{int(n * step)}</text>'
        )
    parts.extend(_share_ticks(frame, 1.0, 0.2, 0, y_share, right=True))
    bar_w = min(slot * 0.7, 70)
    every = _thin(len(shown), frame.plot_w, 18) if slant else 1
    for i, row in enumerate(shown):
        defects = int(row["defects"])
        top_y = y_count(defects)
        tip = f"{row['key']}: {defects} defects ({_pct(float(row.get('share', 0.0)), 1)})"
        parts.append(
            f'<rect x="{_num(x(i) - bar_w / 2)}" y="{_num(top_y)}" width="{_num(bar_w)}" '
            f'height="{_num(frame.base - top_y)}" fill="{BAR}" class="bar" '
            f'data-key="{_a(row["key"])}"><title>{escape(tip)}</title></rect>'
        )
        if i % every:
            continue
        label, lx, ly = escape(_short(str(row["key"]))), _num(x(i)), frame.base + 18
        if slant:
            parts.append(
                f'<text x="{lx}" y="{ly}" text-anchor="end" fill="{MUTED}" class="x-label" '
                f'transform="rotate(-35 {lx} {ly})">{label}</text>'
            )
        else:
            parts.append(
                f'<text x="{lx}" y="{ly + 4}" text-anchor="middle" fill="{MUTED}" '
                f'class="x-label">{label}</text>'
            )
    guide = y_share(0.8)
    parts.append(
        f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{_num(guide)}" '
        f'y2="{_num(guide)}" stroke="{BAD}" stroke-dasharray="6 4" class="guide"/>'
        f'<text x="{frame.width - frame.right - 4}" y="{_num(guide - 6)}" text-anchor="end" '
        f'fill="{BAD}" font-size="12">80 %</text>'
    )
    parts.append(_axes(frame, right_axis=True))
    if len(shown) > 1:
        points = " ".join(
            f"{_num(x(i))},{_num(y_share(r['cumulative_share']))}" for i, r in enumerate(shown)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{LIMIT}" stroke-width="2.5" '
            f'class="cumulative"/>'
        )
    for i, row in enumerate(shown):
        share = float(row["cumulative_share"])
        parts.append(
            f'<circle cx="{_num(x(i))}" cy="{_num(y_share(share))}" r="4" fill="{LIMIT}" '
            f'class="point"><title>cumulative {_pct(share, 1)}</title></circle>'
        )
    parts.append(
        f'<text x="{frame.left}" y="{frame.height - 8}" font-size="13" fill="{INK}">'
        f"bars: defects (left axis) · line: cumulative share (right axis)</text>"
    )
    return "\n".join([*parts, "</svg>"])
