"""Stance: rules on small cases, and per-class figures on the hand-labeled set (regression floor).

The floors are the figures measured when the rules were written (docs/stance_labeling.md)
minus a small margin; `held-out` is the half of the set not looked at while writing them.
"""

from __future__ import annotations

import json

import pytest

from comments.analysis.stance import classify, inherit
from tests.stance_eval import ACCURACY_FILE, CLASSES, accuracy_record, evaluate, load_items

MARGIN = 0.05
# measured figures (docs/stance_labeling.md), per split: class -> (precision, recall)
MEASURED = {
    "test": {"support": (0.750, 0.947), "oppose": (0.875, 0.560), "mixed": (1.000, 0.250), "unclear": (0.786, 0.898)},
    "all": {"support": (0.771, 0.881), "oppose": (0.949, 0.725), "mixed": (1.000, 0.429), "unclear": (0.826, 0.909)},
}


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
    ],
)
def test_rules(text, expected):
    result = classify(text)
    assert result.stance == expected, result
    if expected != "unclear":
        assert result.evidence and result.evidence in text  # verbatim span
        assert 0 < result.confidence <= 1


def test_members_inherit_unless_additions_disagree():
    template = classify("I am writing to urge CMS to reject this proposal.")
    assert inherit(template, []) == (template, "template")
    assert inherit(template, ["I am a retired nurse from Ohio."]) == (template, "template")
    own, source = inherit(template, ["Actually I strongly support the national directory and applaud CMS."])
    assert source == "additions" and own.stance == "support"


def test_hand_labeled_set_per_class_floors():
    items = load_items()
    assert len(items) >= 150
    labels = {i["label"] for i in items}
    assert labels == set(CLASSES)
    assert {i["docket"] for i in items} == {"CMS-2022-0163", "CMS-2025-0050"}
    result = evaluate(classify, items)
    for split, classes in MEASURED.items():
        for cls, (precision, recall) in classes.items():
            got = result[split][cls]
            assert got["precision"] >= precision - MARGIN, (split, cls, got)
            assert got["recall"] >= recall - MARGIN, (split, cls, got)


def test_shipped_accuracy_figures_are_the_current_ones():
    """The briefing cites src/comments/analysis/stance_eval.json: it must match the rules as they are now."""
    shipped = json.loads(ACCURACY_FILE.read_text(encoding="utf-8"))
    assert shipped == accuracy_record(evaluate(classify)), "run: python tests/stance_eval.py --write"
