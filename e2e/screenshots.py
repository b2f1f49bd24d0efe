"""Take the README's screenshots of the demo: ``python -m e2e.screenshots`` (repo root).

Serves the demo on a fresh database as the e2e suite does, without DEBUG (a failure
shows no traceback), signs in as a named user, drives it with Chromium and writes
``docs/screenshots/running.png`` (a report mid-run), ``finished.png`` (a succeeded
report) and ``failed.png`` (a flaky job).
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from e2e.servers import ROOT, RUN_ROOT, Demo, Server, browser_launch_args
from e2e.site import TIMEOUT, Op, Site, start

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1000, "height": 700}
#: Without DEBUG (no traceback in the pictures) the demo would sign the browser in as
#: a guest with a random name; the pictures show this user instead.
USER = ("demo", "demo-" + secrets.token_hex(8))


def shoot(page: Page, op: Op, name: str, out: Path) -> None:
    # htmx marks swapped content for a moment; take the picture once it settled.
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-added')")
    op.part("root").scroll_into_view_if_needed()
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshots: {path.relative_to(ROOT)}")


def sign_in(page: Page, site: Site, username: str, password: str) -> None:
    page.goto(site.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/live/")


def take(site: Site, launch: dict[str, object], out: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch)
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            page.set_default_timeout(TIMEOUT)
            sign_in(page, site, *USER)

            report = start(page, site, "report", rows=60)
            report.wait_percent(55)
            expect(report.log_lines).not_to_have_count(0)
            shoot(page, report, "running", out)

            expect(report.part("result")).to_contain_text("is ready.")
            expect(report.state).to_have_text("Succeeded")
            shoot(page, report, "finished", out)

            flaky = start(page, site, "flaky")
            expect(flaky.state).to_have_text("Failed")
            expect(flaky.part("error")).not_to_be_empty()
            shoot(page, flaky, "failed", out)
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--htmx", type=int, choices=(2, 4), default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    launch = browser_launch_args()
    if launch is None:
        print("screenshots: no Chromium (install chromium or set E2E_CHROMIUM)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    run_dir = RUN_ROOT / "screenshots"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    demo = Demo(run_dir, "demo", DEMO_DEBUG="0").prepare(users=False)
    demo.add_user(*USER)
    server = Server("uvicorn", demo.with_env(DEMO_HTMX=str(args.htmx)), run_dir).start()
    try:
        take(Site(server.url, args.htmx), launch, args.out.resolve())
    finally:
        server.stop()
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
