"""Briefing renderers: the same data (from `data.gather`) as HTML, Markdown or Word.

All three take the dict that `gather` returns and print its numbers as they
are; none of them counts anything. Text from comments is escaped for each
format: Jinja2 autoescaping for HTML, backslash escapes for Markdown, plain
text runs for Word.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from comments.briefing import chart
from comments.briefing.data import campaign_additions_words, campaign_also_words, stance_slug
from comments.theme_audit import theme_audit_words


def fmt_num(value) -> str:
    if value is None:
        return "0"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def fmt_signed(value) -> str:
    """A change with its sign: +2, −3, 0; +1.5 for fractional values (percentage points)."""
    value = value or 0
    if isinstance(value, float) and not value.is_integer():
        text = f"{abs(value):,.1f}"
    else:
        text = f"{abs(int(value)):,}"
    return ("+" if value > 0 else "−" if value < 0 else "") + text


def fmt_points(value) -> str:
    """Percentage points with sign and one decimal: +12.0, −3.5, 0.0."""
    value = float(value or 0)
    return ("+" if value > 0 else "−" if value < 0 else "") + f"{abs(value):.1f}"


def fmt_day(value) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, datetime):
        value = value.date()
    return f"{value:%b} {value.day}, {value:%Y}" if isinstance(value, date) else str(value)


def heading(d: dict) -> str:
    """The briefing's first line: the docket's title, else its id (a bulk CSV of comments alone names no title)."""
    return d["title"] or f"Docket {d['docket_id']} (its title is not in the data)"


def title_note(d: dict) -> str:
    return f"from its {str(d['notice_type']).lower()} {d['notice_id']} (the docket's own title is not in the data)"


def fmt_period(start, end) -> str:
    """'Oct 7, 2022 to Dec 6, 2022'; 'not recorded' when neither end is known."""
    if start is None and end is None:
        return "not recorded"
    return f"{fmt_day(start)} to {fmt_day(end)}"


def fmt_when(value) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return str(value)


def stance_share(row: dict, measure: str) -> str:
    """A stance row's share: among the texts that were read; the `not read` row's share of all texts."""
    read = row.get(f"{'unique' if measure == 'unique_texts' else 'submissions'}_read_share_pct")
    if read is not None:
        return f"{read}%"
    whole = row.get(f"{'unique' if measure == 'unique_texts' else 'submissions'}_share_pct") or 0
    return f"{whole}% of all"


STANCE_NOTE = ("Counted by unique texts (a campaign counts once) and by submissions represented (every copy counts). "
               "Shares are of the texts that were read; `not read` comments carry their substance in attachments "
               "whose text was not extracted.")


def numbers_paragraph(h: dict) -> str:
    """The headline counts in words (plain text: numbers and fixed words only), for every format."""
    dups, attached, read = h["agency_duplicates"], h["attachment_substance"], h["attachment_substance_with_text"]
    posted = f"{fmt_num(h['comments_posted'])} comments are posted"
    copies = (f"{posted}; the agency counted no further copies." if not dups else
              f"{posted}; with the {fmt_num(dups)} further copies the agency counted, they represent "
              f"{fmt_num(h['submissions_represented'])} submissions.")
    if not attached:
        attachments = "No comment puts its substance in attachments."
    else:
        which = "none" if not read else "all" if read == attached else fmt_num(read)
        attachments = (f"{fmt_num(attached)} comments put their substance in attachments; the text of {which} "
                       f"of them could be read.")
    return (f"{copies} {fmt_num(h['campaign_comments'])} posted comments ({h['campaign_share_pct']}%) belong to "
            f"{fmt_num(h['campaigns'])} campaigns; counting each campaign once leaves {fmt_num(h['unique_texts'])} "
            f"unique texts. {attachments}")


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("comments.briefing", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, day=fmt_day, when=fmt_when, signed=fmt_signed, points=fmt_points,
                       slug=stance_slug, share=stance_share)
    return env


def to_html(brief: dict) -> str:
    d = brief["docket"]
    return _env().get_template("brief.html.j2").render(
        b=brief,
        codebook_text=codebook_text,
        significant_line=significant_line,
        numbers_paragraph=numbers_paragraph,
        campaign_also_words=campaign_also_words,
        campaign_additions_words=campaign_additions_words,
        theme_audit_words=theme_audit_words,
        title_note=title_note,
        heading=heading,
        fmt_period=fmt_period,
        stance_sources_line=stance_sources_line,
        more=changes_more,
        campaign_lists=CAMPAIGN_LISTS,
        theme_lists=THEME_LISTS,
        d=d,
        h=brief["headline"],
        c=brief["commenters"],
        # charts are built from numbers, dates and ids only, each escaped (chart.py)
        stance_chart=Markup(chart.stance_svg(brief["stance"])),
        timeline_chart=Markup(chart.timeline_svg(brief["timeline"], brief["campaigns"], comment_end=d["comment_end"])),
    )


def theme_line(t: dict) -> str:
    """A theme's counts, side by side, worded the same in Markdown and Word (numbers only)."""
    line = (f"{fmt_num(t['unique_texts'])} unique texts ({t['unique_share_pct']}%) · {fmt_num(t['comments'])} comments · "
            f"{fmt_num(t['submissions'])} submissions represented ({t['submissions_share_pct']}%) raise it; "
            f"main theme of {fmt_num(t['main_unique_texts'])} unique texts · {fmt_num(t['main_comments'])} comments · "
            f"{fmt_num(t['main_submissions'])} submissions represented")
    if t.get("top_campaign_id") and t.get("top_campaign_comments"):
        line += (f". Of the {fmt_num(t['comments'])} comments, {fmt_num(t['top_campaign_comments'])} are copies of "
                 f"campaign {t['top_campaign_id']}")
    if t["quotes_withheld"]:
        line += f" · {t['quotes_withheld']} quote(s) not shown because they name a private individual"
    if t.get("audited"):
        line += " · audited: " + theme_audit_words(t["audited"])
    return line


def theme_stance_rows(t: dict, stances: list[str]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a theme's stance table: unique texts and comments per stance."""
    header = ["", *stances]
    rows = [[label] + [fmt_num((t["stance_of"].get(s) or {}).get(measure, 0)) for s in stances]
            for label, measure in (("Unique texts", "unique_texts"), ("Comments", "comments"))]
    return header, rows


def theme_totals_line(tt: dict) -> str:
    return (f"By main theme the themes hold {fmt_num(tt['main_comments'])} comments: each of the "
            f"{fmt_num(tt['comments_with_theme'])} comments with a theme once. "
            f"{fmt_num(tt['comments_without_theme'])} comments raise no theme: their text was not read "
            "(attachments), is empty or only covers an attachment, or is a stray remark that fits no theme.")


def significant_line(r: dict) -> str:
    who = r["commenter"]
    camp = (f" (campaign {r['campaign_id']}, {fmt_num(r['campaign_size'])} copies)" if r.get("campaign_id") else "")
    signals = ", ".join(r["signals"] or []) or "length"
    return f"{who}{camp}: substance {r['score']:.0f}/100 ({signals})"


def codebook_text(d: dict) -> str:
    return d.get("codebook") or "none (automatic themes, built-in stance rules)"


# CommonMark lets any ASCII punctuation be backslash-escaped; escaping these
# keeps comment text from becoming links, emphasis, tables or raw HTML.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&:])")


def md_escape(text) -> str:
    """Comment-derived text as inert Markdown (one line: whitespace collapsed)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text or "").split()))


def to_markdown(brief: dict) -> str:
    d, h, c = brief["docket"], brief["headline"], brief["commenters"]
    e = md_escape
    out = [
        f"# {e(heading(d))}",
        "",
        f"- Docket: [{e(d['docket_id'])}]({d['url']})" + (f" · {e(d['docket_type'])}" if d["docket_type"] else ""),
        *([f"- Title: {e(title_note(d))}"] if d.get("title_from_notice") else []),
        f"- Agency: {e(d['agency_id'] or 'not recorded')}",
        f"- RIN: {e(d['rin'] or 'none recorded')}",
        f"- Comment period: {fmt_period(d['comment_start'], d['comment_end'])}",
        f"- Data synced: {fmt_when(d['synced_at'])} ({e(d['synced_basis'])})",
        f"- Analyzed: {fmt_when(d['analyzed_at'])} (run {e(d['analysis_run_id'])}, code {e(d['code_version'])})",
        f"- Codebook: {e(codebook_text(d))}",
        "",
        "_Names of private individuals are shown (--show-names)._" if brief["show_names"]
        else "_Names of private individuals are withheld; organizations and government bodies are named._",
        "",
        *changes_markdown(brief.get("changes")),
        "## 1. The numbers",
        "",
        numbers_paragraph(h) + (f" **{e(brief['not_read_note'])}**" if brief.get("not_read_note") else ""),
        "",
        "| Measure | Count |",
        "|---|---:|",
    ]
    out += [f"| {e(m['label'])} | {fmt_num(m['value'])} |" for m in brief["metrics"] if not m["key"].startswith("stance_")]
    out += [
        "",
        "## 2. Stance toward the proposed action",
        "",
        e(STANCE_NOTE),
        "",
        f"_{e(brief['stance_method']['statement'])}_" if brief.get("stance_method") else "",
        "",
        "| Stance | Unique texts | Share | Submissions represented | Share |",
        "|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {e(s['stance'])} | {fmt_num(s['unique_texts'])} | {stance_share(s, 'unique_texts')} | "
        f"{fmt_num(s['submissions'])} | {stance_share(s, 'submissions')} |"
        for s in brief["stance"]
    ]
    out += ["", "## 3. Themes, largest first", "",
            "_Counted two ways: the texts that raise a theme (one text can raise several) and by main theme "
            "(each comment once, so these add up)._", "", theme_totals_line(brief["theme_totals"]), ""]
    for i, t in enumerate(brief["themes"], start=1):
        out.append(f"### {i}. {e(t['label'])}")
        out += ["", theme_line(t), ""]
        if t["stance"]:
            header, rows = theme_stance_rows(t, brief["theme_stances"])
            out += ["| Stance | " + " | ".join(e(h) for h in header[1:]) + " |", "|---|" + "---:|" * (len(header) - 1)]
            out += ["| " + " | ".join(row) + " |" for row in rows]
            out.append("")
        for q in t["quotes"]:
            out += [f"> “{e(q['quote'])}”", f"> — {e(q['attribution'])}, [{e(q['comment_id'])}]({q['url']})", ""]
    out += ["## 4. Comments the agency must answer", "",
            "_Unique texts ranked by substance: evidence, numbers, citations of law or studies, specific requested "
            "changes, expertise. Agencies must respond to significant comments._", ""]
    if not brief["significant"]:
        out += ["No comment with substance was found.", ""]
    for r in brief["significant"]:
        line = f"{r['rank']}. [{e(r['comment_id'])}]({r['url']}), {e(significant_line(r))}"
        if r["key_sentence"]:
            line += f" — “{e(r['key_sentence'])}”"
        elif r["sentence_withheld"]:
            line += " — key sentence not shown: it names a private individual"
        out.append(line)
    out += ["", "## 5. Who commented", ""]
    if c["governments"]:
        out += ["### Governments and officials", "", "| Name | Comments | Stance |", "|---|---:|---|"]
        out += [f"| {e(o['name'])} | {fmt_num(o['comments'])} | {e(_org_stance(o))} |" for o in c["governments"]]
        out.append("")
    out += [f"### Organizations ({fmt_num(c['organizations_total'])})", ""]
    if c["organizations"]:
        out += ["| Name | Comments | Stance |", "|---|---:|---|"]
        out += [f"| {e(o['name'])} | {fmt_num(o['comments'])} | {e(_org_stance(o))} |" for o in c["organizations"]]
        if c["organizations_not_shown"]:
            out += ["", f"… and {fmt_num(c['organizations_not_shown'])} more organizations (see `comments export`)."]
        out.append("")
    if c["unnamed_organization_comments"] or c["unnamed_government_comments"]:
        out += [f"Also {fmt_num(c['unnamed_organization_comments'] + c['unnamed_government_comments'])} comments that read as "
                "from an organization or government body that gave no name.", ""]
    out += ["### Largest campaigns", ""]
    for k in brief["campaigns"]:
        out += [
            f"**{e(k['campaign_id'])}**: {fmt_num(k['size'])} copies posted ({fmt_num(k['exact_copies'])} exact), "
            f"{fmt_num(k['submissions_represented'])} submissions represented, stance {e(k['stance'])}, "
            f"{fmt_day(k['first_received'])} to {fmt_day(k['last_received'])}. "
            f"{e(k['additions_line'])}" + "".join(f" {e(k[line])}" for line in ("shared_passage_line", "contained_line", "also_line") if k[line]),
            "",
            f"> Template ([{e(k['template_comment_id'])}]({k['template_url']})): {e(k['template_excerpt'])}",
            "",
        ]
        if k["addition_example"]:
            a = k["addition_example"]
            out += [f"> One sender added: “{e(a['quote'])}” ([{e(a['comment_id'])}]({a['url']}))", ""]
    out += ["## 6. Submissions per day", "", "| Day | Comments | Campaign copies |", "|---|---:|---:|"]
    out += [f"| {r['day']} | {fmt_num(r['comments'])} | {fmt_num(r['campaign_comments'])} |" for r in brief["timeline"]]
    out += ["", "## 7. Caveats", ""]
    out += [f"- {e(text)}" for text in brief["caveats"]]
    out += ["", f"_Generated {fmt_when(brief['generated_at'])} by `comments brief`; every number comes from `sql/reports/brief_*.sql`._", ""]
    return "\n".join(out)


def changes_heading(w: dict) -> str:
    return "What changed since the last run" + (f" ({fmt_when(w['since'])})" if w.get("since") else "")


def changes_lines(w: dict) -> dict:
    """The plain sentences of the what-changed section that Markdown and Word share (numbers only, no comment text)."""
    out = {
        "first_run": f"First tracked run: baseline recorded ({fmt_num(w['comments_after'])} comments posted). "
                     "The next run will report what changed.",
        "unchanged": f"No changes since {fmt_when(w['since'])}: no new comments, and campaigns, themes and stance "
                     "are as they were.",
    }
    if w["status"] != "changed":
        return out
    n = w["new_comments"]
    comments = (f"{fmt_num(n)} new comment{'s' if n != 1 else ''}: posted comments {fmt_num(w['comments_before'])} → "
                f"{fmt_num(w['comments_after'])}, submissions represented {fmt_num(w['submissions_before'])} → "
                f"{fmt_num(w['submissions_after'])}.")
    if w["removed_comments"]:
        r = w["removed_comments"]
        comments += f" {fmt_num(r)} earlier comment{'s are' if r != 1 else ' is'} no longer in the docket."
    out["comments"] = comments
    out["stance"] = (
        " ".join(f"{s['stance']} by {s['measure'].replace('_', ' ')}: {s['share_before']}% → {s['share_after']}% "
                 f"({fmt_points(s['points'])} points; {fmt_num(s['before'])} → {fmt_num(s['after'])})."
                 for s in w["stance_shifted"])
        or f"No stance share moved by {fmt_num(w['shift_threshold'])} points or more."
    ) + (f" {line}" if (line := stance_sources_line(w)) else "")
    out["stance_header"] = ["Stance", "Unique texts", "Change", "Share", "Submissions represented", "Change", "Share"]
    out["stance_rows"] = [
        [r["stance"]] + [
            cell for m in ("unique_texts", "submissions") for cell in (
                f"{fmt_num(r[m]['before'])} → {fmt_num(r[m]['after'])}", fmt_signed(r[m]["delta"]),
                f"{r[m]['share_after']}% ({fmt_points(r[m]['points'])})")
        ]
        for r in w["stance"]
    ]
    return out


def stance_sources_line(w: dict) -> str:
    """One sentence, numbers and stance names only: how much of a stance change is new comments and how
    much is earlier comments read differently (and whether the stance method changed). Empty when no
    stance count moved."""
    src = w.get("stance_sources") or {}
    if not src or not (w.get("stance_moved") or src.get("reclassified")):
        return ""
    if not src.get("known"):
        return ("Whether this is new comments or earlier ones read differently is not known: the previous run "
                "kept no per-comment stances.")

    def split(counts: dict) -> str:
        return ", ".join(f"{k} {fmt_num(v)}" for k, v in counts.items())

    parts = []
    if src.get("new"):
        n = sum(src["new"].values())
        parts.append(f"{fmt_num(n)} new comment{'s' if n != 1 else ''} ({split(src['new'])})")
    if src.get("reclassified"):
        n = src["reclassified"]
        moves = src.get("transitions") or []
        shown = ", ".join(f"{m['from']} → {m['to']} {fmt_num(m['comments'])}" for m in moves[:4])
        rest = sum(m["comments"] for m in moves[4:])
        if rest:
            shown += f", other moves {fmt_num(rest)}"
        parts.append(f"{fmt_num(n)} earlier comment{'s' if n != 1 else ''} changed stance on re-analysis ({shown})")
    if src.get("removed"):
        n = sum(src["removed"].values())
        parts.append(f"{fmt_num(n)} no longer in the docket ({split(src['removed'])})")
    line = ("By comments: " + "; ".join(parts) + ".") if parts else ""
    before, after = src.get("method_before") or {}, src.get("method_after") or {}

    def method(m: dict) -> str:
        how = (f"a model trained on {fmt_num(m['n_labels'])} analyst labels" if m.get("method") == "model"
               else "rules" + (f" with {fmt_num(m['n_labels'])} analyst labels" if m.get("n_labels") else ""))
        return how + (f", codebook {m['codebook']}" if m.get("codebook") else "")

    if before and after and method(before) != method(after):
        line += f" The stance method changed: {method(before)} → {method(after)}."
    elif before and after and before.get("code_version") != after.get("code_version"):
        line += (f" The analysis code or its settings changed ({before.get('code_version') or 'unknown'} → "
                 f"{after.get('code_version') or 'unknown'}).")
    return line.strip()


MORE_LABELS = {
    "new_campaigns": "new campaigns", "grown_campaigns": "campaigns that grew",
    "shrunk_campaigns": "campaigns that shrank", "gone_campaigns": "campaigns no longer found",
    "new_themes": "new themes", "grown_themes": "themes that grew",
    "shrunk_themes": "themes that shrank", "gone_themes": "themes no longer found",
}


def changes_more(w: dict, kinds: tuple[str, ...]) -> list[str]:
    """'… and N more new campaigns' lines for the lists the section cut short."""
    return [f"… and {fmt_num(w['not_listed'][k])} more {MORE_LABELS[k]}" for k in kinds if w["not_listed"].get(k)]


CAMPAIGN_LISTS = ("new_campaigns", "grown_campaigns", "shrunk_campaigns", "gone_campaigns")
THEME_LISTS = ("new_themes", "grown_themes", "shrunk_themes", "gone_themes")


def changes_markdown(w: dict | None) -> list[str]:
    """The what-changed section (a `data.what_changed` result) as Markdown lines.

    The briefing's Markdown opens with it; `comments.briefing.changes_file` writes it, with
    uncapped lists, as `<DOCKET>.changes.md`.
    """
    if not w:
        return []
    e = md_escape
    text = changes_lines(w)
    out = [f"## {changes_heading(w)}", ""]
    if w["status"] != "changed":
        return out + [text[w["status"]], ""]
    out += [f"**Comments.** {text['comments']}", ""]
    if w["new_comment_links"]:
        more = f" and {fmt_num(w['new_comments_not_listed'])} more" if w["new_comments_not_listed"] else ""
        out += ["New: " + ", ".join(f"[{e(c['comment_id'])}]({c['url']})" for c in w["new_comment_links"]) + more, ""]
    if w.get("removed_comment_ids"):
        more = f" and {fmt_num(w['removed_comments_not_listed'])} more" if w.get("removed_comments_not_listed") else ""
        out += ["No longer in the docket: " + ", ".join(e(c) for c in w["removed_comment_ids"]) + more, ""]
    out += ["**Campaigns.**", ""]
    if not (w["new_campaigns"] or w["grown_campaigns"] or w["shrunk_campaigns"] or w["gone_campaigns"]):
        out.append("- No new campaigns, and no campaign changed size.")
    for k in w["new_campaigns"]:
        line = (f"- **New campaign {e(k['campaign_id'])}**: {fmt_num(k['size'])} copies ({fmt_num(k['submissions'])} "
                f"submissions represented), stance {e(k['stance'] or 'unclear')}.")
        out.append(line + (f" Template begins: “{e(k['excerpt'])}”" if k["excerpt"] else ""))
    for k in w["grown_campaigns"]:
        out.append(f"- **Campaign {e(k['campaign_id'])} grew by {fmt_num(k['added'])}**: {fmt_num(k['size_before'])} → "
                   f"{fmt_num(k['size_after'])} copies ({fmt_num(k['submissions_before'])} → "
                   f"{fmt_num(k['submissions_after'])} submissions represented).")
    for k in w["shrunk_campaigns"]:
        out.append(f"- Campaign {e(k['campaign_id'])} shrank: {fmt_num(k['size_before'])} → {fmt_num(k['size_after'])} copies.")
    for k in w["gone_campaigns"]:
        out.append(f"- Campaign {e(k['campaign_id'])} ({fmt_num(k['size'])} copies) is no longer found.")
    out += [f"- {line}" for line in changes_more(w, CAMPAIGN_LISTS)]
    out += ["", f"**Stance.** {text['stance']}", ""]
    if w["stance_moved"]:
        out += ["| " + " | ".join(text["stance_header"]) + " |", "|---|---:|---:|---:|---:|---:|---:|"]
        out += ["| " + " | ".join(row) + " |" for row in text["stance_rows"]]
        out.append("")
    out += ["**Themes.**", ""]
    if not (w["new_themes"] or w["grown_themes"] or w["shrunk_themes"] or w["gone_themes"]):
        out.append("- No new themes, and no theme changed size.")
    for t in w["new_themes"]:
        out.append(f"- **New theme {e(t['theme_id'])}** “{e(t['label'])}”: {fmt_num(t['comments'])} comments "
                   f"({fmt_num(t['unique_texts'])} unique texts).")
    for t in w["grown_themes"]:
        out.append(f"- Theme {e(t['theme_id'])} “{e(t['label'])}” **grew by {fmt_num(t['added'])}**: "
                   f"{fmt_num(t['comments_before'])} → {fmt_num(t['comments_after'])} comments.")
    for t in w["shrunk_themes"]:
        out.append(f"- Theme {e(t['theme_id'])} “{e(t['label'])}” shrank: {fmt_num(t['comments_before'])} → "
                   f"{fmt_num(t['comments_after'])} comments.")
    for t in w["gone_themes"]:
        out.append(f"- Theme {e(t['theme_id'])} “{e(t['label'])}” is no longer found.")
    out += [f"- {line}" for line in changes_more(w, THEME_LISTS)]
    return out + [""]


def _changes_docx(doc, w: dict | None) -> None:
    if not w:
        return
    text = changes_lines(w)
    doc.add_heading(changes_heading(w), level=2)
    if w["status"] != "changed":
        doc.add_paragraph(text[w["status"]])
        return

    def labeled(label: str, rest: str = ""):
        p = doc.add_paragraph()
        p.add_run(label).bold = True
        if rest:
            p.add_run(" " + rest)
        return p

    labeled("Comments.", text["comments"])
    if w["new_comment_links"]:
        p = doc.add_paragraph("New: ")
        for i, c in enumerate(w["new_comment_links"]):
            if i:
                p.add_run(", ")
            _hyperlink(p, c["url"], c["comment_id"])
        if w["new_comments_not_listed"]:
            p.add_run(f" and {fmt_num(w['new_comments_not_listed'])} more")
    if w.get("removed_comment_ids"):
        more = f" and {fmt_num(w['removed_comments_not_listed'])} more" if w.get("removed_comments_not_listed") else ""
        doc.add_paragraph("No longer in the docket: " + ", ".join(w["removed_comment_ids"]) + more)
    labeled("Campaigns.")
    if not (w["new_campaigns"] or w["grown_campaigns"] or w["shrunk_campaigns"] or w["gone_campaigns"]):
        doc.add_paragraph("No new campaigns, and no campaign changed size.", style="List Bullet")
    for k in w["new_campaigns"]:
        p = doc.add_paragraph(style="List Bullet")
        p.add_run(f"New campaign {k['campaign_id']}").bold = True
        p.add_run(f": {fmt_num(k['size'])} copies ({fmt_num(k['submissions'])} submissions represented), "
                  f"stance {k['stance'] or 'unclear'}." + (f" Template begins: “{k['excerpt']}”" if k["excerpt"] else ""))
    for k in w["grown_campaigns"]:
        p = doc.add_paragraph(style="List Bullet")
        p.add_run(f"Campaign {k['campaign_id']} grew by {fmt_num(k['added'])}").bold = True
        p.add_run(f": {fmt_num(k['size_before'])} → {fmt_num(k['size_after'])} copies "
                  f"({fmt_num(k['submissions_before'])} → {fmt_num(k['submissions_after'])} submissions represented).")
    for k in w["shrunk_campaigns"]:
        doc.add_paragraph(f"Campaign {k['campaign_id']} shrank: {fmt_num(k['size_before'])} → "
                          f"{fmt_num(k['size_after'])} copies.", style="List Bullet")
    for k in w["gone_campaigns"]:
        doc.add_paragraph(f"Campaign {k['campaign_id']} ({fmt_num(k['size'])} copies) is no longer found.", style="List Bullet")
    for line in changes_more(w, CAMPAIGN_LISTS):
        doc.add_paragraph(line, style="List Bullet")
    labeled("Stance.", text["stance"])
    if w["stance_moved"]:
        _table(doc, text["stance_header"], text["stance_rows"])
    labeled("Themes.")
    if not (w["new_themes"] or w["grown_themes"] or w["shrunk_themes"] or w["gone_themes"]):
        doc.add_paragraph("No new themes, and no theme changed size.", style="List Bullet")
    for t in w["new_themes"]:
        p = doc.add_paragraph(style="List Bullet")
        p.add_run(f"New theme {t['theme_id']}").bold = True
        p.add_run(f" “{t['label']}”: {fmt_num(t['comments'])} comments ({fmt_num(t['unique_texts'])} unique texts).")
    for t in w["grown_themes"]:
        p = doc.add_paragraph(style="List Bullet")
        p.add_run(f"Theme {t['theme_id']} “{t['label']}” ")
        p.add_run(f"grew by {fmt_num(t['added'])}").bold = True
        p.add_run(f": {fmt_num(t['comments_before'])} → {fmt_num(t['comments_after'])} comments.")
    for t in w["shrunk_themes"]:
        doc.add_paragraph(f"Theme {t['theme_id']} “{t['label']}” shrank: {fmt_num(t['comments_before'])} → {fmt_num(t['comments_after'])} comments.",
                          style="List Bullet")
    for t in w["gone_themes"]:
        doc.add_paragraph(f"Theme {t['theme_id']} “{t['label']}” is no longer found.", style="List Bullet")
    for line in changes_more(w, THEME_LISTS):
        doc.add_paragraph(line, style="List Bullet")


def to_docx(brief: dict) -> bytes:
    from docx import Document
    from docx.shared import Inches, Pt

    d, h, c = brief["docket"], brief["headline"], brief["commenters"]
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10)
    for section in doc.sections:
        section.left_margin = section.right_margin = Inches(0.8)
        section.top_margin = section.bottom_margin = Inches(0.7)
    doc.add_heading(heading(d), level=1)
    p = doc.add_paragraph("Docket: ")
    _hyperlink(p, d["url"], d["docket_id"])
    if d.get("title_from_notice"):
        doc.add_paragraph(f"Title: {title_note(d)}")
    for label, value in (
        ("Agency", d["agency_id"] or "not recorded"),
        ("RIN", d["rin"] or "none recorded"),
        ("Comment period", fmt_period(d["comment_start"], d["comment_end"])),
        ("Data synced", f"{fmt_when(d['synced_at'])} ({d['synced_basis']})"),
        ("Analyzed", f"{fmt_when(d['analyzed_at'])} (run {d['analysis_run_id']}, code {d['code_version']})"),
        ("Codebook", codebook_text(d)),
    ):
        doc.add_paragraph(f"{label}: {value}")
    doc.add_paragraph(
        "Names of private individuals are shown (--show-names)." if brief["show_names"]
        else "Names of private individuals are withheld; organizations and government bodies are named."
    ).runs[0].italic = True
    _changes_docx(doc, brief.get("changes"))

    doc.add_heading("1. The numbers", level=2)
    doc.add_paragraph(numbers_paragraph(h))
    if brief.get("not_read_note"):
        doc.add_paragraph().add_run(brief["not_read_note"]).bold = True
    _table(doc, ["Measure", "Count"],
           [[m["label"], fmt_num(m["value"])] for m in brief["metrics"] if not m["key"].startswith("stance_")])

    doc.add_heading("2. Stance toward the proposed action", level=2)
    doc.add_paragraph(STANCE_NOTE)
    if brief.get("stance_method"):
        doc.add_paragraph().add_run(brief["stance_method"]["statement"]).italic = True
    _table(doc, ["Stance", "Unique texts", "Share", "Submissions represented", "Share"], [
        [s["stance"], fmt_num(s["unique_texts"]), stance_share(s, "unique_texts"), fmt_num(s["submissions"]),
         stance_share(s, "submissions")]
        for s in brief["stance"]
    ])

    doc.add_heading("3. Themes, largest first", level=2)
    doc.add_paragraph("Counted two ways: the texts that raise a theme (one text can raise several) and by main theme "
                      "(each comment once, so these add up).")
    doc.add_paragraph(theme_totals_line(brief["theme_totals"]))
    for i, t in enumerate(brief["themes"], start=1):
        doc.add_heading(f"{i}. {t['label']}", level=3)
        doc.add_paragraph(theme_line(t))
        if t["stance"]:
            header, rows = theme_stance_rows(t, brief["theme_stances"])
            _table(doc, ["Stance", *header[1:]], rows)
        for q in t["quotes"]:
            p = doc.add_paragraph(style="Quote")
            p.add_run(f"“{q['quote']}” — {q['attribution']}, ")
            _hyperlink(p, q["url"], q["comment_id"])

    doc.add_heading("4. Comments the agency must answer", level=2)
    doc.add_paragraph("Unique texts ranked by substance: evidence, numbers, citations of law or studies, specific "
                      "requested changes, expertise. Agencies must respond to significant comments.")
    if not brief["significant"]:
        doc.add_paragraph("No comment with substance was found.")
    for r in brief["significant"]:
        p = doc.add_paragraph(style="List Number")
        _hyperlink(p, r["url"], r["comment_id"])
        p.add_run(f", {significant_line(r)}")
        if r["key_sentence"]:
            doc.add_paragraph(f"“{r['key_sentence']}”", style="Quote")
        elif r["sentence_withheld"]:
            doc.add_paragraph("(key sentence not shown: it names a private individual)", style="Quote")

    doc.add_heading("5. Who commented", level=2)
    if c["governments"]:
        doc.add_heading("Governments and officials", level=3)
        _table(doc, ["Name", "Comments", "Stance"], [[o["name"], fmt_num(o["comments"]), _org_stance(o)] for o in c["governments"]])
    doc.add_heading(f"Organizations ({fmt_num(c['organizations_total'])})", level=3)
    if c["organizations"]:
        _table(doc, ["Name", "Comments", "Stance"], [[o["name"], fmt_num(o["comments"]), _org_stance(o)] for o in c["organizations"]])
        if c["organizations_not_shown"]:
            doc.add_paragraph(f"… and {fmt_num(c['organizations_not_shown'])} more organizations (see comments export).")
    if c["unnamed_organization_comments"] or c["unnamed_government_comments"]:
        doc.add_paragraph(f"Also {fmt_num(c['unnamed_organization_comments'] + c['unnamed_government_comments'])} comments that read as "
                          "from an organization or government body that gave no name.")
    doc.add_heading("Largest campaigns", level=3)
    for k in brief["campaigns"]:
        doc.add_paragraph(
            f"{k['campaign_id']}: {fmt_num(k['size'])} copies posted ({fmt_num(k['exact_copies'])} exact), "
            f"{fmt_num(k['submissions_represented'])} submissions represented, stance {k['stance']}, "
            f"{fmt_day(k['first_received'])} to {fmt_day(k['last_received'])}. "
            f"{k['additions_line']}" + "".join(f" {k[line]}" for line in ("shared_passage_line", "contained_line", "also_line") if k[line])
        )
        p = doc.add_paragraph(style="Quote")
        p.add_run("Template (")
        _hyperlink(p, k["template_url"], k["template_comment_id"])
        p.add_run(f"): {k['template_excerpt']}")
        if k["addition_example"]:
            a = k["addition_example"]
            p = doc.add_paragraph(style="Quote")
            p.add_run(f"One sender added: “{a['quote']}” (")
            _hyperlink(p, a["url"], a["comment_id"])
            p.add_run(")")

    doc.add_heading("6. Submissions per day", level=2)
    doc.add_paragraph("Posted comments by the day the agency received them; campaign copies in orange.")
    doc.add_picture(io.BytesIO(chart.timeline_png(brief["timeline"])), width=Inches(6.5))

    doc.add_heading("7. Caveats", level=2)
    for text in brief["caveats"]:
        doc.add_paragraph(text, style="List Bullet")
    doc.add_paragraph(f"Generated {fmt_when(brief['generated_at'])} by comments brief; every number comes from sql/reports/brief_*.sql.")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _table(doc, header: list[str], rows: list[list[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Light List"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = str(text)


def _hyperlink(paragraph, url: str, text: str) -> None:
    """A clickable link run (python-docx has no public API for it)."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rel_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel_id)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "3B6EA5")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.append(color)
    props.append(underline)
    run.append(props)
    t = OxmlElement("w:t")
    t.text = text  # set as element text: XML-escaped by lxml
    t.set(qn("xml:space"), "preserve")
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def _org_stance(o: dict) -> str:
    """An organization's stance, with how its comments split when they do not all agree."""
    return f"{o['stance']} ({o['stance_split']})" if o.get("stance_split") else o["stance"]
