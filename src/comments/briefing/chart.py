"""Charts drawn from briefing data: inline SVG for HTML, PNG (Pillow) for Word.

Only numbers, dates and campaign ids reach a chart, and every piece of text
is escaped anyway, so a chart cannot carry markup from a comment.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from markupsafe import escape

OTHER = "#3b6ea5"
CAMPAIGN = "#e07b39"
INK = "#333333"
GRID = "#dddddd"


def _days(timeline: list[dict]) -> list[dict]:
    """Every day from the first to the last, zero-filled, so gaps show as gaps."""
    dated = [r for r in timeline if r.get("day") is not None]
    if not dated:
        return []
    by_day = {r["day"]: r for r in dated}
    first, last = min(by_day), max(by_day)
    out, day = [], first
    while day <= last:
        r = by_day.get(day, {"comments": 0, "campaign_comments": 0})
        out.append({"day": day, "comments": r["comments"], "campaign_comments": r["campaign_comments"]})
        day += timedelta(days=1)
    return out


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step * 4:
            return step * 4 if value > 4 else max(value, 1)
    return value


def timeline_svg(timeline: list[dict], campaigns: list[dict], *, comment_end=None, width: int = 680, height: int = 230) -> str:
    """Stacked bars of comments per day (campaign copies on top), campaigns marked where they began."""
    days = _days(timeline)
    if not days:
        return '<p class="muted">No dated comments to chart.</p>'
    left, right, top, bottom = 40, 10, 46, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax = _nice_max(max(d["comments"] for d in days))
    bar_w = plot_w / len(days)
    first = days[0]["day"]

    def x(day) -> float:
        return left + (day - first).days * bar_w

    def y(value) -> float:
        return top + plot_h - plot_h * value / ymax

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="Comments per day, campaign copies marked">'
    ]
    for i in range(5):  # horizontal grid and y labels
        value = ymax * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 4}" y="{y(value) + 3:.1f}" text-anchor="end" font-size="9" fill="{INK}">{value:,.0f}</text>')
    for d in days:
        other = d["comments"] - d["campaign_comments"]
        bx, bw = x(d["day"]) + 0.1 * bar_w, max(0.8 * bar_w, 1.0)
        label = escape(f'{d["day"]:%Y-%m-%d}: {d["comments"]:,} comments, {d["campaign_comments"]:,} campaign copies')
        parts.append(f'<g class="day" data-day="{d["day"]:%Y-%m-%d}" data-comments="{d["comments"]}" '
                     f'data-campaign-comments="{d["campaign_comments"]}"><title>{label}</title>')
        if other:
            parts.append(f'<rect x="{bx:.1f}" y="{y(other):.1f}" width="{bw:.1f}" height="{y(0) - y(other):.1f}" fill="{OTHER}"/>')
        if d["campaign_comments"]:
            parts.append(f'<rect x="{bx:.1f}" y="{y(d["comments"]):.1f}" width="{bw:.1f}" '
                         f'height="{y(other) - y(d["comments"]):.1f}" fill="{CAMPAIGN}"/>')
        parts.append("</g>")
    end = _as_date(comment_end)
    if end and first <= end <= days[-1]["day"]:
        ex = x(end) + bar_w
        parts.append(f'<line x1="{ex:.1f}" x2="{ex:.1f}" y1="{top}" y2="{top + plot_h}" stroke="{INK}" stroke-dasharray="3,3"/>')
        parts.append(f'<text transform="translate({ex + 9:.1f},{top + plot_h}) rotate(-90)" font-size="9" fill="{INK}">comment period ends</text>')
    starts: dict = {}
    for c in campaigns:  # mark where each listed campaign began (one marker per day)
        start = _as_date(c.get("first_received") or c.get("first_posted"))
        if start and first <= start <= days[-1]["day"]:
            starts.setdefault(start, []).append(c["campaign_id"])
    rows_left: list[float] = []  # left edge of the last label in each label row
    for start, ids in sorted(starts.items(), reverse=True):  # right to left, labels right-aligned
        cx = x(start) + bar_w / 2
        parts.append(f'<path d="M{cx - 4:.1f},{top - 8} L{cx + 4:.1f},{top - 8} L{cx:.1f},{top - 1} Z" fill="{CAMPAIGN}"/>')
        label = ", ".join(ids)
        right_edge, text_w = cx - 6, 5.2 * len(label)
        row = next((i for i, edge in enumerate(rows_left) if right_edge < edge - 6), len(rows_left))
        if row >= 3:
            continue  # too crowded: the marker stays, unlabeled
        if row == len(rows_left):
            rows_left.append(right_edge - text_w)
        else:
            rows_left[row] = right_edge - text_w
        ly = top - 12 - 10 * row
        parts.append(f'<text x="{right_edge:.1f}" y="{ly}" text-anchor="end" font-size="9" fill="{INK}">{escape(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{INK}"/>')
    ticks = {0, len(days) - 1} | {i for i, d in enumerate(days) if d["day"].day == 1}
    for i in sorted(ticks):
        d = days[i]["day"]
        parts.append(f'<text x="{x(d) + bar_w / 2:.1f}" y="{top + plot_h + 13}" text-anchor="middle" font-size="9" fill="{INK}">{d:%b %-d}</text>')
    lx = left
    for color, text in ((OTHER, "other comments"), (CAMPAIGN, "campaign copies")):
        parts.append(f'<rect x="{lx}" y="{height - 11}" width="9" height="9" fill="{color}"/>')
        parts.append(f'<text x="{lx + 13}" y="{height - 3}" font-size="10" fill="{INK}">{text}</text>')
        lx += 120
    parts.append("</svg>")
    return "".join(parts)


def stance_svg(stance: list[dict], *, width: int = 680, row_h: int = 22) -> str:
    """Two bars per stance: share of unique texts and share of submissions represented."""
    colors = {"support": "#2e8b57", "oppose": "#c0392b", "mixed": "#8e6bbf", "unclear": "#999999", "not read": "#d9d9d9"}
    left, bar_max = 70, (width - 70 - 110) / 2
    height = row_h * len(stance) + 22
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart stance" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="Stance by unique texts and by submissions">']
    parts.append(f'<text x="{left}" y="11" font-size="10" fill="{INK}">share of unique texts</text>')
    parts.append(f'<text x="{left + bar_max + 55}" y="11" font-size="10" fill="{INK}">share of submissions represented</text>')
    for i, row in enumerate(stance):
        ry = 18 + i * row_h
        color = colors.get(row["stance"], "#999999")
        parts.append(f'<text x="{left - 6}" y="{ry + 12}" text-anchor="end" font-size="11" fill="{INK}">{escape(row["stance"])}</text>')
        for j, key in enumerate(("unique_share_pct", "submissions_share_pct")):
            share = float(row[key] or 0)
            bx = left + j * (bar_max + 55)
            parts.append(f'<rect x="{bx:.1f}" y="{ry}" width="{bar_max * share / 100:.1f}" height="{row_h - 6}" fill="{color}"/>')
            parts.append(f'<text x="{bx + bar_max * share / 100 + 4:.1f}" y="{ry + 12}" font-size="10" fill="{INK}">{share:.1f}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_png(timeline: list[dict], *, width: int = 1200, height: int = 360) -> bytes:
    """The timeline as a PNG for Word (which cannot show inline SVG reliably)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    days = _days(timeline)
    left, right, top, bottom = 70, 20, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    if days:
        ymax = _nice_max(max(d["comments"] for d in days))
        bar_w = plot_w / len(days)
        for i in range(5):
            yy = top + plot_h - plot_h * i / 4
            draw.line([(left, yy), (width - right, yy)], fill=GRID)
            draw.text((5, yy - 6), f"{ymax * i / 4:,.0f}", fill=INK)
        for i, d in enumerate(days):
            other = d["comments"] - d["campaign_comments"]
            x0, x1 = left + i * bar_w + 0.1 * bar_w, left + (i + 0.9) * bar_w
            y_other = top + plot_h - plot_h * other / ymax
            y_all = top + plot_h - plot_h * d["comments"] / ymax
            if other:
                draw.rectangle([x0, y_other, x1, top + plot_h], fill=OTHER)
            if d["campaign_comments"]:
                draw.rectangle([x0, y_all, x1, y_other], fill=CAMPAIGN)
        for i in sorted({0, len(days) - 1} | {i for i, d in enumerate(days) if d["day"].day == 1}):
            draw.text((left + i * bar_w, top + plot_h + 6), f'{days[i]["day"]:%b %-d}', fill=INK)
        draw.rectangle([left, height - 20, left + 12, height - 8], fill=OTHER)
        draw.text((left + 18, height - 20), "other comments", fill=INK)
        draw.rectangle([left + 180, height - 20, left + 192, height - 8], fill=CAMPAIGN)
        draw.text((left + 198, height - 20), "campaign copies", fill=INK)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
