"""The docket's own classifier (stance_selftrained): trained on the rules' firm decisions, it decides
only texts the rules leave unclear, with a verbatim sentence as evidence."""

from __future__ import annotations

import itertools

from comments.analysis import stance as rules
from comments.analysis import stance_selftrained as selftrained

FOR = ["international students bring research talent", "graduates fill skilled engineering roles",
       "universities attract the brightest students", "innovation grows with foreign graduates"]
AGAINST = ["american workers lose their jobs", "cheap foreign labor undercuts wages",
           "citizens should be hired first", "employers replace local graduates"]


def docket() -> list[str]:
    texts = []
    for k, (a, b) in enumerate(itertools.product(FOR, FOR)):
        texts.append(f"I strongly support this rule. {a.capitalize()}, and {b}. Letter {k}.")
    for k, (a, b) in enumerate(itertools.product(AGAINST, AGAINST)):
        texts.append(f"I oppose this rule. {a.capitalize()}, and {b}. Note {k}.")
    return texts


def test_a_text_stating_no_verdict_takes_the_side_it_argues_like_with_a_verbatim_sentence():
    texts = docket()
    implied = ("We have seen it for years. American workers lose their jobs, cheap foreign labor undercuts wages, "
               "and employers replace local graduates.")
    other = ("International students bring research talent, graduates fill skilled engineering roles, and "
             "innovation grows with foreign graduates.")
    assert rules.classify(implied).stance == rules.classify(other).stance == "unclear"
    model = selftrained.train(texts, rules.classify)
    assert model is not None and model.trained_on == {"support": 16, "oppose": 16}
    filled = selftrained.fill(model, [*texts, implied, other, "Hello there."], rules.classify)
    assert set(filled) == {implied, other}  # the firm texts keep the rules' verdict; three words or fewer stay unclear
    assert filled[implied].stance == "oppose" and filled[other].stance == "support"
    assert filled[implied].confidence >= selftrained.THRESHOLD
    assert filled[implied].evidence in implied and "workers lose" in filled[implied].evidence
    again = selftrained.fill(selftrained.train(list(reversed(texts)), rules.classify), [implied, other], rules.classify)
    assert {t: s.stance for t, s in again.items()} == {t: s.stance for t, s in filled.items()}
    assert "decided by a classifier trained on this docket's 16 firmly support and 16 firmly oppose texts" in \
        selftrained.describe(model, filled)[0]


def test_nothing_is_learned_when_a_side_has_too_few_firm_texts():
    texts = docket()[: 16 + selftrained.MIN_SIDE - 1]  # every support text, too few opposes
    assert selftrained.train(texts, rules.classify) is None
    assert selftrained.fill(None, ["American workers lose their jobs to cheap labor."], rules.classify) == {}
    assert selftrained.describe(None, {}) == []


def test_a_text_the_model_is_unsure_of_stays_unclear():
    model = selftrained.train(docket(), rules.classify)
    unsure = "The agency published the notice in the Federal Register on a Tuesday morning."
    side, p = model.sides([unsure])[0]
    assert p < selftrained.THRESHOLD
    assert selftrained.fill(model, [unsure], rules.classify) == {}
