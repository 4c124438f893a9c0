"""Reading schedule files without trusting them: each refusal is a Problem with its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from yzj_meeting.sync.ics_check import scan_ics
from yzj_meeting.sync.people import PeopleMap, load_people, looks_like_email, resolve_person
from yzj_meeting.sync.problems import Problem
from yzj_meeting.sync.safe_read import (
    MAX_DEPTH,
    check_text,
    csv_delimiter,
    load_json,
    read_text,
)


def read(path: Path, **kwargs: int) -> tuple[str | None, list[Problem]]:
    problems: list[Problem] = []
    return read_text(str(path), problems, **kwargs), problems


def json_problems(text: str) -> list[tuple[int | None, str | None, str]]:
    problems: list[Problem] = []
    assert load_json(text, "f.json", problems) is None
    return [(p.line, p.field, p.message) for p in problems]


# --- which files are read ---


def test_a_regular_file_is_read_without_its_bom(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbfkey,title\r\n")
    assert read(path) == ("key,title\r\n", [])


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("[]")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert read(tmp_path / "link.json") == ("[]", [])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    text, problems = read(path)
    assert text is None
    assert "FIFO" in str(problems[0])


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_symlink_to_dev_zero_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    text, problems = read(tmp_path / "zero.json")
    assert text is None
    assert "character device" in str(problems[0])


def test_a_directory_is_refused(tmp_path: Path) -> None:
    text, problems = read(tmp_path)
    assert text is None
    assert "directory" in str(problems[0])


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    text, problems = read(tmp_path / "nope.json")
    assert text is None
    assert "cannot read" in str(problems[0])


def test_a_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (2 * 1024 * 1024 + 1))
    text, problems = read(path, limit=2 * 1024 * 1024)
    assert text is None
    assert "larger than 2 MiB" in str(problems[0])


def test_bytes_that_are_not_utf8_are_refused_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"key,title\nk1,caf\xe9\n")
    text, problems = read(path)
    assert text is None
    assert (problems[0].line, "0xe9" in problems[0].message) == (2, True)


# --- text ---


def test_control_characters_are_named_by_line_and_column() -> None:
    problems: list[Problem] = []
    assert not check_text("key,title\nk1,a\x00b\nk2,\x1bx\n", "s.csv", problems)
    assert [str(p) for p in problems] == [
        "s.csv:2: a control character U+0000 at column 5: remove it",
        "s.csv:3: a control character U+001B at column 4: remove it",
    ]


def test_tabs_and_line_breaks_are_fine() -> None:
    assert check_text("a\tb\r\nc\n", "s.csv", [])


def test_a_lone_surrogate_is_refused() -> None:
    problems: list[Problem] = []
    assert not check_text("ok\nbad \ud800\n", "s.csv", problems)
    assert problems[0].line == 2
    assert "lone surrogate" in problems[0].message


# --- JSON ---


def test_duplicate_keys_are_refused_at_the_object() -> None:
    text = '{"meetings": [],\n "meetings": [{"key": "a"}]}'
    assert json_problems(text) == [
        (
            1,
            "meetings",
            "appears twice in the object starting on this line: one value would be lost",
        )
    ]


def test_a_duplicate_key_in_a_nested_object_names_that_object_line() -> None:
    text = '[\n {"key": "a"},\n {"key": "b",\n  "key": "c"}\n]'
    assert json_problems(text)[0][:2] == (3, "key")


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    depth = 200_000
    assert json_problems("[" * depth + "]" * depth) == [
        (1, None, f"nested more than {MAX_DEPTH} levels deep")
    ]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    problems: list[Problem] = []
    assert load_json('["' + "[" * 500 + '"]', "f.json", problems) == ["[" * 500]
    assert problems == []


def test_a_huge_integer_is_refused_at_its_line() -> None:
    ((line, field, message),) = json_problems('[\n  {"reminder":\n' + "9" * 5000 + "}]")
    assert (line, field) == (3, None)
    assert "5000 digits" in message


@pytest.mark.parametrize("name", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused(name: str) -> None:
    assert "is not a JSON value" in json_problems(f"[{name}]")[0][2]


@pytest.mark.parametrize(
    ("escape", "words"),
    [
        ("\\u0000", "control character (U+0000)"),
        ("\\u001b", "control character (U+001B)"),
        ("\\ud800", "lone surrogate (U+D800)"),
        ("\\udc00", "lone surrogate (U+DC00)"),
    ],
)
def test_escaped_bad_characters_are_refused(escape: str, words: str) -> None:
    ((line, _, message),) = json_problems('[\n"title ' + escape + '"]')
    assert line == 2
    assert words in message


@pytest.mark.parametrize("text", ['["\\ud83d\\ude00"]', '["\\\\u0000"]', '["a\\nb\\tc"]'])
def test_good_escapes_pass(text: str) -> None:
    problems: list[Problem] = []
    assert load_json(text, "f.json", problems) is not None
    assert problems == []


def test_a_jsonl_line_reports_the_file_line() -> None:
    problems: list[Problem] = []
    load_json('{"a": 1, "a": 2}', "f.jsonl", problems, first_line=7)
    assert problems[0].line == 7


def test_invalid_json_keeps_its_line() -> None:
    assert json_problems('[\n{"a": }]')[0][:2] == (2, None)


# --- CSV separators ---


@pytest.mark.parametrize(
    ("header", "separator"),
    [
        ("key,openid,title", ","),
        ("key;openid;title;start;end", ";"),
        ("key\topenid\ttitle", "\t"),
        ('"key";"title"', ";"),
        ("a;b", ","),
    ],
)
def test_the_csv_separator_is_the_one_that_names_the_columns(header: str, separator: str) -> None:
    known = frozenset(("key", "openid", "title", "start", "end"))
    assert csv_delimiter(header + "\r\nx\r\n", known) == separator


# --- ICS pre-check ---

EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
BEGIN:VEVENT\r
UID:u1\r
{body}\r
END:VEVENT\r
END:VCALENDAR\r
"""


def ics_problems(body: str) -> list[str]:
    problems: list[Problem] = []
    scan_ics(EVENT.format(body=body), "c.ics", problems)
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "SUMMARY:a\r\nSUMMARY:b",
            "c.ics:6: title: SUMMARY appears twice in one event (lines 5 and 6): keep one",
        ),
        ("DTSTART:2026-12-01", "c.ics:5: start: DTSTART '2026-12-01' is not a date"),
        ("DTSTART:20261301T090000Z", "c.ics:5: start: DTSTART '20261301T090000Z' is not a real"),
        ("DTSTART;TZID=Mars/Olympus:20261201T090000", "unknown time zone TZID='Mars/Olympus'"),
        ("DTSTART:99991231T170000Z", "past the year 9999 in Asia/Shanghai"),
        ("DURATION:PT", "c.ics:5: end: DURATION 'PT' is not a duration"),
        ("DURATION:1H", "is not a duration"),
        ("RRULE:FREQ=WEEKLY;BYDAY", "'BYDAY' is not a rule part"),
        ("RRULE:INTERVAL=2", "has no FREQ"),
        ("RRULE:FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "both COUNT and UNTIL"),
        ("EXDATE;VALUE=PERIOD:20261201T090000Z/PT1H", "periods are not supported"),
        ("EXDATE:20261201T090000Z,nonsense", "EXDATE 'nonsense' is not a date"),
        ("DTEND:20261201T100000Z\r\nDURATION:PT1H", "an event has DTEND or DURATION, not both"),
        ("SUMMARY", "c.ics:5: not an iCalendar content line"),
    ],
)
def test_the_ics_pre_check_names_line_field_and_fault(body: str, expected: str) -> None:
    found = ics_problems(body)
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    "body",
    [
        "SUMMARY:ok\r\nDTSTART;TZID=America/New_York:20261201T090000\r\nDURATION:PT1H30M",
        "DTSTART;TZID=China Standard Time:20261201T090000\r\nDTEND:20261201T020000Z",
        "DTSTART;VALUE=DATE:20261201\r\nRRULE:FREQ=WEEKLY;WKST=SU;BYDAY=TU;COUNT=3",
        "DURATION:P1W\r\nATTENDEE:mailto:a@x.com\r\nATTENDEE:mailto:b@x.com",
        'ORGANIZER;CN="Wang, Wei":mailto:w@x.com\r\nDESCRIPTION:a\r\n  folded; line',
    ],
)
def test_good_events_pass_the_pre_check(body: str) -> None:
    assert ics_problems(body) == []


def test_a_tzid_defined_by_a_vtimezone_is_known() -> None:
    text = (
        "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:My Zone\nEND:VTIMEZONE\n"
        "BEGIN:VEVENT\nDTSTART;TZID=My Zone:20261201T090000\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    problems: list[Problem] = []
    (event,) = scan_ics(text, "c.ics", problems)
    assert problems == []
    assert event.line == 5
    start = event.get("DTSTART")
    assert start is not None
    assert (start.params, start.value, start.line) == ({"TZID": "My Zone"}, "20261201T090000", 6)


def test_an_unclosed_event_is_reported() -> None:
    problems: list[Problem] = []
    scan_ics("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\n", "c.ics", problems)
    assert [p.line for p in problems] == [1, 2]


def test_alarm_properties_are_not_the_events() -> None:
    body = "SUMMARY:a\r\nBEGIN:VALARM\r\nSUMMARY:b\r\nTRIGGER:-PT15M\r\nEND:VALARM"
    assert ics_problems(body) == []


# --- the people map ---


@pytest.mark.parametrize(
    ("value", "email"),
    [
        ("mailto:wang.wei@example.com", True),
        ("MAILTO:x", True),
        ("wang.wei@example.com", True),
        ("5f0c1a2b3c4d5e6f", False),
        ("user@localhost", False),
    ],
)
def test_what_looks_like_an_email(value: str, email: bool) -> None:
    assert looks_like_email(value) is email


def test_an_oid_passes_and_an_address_needs_the_map() -> None:
    people = PeopleMap({"wang.wei@example.com": "oid-wang"}, "people.csv")
    assert resolve_person("oid-1", None) == "oid-1"
    assert resolve_person("mailto:Wang.Wei@Example.com", people) == "oid-wang"
    with pytest.raises(ValueError, match=r"is an email address, not a Yunzhijia oid.*--people"):
        resolve_person("mailto:wang.wei@example.com", None)
    with pytest.raises(ValueError, match=r"li@example\.com is not in the people map people\.csv"):
        resolve_person("li@example.com", people)


def test_a_people_csv_from_excel(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(
        "\ufeffName;Email;OID\r\n王伟;wang.wei@example.com;oid-w\r\n;MAILTO:li@example.com;oid-l\r\n".encode()
    )
    people = load_people(str(path), [])
    assert people is not None
    assert dict(people.oids) == {"wang.wei@example.com": "oid-w", "li@example.com": "oid-l"}


def test_a_people_json_object_and_list(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"A@x.com": "oid-a"}')
    (tmp_path / "b.json").write_text('[{"email": "b@x.com", "oid": "oid-b"}]')
    a, b = load_people(str(tmp_path / "a.json"), []), load_people(str(tmp_path / "b.json"), [])
    assert a is not None
    assert b is not None
    assert (a.get("a@X.com"), b.get("b@x.com")) == ("oid-a", "oid-b")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("email,oid\nnot-an-address,o1\n", "2: email: not an email address"),
        ("email,oid\na@x.com,b@x.com\n", "2: oid: not an oid"),
        ("email,oid\na@x.com,o1\nA@x.com,o2\n", "3: email: A@x.com has two oids (also line 2)"),
        ("mail,id\n", "the header must name email and oid"),
        ("email,oid\na@x.com,o\x00\n", "control character U+0000"),
    ],
)
def test_a_bad_people_map_is_refused(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "people.csv"
    path.write_text(text)
    problems: list[Problem] = []
    assert load_people(str(path), problems) is None
    assert any(words in str(p) for p in problems), problems


def test_a_people_json_with_duplicate_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "people.json"
    path.write_text('{"a@x.com": "o1", "a@x.com": "o2"}')
    problems: list[Problem] = []
    assert load_people(str(path), problems) is None
    assert "appears twice" in str(problems[0])
