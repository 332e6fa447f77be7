"""Parsing of change requests: valid forms and the exact error messages for bad ones."""

from __future__ import annotations

import numpy as np
import pytest

from amnesia import ChangeRequest, RequestError, parse_request


def test_parses_dict_and_json_and_normalises_pairs():
    text = '{"change": "Add", "interactions": [[2, 5], [1, 3], [2, 5]]}'
    parsed = parse_request(text)
    assert parsed.change == "Add"
    assert parsed.pairs.tolist() == [[1, 3], [2, 5]]  # sorted, duplicates collapsed
    assert parse_request(parsed) is parsed
    assert parse_request({"change": "Remove", "interactions": ((1, 3),)}).pairs.tolist() == [[1, 3]]
    assert parse_request(parsed.to_json()).pairs.tolist() == parsed.pairs.tolist()
    assert parse_request({"change": "Add", "interactions": []}).pairs.shape == (0, 2)
    assert parse_request({"change": "Add", "interactions": np.array([[1, 2]])}).pairs.tolist() == [[1, 2]]


@pytest.mark.parametrize(
    "request_, message",
    [
        ("[1, 2", "The request is not valid JSON (Expecting ',' delimiter at line 1, column 6)"),
        ("[1, 2]", "A request must be a JSON object with 'change' and 'interactions', got [1, 2]."),
        ('{"change": "Add"}', "The request is missing 'interactions'"),
        ('{"interactions": []}', "The request is missing 'change'"),
        ('{"change": "Add", "interactions": [], "user": 3}', "an unknown field 'user'"),
        ('{"change": "Add", "interactions": [], "user": 3, "b": 1}', "unknown fields 'b', 'user';"),
        ('{"change": "add", "interactions": []}', "'change' must be \"Add\" or \"Remove\" (case-sensitive), got \"add\""),
        # the wrong change is what is wrong, not the missing interactions; and a forget is said how to write
        ('{"change": "Forget", "user": 7}', "'change' must be \"Add\" or \"Remove\" (case-sensitive), got \"Forget\". "
         "There is no forget request: to forget a user, remove every one of their interactions, e.g. "
         '{"change": "Remove", "interactions": [[7, 1], [7, 2]]} for user 7 who watched items 1 and 2.'),
        ('{"change": 5}', "'change' must be \"Add\" or \"Remove\" (case-sensitive), got 5."),
        ('{"change": "Delete", "interactions": [[1, 2]]}',
         "'change' must be \"Add\" or \"Remove\" (case-sensitive), got \"Delete\". To take interactions out, use \"Remove\"."),
        # json.loads keeps a repeated key's last value: this Remove was applied as an Add (a visitor's finding)
        ('{"change": "Remove", "interactions": [[1, 3]], "change": "Add"}',
         'The request gives "change" twice; give each field once. Example: {"change": "Remove"'),
        ('{"change": "Add", "interactions": [[1, 3]], "interactions": []}', 'The request gives "interactions" twice'),
        # a repeated key of an object inside it is not what is wrong: the unknown field is
        ('{"change": "Add", "interactions": [[1, 2]], "x": {"a": 1, "a": 2}}', "an unknown field 'x'"),
        ('{"change": "Add", "interactions": [[1, {"a": 1, "a": 2}]]}', 'interactions[0]: item id must be a non-negative integer, got {"a": 2}'),
        ("null", "A request must be a JSON object with 'change' and 'interactions', got null."),  # not "NoneType"
        ('{"change": "Add", "interactions": 5}', "interactions must be a list of [user, item] pairs, got 5."),
        ('{"change": "Add", "interactions": null}', "interactions must be a list of [user, item] pairs, got null."),
        ('{"change": "Add", "interactions": {"1": 2}}', 'interactions must be a list of [user, item] pairs, got {"1": 2}.'),
        ('{"change": "Add", "interactions": "1,2"}', "interactions must be a list of [user, item] pairs, got \"1,2\"."),
        ('{"change": "Add", "interactions": [[1, 2, 3]]}', "interactions[0] must have exactly two ids [user, item], got 3"),
        ('{"change": "Add", "interactions": [[1, 2], 7]}', "interactions[1] must be a [user, item] pair, got 7"),
        ('{"change": "Add", "interactions": [[1.5, 2]]}', "interactions[0]: user id must be a non-negative integer, got 1.5"),
        ('{"change": "Add", "interactions": [[1, "x"]]}', 'interactions[0]: item id must be a non-negative integer, got "x"'),
        ('{"change": "Add", "interactions": [[true, 1]]}', "interactions[0]: user id must be a non-negative integer, got true"),
        ('{"change": "Add", "interactions": [[-1, 1]]}', "interactions[0]: user id -1 is out of range"),
        ('{"change": "Add", "interactions": [[1, 2147483648]]}', "item id 2147483648 is out of range"),
    ],
)
def test_bad_requests_say_what_is_wrong(request_, message):
    with pytest.raises(RequestError) as raised:
        parse_request(request_)
    assert message in str(raised.value)


def test_change_request_is_a_value():
    request = ChangeRequest("Remove", np.array([[1, 2]]))
    assert request.to_json() == '{"change": "Remove", "interactions": [[1, 2]]}'
