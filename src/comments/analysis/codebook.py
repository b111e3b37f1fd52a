"""The per-docket codebook the analyst owns: what support and oppose mean, extra cue phrases,
and the themes (name, description, seed phrases), in an editable TOML file.

    comments codebook CMS-2022-0163        # writes data/comments.CMS-2022-0163.codebook.toml

`write_codebook` seeds the file from the docket's own record (title, abstract), the notice's
text (its section headings and the questions it asks, from `document_texts`), the largest
campaigns' templates and, when the docket was analyzed, its themes. The analyst renames,
merges, splits or deletes themes, edits the seed phrases and cue phrases, and bumps
`version`. `load_codebook` reads it back (a malformed file is one line naming the file and
the line); `comments analyze` uses it when it exists: the themes are seeded and named from
it, the cue phrases go to the stance rules, and the run records the version and the file's
SHA-256, which the briefing shows. Without a codebook nothing changes.

The first line of a generated file carries the SHA-256 of the rest: a file whose rest no
longer matches was edited, and is never overwritten without `force`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from comments.errors import InputError

FORMAT = 1
_STAMP = re.compile(r"^# comments codebook: generated ([0-9a-f]{64})\n")


@dataclass(frozen=True)
class CodebookTheme:
    theme_id: str | None
    name: str
    description: str = ""
    seeds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    path: Path
    docket_id: str
    version: int
    sha256: str
    support: str = ""
    oppose: str = ""
    support_cues: list[str] = field(default_factory=list)
    oppose_cues: list[str] = field(default_factory=list)
    themes: list[CodebookTheme] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How the analysis run and the briefing name it: file, version and content hash."""
        return f"{self.path.name} version {self.version} (sha256 {self.sha256[:12]})"

    def extra_cues(self) -> dict[str, list[str]] | None:
        """Cue phrases for the stance rules (`extra_cues=`), None when the codebook adds none."""
        if not (self.support_cues or self.oppose_cues):
            return None
        return {"support": list(self.support_cues), "oppose": list(self.oppose_cues)}


def default_path(db_path: str | Path, docket_id: str) -> Path:
    """Where a database's codebook for `docket_id` lives: beside the database file."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}.{docket_id}.codebook.toml")


# --------------------------------------------------------------------------- reading


def load_codebook(path: str | Path, docket_id: str | None = None) -> Codebook:
    """The codebook at `path`; InputError (one line: file, line, what is wrong) when it is malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read codebook {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"codebook {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"codebook {path}: {exc} (fix the file, or delete it to analyze without a codebook)") from None

    def fail(what: str) -> InputError:
        return InputError(f"codebook {path}: {what}")

    def text(value, where: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise fail(f"{where} must be a string")
        return value.strip()

    def strings(value, where: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"{where} must be a list of strings")
        return [v.strip() for v in value if v.strip()]

    docket = text(data.get("docket"), "docket")
    if docket_id is not None and docket and docket != docket_id:
        raise fail(f"it is the codebook of docket {docket}, not {docket_id}")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("version must be a whole number of 1 or more")
    stance = data.get("stance") or {}
    if not isinstance(stance, dict):
        raise fail("[stance] must be a table")
    themes = []
    raw_themes = data.get("themes") or []
    if not isinstance(raw_themes, list):
        raise fail("themes must be an array of tables ([[themes]])")
    seen_ids: set[str] = set()
    for n, t in enumerate(raw_themes, start=1):
        if not isinstance(t, dict):
            raise fail(f"theme {n} must be a table")
        name = text(t.get("name"), f"theme {n} name")
        if not name:
            raise fail(f"theme {n} has no name")
        theme_id = text(t.get("id"), f"theme {n} id") or None
        if theme_id is not None:
            if not re.fullmatch(r"T\d{3,}", theme_id):
                raise fail(f"theme {n} id {theme_id!r} must look like T001 (or be left out for a new theme)")
            if theme_id in seen_ids:
                raise fail(f"theme id {theme_id} is used twice")
            seen_ids.add(theme_id)
        themes.append(CodebookTheme(theme_id, name, text(t.get("description"), f"theme {n} description"),
                                    tuple(strings(t.get("seeds"), f"theme {n} seeds"))))
    return Codebook(
        path=path, docket_id=docket or (docket_id or ""), version=version,
        sha256=hashlib.sha256(raw).hexdigest(),
        support=text(stance.get("support"), "stance.support"), oppose=text(stance.get("oppose"), "stance.oppose"),
        support_cues=strings(stance.get("support_cues"), "stance.support_cues"),
        oppose_cues=strings(stance.get("oppose_cues"), "stance.oppose_cues"),
        themes=themes,
    )


def find_codebook(db_path: str | Path | None, docket_id: str) -> Codebook | None:
    """The database's codebook for the docket, when the file exists (checked: InputError if malformed)."""
    if db_path is None or str(db_path) == ":memory:":
        return None
    path = default_path(db_path, docket_id)
    return load_codebook(path, docket_id) if path.exists() else None


def theme_seeds(codebook: Codebook, taken_ids: list[str]) -> tuple[list[tuple[str, list[str], bool]], dict[str, str]]:
    """The codebook's themes as seeds for `find_themes(previous=...)`: [(theme_id, words, False)],
    and theme_id -> the analyst's name. Themes without an id get the next free T-numbers."""
    numbers = [int(t[1:]) for t in [*taken_ids, *(t.theme_id for t in codebook.themes if t.theme_id)]
               if re.fullmatch(r"T\d+", t or "")]
    next_no = max(numbers, default=0) + 1
    seeds, names = [], {}
    for t in codebook.themes:
        theme_id = t.theme_id
        if theme_id is None:
            theme_id = f"T{next_no:03d}"
            next_no += 1
        seeds.append((theme_id, [t.name, t.description, *t.seeds], False))
        names[theme_id] = t.name
    return seeds, names


# --------------------------------------------------------------------------- writing


def write_codebook(con: duckdb.DuckDBPyConnection, docket_id: str, path: str | Path, *, force: bool = False) -> Path:
    """Write the docket's seeded codebook to `path`; InputError when it exists and was edited (unless force)."""
    path = Path(path)
    if path.exists() and not force and not _unedited(path):
        raise InputError(f"{path} has been edited: pass --force to replace it (your edits would be lost)")
    body = render(seed(con, docket_id))
    content = f"# comments codebook: generated {hashlib.sha256(body.encode()).hexdigest()}\n" + body
    load_from_text(content, path, docket_id)  # what we write must read back
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(path)
    return path


def load_from_text(content: str, path: Path, docket_id: str) -> Codebook:
    tmp = path.with_name(path.name + ".check")
    tmp.write_text(content, encoding="utf-8")
    try:
        return load_codebook(tmp, docket_id)
    finally:
        tmp.unlink(missing_ok=True)


def _unedited(path: Path) -> bool:
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    m = _STAMP.match(content)
    return bool(m) and hashlib.sha256(content[m.end():].encode()).hexdigest() == m.group(1)


@dataclass
class Seed:
    docket_id: str
    title: str
    abstract: str
    notice_documents: list[str]
    sections: list[tuple[str, list[str]]]           # (heading, its questions)
    campaigns: list[dict]                            # largest first
    themes: list[dict]                               # last analysis's themes
    support_cues: list[str] = field(default_factory=list)
    oppose_cues: list[str] = field(default_factory=list)


def seed(con: duckdb.DuckDBPyConnection, docket_id: str) -> Seed:
    """What the codebook is seeded from, read from the database."""
    row = con.execute("select title, abstract from dockets where docket_id = ?", [docket_id]).fetchone()
    if row is None and not con.execute("select count(*) from comments where docket_id = ?", [docket_id]).fetchone()[0]:
        raise InputError(f"unknown docket {docket_id}: run `comments sync {docket_id}` first (or check --db)")
    title, abstract = (row or (None, None))
    notices = con.execute(
        "select document_id, text from document_texts where docket_id = ? and status = 'ok' and text is not null order by document_id",
        [docket_id],
    ).fetchall()
    sections: list[tuple[str, list[str]]] = []
    for _, text in notices:
        sections += notice_sections(text)
    campaigns, themes = [], []
    analyzed = con.execute(
        "select count(*) from analysis_runs where docket_id = ? and status = 'complete'", [docket_id]).fetchone()[0]
    if analyzed:
        campaigns = [dict(zip(("campaign_id", "size", "stance", "template_text"), r, strict=True)) for r in con.execute(
            """select campaign_id, size, coalesce(stance, 'unclear'), template_text from campaigns
               where docket_id = ? order by size desc, campaign_id limit 3""", [docket_id]).fetchall()]
        themes = [dict(zip(("theme_id", "label", "keywords", "unique_texts", "quotes"), r, strict=True)) for r in con.execute(
            """select theme_id, label, keywords, unique_texts, quotes from themes
               where docket_id = ? and not is_catch_all order by rank, theme_id""", [docket_id]).fetchall()]
    s = Seed(docket_id, title or "", abstract or "", [d for d, _ in notices], sections, campaigns, themes)
    for c in campaigns:
        phrase = demand_phrase(key_demand(c["template_text"]) or "")
        if phrase and c["stance"] in ("support", "oppose"):
            (s.support_cues if c["stance"] == "support" else s.oppose_cues).append(phrase)
    return s


def demand_phrase(sentence: str) -> str | None:
    """The few words of a demand that say what is asked ("reject this proposal"), if any."""
    m = re.search(r"\b(?:urge|ask|request|call on)\b[^.?!]{0,40}?\bto\s+((?:not\s+)?\w+(?:\s+[\w’']+){1,3})", sentence, re.I) \
        or re.search(r"\b(?:must|should|need to)\s+((?:not\s+)?\w+(?:\s+[\w’']+){1,3})", sentence, re.I)
    return m.group(1).strip() if m else None


# A section heading of a Federal Register notice: "IV. Technical Framework for an NDH".
_HEADING = re.compile(r"^(?P<mark>[IVXL]{1,5}|[A-Z]|\d{1,2})\.\s+(?P<text>[A-Z][^\n]{2,160})$")
_BOILERPLATE_HEADINGS = re.compile(
    r"^(?:introduction|background|overview|summary|comment solicitation|solicitation of comments|"
    r"information collection requirements?|collection of information requirements?|regulatory impact analysis|"
    r"response to comments|supplementary information|public participation|request for information|"
    r"regulatory flexibility analysis|federalism|paperwork reduction act)\b", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:\+\+|--|[•o\-–*]|\(?[a-z0-9]{1,3}[.)])\s+")


def notice_sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading, questions asked under it) for the notice's top-level sections, in order.

    Lines are hard-wrapped in Federal Register text: a line that does not end a sentence
    continues on the next one. Headings are short blocks of their own starting with a
    section mark (I., II., A., 1.); questions are sentences ending with "?".
    """
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    sections: list[tuple[str, list[str]]] = []
    current = None
    for block in blocks:
        flat = " ".join(block.split())
        m = _HEADING.match(flat)
        if m and len(flat) <= 170 and not flat.endswith((".", ",", ";")):
            heading = m.group("text").strip()
            if re.fullmatch(r"[IVXL]{1,5}", m.group("mark")):  # a top-level section
                current = None if _BOILERPLATE_HEADINGS.match(heading) else [heading, []]
                if current is not None:
                    sections.append((current[0], current[1]))
            continue
        if current is None:
            continue
        for paragraph in _unwrap(block):
            for q in re.findall(r"(?:^|(?<=[.?!]\s))([A-Z][^?]{15,400}\?)", paragraph):
                q = " ".join(q.split())
                if re.search(r"https?:|www\.|retrieved from|\\\d+\\", q, re.I):
                    continue  # a footnote's URL, not a question
                if 5 <= len(q.split()) <= 70 and q not in current[1]:
                    current[1].append(q)
    return [(h, qs) for h, qs in sections]


def _unwrap(block: str) -> list[str]:
    """Hard-wrapped lines joined into paragraphs: a line ending a sentence or a bullet starts a new one."""
    out: list[str] = []
    for line in block.split("\n"):
        line = line.strip()
        if not line or re.fullmatch(r"[-=_]{5,}|\[\[Page \d+\]\]", line):
            continue
        starts_new = bool(_BULLET.match(line)) or not out or out[-1].endswith(("?", ".", ":", ";"))
        line = _BULLET.sub("", line)
        if starts_new:
            out.append(line)
        else:
            out[-1] += " " + line
    return out


def key_demand(template: str) -> str | None:
    """The sentence of a campaign template that states what it asks for (verbatim), if any."""
    from comments.analysis.normalize import sentences

    best = None
    for a, b in sentences(template):
        s = template[a:b].strip()
        words = s.split()
        if not 6 <= len(words) <= 40:
            continue
        score = len(re.findall(r"\b(?:must|should|urge|ask|request|need|please|do not|oppose|support|keep|"
                               r"withdraw|reject|include|require)\b", s, re.IGNORECASE))
        if score and (best is None or score > best[0]):
            best = (score, s)
    return best[1] if best else None


def _seed_phrases(texts: list[str], exclude: str, limit: int = 8) -> list[str]:
    """The phrases that recur most across `texts` (2-4 words), none of them inside `exclude`."""
    from comments.analysis.themes import _phrases

    counts: Counter = Counter()
    for t in texts:
        counts.update(g for g in _phrases(t, 4) if " " in g)
    low = " ".join(re.findall(r"[a-z0-9]+", exclude.lower()))
    out: list[str] = []
    for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0])):
        if f" {g} " in f" {low} " or any(g in o or o in g for o in out):
            continue
        out.append(g)
        if len(out) == limit:
            break
    return out


# --------------------------------------------------------------------------- TOML


def _q(text: str) -> str:
    """A TOML basic string."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _list(items: list[str], indent: str = "    ") -> str:
    if not items:
        return "[]"
    return "[\n" + "".join(f"{indent}{_q(i)},\n" for i in items) + "]"


def _comment(text: str, width: int = 96) -> str:
    """`text` as TOML comment lines."""
    words, lines, line = " ".join(text.split()).split(" "), [], "#"
    for w in words:
        if len(line) + len(w) + 1 > width and line != "#":
            lines.append(line)
            line = "#"
        line += " " + w
    lines.append(line)
    return "\n".join(lines)


def render(s: Seed) -> str:
    """The codebook file for the seed (without its first, stamp line)."""
    title = s.title or s.docket_id
    out = [
        f"# Codebook for docket {s.docket_id}: {' '.join(title.split())}",
        "#",
        "# Yours to edit. `comments analyze` reads this file when it sits beside the database:",
        "# the themes below seed and name the docket's themes (rename, merge, split or delete them;",
        "# a theme without `id` is new), the cue phrases are added to the stance rules, and the",
        "# briefing names the version and this file's SHA-256. Bump `version` when you change it.",
        "# Once edited, `comments codebook` will not overwrite it without --force.",
        "",
        f"docket = {_q(s.docket_id)}",
        "version = 1",
        f"format = {FORMAT}",
        "",
    ]
    if s.abstract:
        out += [_comment(f"Abstract: {s.abstract}"), ""]
    if s.notice_documents:
        out.append(_comment(f"Seeded from the notice's text ({', '.join(s.notice_documents)}): "
                            f"{len(s.sections)} sections, {sum(len(q) for _, q in s.sections)} questions."))
    else:
        out.append(_comment("No notice text is stored for this docket (run `comments attachments "
                            f"{s.docket_id}` to fetch it): seeded from the title and the comments only."))
    out += [
        "",
        "[stance]",
        "# What each position means on this docket (shown to whoever labels comments).",
        f"support = {_q(f'Wants the agency to go ahead with: {title}.')}",
        f"oppose = {_q('Wants the agency not to go ahead, to withdraw it, or to change what it proposes in a way that goes against it.')}",
        "# Extra phrases that state a position on this docket (matched in the comment text).",
    ]
    for c in s.campaigns:
        demand = key_demand(c["template_text"])
        if demand:
            out.append(_comment(f"Campaign {c['campaign_id']} ({c['size']:,} comments, stance {c['stance']}) asks: "
                                f"“{demand}” If that is a position on this docket, add its key phrase to a list below."))
    out += [f"support_cues = {_list(s.support_cues)}", f"oppose_cues = {_list(s.oppose_cues)}", ""]
    themes = _theme_entries(s)
    out.append(_comment(f"{len(themes)} themes. Seeds are phrases commenters use for the theme (a few words each)."))
    for t in themes:
        out += ["", "[[themes]]"]
        if t.get("source"):
            out.append(_comment(f"From {t['source']}."))
        if t.get("id"):
            out.append(f"id = {_q(t['id'])}")
        out += [f"name = {_q(t['name'])}", f"description = {_q(t['description'])}", f"seeds = {_list(t['seeds'])}"]
        for q in t.get("questions", [])[:6]:
            out.append(_comment(f"The notice asks: {q}"))
    return "\n".join(out) + "\n"


def _theme_entries(s: Seed) -> list[dict]:
    entries: list[dict] = []
    for t in s.themes:
        quote = next((q["quote"] for q in t["quotes"] or [] if q.get("quote")), "")
        entries.append({
            "id": t["theme_id"], "name": t["label"], "source": f"the last analysis ({t['unique_texts']:,} unique texts)",
            "description": " ".join(quote.split())[:240], "seeds": [k for k in (t["keywords"] or [])][:8],
        })
    seeded = {w for e in entries for k in e["seeds"] for w in k.split()}
    for c in s.campaigns:
        phrases = _seed_phrases([c["template_text"]], s.title)
        if phrases and sum(any(w in seeded for w in p.split()) for p in phrases) < len(phrases) / 2:
            entries.append({"name": f"What campaign {c['campaign_id']} asks", "source": f"campaign {c['campaign_id']}'s template",
                            "description": key_demand(c["template_text"]) or "", "seeds": phrases})
    for heading, questions in s.sections:
        if not questions:
            continue
        entries.append({"name": heading, "source": "the notice's section of that name", "questions": questions,
                        "description": questions[0], "seeds": _seed_phrases(questions, s.title)})
    return entries
