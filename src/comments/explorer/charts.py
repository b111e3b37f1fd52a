"""Inline SVG charts for the explorer, every bar a link to the comments behind it.

Only numbers, dates, stance words and links we build reach a chart, and all
text is escaped anyway, so a chart cannot carry markup from a comment.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlencode

from markupsafe import escape

STANCE_COLORS = {"support": "#2e8b57", "oppose": "#c0392b", "mixed": "#8e6bbf", "unclear": "#9a9a9a"}
EXTRA_COLORS = ("#d4a017", "#3b6ea5", "#7f8c8d", "#16a085")
INK, GRID = "#333333", "#dddddd"


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step * 4:
            return step * 4 if value > 4 else max(value, 1)
    return value


def stance_over_time(rows: list[dict], docket_id: str, *, width: int = 900, height: int = 260) -> str:
    """Submissions per day, stacked by stance; each piece links to that day's comments of that stance."""
    if not rows:
        return '<p class="muted">No dated comments to chart.</p>'
    stances: list[str] = [s for s in STANCE_COLORS if any(r["stance"] == s for r in rows)]
    stances += sorted({r["stance"] for r in rows} - set(stances))
    colors = {s: STANCE_COLORS.get(s) or EXTRA_COLORS[i % len(EXTRA_COLORS)] for i, s in enumerate(stances)}
    by_day: dict = {}
    for r in rows:
        by_day.setdefault(r["day"], {})[r["stance"]] = r
    first, last = min(by_day), max(by_day)
    ndays = (last - first).days + 1
    left, right, top, bottom = 48, 10, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax = _nice_max(max(sum(x["submissions"] for x in d.values()) for d in by_day.values()))
    bar_w = plot_w / ndays
    base = f"/d/{quote(docket_id, safe='')}/comments"

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / ymax

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" aria-label="Submissions per day by stance">']
    for i in range(5):
        v = ymax * i / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end" font-size="10" fill="{INK}">{v:,.0f}</text>')
    for day, parts in sorted(by_day.items()):
        x = left + (day - first).days * bar_w + 0.1 * bar_w
        w = max(0.8 * bar_w, 1.0)
        acc = 0
        for s in stances:
            r = parts.get(s)
            if not r:
                continue
            h0, h1 = y(acc), y(acc + r["submissions"])
            acc += r["submissions"]
            href = base + "?" + urlencode({"stance": s, "from": day.isoformat(), "to": day.isoformat()})
            tip = f"{day:%Y-%m-%d} · {s}: {r['submissions']:,} submissions from {r['comments']:,} comments"
            out.append(f'<a href="{escape(href)}" class="bar" data-day="{day:%Y-%m-%d}" data-stance="{escape(s)}" '
                       f'data-comments="{r["comments"]}" data-submissions="{r["submissions"]}">'
                       f'<title>{escape(tip)}</title>'
                       f'<rect x="{x:.1f}" y="{h1:.1f}" width="{w:.1f}" height="{max(h0 - h1, 0.5):.1f}" fill="{colors[s]}"/></a>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{INK}"/>')
    ticks = {0, ndays - 1} | {i for i in range(ndays) if (first + timedelta(days=i)).day == 1}
    if len(ticks) < 4:
        ticks |= set(range(0, ndays, max(1, ndays // 6)))
    for i in sorted(ticks):
        d = first + timedelta(days=i)
        out.append(f'<text x="{left + (i + 0.5) * bar_w:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                   f'font-size="10" fill="{INK}">{d:%b %-d}</text>')
    lx = left
    for s in stances:
        out.append(f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{colors[s]}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 3}" font-size="11" fill="{INK}">{escape(s)}</text>')
        lx += 30 + 7 * len(s)
    out.append("</svg>")
    return "".join(out)


def daily_bars(rows: list[dict], *, label: str, width: int = 900, height: int = 180) -> str:
    """Comments per day as plain bars (a campaign's copies over time)."""
    if not rows:
        return '<p class="muted">No dated copies to chart.</p>'
    by_day = {r["day"]: r for r in rows}
    first, last = min(by_day), max(by_day)
    ndays = (last - first).days + 1
    left, right, top, bottom = 48, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax = _nice_max(max(r["comments"] for r in rows))
    bar_w = plot_w / ndays

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / ymax

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" aria-label="{escape(label)} per day">']
    for i in range(5):
        v = ymax * i / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end" font-size="10" fill="{INK}">{v:,.0f}</text>')
    for day, r in sorted(by_day.items()):
        x = left + (day - first).days * bar_w + 0.1 * bar_w
        tip = f"{day:%Y-%m-%d}: {r['comments']:,} {label}"
        out.append(f'<g class="day" data-day="{day:%Y-%m-%d}" data-comments="{r["comments"]}"><title>{escape(tip)}</title>'
                   f'<rect x="{x:.1f}" y="{y(r["comments"]):.1f}" width="{max(0.8 * bar_w, 1.0):.1f}" '
                   f'height="{y(0) - y(r["comments"]):.1f}" fill="#e07b39"/></g>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{INK}"/>')
    for i in sorted({0, ndays - 1}):
        d = first + timedelta(days=i)
        out.append(f'<text x="{left + (i + 0.5) * bar_w:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                   f'font-size="10" fill="{INK}">{d:%b %-d}</text>')
    out.append("</svg>")
    return "".join(out)
