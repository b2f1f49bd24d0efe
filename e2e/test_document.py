"""The ``Document`` check itself: a history API call is no navigation, a new document is.

The pages are served by Playwright's router (nothing listens on the address), so
these run once, not per htmx version.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route

from e2e.site import Document, wait_for

#: Routed below; never sent (port 9 is discard, and nothing here listens on it).
ORIGIN = "http://127.0.0.1:9"
HTML = """<!doctype html><title>e2e</title>
<a id="link" href="/other">another page</a>
<form id="form" action="/posted" method="post"><button>Send</button></form>"""


@pytest.fixture
def served(page: Page) -> Page:
    def fulfill(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=HTML)

    page.route(ORIGIN + "/**", fulfill)
    page.goto(ORIGIN + "/")
    return page


def test_history_api_calls_and_fragments_are_not_navigations(served: Page) -> None:
    document = Document(served)
    served.evaluate("() => history.replaceState({htmx: true}, '', location.href)")
    served.evaluate("() => history.pushState({htmx: true}, '', '/pushed')")
    served.evaluate("() => { location.hash = 'part'; }")

    wait_for(served, lambda: len(document.same_document) == 3, "three same-document changes")
    assert document.same_document == [
        ORIGIN + "/",
        ORIGIN + "/pushed",
        ORIGIN + "/pushed#part",
    ]
    document.assert_same()


NAVIGATIONS = {
    "reload": lambda page: page.reload(),
    "same-url": lambda page: page.evaluate("() => { location.assign(location.href); }"),
    "link": lambda page: page.click("#link"),
    "form": lambda page: page.click("#form button"),
}


@pytest.mark.parametrize("how", list(NAVIGATIONS))
def test_a_new_document_is_a_navigation(served: Page, how: str) -> None:
    document = Document(served)
    NAVIGATIONS[how](served)
    wait_for(served, lambda: len(document.navigations) == 1, "the navigation")
    served.wait_for_load_state()
    # Even with the marker put back into the new window, the navigation is what fails.
    served.evaluate("token => { window.__e2eMarker = token; }", document.token)

    with pytest.raises(AssertionError, match="the page navigated"):
        document.assert_same()
