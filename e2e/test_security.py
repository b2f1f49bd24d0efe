"""Worker text is text, another user's operation stays closed to eve, and vera, who
may see long imports but not control them, follows one live without its controls."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, expect

from e2e.servers import EVE, VERA
from e2e.site import TIMEOUT, Document, Op, Site, cancel_quietly, start

PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


def test_worker_text_with_markup_renders_as_text(page: Page, site: Site) -> None:
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(urlsplit(request.url).path))
    op = start(page, site, "quick", items=30, note=PAYLOAD)
    document = Document(page)
    op.watch("status", f"#op-status-{op.pk}")

    expect(op.part("result")).to_have_text(PAYLOAD, timeout=TIMEOUT)
    expect(op.log_lines.first).to_have_text(PAYLOAD)
    page.wait_for_load_state("networkidle")

    # While it ran, the note was its status; live frames carried it as text too.
    assert any(text and PAYLOAD in text for text in op.seen("status")), op.seen("status")
    widget = op.part("root")
    expect(widget.locator("img")).to_have_count(0)
    expect(widget.locator("script")).to_have_count(0)
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert not [path for path in fetched if path.endswith("/x")], fetched
    document.assert_same()

    # The page rendered from the row afterwards escapes it the same way.
    page.reload()
    expect(op.part("result")).to_have_text(PAYLOAD)
    expect(op.log_lines.first).to_have_text(PAYLOAD)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert not [path for path in fetched if path.endswith("/x")], fetched


def sign_in(page: Page, site: Site, username: str, password: str) -> None:
    page.goto(site.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/live/")
    expect(page.locator(".demo-user")).to_have_text(username)


# Opens a socket the way a browser tab would and reports how it ended.
_OPEN_SOCKET = """url => new Promise(resolve => {
  const frames = [];
  const ws = new WebSocket(url);
  ws.onmessage = event => frames.push(String(event.data));
  ws.onclose = event => resolve({code: event.code, frames});
  setTimeout(() => resolve({code: "still open", frames}), 10000);
})"""


def test_another_users_operation_and_socket_are_refused(
    page: Page, browser: Browser, site: Site
) -> None:
    op = start(page, site, "long", records=600)
    try:
        expect(op.part("socket")).to_have_count(1)
        path = op.socket_path()
        assert path and "subscription_token=" in path, path

        eve_context = browser.new_context()
        try:
            eve = eve_context.new_page()
            sign_in(eve, site, *EVE)

            response = eve.goto(site.url + op.path)
            assert response is not None and response.status == 404
            expect(eve.locator(f"#op-root-{op.pk}")).to_have_count(0)

            eve.goto(site.url + "/live/")
            ended = eve.evaluate(_OPEN_SOCKET, site.ws_url(path))
            assert ended["code"] == 4403, ended
            assert len(ended["frames"]) == 1, ended
            assert 'data-close-code="4403"' in ended["frames"][0]
            # The refusal names nothing of the operation but its element's id.
            assert "Importing" not in ended["frames"][0] and "Records" not in ended["frames"][0]
            # Nor does eve's own list show it.
            expect(eve.locator("ul#liveops-rows > li")).to_have_count(0)
        finally:
            eve_context.close()

        # The owner's page is untouched by eve's attempt.
        expect(op.state).to_have_text("Running")
        assert op.socket_path() == path
    finally:
        cancel_quietly(page, site, op)


def test_a_viewer_who_may_only_look_follows_live_without_controls(
    page: Page, browser: Browser, site: Site
) -> None:
    op = start(page, site, "long", records=600)
    try:
        owner_cancel = op.part("controls").get_by_role("button", name="Cancel")
        expect(owner_cancel).to_be_visible()

        vera_context = browser.new_context()
        try:
            vera = vera_context.new_page()
            sign_in(vera, site, *VERA)
            response = vera.goto(site.url + op.path)
            assert response is not None and response.status == 200
            seen = Op(vera, op.model, op.pk)
            expect(seen.state).to_have_text("Running", timeout=TIMEOUT)
            expect(seen.part("socket")).to_have_count(1)
            expect(seen.part("root").locator("button")).to_have_count(0)

            # The cancel URL refuses her, and the operation runs on.
            cookies = {c["name"]: c["value"] for c in vera_context.cookies(site.url)}
            refused = vera.request.post(
                f"{site.url}{op.path}cancel/",
                headers={"X-CSRFToken": cookies["csrftoken"], "Referer": site.url + op.path},
                max_redirects=0,
                fail_on_status_code=False,
            )
            assert refused.status == 403
            expect(op.state).to_have_text("Running")

            # The owner cancels: both pages follow live, only the owner's offers Run again.
            owner_cancel.click()
            expect(op.state).to_have_text("Cancelled", timeout=TIMEOUT)
            expect(op.part("controls").get_by_role("button", name="Run again")).to_be_visible()
            expect(seen.state).to_have_text("Cancelled", timeout=TIMEOUT)
            expect(seen.part("result")).to_have_text("Cancelled.")
            expect(seen.part("root").locator("button")).to_have_count(0)
        finally:
            vera_context.close()
    finally:
        cancel_quietly(page, site, op)
