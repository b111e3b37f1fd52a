"""Commenter types from the API fields, titles and text (no database)."""

from __future__ import annotations

from comments.analysis.commenters import classify


def test_api_fields_and_names():
    assert classify(gov_agency="Oregon Health Authority", gov_agency_type="State").type == "government"
    c = classify(organization="American Hospital Association", first_name="Jane", last_name="Doe")
    assert (c.type, c.name) == ("organization", "American Hospital Association")
    assert classify(organization="Colorado Department of Health Care Policy and Financing").type == "government"
    assert classify(first_name="Anonymous", last_name="Anonymous", category="Government - Federal").type == "anonymous"
    # a private person who picked a government category is still an individual, and never named
    c = classify(first_name="Jane", last_name="Doe", category="Federal Government - G0005")
    assert (c.type, c.name) == ("individual", None)
    # people sometimes type their own name as the organization
    c = classify(organization="Jane Doe", first_name="Jane", last_name="Doe")
    assert (c.type, c.name) == ("individual", None)
    assert classify().type == "unknown"


def test_title_and_text_signals():
    c = classify(title="Comment Submitted by Jane Doe, National Rural Health Association")
    assert (c.type, c.name) == ("organization", "National Rural Health Association")
    c = classify(title="Comment Submitted by JANE DOE")
    assert c.name is None
    c = classify(text="On behalf of the State of Colorado, the Office of eHealth Innovation submits ...")
    assert (c.type, c.name) == ("government", "State of Colorado")
    c = classify(text="Acme Health Partners LLC\n123 Main Street\n\nDear Administrator, we write ...")
    assert (c.type, c.name) == ("organization", "Acme Health Partners LLC")


def test_sender_cue_prefilter_keeps_case_insensitive_matches():
    # the substring pre-check must not hide what the case-insensitive regex finds
    for text in ("COMMENTS FROM THE NATIONAL ASSOCIATION OF Boards of Pharmacy",
                 "Submıtted by the American Hospital Association",  # dotless i: re.IGNORECASE matches it
                 "ſubmitted by Acme Health Association"):           # long s, likewise
        c = classify(text=text)
        assert c.type == "organization" and c.name and "association" in c.name.lower(), text
    assert classify(text="I write as a nurse.", first_name="Jane", last_name="Doe").type == "individual"
