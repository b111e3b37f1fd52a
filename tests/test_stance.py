"""Stance: rules on small cases, and per-class figures on the hand-labeled set (regression floor).

The floors are the figures measured when the rules were written (docs/stance_labeling.md)
minus a small margin; `held-out` is the half of the set not looked at while writing them.
"""

from __future__ import annotations

import json

import pytest

from comments.analysis.stance import classify, inherit
from tests.stance_eval import (
    ACCURACY_FILE,
    BUNDLED_DOCKETS,
    CLASSES,
    accuracy_record,
    evaluate,
    load_items,
)

MARGIN = 0.05
# measured figures per split: class -> (precision, recall).
# Measured on the dockets whose texts ship here (CMS-2022-0163, CMS-2025-0050; 379 labels): the
# floors every run can check. The four-docket figures are in docs/stance_labeling.md.
MEASURED = {
    "test": {"support": (0.885, 0.767), "oppose": (1.0, 0.702), "mixed": (0.500, 0.250), "unclear": (0.750, 0.958)},
    "all": {"support": (0.803, 0.803), "oppose": (0.979, 0.770), "mixed": (0.600, 0.333), "unclear": (0.792, 0.927)},
    # batch 6 (labeled blind before round 6, never tuned on): its 75 texts of the two bundled dockets.
    # The docket's own classifier (stance_selftrained) lowered support precision here (0.857 -> 0.600,
    # CMS-2025-0050) while raising the four dockets' held-out figure (docs/stance_labeling.md)
    "fresh": {"support": (0.600, 0.667), "oppose": (0.958, 0.719), "unclear": (0.725, 0.879)},
}
MEASURED_MACRO_F1 = {"test": 0.823, "all": 0.833, "fresh": 0.727}



@pytest.mark.parametrize(
    "text, expected",
    [
        ("We strongly support the creation of a national directory.", "support"),
        ("I do not support this proposal.", "oppose"),
        ("I am not in favor of further centralization.", "oppose"),
        ("This is not a bad idea at all.", "support"),
        ("I am writing to urge CMS to reject this proposal.", "oppose"),
        ("Thank you for the opportunity to comment. We appreciate the opportunity.", "unclear"),
        ("Please see the attached comments from our association.", "unclear"),
        ("CMS should add the languages each physician speaks.", "unclear"),
        ("I am in favor of this goal. However, I strongly oppose the proposed gender fields.", "mixed"),
        ("It would be very beneficial to patients. Please do it!", "support"),
        ("We recommend that CMS fund pilot programs to support the development of apps.", "unclear"),
        # the failure classes of issue 10: a cue verb used as a plain verb ...
        ("This data supports a real-world evaluation of provider accuracy.", "unclear"),
        ("The evidence supports the BFCC-QIO conclusions about all relevant matters.", "unclear"),
        ("Directories can support a variety of use cases, such as helping consumers choose.", "unclear"),
        # ... negation across a few words ...
        ("After much thought, I cannot in good conscience endorse this proposal.", "oppose"),
        ("There is no doubt that we support the creation of the directory.", "support"),
        # ... imperatives and requests that the agency change course ...
        ("Do not pass this bill!", "oppose"),
        # round 6: a verdict on the proposal past a modifier, or without a determiner; being glad of it;
        # a bare "no no no"; a noun verdict; a cue inside a condition is no position
        ("This new rule to enhance opportunities for F-1 students is very good.", "support"),
        ("I highly recommend OPT extension.", "support"),
        ("I believe OPT extension is very important to the development of the US.", "support"),
        ("I am so glad to hear about this new rule.", "support"),
        ("Failure to implement this rule will hurt the economy.", "support"),
        ("NO NO NO", "oppose"),
        ("This proposal is job theft for our young people.", "oppose"),
        ("If we reject them, we lose our best students.", "unclear"),
        ("The country will grow a lot if this rule is issued so I support it.", "support"),
        ("The comment period should be extended.", "unclear"),
        # round 5 (the old held-out half's errors): the proposal named as what one is against or agrees with,
        # a verdict on a bill or an act, and others' position answered rather than held
        ("I would like to register my voice against DHS's amendment to the visa regulations.", "oppose"),
        ("This is a bad bill, and will cost citizens the best jobs.", "oppose"),
        ("This act is criminal against unemployed Americans.", "oppose"),
        ("I strongly agree the rule because it lets talent stay.", "support"),
        ("Strongly agree on the OPT extension.", "support"),
        ("It helps young graduates; hope this will pass soon", "support"),
        ("I don't know why so many people oppose this proposal.", "unclear"),
        ("I understand many citizens are against this act; however, it creates jobs.", "unclear"),
        ("Many Americans oppose this rule.", "oppose"),
        ("Keep politics out of science.", "oppose"),
        ("Please withdraw the proposed rule.", "oppose"),
        ("Reject this proposal.", "oppose"),
        ("We urge the agency to preserve the current protections for patients.", "oppose"),
        ("I urge you to keep the existing definition.", "oppose"),
        ("CMS should reconsider this approach and go back to the drawing board.", "oppose"),
        ("You cannot take away my right to know the sex of my doctor.", "oppose"),
        ("We urge CMS to finalize the rule without delay.", "support"),
        # ... praise the old rules missed, and praise that is not about the proposal or is rhetorical
        ("This is an exceptional idea.", "support"),
        ("Thank you for this incredibly important step towards full transparency.", "support"),
        ("Who thought that this is a good idea?", "unclear"),
        ("Limiting salt and sugar in foods is a good start.", "unclear"),
        # round 4: verdicts on a named proposal, requests not to act, scope of "opposition"
        ("The proposed rule looks good.", "support"),
        ("This program is wrong on all levels.", "oppose"),
        ("I highly approve of this extension.", "support"),
        ("I strongly recommend the proposed rule.", "support"),
        ("I strongly recommend that CMS add a field for languages.", "unclear"),
        ("This proposal should be approved as soon as possible.", "support"),
        ("I strongly urge you to not expand the program!", "oppose"),
        ("I object this proposal!", "oppose"),
        ("Any opposition to this rule would hurt students.", "unclear"),
        ("There is no reason why this should not be required.", "support"),
        ("I will not comply with a digital ID.", "oppose"),
        ("Households were under unacceptable pressure from prices.", "unclear"),
    ],
)
def test_rules(text, expected):
    result = classify(text)
    assert result.stance == expected, result
    if expected != "unclear":
        assert result.evidence and result.evidence in text  # verbatim span
        assert 0 < result.confidence <= 1


def test_extra_cues_from_a_codebook_add_per_position_phrases():
    text = "Work for food stamps. Nothing should be free."
    assert classify(text).stance == "unclear"
    cues = {"support": ["work for food stamps"], "oppose": ["gender identity"]}
    got = classify(text, extra_cues=cues)
    assert got.stance == "support" and got.evidence == "Work for food stamps." and got.evidence in text
    # a phrase matches across spacing and punctuation, its last word may go on, and case does not matter
    assert classify("Able bodied adults should WORK  for food-stamps benefits.", extra_cues=cues).stance == "support"
    # the same negation rules apply to the caller's phrases
    assert classify("Do not make people work for food stamps.", extra_cues=cues).stance == "oppose"
    assert classify("Please remove gender identity from the directory.", extra_cues=cues).stance == "oppose"
    # the defaults are not changed by a call with extra cues
    assert classify(text).stance == "unclear"
    # campaign copies' additions are judged with the same cues
    template = classify("I am writing about the directory.")
    assert inherit(template, ["Work for food stamps."], extra_cues=cues)[0].stance == "support"
    with pytest.raises(ValueError, match="unknown position"):
        classify(text, extra_cues={"suport": ["x"]})
    with pytest.raises(ValueError, match="no words"):
        classify(text, extra_cues={"support": ["!!!"]})


def test_members_inherit_unless_additions_disagree():
    template = classify("I am writing to urge CMS to reject this proposal.")
    assert inherit(template, []) == (template, "template")
    assert inherit(template, ["I am a retired nurse from Ohio."]) == (template, "template")
    own, source = inherit(template, ["Actually I strongly support the national directory and applaud CMS."])
    assert source == "additions" and own.stance == "support"


def test_hand_labeled_set_per_class_floors():
    items = [i for i in load_items() if i["docket"] in BUNDLED_DOCKETS]
    assert len(items) >= 220
    labels = {i["label"] for i in items}
    assert labels == set(CLASSES)
    assert {i["docket"] for i in items} == set(BUNDLED_DOCKETS)
    result = evaluate(classify, items)
    for split, classes in MEASURED.items():
        for cls, (precision, recall) in classes.items():
            got = result[split][cls]
            assert got["precision"] >= precision - MARGIN, (split, cls, got)
            assert got["recall"] >= recall - MARGIN, (split, cls, got)
        assert result[split]["macro_f1_support_oppose"] >= MEASURED_MACRO_F1[split] - MARGIN


def test_shipped_accuracy_figures_are_the_current_ones():
    """The briefing cites src/comments/analysis/stance_eval.json: it must match the rules as they are now."""
    shipped = json.loads(ACCURACY_FILE.read_text(encoding="utf-8"))
    now = accuracy_record(evaluate(classify))
    if now["dockets"] == shipped["dockets"]:
        assert shipped == now, "run: python tests/stance_eval.py --write"
    else:
        # a labeled docket whose texts are not here ($STANCE_EVAL_DATA unset): the figures were
        # written with it; every docket that is here must still score what was written
        assert set(now["dockets"]) < set(shipped["dockets"]) and set(BUNDLED_DOCKETS) <= set(now["dockets"])
        for docket in now["dockets"]:
            assert shipped["by_docket"][docket] == now["by_docket"][docket], docket


def test_cue_gates_never_change_a_score():
    """Each cue's key words only skip regexes that cannot match: gated and ungated scoring agree on
    every sentence of the evaluation dockets' texts we hold (labeled or not)."""
    import csv

    from comments.analysis.stance import DEFAULT_CUES, score_sentence, sentence_spans
    from comments.textutil import html_to_text
    from tests.stance_eval import BULK, MIRR

    texts = [i["text"] for i in load_items()]
    texts += [html_to_text(json.loads(f.read_text(encoding="utf-8"))["data"]["attributes"].get("comment")) or ""
              for f in sorted(MIRR.glob("*.json"))]
    with open(BULK, encoding="utf-8", newline="") as fh:
        texts += [row.get("Comment") or "" for row in csv.DictReader(fh)]
    checked = 0
    for text in texts:
        for start, end in sentence_spans(text)[:80]:
            sentence = text[start:end]
            assert score_sentence(sentence, DEFAULT_CUES) == score_sentence(sentence, DEFAULT_CUES, gated=False), sentence
            checked += 1
    assert checked > 10_000


def test_a_docket_teaches_its_sides_phrases_from_its_firmly_decided_texts():
    """stance_lexicon: phrases of firmly decided texts of one side (and never of the other) become
    that side's cues; they decide only texts with no verdict, say nothing when negated, and the
    docket's title phrases and phrases both sides use are no side's."""
    from comments.analysis.stance_lexicon import describe, learn, with_learned

    names = "Ann Bob Cy Dee Eve Fay Gus Hal Ivy Jo Kim Lee".split()  # distinct texts (copies count once)
    oppose = [f"I oppose this rule. Keep the biological sex field for patient safety. {n}" for n in names]
    support = [f"I strongly support this rule because the new registry saves time. {n}" for n in names]
    both = ["We oppose it; the national directory of providers is no good.",
            "We support the national directory of providers."] * 6
    texts = oppose + support + both + ["Some other remark about the weather."]
    learned = learn(texts, title="Request for Information; National Directory of Providers")
    assert "biological sex" in learned["learned_oppose"] and "patient safety" in learned["learned_oppose"]
    assert "registry saves" in learned["learned_support"]
    every = learned["learned_oppose"] + learned["learned_support"]
    assert not any("national directory" in p or "directory of providers" in p for p in every)  # title, both sides
    cues = with_learned(None, learned)
    # a text with no verdict is decided by the docket's phrase; the evidence stays verbatim
    text = "Doctors must list their biological sex."
    assert classify(text).stance == "unclear"
    got = classify(text, extra_cues=cues)
    assert got.stance == "oppose" and got.evidence == text
    # an explicit verdict is never overturned or turned into 'mixed' by a learned phrase
    assert classify("I strongly support this. The biological sex field is fine.", extra_cues=cues).stance == "support"
    # negated, a learned phrase says nothing (not the other side)
    assert classify("There is no biological sex field in it.", extra_cues=cues).stance == "unclear"
    # too few firm texts of a side: nothing learned for it
    assert learn(oppose[:3]) == {"learned_support": [], "learned_oppose": []}
    assert describe(learned)[0].startswith("stance rules used phrases learned from this docket")
    assert describe({"learned_support": [], "learned_oppose": []}) == []


def test_a_learned_phrase_matches_its_singular_and_plural():
    """A phrase the docket taught in one number matches the other ("work requirements" -> "a work
    requirement"), and is still a whole word ("food stamp" does not match "food stampede")."""
    cues = {"learned_support": ["work requirements", "food stamp"]}
    assert classify("There should be a work requirement for everyone able.", extra_cues=cues).stance == "support"
    assert classify("Work for food stamps.", extra_cues=cues).stance == "support"
    assert classify("The food stampede at the fair was fun.", extra_cues=cues).stance == "unclear"
