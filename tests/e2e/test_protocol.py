"""The load benchmark's visitor without a browser (tools/protocol_client.py) against the real server:
what it sends is what a click sends, and what it reads is what the page shows."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tools.protocol_client import ProtocolError, ProtocolVisitor

from ..conftest import plain


def run(coroutine):
    """Run ``coroutine`` in a thread of its own: the browser tests' sync Playwright keeps an event
    loop running in this one, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_protocol_visitor_adds_and_forgets_like_a_browser_and_sees_errors(server):
    async def visit() -> tuple[list[str], list[str], str]:
        async with ProtocolVisitor(server, {"data": "toy"}) as visitor:
            opened = await visitor.open()
            assert opened.widget("selectbox", "User to forget").options == [
                "Alice (4 movies)", "Bob (2 movies)", "Carla (3 movies)", "Dev (2 movies)"]
            added = await visitor.add("Maya", "toy story\nnemo", "Added Maya with 2 movies")
            choice = visitor.option("User to forget", "Maya (")
            forgot = await visitor.forget(choice, "Forgot Maya (2 movies)")
            with pytest.raises(ProtocolError) as refused:
                await visitor.add("", "toy story", "Added")
            return added.texts(), [choice, *forgot.texts()], str(refused.value)

    added, forgot, refused = run(visit())
    assert any(re.fullmatch(r"Added Maya with 2 movies in \d+\.\d\d ms: Toy Story \(1995\), Finding Nemo \(2003\)\. "
                            r"Finding what changed in its 2 rows of C and S, for the charts below, took another "
                            r"\d+\.\d ms\.", plain(text)) for text in added)
    assert forgot[0] == "Maya (2 movies)"
    assert any(plain(text).startswith("Forgot Maya (2 movies) in ") for text in forgot[1:])
    assert refused == ("the page did not show 'Added' (its messages: The user's name is empty; type a name such "
                       "as 'Maya', of at most 60 characters.)")


def test_two_protocol_visitors_are_two_sessions(server):
    async def visit() -> tuple[list[str], list[str]]:
        async with ProtocolVisitor(server, {"data": "toy"}) as one, ProtocolVisitor(server, {"data": "toy"}) as two:
            await one.open()
            await two.open()
            await one.add("Ada", "titanic", "Added Ada with 1 movie")
            seen_by_two = (await two.open()).widget("selectbox", "User to forget").options
            return list(one.page.widget("selectbox", "User to forget").options), list(seen_by_two)

    mine, theirs = run(visit())
    assert "Ada (1 movie)" in mine and "Ada (1 movie)" not in theirs and len(theirs) == 4
