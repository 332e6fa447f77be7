"""Two replicas of the app, as behind a proxy with sticky sessions: each loads its own shared
model and serves its own visitors; a visitor's changes live in the replica that holds their
session and nowhere else (docs/hosting.md)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tools.serve import streamlit_server

from .conftest import guarded_context
from .conftest import add_user, open_app, sidebar_number

pytestmark = pytest.mark.e2e


def test_two_replicas_serve_their_visitors_independently(browser):
    with streamlit_server() as first, streamlit_server() as second:
        pages = {}
        for name, server in (("first", first), ("second", second)):
            context = guarded_context(browser, server, viewport={"width": 1400, "height": 1400})
            pages[name] = (context, context.new_page(), server)
            open_app(pages[name][1], server)
        _, page, server = pages["first"]
        add_user(page, "Replica", "toy story\nnemo")
        assert sidebar_number(page, "Users") == "5"
        _, other, other_server = pages["second"]
        other.reload()
        expect(other.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=60_000)
        assert sidebar_number(other, "Users") == "4"  # the change lives only in the first replica's session
        add_user(other, "Elsewhere", "titanic")
        assert sidebar_number(other, "Users") == "5" and sidebar_number(page, "Users") == "5"
        # each replica is a process of its own with its own model in memory
        assert first.pid != second.pid and first.memory_mb() > 100 and second.memory_mb() > 100
        for context, _, _ in pages.values():
            assert context.blocked == []
            context.close()
