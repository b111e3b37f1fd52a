"""Who commented: individual, organization, government, anonymous or unknown.

Order of evidence, strongest first:
1. `gov_agency` / `gov_agency_type` (the submitter filled the government form).
2. The `organization` field (a government-looking name makes it government).
3. The title ("Comment Submitted by Jane Doe, American Hospital Association").
4. The text: letterhead lines and "on behalf of X" / "submitted by X".
5. The names: "Anonymous Anonymous" (or no name at all on an anonymous
   submission) is anonymous; a person's name is an individual (in the name
   fields, or a title "Comment Submitted by Jane Doe" naming a person alone).
6. `category` only as a tie-breaker: on real dockets it is unreliable (on
   CMS-2022-0163 dozens of private individuals sending a form letter chose
   "Government - Federal"), so it decides only when nothing else does.

`name` is an organization or agency name, never a private person's name.

An affiliation is not an organization's comment: people give their school or
employer as "organization" ("Comment Submitted by Yifu Wang, Carnegie Mellon
University": 470 titles like it on ICEB-2015-0002, mostly students writing "As
a master student at Columbia University, I strongly support..."). When a person
is named beside the organization and the text speaks for that person (first
person singular) and never for an organization ("on behalf
of", "our members", "we represent"...), the commenter is an individual
(`voice`); so is one whose text speaks for no one (no first person at all,
8+ words) unless the organization is an advocacy body; a text that is empty, short or only points to an attachment
leaves the organization standing (ICEB-2015-0002: 475 -> 132 -> 57
organizations; the two CMS dockets: no change). Letterhead is an organization
name alone on one of the first lines *before the letter starts*: a line after
the first sentence is an attribution ("Senate Judiciary Committee Chairman
Charles Grassley" under a quote of his), not the sender.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPES = ("individual", "organization", "government", "anonymous", "unknown")


@dataclass(frozen=True)
class Commenter:
    type: str
    name: str | None       # organization/agency name (never a private individual's)
    evidence: str          # what decided it, for a reader


_ORG_WORDS = re.compile(
    r"\b(association|associations|society|college|academy|inc|incorporated|llc|l\.l\.c|ltd|corp|corporation|company|co\b|group|"
    r"hospital|hospitals|health system|healthcare|health care|health|institute|foundation|coalition|council|network|alliance|"
    r"center|centre|university|partners|partnership|systems|solutions|services|organization|organisation|federation|union|"
    r"board|plan|plans|clinic|clinics|labs|laboratories|technologies|technology|consulting|pharmacy|pharmaceuticals?|"
    r"committee|project|initiative|trust|cooperative|associates|pllc|pc|lp|llp|agency)\b",
    re.I,
)
_GOV_WORDS = re.compile(
    r"\b(state of|commonwealth of|department of|dept\.? of|county|city of|town of|office of|ministry|"
    r"governor|legislature|senate|house of representatives|congress|congressman|congresswoman|senator|"
    r"representative [A-Z]|attorney general|commissioner|insurance department|health department|"
    r"department of health|medicaid agency|tribe|tribal|veterans affairs)\b",
    re.I,
)
# Names that are not organizations even though they look like a form's filler.
# "Anonymous (Unselected US College Grad)" (ICEB-2015-0002) is a person describing themself.
_NON_NAMES = re.compile(r"^(n/?a|none|self|individual|private citizen|citizen|retired|na|-|\.|anonymous(\s*\(.*\))?)$", re.I)
_ANON = re.compile(r"^\s*anonymous\s*$", re.I)

_TITLE_BY = re.compile(r"comment submitted by (?P<who>.+)$", re.I)
_ON_BEHALF = re.compile(
    # "comments of X" names the sender only as a heading at a line's start; mid-sentence it cites
    # someone else ("the judicious comments of Senator Chuck Grassley", ICEB-2015-0002-3844)
    r"(?:\b(?i:on behalf of|submitted by)|(?m:^)[ \t]*(?i:(?:the\s+)?comments? (?:from|of)))\s+(?:the\s+)?(?:nearly\s+[\d,]+\s+members\s+of\s+(?:the\s+)?)?"
    r"(?P<name>[A-Z][\w&.'’\-]*(?:[ ,](?:of|for|and|the|&|on|in|de|[A-Z][\w&.'’\-]*|\([A-Z]+\)))*)"
)


def _clean(value) -> str | None:
    if value is None:
        return None
    text = re.sub(r"\s+", " ", str(value)).strip(" ,.;:")
    return text or None


def _org_like(name: str) -> bool:
    # Organization words only: an all-caps "JOHN SMITH" must not pass for an acronym.
    return bool(_ORG_WORDS.search(name))


def _gov_like(name: str) -> bool:
    return bool(_GOV_WORDS.search(name))


def classify(
    *,
    category: str | None = None,
    organization: str | None = None,
    gov_agency: str | None = None,
    gov_agency_type: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    title: str | None = None,
    text: str | None = None,
) -> Commenter:
    """Commenter type from the API fields, the title and the text."""
    by_fields = from_fields(organization=organization, gov_agency=gov_agency, gov_agency_type=gov_agency_type,
                            first_name=first_name, last_name=last_name, title=title)
    if by_fields is not None:
        return affiliation(by_fields, text, person=names_person(first_name, last_name, title))
    return from_text(text) or from_names(category=category, first_name=first_name, last_name=last_name, title=title)


def names_person(first_name: str | None, last_name: str | None, title: str | None) -> bool:
    """A private person is named: in the name fields (not "Anonymous") or in the title."""
    first, last = _clean(first_name) or "", _clean(last_name) or ""
    if any(p and not _ANON.match(p) for p in (first, last)):
        return True
    return person_in_title(title)


# `classify` in three parts, so a big docket can run each on its distinct inputs
# only: the form fields and title (steps 1-3), the text (step 4), the names and
# category (steps 5-6). The first part that returns a Commenter decides.

def from_fields(
    *,
    organization: str | None = None,
    gov_agency: str | None = None,
    gov_agency_type: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    title: str | None = None,
) -> Commenter | None:
    """Steps 1-3: the government form fields, the organization field, the title; None if undecided."""
    organization = _clean(organization)
    if organization and _NON_NAMES.match(organization):
        organization = None
    gov_agency = _clean(gov_agency)
    gov_agency_type = _clean(gov_agency_type)
    first, last = _clean(first_name) or "", _clean(last_name) or ""
    person = f"{first} {last}".strip()
    anonymous = bool(person) and all(_ANON.match(p) for p in (first, last) if p)

    # 1. The government form fields.
    if gov_agency or gov_agency_type:
        return Commenter("government", gov_agency or organization, f"gov_agency: {gov_agency or gov_agency_type}")

    # 2. The organization field (people sometimes type their own name there).
    if organization and person and not anonymous and _same_person(organization, first, last):
        organization = None
    if organization:
        kind = "government" if _gov_like(organization) and not _private_like(organization) else "organization"
        return Commenter(kind, organization, f"organization: {organization}")

    # 3. The title: "Comment Submitted by Jane Doe, American Hospital Association".
    m = _TITLE_BY.search(title or "")
    if m:
        who = _title_parts(m.group("who"))
        for part in reversed(who):
            if _org_like(part) and not _NON_NAMES.match(part):  # (not "Anonymous (Unselected US College Grad)")
                kind = "government" if _gov_like(part) and not _private_like(part) else "organization"
                return Commenter(kind, part, f"title: {title}")
    return None


_LEGAL_SUFFIX = re.compile(r"^(inc|incorporated|llc|l\.l\.c|ltd|corp|co|pllc|llp|lp|pc|plc|gmbh|s\.a)\.?$", re.I)


def _title_parts(who: str) -> list[str]:
    """'Siyu Wei, Pernixdata, Inc.' -> ['Siyu Wei', 'Pernixdata, Inc.']: a legal suffix stays with its name."""
    parts: list[str] = []
    for part in (p.strip() for p in who.split(",")):
        if not part:
            continue
        if parts and _LEGAL_SUFFIX.match(part):
            parts[-1] = f"{parts[-1]}, {part}"
        else:
            parts.append(part)
    return parts


_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I’m|I've|I’ve|I am|me|my|myself)\b")
_FOR_AN_ORGANIZATION = re.compile(
    r"\b(?:on behalf of|our (?:members|membership|organi[sz]ation|company|association|society|clients|customers|"
    r"employees|staff|agency|institution|hospital|practice|firm|board)|we represent|represents? (?:over|more than|nearly)?\s*"
    r"[\d,]+|(?:the|this) (?:organi[sz]ation|association|company|coalition) (?:is|was|has|supports|opposes))\b",
    re.I,
)


# first person plural, case-blind except "us" (which is also "US", the country)
_WE = re.compile(r"\b(?:(?i:we|we're|we’re|we've|we’ve|our|ours)|us)\b")
_POINTER = re.compile(r"\battach|\benclosed\b|\bsee (?:the )?(?:letter|file|document|comments?)\b", re.I)
# bodies that exist to speak for their members or a cause: their leaders' comments are theirs
_ADVOCACY = re.compile(r"\b(?:coalition|association|council|alliance|federation|foundation|league|network|society|"
                       r"union|committee|caucus|center|centre|institute for|advocates?|action|project|campaign)\b", re.I)


# a school given beside a student's or an employee's name; and the words a school's own comment uses
_SCHOOL = re.compile(r"\b(?:university|college|polytechnic|institute of technology)\b", re.I)
_SCHOOL_VOICE = re.compile(r"\bwe at\b|\bour (?:university|college|campus|school|institution|students|faculty|"
                           r"international students|scholars|researchers)\b", re.I)


VOICE_CHARS = 3000  # a letter says whom it speaks for near its start


def voice(text: str | None) -> str:
    """Whom the text speaks for: "organization" (its voice: "on behalf of", "our members", ...),
    "person" (first person singular), "no one" (a comment of its own, 8+ words, with no first
    person at all and not a pointer to an attachment: "Please repeal the 17 month STEM OPT to a
    24 month extension."), or "unknown" (empty, short, a pointer, or "we" without an organization's
    voice)."""
    head = (text or "")[:VOICE_CHARS]
    if _FOR_AN_ORGANIZATION.search(head):
        return "organization"
    if _FIRST_PERSON.search(head):
        return "person"
    if len(head.split()) >= 8 and not _WE.search(head) and not _POINTER.search(head):
        return "no one"
    return "unknown"


def person_in_title(title: str | None) -> bool:
    """'Comment Submitted by Jane Doe' (a person alone, or first before an affiliation)."""
    m = _TITLE_BY.search(title or "")
    if not m:
        return False
    first = _title_parts(m.group("who"))[:1]
    if not first or _ANON.match(first[0]) or _org_like(first[0]) or _gov_like(first[0]):
        return False
    words = first[0].split()
    return 1 <= len(words) <= 4 and all(w[:1].isupper() for w in words if w[:1].isalpha())


def may_be_affiliation(who: Commenter, *, person: bool) -> bool:
    """An organization from the organization field or the title, beside a named person: the text decides."""
    return who.type in ("organization", "government") and person and who.evidence.startswith(("organization:", "title:"))


def affiliation(who: Commenter, text: str | None, *, person: bool) -> Commenter:
    """An organization (or agency) named beside a person whose text speaks for that person is the
    person's affiliation: the commenter is an individual (see the module doc)."""
    # a school or an employer given by someone who speaks for no one is theirs, not the comment's
    # author; an advocacy body's director speaks for it unless they say "I"
    said = voice(text) if may_be_affiliation(who, person=person) else "organization"
    # a school does not speak through one student's few words or their "we" ("We should have it
    # extended!!!", "we F-1ers need opportunities"); its own comment says so ("our students", "on
    # behalf of"), and an attachment (a pointer, or no text) may be its letter
    head = (text or "")[:VOICE_CHARS]  # the part `voice` read
    student = (said == "unknown" and bool(_SCHOOL.search(who.name or "")) and bool(head.strip())
               and not _POINTER.search(head) and not _SCHOOL_VOICE.search(head))
    if said == "person" or (said == "no one" and not _ADVOCACY.search(who.name or "")) or student:
        return Commenter("individual", None, f"a person writing for themself, affiliated with {who.name}"[:200])
    return who


def from_text(text: str | None) -> Commenter | None:
    """Step 4: "On behalf of the State of Colorado, ..." / letterhead in the text; None if neither."""
    return _from_text(text)


def from_names(*, category: str | None = None, first_name: str | None = None, last_name: str | None = None,
               title: str | None = None) -> Commenter:
    """Steps 5-6: the names (fields, then a title naming a person), then the category as a last resort
    (always decides)."""
    category = _clean(category) or ""
    first, last = _clean(first_name) or "", _clean(last_name) or ""
    person = f"{first} {last}".strip()
    anonymous = bool(person) and all(_ANON.match(p) for p in (first, last) if p)

    # 5. Names.
    if anonymous:
        return Commenter("anonymous", None, "name: Anonymous")
    if person:
        return Commenter("individual", None, "first/last name given")
    if not anonymous and person_in_title(title):
        return Commenter("individual", None, "the title names a person")

    # 6. Category as a last resort.
    low = category.lower()
    if low.startswith(("individual",)):
        return Commenter("individual", None, f"category: {category}")
    if re.match(r"(government|federal government|state government|local government|other government|congressional)", low):
        return Commenter("government", None, f"category: {category}")
    if low and not low.startswith("other"):
        return Commenter("organization", None, f"category: {category}")
    return Commenter("unknown", None, "no name, organization or category")


def _same_person(organization: str, first: str, last: str) -> bool:
    words = set(re.findall(r"[a-z]+", organization.lower()))
    mine = set(re.findall(r"[a-z]+", f"{first} {last}".lower()))
    return bool(mine) and bool(last) and words <= mine | {"dr", "md", "rn", "mr", "mrs", "ms", "phd"}


def _private_like(name: str) -> bool:
    # "Federal Express Inc", "Government Affairs, Acme Health" are not agencies.
    return bool(re.search(r"\b(inc|llc|corp|corporation|company|ltd|association|society|college|academy|coalition)\b", name, re.I))


def _from_text(text: str | None) -> Commenter | None:
    if not text:
        return None
    head = text[:1500]
    for m in (_ON_BEHALF.finditer(head) if _may_name_sender(head) else ()):
        name = _trim_name(m.group("name"))
        if not name or len(name) < 4 or not (_org_like(name) or _gov_like(name)):
            continue
        kind = "government" if _gov_like(name) and not _private_like(name) else "organization"
        return Commenter(kind, name, f"text: {m.group(0)[:120]}")
    # Letterhead: an organization name alone on one of the first lines.
    for line in head.splitlines()[:4]:
        line = line.strip()
        if len(line) > 80 or line.endswith((".", "!", "?", '"', "”")):
            break  # the letter has started: an organization named below it is not its sender
        if (4 <= len(line) <= 80 and not line.endswith((".", ",", ":")) and _ORG_WORDS.search(line)
                and line[:1].isupper() and not re.search(r"\d", line)):
            words = line.split()
            if len(words) <= 8 and sum(w[:1].isupper() for w in words) >= max(1, len(words) - 2) and not line.lower().startswith(("dear", "re", "to", "comment")):
                kind = "government" if _gov_like(line) and not _private_like(line) else "organization"
                return Commenter(kind, line, f"letterhead: {line}")
    return None


# The literal cues of _ON_BEHALF, lower-cased: a text holding none of them
# cannot match it, and a substring test is ~10x cheaper than the regex scan.
_SENDER_CUES = ("on behalf of", "submitted by", "comment from", "comments from", "comment of", "comments of")
# Characters that match an ASCII cue letter under re.IGNORECASE but do not
# lower-case to it with str.lower (dotted/dotless i, long s): the regex decides.
_CASE_ODDITIES = ("\u0130", "\u0131", "\u017f")


def _may_name_sender(head: str) -> bool:
    if any(c in head for c in _CASE_ODDITIES):
        return True
    low = head.lower()
    return any(cue in low for cue in _SENDER_CUES)


def _trim_name(name: str) -> str | None:
    name = name.strip(" ,.;:")
    # Stop at a clause: "the State of Colorado, the Office of eHealth" -> "State of Colorado"
    name = re.split(r",\s+(?:the|a|an|and|we|which|who|our|i)\b|\s+\(|,\s*$", name)[0]
    name = re.sub(r"\s+(and|of|for|the|&)$", "", name)
    if re.fullmatch(r"(CMS|HHS|Centers for Medicare.*|the Centers.*)", name, re.I):
        return None
    return name.strip(" ,.;:") or None
