"""Property-based checks (hypothesis) of the functions every hostile string passes through.

For any input: no exception escapes (other than the one-line InputError a validator
is for), the output is text, and nothing is lost. The text cleaner
(`textutil.html_to_text`), the docket-id validator (`commands.ingest.docket_id_checked`)
and the US Eastern filter value of the sync's cursor (`sync.eastern_filter_value`, fed by
`records.parse_ts`). See docs/hostile_inputs.md.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from comments import records, textutil
from comments.commands.ingest import DOCKET_ID, docket_id_checked
from comments.errors import InputError
from comments.sync import eastern_filter_value

# No example database on disk; no per-example deadline (the machine is shared and noisy).
PROPERTY = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

EASTERN = ZoneInfo("America/New_York")


def visible(text: str) -> list[str]:
    """The characters a reader sees, in order: white space (which the cleaner tidies) left out."""
    return [c for c in text if not c.isspace()]


# --------------------------------------------------------------------------- the text cleaner

# Pieces a hostile comment is made of: real markup, half markup, entities, bare brackets, NULs.
MARKUP_PIECES = st.sampled_from([
    "<p>", "</p>", "<br/>", "<br>", "<b>", "</b>", "<i>", "<a href=\"x\">", "</a>", '<span style="a>b">', "</span>",
    "<o:p>", "</o:p>", "<td nowrap>", "<script>", "</script>", "<style>", "<!--", "-->", "<!DOCTYPE html>",
    "<?xml version=\"1.0\"?>", "<", ">", "<<", "&", "&amp;", "&amp;amp;", "&lt;", "&gt;", "&#0;", "&#x110000;",
    "&#39;", "&rsquo;", "&nbsp;", "&notanentity", "\x00", "\r\n", "\t", " ", "\u00a0", "\u2028",
])
HOSTILE_TEXT = st.lists(st.one_of(MARKUP_PIECES, st.text(max_size=12)), max_size=30).map("".join)
PROSE = st.characters(blacklist_characters="<>&\x00", blacklist_categories=("Cs",))


@PROPERTY
@given(st.one_of(st.text(), HOSTILE_TEXT))
@example("...with this change. <General Facts About OPT: $1 billion dollars a year.>")
@example("<script>never closed")
def test_cleaner_takes_any_text_and_gives_text_without_nul(fragment):
    out = textutil.html_to_text(fragment)
    assert isinstance(out, str)
    assert "\x00" not in out
    assert out == out.strip()


@PROPERTY
@given(st.text(alphabet=st.characters(blacklist_characters="<&", blacklist_categories=("Cs",))))
def test_cleaner_keeps_every_character_of_text_without_markup(text):
    assert visible(textutil.html_to_text(text)) == visible(text.replace("\x00", ""))


@PROPERTY
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))))
def test_cleaner_gives_back_escaped_text_exactly(text):
    # Text as an HTML page shows it (every <, >, & and quote an entity) comes back whole: decoded once.
    assert visible(textutil.html_to_text(html.escape(text))) == visible(text)


def _reads_as_markup(inner: str) -> bool:
    """Whether '<inner>' is what the cleaner documents as markup: an element or Word tag
    name first (after an optional '/'), or a '!'/'?' declaration."""
    if inner[:1] in ("!", "?"):
        return True
    first = re.split(r"[\s/]", inner.removeprefix("/"), maxsplit=1)[0].lower()
    return first in textutil.HTML_ELEMENTS or bool(re.fullmatch(textutil.WORD_TAG, first))


@PROPERTY
@given(st.text(PROSE, max_size=20), st.text(PROSE, min_size=1, max_size=60), st.text(PROSE, max_size=20))
@example("with this change. ", "General Facts About The Optional Practical Training Program (OPT): a year.", "")
@example("", "I think this is wrong", "")
@example("", "Re:Comment", "")
@example("", "ſ", "")  # long s: folds to 's' only outside ASCII case rules; not the <s> tag
def test_cleaner_keeps_prose_between_angle_brackets(before, inner, after):
    if _reads_as_markup(inner):
        return  # a tag by the documented rule (e.g. '<b>'): covered by the other properties
    fragment = f"{before}<{inner}>{after}"
    assert visible(textutil.html_to_text(fragment)) == visible(fragment)


# --------------------------------------------------------------------------- the docket-id validator

VALID_IDS = st.from_regex(DOCKET_ID, fullmatch=True)
OTHER_DIGITS = st.characters(whitelist_categories=("Nd",)).filter(lambda c: not ("0" <= c <= "9"))


@PROPERTY
@given(st.one_of(st.text(), VALID_IDS, VALID_IDS.map(str.lower)))
@example("ICEB-2015-\u0660\u0660\u0660\u0662")
@example("CMS-2022-0163\n")
def test_docket_id_validator_accepts_only_ascii_ids_and_changes_nothing_else(raw):
    try:
        value = docket_id_checked(raw)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert value.isascii() and DOCKET_ID.fullmatch(value)
    assert value == raw.strip().upper()  # nothing dropped or added, only case and outer space


@PROPERTY
@given(VALID_IDS, st.data())
def test_docket_id_validator_round_trips_ids_and_refuses_other_scripts_digits(docket_id, data):
    assert docket_id_checked(docket_id) == docket_id
    assert docket_id_checked(f"  {docket_id.lower()} ") == docket_id
    positions = [i for i, c in enumerate(docket_id) if c.isdigit()]
    i = data.draw(st.sampled_from(positions))
    digit = data.draw(OTHER_DIGITS)
    assert unicodedata.digit(digit) is not None
    with pytest.raises(InputError):
        docket_id_checked(docket_id[:i] + digit + docket_id[i + 1:])


# --------------------------------------------------------------------------- the Eastern-time filter

FILTER_VALUE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
ZONES = st.sampled_from([None, UTC, EASTERN, ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Kiritimati")])


def _check_filter_value(instant: datetime) -> None:
    """`filter[lastModifiedDate][ge]` for the UTC `instant` (naive): well formed, and read as US Eastern
    wall time under either reading of an ambiguous hour it is at or before the instant (so `ge`
    loses no comment), and at most one hour earlier than needed (the overlap stays small)."""
    value = eastern_filter_value(instant)
    assert isinstance(value, str) and FILTER_VALUE.fullmatch(value), value
    wall = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    whole_second = instant.replace(microsecond=0)
    for fold in (0, 1):
        read = wall.replace(tzinfo=EASTERN, fold=fold).astimezone(UTC).replace(tzinfo=None)
        assert read <= whole_second
        assert read >= whole_second - timedelta(hours=2)


@PROPERTY
@given(st.datetimes(min_value=datetime(records.MIN_YEAR, 1, 1), max_value=datetime(9999, 12, 30), timezones=ZONES))
@example(datetime(2023, 11, 5, 5, 30, tzinfo=UTC))  # 01:30 Eastern, the hour that happens twice
@example(datetime(2023, 3, 12, 7, 30, tzinfo=UTC))  # just after the hour that never happens
def test_eastern_filter_value_of_any_stored_instant(moment):
    instant = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    if instant.year < records.MIN_YEAR:
        return  # a time zone east of UTC moved it before what parse_ts keeps
    _check_filter_value(instant)


@PROPERTY
@given(st.one_of(
    st.text(),
    st.datetimes(timezones=ZONES).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.integers(), st.floats(), st.none(),
))
@example("0001-01-01T00:00:00Z")
@example("0001-01-01T00:00:00+01:00")
@example("9999-12-31T23:00:00-05:00")
def test_any_api_timestamp_reaches_the_filter_safely(value):
    # The sync's cursor is always a lastModifiedDate as parse_ts read it from the API.
    instant = records.parse_ts(value)
    if instant is not None:
        _check_filter_value(instant)
