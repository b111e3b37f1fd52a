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
    # a form's filler is no organization, however it is dressed
    for filler in ("N/A", "self", "Anonymous", "Anonymous (Unselected US College Grad)"):
        c = classify(organization=filler, first_name="Jane", last_name="Doe")
        assert (c.type, c.name) == ("individual", None), filler
    # and in the title (ICEB-2015-0002): a sender who gave no name, as plain "Anonymous" is
    text = "So let me get this straight: this program lets a company save on taxes by hiring a foreigner."
    assert classify(title="Comment Submitted by Anonymous (Unselected US College Grad)", text=text) == classify(
        title="Comment Submitted by Anonymous", text=text)
    assert classify(title="Comment Submitted by Anonymous (Unselected US College Grad)", text=text).name is None


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


def test_an_affiliation_is_not_an_organizations_comment():
    # a student who gave their school as organization (ICEB-2015-0002-5255)
    c = classify(organization="Columbia University", first_name="Mingjie", last_name="Li",
                 text="As a master student at Columbia University with F1 status, I strongly support the extension.")
    assert (c.type, c.name) == ("individual", None) and "Columbia University" in c.evidence
    c = classify(title="Comment Submitted by Mingjie Li, Columbia University",
                 text="As a master student at Columbia University with F1 status, I strongly support the extension.")
    assert (c.type, c.name) == ("individual", None)
    # an organization's voice, or nothing but a pointer to its letter, keeps the organization
    c = classify(organization="American Hospital Association", first_name="Jane", last_name="Doe",
                 text="On behalf of our nearly 5,000 member hospitals, I write to comment on the proposal.")
    assert (c.type, c.name) == ("organization", "American Hospital Association")
    c = classify(organization="American Hospital Association", first_name="Jane", last_name="Doe",
                 text="See attached file(s)")
    assert c.type == "organization"
    # a title's legal suffix stays with its name; a person named alone in a title is an individual
    c = classify(title="Comment Submitted by Siyu Wei, Pernixdata, Inc.", text="This is definitely a great proposal.")
    assert (c.type, c.name) == ("organization", "Pernixdata, Inc.")
    assert classify(title="Comment Submitted by Yanchuan Zhang", text="The rule helps.").type == "individual"
    assert classify(title="Comment Submitted by Anonymous", text="The rule helps.").type != "individual"


def test_a_school_or_employer_given_by_someone_who_speaks_for_no_one_is_an_affiliation():
    """ICEB-2015-0002: "Comment Submitted by <student>, <university>" over a text with no first person
    at all ("Please repeal the 17 month STEM OPT ...") listed 75 students and employees as
    organizations; an organization's voice, a pointer to a letter or an advocacy body stays one."""
    title = "Comment Submitted by Jane Roe, State University"
    c = classify(title=title, text="Please extend the training period to 24 months for every STEM graduate.")
    assert (c.type, c.name) == ("individual", None) and "State University" in c.evidence
    # "US" is the country, not "us"
    c = classify(title=title, text="The US needs these graduates to stay and build companies here after school.")
    assert c.type == "individual"
    for text in ("We at State University support extending the training period for STEM graduates.",
                 "Our faculty and students support extending the training period for STEM graduates.",
                 "See attached file(s)", "Please see the attached letter from the university's president.", ""):
        assert classify(title=title, text=text).type == "organization", text
    # a school does not speak through one student's few words or their "we" (ICEB-2015-0002: 27 students)
    for text in ("Extend it.", "We should have it extended!!!", "There's reason for US to be the most distinctive. "
                 "We F-1ers need opportunities."):
        assert classify(title=title, text=text).type == "individual", text
    # an employer is not a school: too short to tell, and "we" may be the company's
    for text in ("Extend it.", "We should have it extended!!!"):
        assert classify(title="Comment Submitted by Jane Roe, Acme Robotics Inc.", text=text).type == "organization", text
    c = classify(title="Comment Submitted by John Doe, Midwest Coalition for Jobs",
                 text="The federal government keeps ignoring the workers of this country and their wages.")
    assert (c.type, c.name) == ("organization", "Midwest Coalition for Jobs")


def test_citing_someones_comments_does_not_make_them_the_sender():
    text = ("Dear Sirs, We fully align ourselves with the judicious comments of Senator Chuck Grassley of Iowa: "
            "the rule is a shadow H-1B program.")
    assert classify(text=text).type != "government"
    c = classify(text="Comments of the American Hospital Association\nOn the proposed rule, we write to ...")
    assert (c.type, c.name) == ("organization", "American Hospital Association")


def test_a_name_under_a_quote_is_not_letterhead():
    text = ("The Department of Homeland Security has proposed a rule to expand the program.\n"
            "Senate Judiciary Committee Chairman Charles Grassley\n"
            "I oppose it.")
    assert classify(text=text).type != "government"
    letter = "American Nurses Association\n8515 Georgia Avenue\nDear Administrator,\nWe support the directory."
    assert (classify(text=letter).type, classify(text=letter).name) == ("organization", "American Nurses Association")
