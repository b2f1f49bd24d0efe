"""What the scenarios do in the browser: start operations through the demo's forms,
read the widget, watch its parts change, count sockets and navigations."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Locator, Page, Request, WebSocket

#: An operation's page, where the start form redirects.
OP_URL = re.compile(r"/live/(?P<model>\w+\.\w+)/(?P<pk>\d+)/$")
#: Generous: the machine is small and runs two browsers' worth of servers.
TIMEOUT = 20_000

# Records each new text of the elements matching a selector (in document order, so
# swaps that replace the element are followed too) under window.__e2eSeen[key].
_WATCH = """([key, selector]) => {
  const seen = (window.__e2eSeen = window.__e2eSeen || {});
  const list = (seen[key] = []);
  const read = () => {
    const el = document.querySelector(selector);
    const text = el ? el.textContent.trim() : null;
    if (list.length === 0 || list[list.length - 1] !== text) list.push(text);
  };
  read();
  new MutationObserver(read).observe(document.documentElement, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
}"""


@dataclass(frozen=True)
class Site:
    """One running demo server."""

    url: str
    htmx: int

    def ws_url(self, path: str) -> str:
        """The absolute ws:// URL for a socket path taken from a page."""
        return "ws://" + urlsplit(self.url).netloc + path


def percent_of(text: str | None) -> int | None:
    match = re.fullmatch(r"(\d+)%", (text or "").strip())
    return int(match.group(1)) if match else None


@dataclass
class Op:
    """An operation as one page shows it."""

    page: Page
    model: str
    pk: str

    @property
    def path(self) -> str:
        return f"/live/{self.model}/{self.pk}/"

    def part(self, name: str) -> Locator:
        return self.page.locator(f"#op-{name}-{self.pk}")

    @property
    def state(self) -> Locator:
        return self.part("status").locator(".liveop-status__state")

    @property
    def log_lines(self) -> Locator:
        return self.page.locator(f"#op-log-lines-{self.pk} > li")

    @property
    def percent_selector(self) -> str:
        return f"#op-progress-{self.pk} .liveop-progress__percent"

    def percent(self) -> int | None:
        return percent_of(self.page.locator(self.percent_selector).text_content())

    def wait_percent(self, at_least: int, timeout: float = TIMEOUT) -> int:
        """Wait until the page shows at least ``at_least``% and return what it shows."""
        self.page.wait_for_function(
            """([selector, least]) => {
                const el = document.querySelector(selector);
                const m = el && el.textContent.trim().match(/^(\\d+)%$/);
                return m && Number(m[1]) >= least;
            }""",
            arg=[self.percent_selector, at_least],
            timeout=timeout,
        )
        value = self.percent()
        assert value is not None
        return value

    def watch(self, key: str, selector: str) -> None:
        self.page.evaluate(_WATCH, [key, selector])

    def seen(self, key: str) -> list[str | None]:
        return list(self.page.evaluate("key => (window.__e2eSeen || {})[key] || []", key))

    def socket_path(self) -> str | None:
        """The socket URL (path and query) the page's socket element names, if any."""
        element = self.part("socket")
        if element.count() == 0:
            return None
        for attr in ("ws-connect", "hx-ws:connect"):
            value = element.get_attribute(attr)
            if value:
                return value
        return None


def cancel_quietly(page: Page, site: Site, op: Op) -> None:
    """Stop a long operation after a test (a plain POST: cleanup must not depend on htmx)."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies(site.url)}
    page.request.post(
        f"{site.url}{op.path}cancel/",
        headers={"X-CSRFToken": cookies.get("csrftoken", ""), "Referer": site.url + op.path},
        max_redirects=0,
        fail_on_status_code=False,
    )


def start(page: Page, site: Site, kind: str, **fields: object) -> Op:
    """Start an operation with the home page's form for ``kind``; land on its page."""
    page.goto(site.url + "/")
    form = page.locator(f"form[data-kind={kind}]")
    for name, value in fields.items():
        form.locator(f"[name='{kind}-{name}']").fill(str(value))
    form.get_by_role("button", name="Start").click()
    page.wait_for_url(OP_URL, timeout=TIMEOUT)
    match = OP_URL.search(urlsplit(page.url).path)
    assert match is not None, page.url
    return Op(page, match["model"], match["pk"])


def wait_for(page: Page, check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Wait for ``check`` (of what the test's listeners saw), letting Playwright deliver
    the page's events meanwhile: they arrive only while the test calls into Playwright."""
    deadline = time.monotonic() + timeout / 1000
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(50)


class Document:
    """Proves a page kept its document: a marker in ``window``, no new document loaded.

    A navigation is a new document committed in the main frame: Chromium's
    ``Page.frameNavigated``, read over a CDP session of its own. Playwright's
    ``framenavigated`` fires for same-document changes of the address too
    (``history.pushState``/``replaceState``, a fragment), and htmx 4.0.1 stamps the
    entry with ``history.replaceState`` on its first swap: those are no navigation and
    only kept (``same_document``) to be shown when the check fails.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.token = secrets.token_hex(8)
        #: URLs of the new documents the main frame committed since.
        self.navigations: list[str] = []
        #: URLs the main frame's address changed to without a new document.
        self.same_document: list[str] = []
        self._cdp = page.context.new_cdp_session(page)
        tree = self._cdp.send("Page.getFrameTree")
        self._main_frame_id = tree["frameTree"]["frame"]["id"]
        self._cdp.on("Page.frameNavigated", self._navigated)
        self._cdp.on("Page.navigatedWithinDocument", self._navigated_within)
        self._cdp.send("Page.enable")
        page.evaluate("token => { window.__e2eMarker = token; }", self.token)

    def _navigated(self, event: dict[str, Any]) -> None:
        frame = event["frame"]
        if not frame.get("parentId"):  # the main frame (its id may change with a process)
            self.navigations.append(frame["url"])

    def _navigated_within(self, event: dict[str, Any]) -> None:
        if event["frameId"] == self._main_frame_id:
            self.same_document.append(event["url"])

    def assert_same(self) -> None:
        marker = self.page.evaluate("() => window.__e2eMarker")
        entries = self.page.evaluate('() => performance.getEntriesByType("navigation").length')
        assert self.navigations == [], (
            f"the page navigated: {self.navigations} "
            f"(same-document address changes: {self.same_document})"
        )
        assert marker == self.token, "the window marker is gone: the page reloaded"
        assert entries == 1, f"{entries} navigation entries"


def token_payload(ws_url: str) -> dict[str, str]:
    """What a socket URL's subscription token names (its signed, unencrypted payload)."""
    token = parse_qs(urlsplit(ws_url).query)["subscription_token"][0]
    data = token.split(":")[0]
    return dict(json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))))


@dataclass
class Sockets:
    """Every WebSocket a page opens, with the frames it received and whether it closed."""

    page: Page
    opened: list[WebSocket] = field(default_factory=list)
    frames: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        self.opened.append(ws)
        received = self.frames[id(ws)] = []
        ws.on("framereceived", lambda payload: received.append(str(payload)))

    @property
    def urls(self) -> list[str]:
        return [ws.url for ws in self.opened]

    def received(self, ws: WebSocket) -> list[str]:
        return self.frames.get(id(ws), [])

    def wait(self, check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        wait_for(self.page, check, f"{what}; sockets: {self.urls}", timeout)

    def wait_for_count(self, count: int, timeout: float = TIMEOUT) -> None:
        self.wait(lambda: len(self.opened) >= count, f"{count} sockets", timeout)

    def wait_closed(self, ws: WebSocket, timeout: float = TIMEOUT) -> None:
        self.wait(ws.is_closed, f"{ws.url} to close", timeout)

    def wait_for_live_socket(self, after: int, timeout: float = TIMEOUT) -> WebSocket:
        """Wait until a socket opened after the first ``after`` ones receives a frame."""

        def live() -> WebSocket | None:
            return next((ws for ws in self.opened[after:] if self.received(ws)), None)

        self.wait(lambda: live() is not None, f"a frame on socket #{after + 1}", timeout)
        found = live()
        assert found is not None
        return found


@dataclass
class Traffic:
    """Every request a page makes to the HTTP transports, and every socket it tries."""

    page: Page
    requests: list[str] = field(default_factory=list)  # "events", "poll" or "fallback?to=…"
    sockets: int = 0

    KINDS = ("events", "poll", "fallback")

    def __post_init__(self) -> None:
        self.page.on("request", self._requested)
        self.page.on("websocket", self._socket)

    def _requested(self, request: Request) -> None:
        url = urlsplit(request.url)
        kind = url.path.rstrip("/").rsplit("/", 1)[-1]
        if kind == "fallback":
            kind += "?to=" + parse_qs(url.query).get("to", [""])[0]
        if kind.split("?")[0] in self.KINDS:
            self.requests.append(kind)

    def _socket(self, ws: WebSocket) -> None:
        self.sockets += 1

    def count(self, kind: str) -> int:
        return sum(1 for seen in self.requests if seen == kind)

    def wait_count(self, kind: str, at_least: int, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout / 1000
        while self.count(kind) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"{at_least} {kind} requests wanted; seen {self.requests}")
            self.page.wait_for_timeout(50)


def refuse_streams(page: Page) -> None:
    """Make every event stream of ``page`` fail, as a proxy that blocks them would."""
    page.route(lambda url: "/events/" in urlsplit(url).path, lambda route: route.abort())
