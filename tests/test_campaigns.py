"""Form-letter campaigns: normalization, the real CMS campaign, personalised copies, guards, ids."""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import pytest

from comments.analysis.campaigns import (
    CampaignParams,
    Doc,
    _additions,
    _additions_many,
    assign_stable_ids,
    detect_campaigns,
    unique_texts,
)
from comments.analysis.normalize import (
    _DROPPED,
    _SEPARATORS,
    _normalize_full,
    key_of_normalized,
    normalize,
    normalize_many,
    sentences,
    text_key,
)
from comments.records import comment_row
from comments.resources import bundled_mirrulations
from comments.textutil import html_to_text

BULK_CSV = Path(__file__).parent / "data" / "CMS-2025-0050-0031.bulk.csv"
CMS_OPENING = "one piece of information that is often important to a patient"


@pytest.fixture(scope="module")
def cms_docs() -> list[Doc]:
    docs = []
    for path in sorted(bundled_mirrulations().glob("raw-data/**/comments/*.json")):
        row = comment_row(json.loads(path.read_text(encoding="utf-8")))
        docs.append(Doc(row["comment_id"], row["text"] or "", row["posted_date"], row["duplicate_comments"] or 0))
    return docs


@pytest.fixture(scope="module")
def bulk_docs() -> list[Doc]:
    with open(BULK_CSV, encoding="utf-8-sig", newline="") as f:
        return [Doc(r["Document ID"], html_to_text(r["Comment"]) or "") for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def cms_campaigns(cms_docs):
    return detect_campaigns(cms_docs)


# ---------------------------------------------------------------- normalization


def test_normalize_folds_case_entities_punctuation_and_space():
    assert normalize("Dear  CMS,\n\nPLEASE   act!") == "dear cms please act"
    # entities, including double-escaped ones, and & itself read as "and"
    same = ["Medicare &amp; Medicaid", "Medicare &amp;amp; Medicaid", "Medicare & Medicaid", "medicare and MEDICAID."]
    assert {normalize(t) for t in same} == {"medicare and medicaid"}
    assert normalize("The patient’s “right” — don't") == normalize("The patient's \"right\" - dont")
    assert normalize("“Quoted”… (text) [here]") == "quoted text here"
    assert text_key("A B") == text_key("a, b!") != text_key("a c")
    assert normalize("") == "" and normalize(None) == ""


def test_fast_normalization_agrees_with_the_definition_on_real_texts(cms_docs, bulk_docs):
    # `normalize` and `normalize_many` take shortcuts (ASCII byte tables, common punctuation
    # replaced before the ASCII path, one vectorized whitespace pass for all texts); the keys
    # stored by earlier runs stay valid only if they give exactly what every step gives.
    texts = [d.text for d in cms_docs + bulk_docs] + ["", "  ", "x", " a  b ", "\t&amp;amp;\n", "Ünïcödé ﬁne ²"]
    expected = [_normalize_full(t) if t else "" for t in texts]
    assert [normalize(t) for t in texts] == expected
    buffer, starts, ends = normalize_many(texts)
    assert [buffer[a:b].tobytes().decode() for a, b in zip(starts, ends, strict=True)] == expected
    assert [text_key(t) for t in texts] == [key_of_normalized(e) for e in expected]
    assert normalize_many([])[0].size == 0


@pytest.mark.parametrize("char", list(_DROPPED + _SEPARATORS))
def test_punctuation_shortcut_matches_full_normalization(char):
    for context in ["ab{c}cd", "a {c} b", "{c}", "x{c}{c}y", "A&amp;{c}B", "don{c}t", "{c}e\u0301", "é{c}1"]:
        text = context.format(c=char)
        assert normalize(text) == _normalize_full(text), (hex(ord(char)), text)


def test_sentences_are_verbatim_spans():
    text = "Dear CMS,\n\nDr. Smith met J. Doe (e.g. twice). It failed!  Why?\"  Fix it.\nSincerely,\nJane"
    parts = [text[a:b] for a, b in sentences(text)]
    assert parts == ["Dear CMS,", "Dr. Smith met J. Doe (e.g. twice).", "It failed!", 'Why?"', "Fix it.", "Sincerely,", "Jane"]
    assert sentences("") == []


def test_unique_texts_groups_exact_copies():
    docs = [Doc("a", "Hello World."), Doc("b", "hello   world"), Doc("c", "Goodbye")]
    groups = unique_texts(docs)
    assert sorted(groups.values()) == [["a", "b"], ["c"]]
    assert groups[text_key("HELLO, world")] == ["a", "b"]


# ---------------------------------------------------------------- the real CMS campaign


def test_real_cms_campaign_is_one_campaign_with_the_amp_copies(cms_docs, cms_campaigns):
    copies = {d.comment_id for d in cms_docs if CMS_OPENING in normalize(d.text)}
    assert len(copies) > 170
    holding = [c for c in cms_campaigns if copies & {m.comment_id for m in c.members}]
    assert len(holding) == 1, "the form letter was split"
    campaign = holding[0]
    members = {m.comment_id: m for m in campaign.members}
    assert copies <= set(members)
    assert normalize(campaign.template_text).startswith("dear centers for medicare and medicaid services cms " + CMS_OPENING)
    # the copies that differ only in "&" / "&amp;" / "and" are exact copies of the template
    text = {d.comment_id: d.text for d in cms_docs}
    amp = [cid for cid in copies if "Medicare &amp; Medicaid" in text[cid]]
    plain_amp = [cid for cid in copies if "Medicare & Medicaid" in text[cid]]
    assert amp and plain_amp
    assert any(members[cid].is_exact for cid in amp) and any(members[cid].is_exact for cid in plain_amp)
    assert members[campaign.template_comment_id].similarity == 1.0


def _shares_a_run(member: str, template: str, words: int = 15) -> bool:
    """Plain check, independent of the detector: some run of `words` words of the member is in the template."""
    m, t = normalize(member).split(), " " + normalize(template) + " "
    return any(" " + " ".join(m[i : i + words]) + " " in t for i in range(max(1, len(m) - words + 1)))


def test_real_campaign_members_really_share_template_passages(cms_docs, cms_campaigns):
    """Precision: every member repeats a 15-word run of its template verbatim; additions are its own words."""
    text = {d.comment_id: d.text for d in cms_docs}
    for campaign in cms_campaigns:
        template_sentences = {normalize(campaign.template_text[a:b]) for a, b in sentences(campaign.template_text)}
        for m in campaign.members:
            assert m.is_exact or _shares_a_run(text[m.comment_id], campaign.template_text), m.comment_id
            for addition in m.unique_additions:
                assert addition in text[m.comment_id]
                assert normalize(addition) not in template_sentences
                assert len(normalize(addition).split()) >= 4
            assert 0.0 < m.similarity <= 1.0


def test_batched_additions_match_the_per_text_definition():
    """The batched path (one string for many members) finds exactly what each text alone gives.

    Texts mix what could make the two differ: abbreviations and quotes at line
    edges, entities, apostrophes, `&`, characters beyond the BMP, CRLF, blank lines.
    """
    import numpy as np

    pieces = ["Mr.", "Dr. Smith", "e.g.", "U.S.", "don't", "we’re", "&", "&amp;", "A.", "end.", "stop!", "what?",
              '"quoted."', "(paren.)", "word", "policy", "health", "rule", "\n", "\n\n", "\r\n", "\t", "😀",
              "naïve", "—", "...", "vs.", "No.", "3.5", "'s"]
    rng = random.Random(3)
    params = CampaignParams()
    items = []
    for _ in range(600):
        raw = "".join(rng.choice(pieces) + rng.choice([" ", " ", "\n", ". ", "! ", ""]) for _ in range(rng.randint(5, 80)))
        n_words = len(normalize(raw).split())
        covered = np.repeat(rng.choices([True, False], k=n_words), rng.choices(range(1, 12), k=n_words))[:n_words]
        template = " " + normalize(" ".join(rng.sample(pieces, 8))) + " "
        items.append((raw, covered, template))
    batched = _additions_many(items, params)
    alone = [_additions(raw, covered, template, params) for raw, covered, template in items]
    assert sum(map(len, alone)) > 100  # the texts do have additions to find
    assert batched == alone


def test_real_personalised_copies_carry_their_additions(cms_campaigns):
    campaign = next(c for c in cms_campaigns if CMS_OPENING in normalize(c.template_text))
    members = {m.comment_id: m for m in campaign.members}
    # CMS-2022-0163-0159 put a story of their own before the letter
    assert "I'm a 70 year old woman and a cancer survivor." in members["CMS-2022-0163-0159"].unique_additions
    assert not members["CMS-2022-0163-0159"].is_exact
    # CMS-2022-0163-0146 only re-flowed the list lines: a near copy with nothing added
    assert not members["CMS-2022-0163-0146"].is_exact and members["CMS-2022-0163-0146"].unique_additions == []
    # CMS-2022-0163-0204 added a file reference line
    assert members["CMS-2022-0163-0204"].unique_additions == ["Re: file code CMS-0058-NC"]


def test_stock_replies_on_real_docket_are_not_campaigns(cms_docs, cms_campaigns):
    stock = {d.comment_id for d in cms_docs if normalize(d.text) in ("see attached file s", "please see attached")}
    assert len(stock) > 60
    assert not stock & {m.comment_id for c in cms_campaigns for m in c.members}


def test_real_bulk_csv_campaign(bulk_docs):
    found = detect_campaigns(bulk_docs)
    biggest = found[0]
    assert normalize(biggest.template_text).startswith("when it comes to health technology my primary concern is privacy")
    assert len(biggest.members) >= 28
    # a paraphrase that shares no passage stays out (CMS-2025-0050-0186 rewrote the points)
    assert "CMS-2025-0050-0186" not in {m.comment_id for m in biggest.members}


# ---------------------------------------------------------------- personalised copies

PARAGRAPHS = [
    "I am writing to urge the Environmental Protection Agency to finalize the proposed rule limiting "
    "lead in drinking water service lines without further delay.",
    "Lead is a potent neurotoxin and there is no safe level of exposure for children. Every year of "
    "delay means thousands more kids drink water that can permanently lower their IQ.",
    "First, the rule must require the full replacement of every lead service line within ten years, "
    "paid for by the utility and not by individual homeowners who cannot afford it.",
    "Second, utilities must publish an inventory of lead lines that any resident can search by address, "
    "so families know whether their own home is at risk.",
    "Third, schools and child care centers must test every tap at least once a year and share the "
    "results with parents within thirty days of receiving them.",
    "Communities that have waited decades for clean water deserve action now. Please finalize a "
    "strong rule this year.",
]
TEMPLATE = "\n\n".join(PARAGRAPHS)
ADDED = ("My daughter was diagnosed with elevated blood lead levels when she was three years old. "
         "We spent two years in and out of clinics before the city replaced our line.")


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(3):
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 4:
            words[i] = w[0] + w[2] + w[1] + w[3:]
    return " ".join(words)


def _personalised_set() -> tuple[list[Doc], dict[str, str]]:
    rng = random.Random(3)
    copies = {
        "exact-1": TEMPLATE,
        "exact-2": TEMPLATE.upper(),
        "exact-3": "  " + TEMPLATE.replace(". ", ".   ") + "\n",
        "greeting-name-added": "Dear Administrator Regan,\n\n" + TEMPLATE.replace(PARAGRAPHS[1], PARAGRAPHS[1] + "\n\n" + ADDED)
        + "\n\nSincerely,\nMaria Lopez",
        "dropped": "\n\n".join([PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[3], PARAGRAPHS[5]]),
        "reordered": "\n\n".join([PARAGRAPHS[0], PARAGRAPHS[4], PARAGRAPHS[2], PARAGRAPHS[3], PARAGRAPHS[1], PARAGRAPHS[5]]),
        "truncated": "\n\n".join(PARAGRAPHS[:4]),
        "typos": _typo(TEMPLATE, rng),
    }
    docs = [Doc("template", TEMPLATE)] + [Doc(k, v) for k, v in copies.items()]
    return docs, copies


def _unrelated(bulk_docs, n: int) -> list[Doc]:
    """Real comments on another docket: distinct letters of 60+ words."""
    seen, out = set(), []
    for d in bulk_docs:
        key = text_key(d.text)
        if len(normalize(d.text).split()) >= 60 and key not in seen:
            seen.add(key)
            out.append(Doc("other-" + d.comment_id, d.text))
    return out[:n]


def test_personalised_copies_join_their_campaign(bulk_docs):
    docs, copies = _personalised_set()
    others = _unrelated(bulk_docs, 60)
    found = detect_campaigns(docs + others)
    ours = [c for c in found if "template" in {m.comment_id for m in c.members}]
    assert len(ours) == 1
    campaign = ours[0]
    members = {m.comment_id: m for m in campaign.members}
    assert set(members) == {"template", *copies}, "every copy joins, nothing unrelated does"
    assert campaign.template_comment_id in ("template", "exact-1", "exact-2", "exact-3")
    assert all(members[k].is_exact for k in ("template", "exact-1", "exact-2", "exact-3"))
    for kind in ("greeting-name-added", "dropped", "reordered", "truncated", "typos"):
        assert not members[kind].is_exact
        assert 0.4 <= members[kind].similarity <= 1.0
    # the sender's own paragraph, sentence by sentence and verbatim; the template's sentences are not additions
    added = members["greeting-name-added"].unique_additions
    assert added == [
        "My daughter was diagnosed with elevated blood lead levels when she was three years old.",
        "We spent two years in and out of clinics before the city replaced our line.",
    ]
    assert all(a in copies["greeting-name-added"] for a in added)
    for kind in ("dropped", "reordered", "truncated", "typos"):
        assert members[kind].unique_additions == [], kind
    # truncated and dropped copies are entirely template text
    assert members["truncated"].similarity == 1.0 and members["dropped"].similarity == 1.0


def _glued(text: str, rate: float, seed: int) -> str:
    """Spaces lost between some words, as a PDF or web form leaves them ("supportthe")."""
    rng = random.Random(seed)
    return re.sub(r"(?<=\w) (?=\w)", lambda m: "" if rng.random() < rate else " ", text)


def _wrapped(text: str, width: int = 38) -> str:
    """Hard-wrapped lines with long words broken across them, and the line breaks then lost."""
    out, line = [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > width and line:
            if len(word) > 7:
                out.append(f"{line} {word[:4]}-")
                line = word[4:]
                continue
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "".join(out + [line])


def test_damaged_copies_join_their_campaign(bulk_docs):
    docs, copies = _personalised_set()
    damaged = {
        "glued": _glued(TEMPLATE, 0.25, 1),
        "wrapped": _wrapped(TEMPLATE, 50),
        "glued-with-own-words": _glued(TEMPLATE.replace(PARAGRAPHS[5], ADDED + "\n\n" + PARAGRAPHS[5]), 0.25, 3),
        "quotes-and-page-number": _glued(TEMPLATE, 0.25, 4).replace("'", "’").replace(" within ten", "\n2\n within ten"),
        # two copies that went through the same broken form: glued at the same places
        "glued-alike-1": _glued(TEMPLATE, 0.35, 5),
        "glued-alike-2": _glued(TEMPLATE, 0.35, 5) + "\n\nThank you.",
    }
    docs = docs + [Doc(k, v) for k, v in damaged.items()] + _unrelated(bulk_docs, 60)
    # so damaged that few 8-word passages of the letter are left intact: on word shingles alone
    # they are not the letter's (the two glued alike make a campaign of their own)
    plain = detect_campaigns(docs, CampaignParams(rescue=False))
    letter = next(c for c in plain if "template" in {m.comment_id for m in c.members})
    assert not set(damaged) & {m.comment_id for m in letter.members}
    assert any({m.comment_id for m in c.members} == {"glued-alike-1", "glued-alike-2"} for c in plain)
    found = detect_campaigns(docs)
    ours = [c for c in found if "template" in {m.comment_id for m in c.members}]
    assert len(ours) == 1
    members = {m.comment_id: m for m in ours[0].members}
    assert set(members) == {"template", *copies, *damaged}, "every damaged copy joins, nothing unrelated does"
    for kind in damaged:
        assert not members[kind].is_exact and members[kind].similarity >= 0.8, kind
    # the sender's own sentences are still found, verbatim from the damaged text
    added = members["glued-with-own-words"].unique_additions
    assert added and all(a in damaged["glued-with-own-words"] for a in added)
    assert any("daughter" in a for a in added) and not any("neurotoxin" in a for a in added)
    assert all(members[k].unique_additions == [] for k in ("glued", "wrapped", "glued-alike-1"))


def test_a_damaged_quote_of_one_paragraph_is_not_a_copy(bulk_docs):
    """A letter of its own that quotes one paragraph of the form letter stays out, damaged or not."""
    others = _unrelated(bulk_docs, 40)
    own_letter = others[0].text
    quoting = _glued(own_letter[: len(own_letter) // 2] + "\n\n" + PARAGRAPHS[2] + "\n\n" + own_letter[len(own_letter) // 2:],
                     0.2, 6)
    docs, _ = _personalised_set()
    found = detect_campaigns(docs + [Doc("quoting", quoting)] + others[1:])
    assert "quoting" not in {m.comment_id for c in found for m in c.members}


def test_stock_phrases_do_not_make_a_campaign(bulk_docs):
    stock = ("Thank you for the opportunity to comment on this proposed rule. I strongly support this rule "
             "and I urge you to finalize it.")
    others = _unrelated(bulk_docs, 40)
    docs = [Doc(d.comment_id, stock + "\n\n" + d.text) for d in others]
    docs += [Doc(f"short-{i}", "I strongly support this rule.") for i in range(30)]
    docs += [Doc(f"attached-{i}", "See attached file(s)") for i in range(30)]
    found = detect_campaigns(docs)
    assert found == []


def test_short_texts_need_most_of_their_words_shared():
    base = ("Please protect the wetlands in our county from the new pipeline because the wetlands filter our "
            "drinking water and shelter migrating birds every spring and fall season.")  # 27 words
    own_a = "I have lived here for forty years and fished these waters with my grandfather."
    own_b = "Our town council voted against the pipeline and the state should listen to them now."
    docs = [Doc("a", base + " " + own_a), Doc("b", base + " " + own_b)]
    # ~42 words each, 27 shared: neither is 80% the other, so no campaign
    assert detect_campaigns(docs) == []
    # once the short letter itself is posted, the texts that contain all of it are its copies
    docs += [Doc("c", base + " Thank you."), Doc("d", base)]
    found = detect_campaigns(docs)
    assert len(found) == 1
    members = {m.comment_id: m for m in found[0].members}
    assert set(members) == {"a", "b", "c", "d"}
    assert members["a"].unique_additions == [own_a] and members["b"].unique_additions == [own_b]


def test_opposite_stances_are_split():
    support = TEMPLATE + "\n\nI strongly support this proposal and ask you to adopt it."
    oppose = TEMPLATE.replace("urge the Environmental Protection Agency to finalize", "urge the Environmental Protection Agency to withdraw") \
        + "\n\nI strongly oppose this proposal and ask you to withdraw it."
    docs = [Doc(f"s{i}", support) for i in range(5)] + [Doc(f"o{i}", oppose) for i in range(3)]
    docs += [Doc("s-personal", "Hello,\n\n" + support + "\n\nThanks, Ann"), Doc("o-personal", oppose + "\n\nBob")]

    def stance_of(text: str) -> str:
        return "oppose" if "strongly oppose" in text else "support" if "strongly support" in text else "unclear"

    merged = detect_campaigns(docs)
    assert len(merged) == 1, "without stances the two versions are one text family"
    split = detect_campaigns(docs, stance_of=stance_of)
    assert len(split) == 2
    groups = sorted(sorted(m.comment_id for m in c.members) for c in split)
    assert groups == [["o-personal", "o0", "o1", "o2"], ["s-personal", "s0", "s1", "s2", "s3", "s4"]]


# ---------------------------------------------------------------- determinism and ids


def _as_plain(campaigns):
    return [(c.key, c.template_comment_id, [(m.comment_id, m.similarity, m.is_exact, m.unique_additions) for m in c.members])
            for c in campaigns]


def test_same_input_in_any_order_gives_the_same_campaigns(cms_docs, cms_campaigns):
    shuffled = list(cms_docs)
    random.Random(11).shuffle(shuffled)
    assert _as_plain(detect_campaigns(shuffled)) == _as_plain(cms_campaigns)
    assert len({c.key for c in cms_campaigns}) == len(cms_campaigns)


def test_stable_ids_across_runs(cms_docs):
    first_docs = cms_docs[: len(cms_docs) // 2]
    first = detect_campaigns(first_docs)
    ids = assign_stable_ids(first, [])
    assert sorted(ids.values()) == [f"C{i:04d}" for i in range(1, len(first) + 1)]
    previous = [(ids[c.key], c.template_comment_id, {m.comment_id for m in c.members}) for c in first]

    # more comments arrive: the rest of the docket and a brand-new letter sent three times
    new_letter = ("We ask the agency to extend the comment period by ninety days so that rural clinics, "
                  "which are short of staff this winter, can read the proposal and answer its many questions in full.")
    second_docs = cms_docs + [Doc(f"NEW-{i}", new_letter) for i in range(3)]
    second = detect_campaigns(second_docs)
    ids2 = assign_stable_ids(second, previous)
    by_template = {c.template_comment_id: c for c in second}
    for cid, template, members in previous:
        if template in by_template:  # same template: same id
            assert ids2[by_template[template].key] == cid
        else:  # otherwise the campaign that holds most of the old members keeps the old id
            best = max(second, key=lambda c: len(members & {m.comment_id for m in c.members}))
            assert ids2[best.key] == cid
    new = next(c for c in second if c.template_comment_id.startswith("NEW-"))
    assert ids2[new.key] not in {cid for cid, _, _ in previous}
    assert int(ids2[new.key][1:]) > max(int(cid[1:]) for cid, _, _ in previous)
    assert len(set(ids2.values())) == len(second)
    # and the same run twice gives the same ids
    assert assign_stable_ids(detect_campaigns(list(reversed(second_docs))), previous) == ids2


def test_stable_ids_follow_a_template_that_changed():
    camp = detect_campaigns([Doc("a", TEMPLATE), Doc("b", TEMPLATE), Doc("c", TEMPLATE + "\n\n" + ADDED)])[0]
    previous = [("C0007", "old-template-gone", {"b", "c", "x"}), ("C0002", "unrelated", {"y"})]
    assert assign_stable_ids([camp], previous) == {camp.key: "C0007"}
    assert assign_stable_ids([camp], [("C0002", "unrelated", {"y"})]) == {camp.key: "C0003"}


def test_params_are_validated_by_their_effect():
    docs, copies = _personalised_set()
    strict = detect_campaigns(docs, CampaignParams(min_containment=0.99, short_containment=0.99))
    members = {m.comment_id for c in strict for m in c.members}
    assert "exact-1" in members and "greeting-name-added" not in members


def test_empty_and_missing_texts():
    assert detect_campaigns([]) == [] and unique_texts([]) == {}
    # comments without text are never a campaign, however many there are
    assert detect_campaigns([Doc(f"n{i}", None) for i in range(5)] + [Doc(f"e{i}", "") for i in range(5)]) == []


def test_word_hashes_depend_on_the_word_alone():
    import numpy as np

    from comments.analysis.campaigns import _word_hashes

    words = ["a", "ab", "abcdefgh", "abcdefghi", "abcdefgh" * 3, "abcdefgh" * 3 + "x", "zz"]

    def hashes(order):
        buffer, starts, ends = normalize_many([" ".join(order)])
        data = buffer[: ends[0]].tobytes()
        begins = [0] + [i + 1 for i, ch in enumerate(data) if ch == 32]
        lengths = [len(w) for w in order]
        return dict(zip(order, _word_hashes(buffer, np.array(begins), np.array(lengths)).tolist(), strict=True))

    forward, backward = hashes(words), hashes(words[::-1])
    assert forward == backward  # same word, same value wherever it sits
    assert len(set(forward.values())) == len(words)  # prefixes and repeats of 8-byte blocks differ



def test_copies_that_kept_the_opening_join_their_letter_and_quoting_a_question_does_not(bulk_docs):
    """A sender who keeps a form letter's first paragraphs and writes the rest shares too little for the
    40% rule; sharing the letter's opening (its first 150 characters) and enough of its words brings
    them into the letter's campaign. Two answers that open by quoting the same question stay apart,
    and so does a text that keeps only the first sentence. (The senders' own words: real comments
    of another docket, 120 to 250 words, each used once.)"""
    docs, _ = _personalised_set()
    own = [d.text for d in _unrelated(bulk_docs, 400) if 120 <= len(normalize(d.text).split()) <= 250][:5]
    assert len(own) == 5
    kept = {
        "kept-opening-1": "\n\n".join([PARAGRAPHS[0], PARAGRAPHS[1], own[0]]),
        "kept-opening-2": "\n\n".join([PARAGRAPHS[0], PARAGRAPHS[1], own[1]]),
        "first-sentence-only": "\n\n".join([PARAGRAPHS[0], own[2]]),
    }
    question = ("Q-4. What obstacles keep small water systems from replacing their lead service lines on the "
                "schedule the proposed rule would set, and how could the agency help them?")
    answers = {"answer-1": question + "\n\n" + own[3], "answer-2": question + "\n\n" + own[4]}
    others = [d for d in _unrelated(bulk_docs, 400) if d.text not in own][:60]
    extra = [Doc(k, v) for k, v in {**kept, **answers}.items()]
    found = detect_campaigns(docs + extra + others)
    ours = [c for c in found if "template" in {m.comment_id for m in c.members}]
    assert len(ours) == 1
    members = {m.comment_id: m for m in ours[0].members}
    assert {"kept-opening-1", "kept-opening-2"} <= set(members)
    assert "first-sentence-only" not in members
    for k in ("kept-opening-1", "kept-opening-2"):
        # true similarity to the template (what they kept), and their own text as additions, verbatim
        assert 0.2 <= members[k].similarity < 0.4, members[k].similarity
        assert members[k].unique_additions and all(a in kept[k] for a in members[k].unique_additions)
        assert not any(PARAGRAPHS[1][:40] in a for a in members[k].unique_additions)
    assert not any({"answer-1", "answer-2"} & {m.comment_id for m in c.members} for c in found)

    # without the step they were left out: the test measures the step, not the old rule
    without = detect_campaigns(docs + extra + others, CampaignParams(opening=False))
    theirs = next(c for c in without if "template" in {m.comment_id for m in c.members})
    assert not {"kept-opening-1", "kept-opening-2"} & {m.comment_id for m in theirs.members}


def test_a_copy_of_two_letters_counts_once_and_is_listed_with_the_other(bulk_docs):
    """A sender who pastes two form letters into one comment is a member of one campaign only (the
    sizes add up to the comments), and the other campaign lists it as also copying its letter. A
    member that quotes one paragraph of the other letter is not listed."""
    docs, _ = _personalised_set()
    real = next(c for c in detect_campaigns(bulk_docs) if normalize(c.template_text).startswith(
        "when it comes to health technology my primary concern is privacy"))
    real_ids = {m.comment_id for m in real.members}
    compound = {f"compound-{i}": real.template_text + "\n\n" + TEMPLATE + ("\n\nThank you." if i else "")
                for i in range(3)}
    quoting = {"quotes-one-paragraph": real.template_text + "\n\n" + PARAGRAPHS[1]}
    extra = [Doc(k, v) for k, v in {**compound, **quoting}.items()]
    found = detect_campaigns(bulk_docs + docs + extra)
    lead = next(c for c in found if "template" in {m.comment_id for m in c.members})
    privacy = next(c for c in found if real_ids & {m.comment_id for m in c.members})
    assert lead is not privacy
    members = [m.comment_id for c in found for m in c.members]
    assert len(members) == len(set(members)), "a comment is a member of one campaign"
    in_lead = set(compound) & {m.comment_id for m in lead.members}
    in_privacy = set(compound) & {m.comment_id for m in privacy.members}
    assert in_lead | in_privacy == set(compound) and not in_lead & in_privacy
    assert "quotes-one-paragraph" in {m.comment_id for m in privacy.members}
    # each is listed with the campaign it is not a member of, holding (nearly) all of that letter
    assert {a.comment_id for a in lead.also_copies} == in_privacy
    assert {a.comment_id for a in privacy.also_copies} == in_lead
    assert all(a.template_share >= 0.9 for a in lead.also_copies + privacy.also_copies)
    listed = {a.comment_id for c in found for a in c.also_copies}
    assert "quotes-one-paragraph" not in listed and listed <= set(compound)
    # without the step, nothing is listed (and the members are the same)
    without = detect_campaigns(bulk_docs + docs + extra, CampaignParams(also_copies=False))
    assert not any(c.also_copies for c in without)
    assert sorted(sorted(m.comment_id for m in c.members) for c in without) == sorted(
        sorted(m.comment_id for m in c.members) for c in found)


def test_a_letter_inside_a_longer_letter_is_said_once_not_per_copy(bulk_docs):
    """Step 10 on campaigns as given: when one campaign's template holds another's letter (a paragraph
    bank's long letter pasting a short one, as on ICEB-2015-0002), the short letter's campaign names
    the long one in `contained_in`, and the long letter's copies are not listed one by one; a copy
    that pastes the short letter beyond its own template is."""
    from comments.analysis.campaigns import Campaign, Member, _also_copies, _grams, _unique_texts

    own = [d.text for d in _unrelated(bulk_docs, 5)]
    short = PARAGRAPHS[1] + " " + PARAGRAPHS[2]  # a 56-word letter
    longer = "\n\n".join([own[0], short, own[1]])
    docs = [Doc("short-1", short), Doc("short-2", short), Doc("long-1", longer), Doc("long-2", longer),
            Doc("long-and-short", longer + "\n\n" + own[2]), Doc("other-1", own[3]), Doc("other-2", own[3] + "\n\n" + short)]
    params = CampaignParams()
    texts = _unique_texts(docs)
    grams = _grams(texts, params.shingle_words, params.chunk_texts)
    index = {texts.keys[i]: i for i in range(len(texts.keys))}
    at = {d.comment_id: index[text_key(d.text)] for d in docs}
    groups = [["short-1", "short-2"], ["long-1", "long-2", "long-and-short"], ["other-1", "other-2"]]
    campaigns = [Campaign(texts.keys[at[g[0]]], g[0], docs[[d.comment_id for d in docs].index(g[0])].text,
                          [Member(c, 1.0, True) for c in g]) for g in groups]
    centers = [at[g[0]] for g in groups]
    members_of = [sorted({at[c] for c in g[1:]} - {at[g[0]]}) for g in groups]
    _also_copies(campaigns, centers, members_of, texts, grams, docs, params, {}, None)
    short_c, long_c, other_c = campaigns
    assert [key for key, _ in short_c.contained_in] == [long_c.key]
    assert short_c.contained_in[0][1] == 1.0
    # "other-2" pasted the short letter into a letter that does not have it; the long letter's own copies did not
    assert [a.comment_id for a in short_c.also_copies] == ["other-2"]
    assert not long_c.contained_in and not long_c.also_copies and not other_c.contained_in and not other_c.also_copies
