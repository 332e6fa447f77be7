"""Limits: checked before the work they bound, named in the error, and nothing changes."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from amnesia import APP_LIMITS, CLI_LIMITS, ChangeRequest, ItemCF, LimitError, Limits, RequestError, parse_request
from amnesia.limits import nesting_depth

SMALL = APP_LIMITS.replace(interactions=3, new_users=1, new_items=2, request_chars=200, nesting=4)


def request(pairs, change="Add") -> str:
    return json.dumps({"change": change, "interactions": pairs})


@pytest.mark.parametrize(
    "text, limit, seen",
    [
        (request([[1, 1]] * 3 + [[1, 2]]), "interactions", 4),
        ("x" * 201, "request_chars", 201),
        ("[" * 100_000, "request_chars", 100_000),  # the length is checked before the nesting
        ("[[[[[1]]]]]", "nesting", 5),
        ('{"change": "Add", "interactions": [[' + "9" * 5000 + ", 1]]}", "request_chars", 5042),
    ],
    ids=["pairs", "chars", "brackets", "nesting", "digits"],
)
def test_a_request_over_a_limit_names_the_limit_and_the_number(text, limit, seen):
    with pytest.raises(LimitError) as raised:
        parse_request(text, SMALL)
    assert (raised.value.limit, raised.value.seen) == (limit, seen)
    # the limit's code name is the error's .limit, not part of its sentence (a visitor read "(typed_lines)")
    assert f"{seen:,}" in str(raised.value) and limit not in str(raised.value)
    assert "Nothing was changed." in str(raised.value)


def test_the_pair_count_is_checked_before_any_pair_is_read():
    # the first pair is malformed, but the count is over the limit: the count is what is reported
    with pytest.raises(LimitError, match="has 4 \\[user, item\\] pairs"):
        parse_request({"change": "Add", "interactions": [["x"], [1, 2], [1, 3], [1, 4]]}, SMALL)
    endless = ((1, item) for item in range(10**9))  # a generator: counting stops at the limit
    started = time.perf_counter()
    with pytest.raises(LimitError) as raised:
        parse_request({"change": "Add", "interactions": endless}, SMALL)
    assert raised.value.seen == 4 and time.perf_counter() - started < 1


def test_deep_nesting_is_refused_without_recursion():
    text = "[" * 100_000 + "]" * 100_000
    assert nesting_depth(text) == 100_000
    with pytest.raises(LimitError) as raised:
        parse_request(text, CLI_LIMITS)
    assert raised.value.limit == "nesting" and raised.value.seen == 100_000
    # without limits the decoder's own RecursionError still becomes a clear RequestError
    with pytest.raises(RequestError, match="nested too deeply"):
        parse_request(text)


@pytest.mark.parametrize(
    "text, depth",
    [
        ('{"change": "Add", "interactions": [[1, 2]]}', 3),
        ('{"a": "[[[{{{"}', 1),  # brackets inside strings do not count
        ('{"a\\"[[": [1]}', 2),  # an escaped quote does not end the string
        ('{"a\\\\": [1]}', 2),  # an escaped backslash does not escape the quote
        ('"héllo [ wörld"', 0),
        ("", 0),
    ],
)
def test_nesting_depth(text, depth):
    assert nesting_depth(text) == depth


def test_huge_numbers_are_refused_without_converting_them():
    text = '{"change": "Add", "interactions": [[' + "9" * 5000 + ", 1]]}"
    for limits in (None, CLI_LIMITS):
        with pytest.raises(LimitError, match="a number with 5000 digits"):
            parse_request(text, limits)
    with pytest.raises(LimitError, match="user id 2147483648 is out of range"):
        parse_request(request([[2**31, 1]]), CLI_LIMITS)
    with pytest.raises(LimitError, match="item id 11 is out of range"):
        parse_request(request([[1, 11]]), CLI_LIMITS.replace(max_id=10))
    with pytest.raises(LimitError, match="with more than 30 digits"):
        parse_request({"change": "Add", "interactions": [[10**5000, 1]]})


def test_hand_built_requests_cannot_bypass_the_id_range():
    with pytest.raises(LimitError, match="ids must be between 0 and 2147483647"):
        ChangeRequest("Add", np.array([[2**31, 1]]))
    with pytest.raises(RequestError, match="'change' must be"):
        ChangeRequest("Forget", np.array([[1, 1]]))
    # pairs are always unique and sorted, whoever built the request
    assert ChangeRequest("Add", np.array([[2, 1], [1, 5], [2, 1]])).pairs.tolist() == [[1, 5], [2, 1]]
    model = ItemCF.fit([(0, 0)])
    with pytest.raises(LimitError):
        model.apply(ChangeRequest("Add", np.array([[11, 1]])), APP_LIMITS.replace(max_id=10))


def test_new_users_and_items_are_limited_before_any_change():
    model = ItemCF.fit([(0, 0), (0, 1), (1, 1)])
    before = model.fingerprint()
    with pytest.raises(LimitError) as raised:
        model.apply(request([[5, 0], [6, 0]]), SMALL)
    assert (raised.value.limit, raised.value.seen, raised.value.allowed) == ("new_users", 2, 1)
    with pytest.raises(LimitError) as raised:
        model.apply(request([[0, 7], [0, 8], [0, 9]]), SMALL)
    assert (raised.value.limit, raised.value.seen) == ("new_items", 3)
    assert model.fingerprint() == before and model.time == 0
    model.apply(request([[0, 7], [0, 8], [2, 0]]), SMALL)  # at the limits: accepted
    assert model.history(0) == [0, 1, 7, 8] and model.history(2) == [0]
    # removals create nothing, so only the pair count applies to them
    model.apply(request([[0, 7], [0, 8], [2, 0]], "Remove"), SMALL)


def test_limits_can_be_overridden_but_only_sensibly():
    assert CLI_LIMITS.replace(interactions=7).interactions == 7
    with pytest.raises(ValueError, match="Unknown limit 'interactionz'"):
        CLI_LIMITS.replace(interactionz=7)
    with pytest.raises(ValueError, match="must be an integer from 1 to 1,000,000,000,000, got 0"):
        CLI_LIMITS.replace(interactions=0)
    with pytest.raises(ValueError, match="from 1 to 1,000,000,000,000"):
        CLI_LIMITS.replace(request_chars=10**20)  # would overflow the stream's bounded reads
    with pytest.raises(ValueError, match="max_id must be an integer from 1 to 2,147,483,647"):
        CLI_LIMITS.replace(max_id=2**31)  # ids are stored as int32
    assert isinstance(APP_LIMITS, Limits) and APP_LIMITS.interactions < CLI_LIMITS.interactions


def test_an_add_that_would_change_too_many_cooccurrences_is_refused_before_any():
    model = ItemCF.fit([(0, i) for i in range(30)])
    before = model.fingerprint()
    limits = CLI_LIMITS.replace(pairs=100)
    with pytest.raises(LimitError) as raised:  # a new user with 12 items: 12 x 12 = 144 > 100
        model.apply(request([[1, i] for i in range(12)]), limits)
    assert (raised.value.limit, raised.value.seen) == ("pairs", 144)
    assert "a user with k items changes about k² co-occurrences" in str(raised.value)
    assert model.fingerprint() == before
    model.apply(request([[1, i] for i in range(10)]), limits)  # 100: at the limit
    # forgetting is never refused for its size: the right to erasure holds for the heaviest user
    model.apply(request([[0, i] for i in range(30)], "Remove"), limits)
    assert model.users() == [1]
