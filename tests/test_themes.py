"""Themes on the bundled real docket CMS-2022-0163: labels a reader can use, verbatim quotes, stable ids."""

from __future__ import annotations

import copy
import glob
import json
import re
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from comments import records, store
from comments.analysis.pipeline import analyze_docket
from comments.analysis.significance import is_self_promotion
from comments.analysis.themes import (
    OVERALL_LABEL,
    QUOTE_CANDIDATES,
    PreviousTheme,
    Unit,
    find_themes,
    load_previous_themes,
    overall_label,
)

ROOT = Path(__file__).resolve().parents[1]
COMMENTS_DIR = ROOT / "src/comments/data/mirrulations/raw-data/CMS/CMS-2022-0163/text-CMS-2022-0163/comments"
DOCKET = "CMS-2022-0163"


def _details() -> list[dict]:
    return [json.loads(Path(f).read_text(encoding="utf-8")) for f in sorted(glob.glob(str(COMMENTS_DIR / "*.json")))]


def _held_out(detail: dict) -> bool:
    """A fixed ~1 in 12 of the comments arrive only in the second run."""
    return int(detail["data"]["id"].rsplit("-", 1)[1]) % 12 == 5


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("’", "").replace("'", ""))) + " "


# Five different letters on a topic the docket never raises.
NEW_TOPIC = [
    "Veterinary telehealth for livestock should be listed too. Rural ranchers cannot find a large-animal "
    "veterinarian who offers veterinary telehealth visits for cattle, and a directory of livestock vets would save herds.",
    "As a dairy farmer I rely on veterinary telehealth when a cow is sick at night. Please add large-animal "
    "veterinarians and their livestock telehealth hours so farmers can find one quickly.",
    "Livestock producers in our county lost calves because no large-animal veterinarian was reachable. A listing of "
    "veterinary telehealth services for livestock would help ranchers and their herds.",
    "Our sheep and goat cooperative asks that veterinary telehealth providers for livestock be searchable by county, "
    "since large-animal veterinarians are scarce and ranchers drive hours to reach one.",
    "Veterinary telehealth has kept our cattle herd healthy, but finding a large-animal veterinarian licensed in the "
    "state is hard. Livestock owners need a directory of these veterinarians and their telehealth services.",
]


def _new_comment(template: dict, comment_id: str, text: str) -> dict:
    detail = copy.deepcopy(template)
    detail["data"]["id"] = comment_id
    detail["data"]["attributes"].update(comment=text, firstName="Anonymous", lastName="Anonymous")
    detail.pop("included", None)
    detail["data"].get("relationships", {}).pop("attachments", None)
    return detail


def _state(con) -> dict:
    themes = con.execute(
        "select theme_id, label, keywords, is_catch_all, quotes from themes where docket_id = ? order by theme_id", [DOCKET]
    ).fetchall()
    held = con.execute(
        "select theme_id, list(comment_id order by comment_id) from comment_themes where docket_id = ? group by 1", [DOCKET]
    ).fetchall()
    primary = con.execute("select comment_id, theme_id from comment_themes where docket_id = ? and is_primary", [DOCKET]).fetchall()
    return {
        "themes": [dict(zip(("theme_id", "label", "keywords", "is_catch_all", "quotes"), r, strict=True)) for r in themes],
        "held": dict(held), "primary": dict(primary),
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The pipeline on most of the docket; again after the held-out comments and a new topic arrive."""
    details = _details()
    con = store.connect(tmp_path_factory.mktemp("themes") / "comments.duckdb")
    records.save_comments(con, [d for d in details if not _held_out(d)], source="mirrulations")
    analyze_docket(con, DOCKET)
    first = _state(con)
    added = [d for d in details if _held_out(d)]
    added += [_new_comment(details[0], f"{DOCKET}-{9500 + i}", text) for i, text in enumerate(NEW_TOPIC)]
    records.save_comments(con, added, source="mirrulations")
    analyze_docket(con, DOCKET)
    second = _state(con)
    bodies = dict(con.execute("select comment_id, body from comment_bodies where docket_id = ?", [DOCKET]).fetchall())
    yield first, second, bodies
    con.close()


def test_labels_are_phrases_readers_wrote(two_runs):
    stop = ENGLISH_STOP_WORDS | {"cms", "comment", "comments"}
    *runs, bodies = two_runs
    for run in runs:
        themes = [t for t in run["themes"] if not t["is_catch_all"]]
        labels = [t["label"] for t in themes]
        assert len(labels) >= 3
        assert len(set(map(str.lower, labels))) == len(labels), "no two themes share a label"
        for t in themes:
            if OVERALL_LABEL.match(t["label"]):
                continue  # a theme with no specific phrase, named by its stance on the whole (test below)
            words = _words(t["label"]).split()
            assert 2 <= len(words) <= 5, t["label"]
            assert words[0] not in stop and words[-1] not in stop, f"stop-word bounded label {t['label']!r}"
            holders = [c for c in run["held"][t["theme_id"]] if _words(t["label"]) in _words(bodies[c])]
            assert len(holders) >= 2, f"label {t['label']!r} is not a phrase of the theme's comments"
        for i, a in enumerate(themes):
            for b in themes[i + 1:]:
                ka, kb = set(a["keywords"]), set(b["keywords"])
                assert len(ka & kb) / len(ka | kb) < 0.5, f"near-duplicate themes {a['label']!r} / {b['label']!r}"


def test_quotes_are_verbatim_informative_sentences(two_runs):
    *runs, bodies = two_runs
    for run in runs:
        for t in run["themes"]:
            assert 3 <= len(t["quotes"]) <= QUOTE_CANDIDATES or t["is_catch_all"], t["label"]
            for q in t["quotes"]:
                assert q["quote"] in bodies[q["comment_id"]], "quote is an exact substring of the effective text"
                assert len(q["quote"].split()) >= 8
                assert not re.match(r"\s*(dear|hello|to whom)\b", q["quote"], re.I), q["quote"]
                assert not re.search(r"see attach|sincerely|regards", q["quote"], re.I), q["quote"]
                # a whole sentence (no fragment), and not a company describing itself
                assert re.match(r"^[\"“‘'(\[]?[A-Z0-9]", q["quote"]) and re.search(r"[.!?][\"”’')\]]*$", q["quote"]), q["quote"]
                assert not is_self_promotion(q["quote"]), q["quote"]


def test_a_theme_with_nothing_specific_is_named_by_its_stance_on_the_whole():
    title = "Request for Information; National Directory of Healthcare Providers & Services"
    keywords = ["directory", "national directory", "healthcare", "providers"]
    assert overall_label(keywords, ["support"] * 6 + ["unclear"] * 3 + ["oppose"], title) == "General support for the directory"
    assert overall_label(keywords, ["oppose"] * 5 + ["unclear"] * 4, title) == "General objections to the directory"
    assert overall_label(keywords, ["support"] * 3 + ["oppose"] * 3 + ["unclear"] * 4, title) == "General remarks on the directory"
    assert overall_label(["fees", "cost"], ["support"] * 3, "") == "General support for the proposal"
    for label in ("General support for the directory", "General objections to the proposal",
                  "General remarks on the directory", "Assorted remarks, no common topic (mining)"):
        assert OVERALL_LABEL.match(label)
    # most texts take no side: not a stance theme, unrelated remarks
    assert overall_label(keywords, ["support"] + ["unclear"] * 4, title) == "Assorted remarks, no common topic"


def test_themes_that_would_be_named_alike_by_stance_are_one_and_a_rerun_keeps_them(monkeypatch):
    """ICEB-2015-0002 showed "General support for the proposal" four times: one position split by
    wording. Themes with no specific label that their stance would name alike become one theme,
    and a re-run starting from that result lands on the same themes (no second merge, same ids).
    Here two themes of the bundled docket are made label-less (their phrase withheld)."""
    import comments.analysis.themes as themes_module

    units = [Unit(d["data"]["id"], d["data"]["id"], d["data"]["attributes"].get("comment") or "") for d in _details()]
    plain = find_themes(units)
    named = sorted((t for t in plain.themes if not t.is_catch_all), key=lambda t: (t.unique_texts, t.theme_id))
    withheld = {named[0].label.lower(), named[1].label.lower()}
    real_labels = themes_module._labels

    def without(members, *args, **kwargs):
        return {c: ("" if label.lower() in withheld else label) for c, label in real_labels(members, *args, **kwargs).items()}

    monkeypatch.setattr(themes_module, "_labels", without)
    asked: list[list[str]] = []

    def stance_name(theme_id: str, keys: list[str], keywords: list[str]) -> str:
        asked.append(keys)
        return "General remarks on the directory"

    apart = find_themes(units)
    assert len([t for t in apart.themes if not t.label and not t.is_catch_all]) >= 2  # without a namer, apart
    merged = find_themes(units, stance_name=stance_name)
    unnamed = [t for t in merged.themes if not t.label and not t.is_catch_all]
    assert asked and len(unnamed) == 1
    assert len(merged.themes) < len(apart.themes)
    assert len(unnamed[0].unit_keys) > max(len(t.unit_keys) for t in apart.themes if not t.label and not t.is_catch_all)
    # every text with a theme has one main theme, the merged one included
    assert {s[0][0] for s in merged.assignments.values()} <= {t.theme_id for t in merged.themes}
    previous = [PreviousTheme(t.theme_id, tuple(t.keywords), t.is_catch_all, tuple(t.unit_keys)) for t in merged.themes]
    again = find_themes(units, previous=previous, stance_name=stance_name, seen={u.key for u in units})
    assert [(t.theme_id, t.label, t.unit_keys) for t in again.themes] == \
        [(t.theme_id, t.label, t.unit_keys) for t in merged.themes]
    assert again.assignments == merged.assignments


def test_a_big_dockets_first_analysis_is_what_a_rerun_of_unchanged_data_gives():
    """On a docket with more passages than the clustering's sample (here the bundled docket with a
    sample of 300), the first analysis must already be the themes a re-run of the same data
    rebuilds; otherwise the second tracked run reports changes nobody made (ICEB-2015-0002 moved
    1.2% of its memberships between two runs on unchanged data)."""
    from dataclasses import replace

    from comments.analysis.themes import ThemeParams

    units = [Unit(d["data"]["id"], d["data"]["id"], d["data"]["attributes"].get("comment") or "") for d in _details()]
    params = replace(ThemeParams(), fit_sample=300)
    first = find_themes(units, params)
    assert first.sampled
    previous = [PreviousTheme(t.theme_id, tuple(t.keywords), t.is_catch_all, tuple(t.unit_keys)) for t in first.themes]
    again = find_themes(units, params, previous=previous, seen={u.key for u in units})
    assert [(t.theme_id, t.label, t.unit_keys, t.comments) for t in again.themes] == \
        [(t.theme_id, t.label, t.unit_keys, t.comments) for t in first.themes]
    assert again.assignments == first.assignments


def test_a_stance_name_holds_by_comments_as_well_as_by_unique_texts():
    """Most unique texts support, but one of them is a form letter whose 225 copies oppose: the
    theme is not called support (the issue's "Support for the proposal" over 237 oppose)."""
    keywords = ["directory", "national directory"]
    title = "National Directory of Healthcare Providers"
    stances = ["support"] * 28 + ["oppose"] * 9 + ["unclear"] * 13
    weights = [1] * 28 + [225] + [1] * 8 + [1] * 13
    label = overall_label(keywords, stances, title, weights)
    assert not label.startswith("General support"), label
    assert not label.startswith("General objections"), label  # by unique texts it does not oppose either
    # and with every text weighing one, the same texts are support
    assert overall_label(keywords, stances, title).startswith("General support")


def test_sex_and_gender_is_one_theme(two_runs):
    *runs, _ = two_runs
    for run in runs:
        about_sex = [t["label"] for t in run["themes"] if not t["is_catch_all"]
                     and {"sex", "gender", "women", "male", "female"} & set(t["keywords"][:3])]
        assert len(about_sex) == 1, about_sex


def test_ids_are_stable_and_a_new_topic_gets_a_new_id(two_runs):
    first, second, _ = two_runs
    ids1 = {t["theme_id"] for t in first["themes"]}
    ids2 = {t["theme_id"] for t in second["themes"]}
    # Comments present both times mostly keep their primary theme id.
    both = [c for c in first["primary"] if c in second["primary"]]
    kept = sum(first["primary"][c] == second["primary"][c] for c in both)
    assert kept >= 0.9 * len(both), f"only {kept}/{len(both)} comments kept their theme id"
    # Every theme of run 1 still exists: the held-out comments fit the existing themes.
    assert ids1 <= ids2, f"gone: {sorted(ids1 - ids2)}"
    # The new topic is one new theme, and nothing else is new.
    new_ids = {second["primary"][f"{DOCKET}-{9500 + i}"] for i in range(len(NEW_TOPIC))}
    assert len(new_ids) == 1 and not new_ids & ids1, new_ids
    # (the catch-all may appear when the new texts add strays to it: it is no topic)
    catch_all = {t["theme_id"] for t in second["themes"] if t["is_catch_all"]}
    assert (ids2 - ids1) - catch_all == new_ids, [t["label"] for t in second["themes"] if t["theme_id"] in ids2 - ids1]
    label = next(t["label"] for t in second["themes"] if t["theme_id"] in new_ids).lower()
    assert any(w in label for w in ("veterinar", "livestock", "large-animal", "telehealth")), label


def test_same_input_same_themes_whatever_the_order(two_runs):
    _, _, bodies = two_runs
    units = [Unit(cid, cid, text) for cid, text in sorted(bodies.items())[:300]]
    a = find_themes(units)
    b = find_themes(list(reversed(units)))
    assert [(t.theme_id, t.label, t.keywords, t.unit_keys, t.quotes) for t in a.themes] == \
           [(t.theme_id, t.label, t.keywords, t.unit_keys, t.quotes) for t in b.themes]
    assert a.assignments == b.assignments
    # A re-run on the same texts, given its own themes as the previous run, changes nothing.
    prev = [PreviousTheme(t.theme_id, tuple(t.keywords), t.is_catch_all, tuple(t.unit_keys)) for t in a.themes]
    c = find_themes(units, previous=prev)
    assert [(t.theme_id, t.label, t.unit_keys) for t in c.themes] == [(t.theme_id, t.label, t.unit_keys) for t in a.themes]
    assert c.assignments == a.assignments


def test_previous_themes_are_read_back_with_the_units_they_held(tmp_path):
    con = store.connect(tmp_path / "c.duckdb")
    con.execute("""insert into themes (docket_id, theme_id, label, keywords, is_catch_all, rank, unique_texts,
                   comments, submissions, quotes, run_id) values
                   ('D', 'T001', 'Biological sex', ['sex'], false, 1, 2, 3, 3, [], 'r'),
                   ('D', 'T002', 'Other topics', [], true, 2, 1, 1, 1, [], 'r')""")
    con.execute("""insert into comment_themes (docket_id, comment_id, theme_id, score, is_primary, run_id) values
                   ('D', 'c1', 'T001', 1, true, 'r'), ('D', 'c2', 'T001', 1, true, 'r'),
                   ('D', 'c3', 'T001', 0.5, true, 'r'), ('D', 'c3', 'T002', 0.5, false, 'r')""")
    con.execute("""insert into campaign_members (docket_id, campaign_id, comment_id, similarity, is_template, is_exact,
                   unique_additions, run_id) values ('D', 'C0001', 'c1', 1, true, true, [], 'r'),
                   ('D', 'C0001', 'c2', 1, false, true, [], 'r')""")
    prev = load_previous_themes(con, "D")
    assert prev == [PreviousTheme("T001", ("sex",), False, ("c3", "campaign:C0001")),
                    PreviousTheme("T002", (), True, ("c3",))]


# --- a form letter counts under the themes it argues ---------------------------------------


def test_a_text_raises_its_main_theme_and_those_it_spends_real_space_on():
    import numpy as np

    from comments.analysis.themes import _NOT_COUNTED, ThemeParams, _substantive

    params = ThemeParams()
    # unit 0: a 15-passage form letter, 12 on theme 0, 2 on theme 1, 1 on theme 2
    # unit 1: a 10-passage letter, 4 on theme 1, 3 on theme 2, 2 on theme 0, 1 far from all (-1)
    # unit 2: a 2-passage note, one on each of themes 1 and 2
    p_unit = np.array([0] * 15 + [1] * 10 + [2] * 2)
    p_cluster = np.array([0] * 12 + [1, 1, 2] + [1] * 4 + [2] * 3 + [0] * 2 + [-1] + [1, 2])
    out = _substantive(p_cluster, p_unit, params)

    def raised(u):
        return set(out[(p_unit == u) & (out != _NOT_COUNTED)].tolist())

    assert raised(0) == {0}, "two grazing passages of fifteen do not make the letter raise theme 1"
    assert raised(1) == {1, 2, 0}, "3+ passages, or 20% of the text, count; the catch-all does not beside a topic"
    assert raised(2) == {1, 2}
    assert _substantive(out, p_unit, params).tolist() == out.tolist(), "a fixed point: a re-run rebuilds the same"


def test_a_text_that_uses_none_of_its_themes_words_goes_to_the_catch_all():
    import numpy as np

    from comments.analysis.themes import ThemeParams, Unit, _anchor, _UnitWords

    texts = [
        "Medical records should follow the patient.",           # 0: theme 0, says "records"
        "My record was lost twice by two clinics.",             # 1: theme 0, "record" (singular)
        "We fully support the directory for everyone.",         # 2: theme 0, a general letter
        "Patients want their medical records in one place.",    # 3: theme 0
        "FHIR endpoints belong in the directory.",              # 4: theme 1
        "An API on FHIR is the right format.",                  # 5: theme 1
        "The FHIR standard is mature enough.",                  # 6: theme 1
        "A great idea that will help many people.",             # 7: theme 1, a general letter
    ] + [f"Stray remark number {i} on something else." for i in range(6)]  # 8-13: the catch-all
    units = [Unit(str(i), str(i), t) for i, t in enumerate(texts)]
    p_unit = np.arange(14)
    p_cluster = np.array([0, 0, 0, 0, 1, 1, 1, 1] + [-1] * 6)
    labels = {0: "Medical records", 1: "FHIR API"}
    generic = frozenset({"medical", "patient", "patients", "directory"})
    params = ThemeParams()
    out = _anchor(p_cluster, p_unit, labels, generic, _UnitWords(units), params)
    assert out[:8].tolist() == [0, 0, -1, 0, 1, 1, 1, -1], "the general letters leave; 'record' counts for 'records'"
    # a text the theme held last run stays (a re-run does not reshuffle old comments)
    kept = _anchor(p_cluster, p_unit, labels, generic, _UnitWords(units), params, kept={0: frozenset({2})})
    assert kept[:8].tolist() == [0, 0, 0, 0, 1, 1, 1, -1]
    # a theme left with fewer than min_units texts goes whole
    narrow = _anchor(p_cluster, p_unit, {0: "Medical records", 1: "Telehealth visits"}, generic,
                     _UnitWords(units), params)
    assert (narrow[4:8] == -1).all()
    # a theme of 30%+ of the texts is the docket's subject: its words cannot test membership
    broad = _anchor(np.array([0] * 8 + [-1] * 6), p_unit, {0: "Medical records"}, generic, _UnitWords(units), params)
    assert (broad[:8] == 0).all()


def test_the_largest_form_letter_is_counted_under_the_theme_it_argues(two_runs):
    """The issue: the 225 copies of the one letter (on the provider's sex) were counted in all three
    top themes. Its copies now raise the one theme its letter argues, which is about sex."""
    *runs, bodies = two_runs
    for run in runs:
        counts = {}
        for tid, comments in run["held"].items():
            counts[tid] = len(comments)
        biggest = max(run["themes"], key=lambda t: counts.get(t["theme_id"], 0))
        # the comments of the largest campaign are those most themes share; find them by the letter's text
        letter = [c for c, b in bodies.items() if "Administrative Gender" in (b or "")]
        assert len(letter) > 100
        # (a few singletons quote the letter inside letters of their own, which raise what they raise)
        raised = {tid for tid, comments in run["held"].items() if len(set(letter) & set(comments)) > 0.1 * len(letter)}
        labels = [t["label"] for t in run["themes"] if t["theme_id"] in raised]
        assert len(raised) == 1, labels
        about = next(t for t in run["themes"] if t["theme_id"] in raised)
        assert {"sex", "gender", "women", "female", "male"} & set(about["keywords"][:5]), about["label"]
        assert biggest["theme_id"] in raised


def test_disclaimers_and_signatures_are_neither_passages_nor_quotes():
    from comments.analysis.significance import is_quotable_sentence
    from comments.analysis.themes import ThemeParams, passages

    text = ("Rural patients need telehealth listings in the directory so they can find a clinician across state lines.\n\n"
            "This submission may or may not contain error and or flaw.\n\n"
            "Licensure data should show every state a clinician may practice in, with any sanctions.\n\n--\n"
            "Jane Roe, retired nurse, Anytown\nSection 504 of the Rehabilitation Act shall apply to all of this.")
    spans = passages(text, ThemeParams())
    got = [text[s:e] for s, e in spans]
    assert not any("may or may not contain" in g for g in got), got
    assert not any("Section 504" in g for g in got), "the e-mail signature block is not the comment"
    assert any("telehealth" in g for g in got) and any("Licensure" in g for g in got)
    assert not is_quotable_sentence("This submission may or may not contain error and or flaw in its details.")
    assert not is_quotable_sentence("If I can be of any assistance my email is data at example dot com today.")
    assert not is_quotable_sentence("Acme Health is a privately held analytics company that equips providers with data.")
    assert is_quotable_sentence("Licensure data should show every state a clinician may practice in, with sanctions.")


def test_a_piece_of_a_name_is_told_from_a_common_noun_phrase():
    from comments.analysis.themes import _part_of_name

    named = ["The Patient Safety Action Network supports the directory.",
             "We at Patient Safety Action Network ask for more.", "Patient Safety Action Network agrees."]
    plain = ["Patient safety depends on accurate listings.", "We care about patient safety in rural clinics.",
             "Errors in the directory put patient safety at risk."]
    assert _part_of_name("patient safety", named)
    assert not _part_of_name("patient safety", plain)
    assert not _part_of_name("clean air act", ["Repeal the rules made under the Clean Air Act.",
                                               "The Clean Air Act was never meant for this."])


def test_a_docket_without_a_title_takes_its_notices_title_as_its_subject(tmp_path):
    from comments.analysis.pipeline import _docket_context

    con = store.connect(tmp_path / "c.duckdb")
    try:
        con.execute("insert into dockets (docket_id, agency_id) values ('CMS-2025-0050', 'CMS')")
        con.execute("insert into documents (document_id, docket_id, document_type, title) values "
                    "('CMS-2025-0050-0002', 'CMS-2025-0050', 'Supporting & Related Material', 'Slides'),"
                    "('CMS-2025-0050-0031', 'CMS-2025-0050', 'Notice', 'Request for Information: Health Technology Ecosystem')")
        context, title = _docket_context(con, "CMS-2025-0050")
        assert title == "Request for Information: Health Technology Ecosystem" and title in context
        con.execute("update dockets set title = 'Health Tech RFI', abstract = 'An abstract.' where docket_id = 'CMS-2025-0050'")
        assert _docket_context(con, "CMS-2025-0050") == ("Health Tech RFI An abstract.", "Health Tech RFI")
    finally:
        con.close()
