"""The demo's settings and sign-in, each in a process of its own (``demo.settings``)."""

from __future__ import annotations

import stat

from tests.processes import run_demo

SETTINGS = """
import json
from django.conf import settings
print(json.dumps({"key": settings.SECRET_KEY, "debug": settings.DEBUG}))
"""

# The served application, without DEBUG: static files, and who a visitor becomes.
SITE = """
import asyncio, json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from demo.asgi import application

async def fetch(path):
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"localhost")], "server": ("localhost", 80),
        "client": ("127.0.0.1", 50000),
    }
    comm = ApplicationCommunicator(application, scope)
    await comm.send_input({"type": "http.request", "body": b""})
    start = await comm.receive_output(10)
    body = b""
    while True:
        chunk = await comm.receive_output(10)
        body += chunk.get("body", b"")
        if not chunk.get("more_body"):
            break
    return start["status"], b"--liveop-bar" in body

User = get_user_model()
static = asyncio.run(fetch("/static/liveops_htmx/liveops.css"))
signin = Client(HTTP_HOST="localhost").get("/accounts/login/")
after_signin_page = User.objects.count()
visitors = []
for _ in range(2):
    client = Client(HTTP_HOST="localhost")
    page = client.get("/")
    user = page.wsgi_request.user
    visitors.append({
        "status": page.status_code,
        "name": user.get_username(),
        "staff": user.is_staff,
        "superuser": user.is_superuser,
        "usable_password": user.has_usable_password(),
        "again": client.get("/live/").wsgi_request.user.get_username(),
    })
print(json.dumps({
    "debug": django.conf.settings.DEBUG,
    "static": static,
    "signin_status": signin.status_code,
    "users_after_signin_page": after_signin_page,
    "visitors": visitors,
}))
"""


def test_the_demo_key_is_made_per_checkout_kept_private_and_reused(tmp_path):
    first = run_demo(SETTINGS, tmp_path)["key"]
    assert first != "demo-only-not-secret" and len(first) >= 50
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert run_demo(SETTINGS, tmp_path)["key"] == first  # the next start reuses it
    other = tmp_path / "other"
    other.mkdir()
    assert run_demo(SETTINGS, other)["key"] != first  # another checkout, another key
    assert run_demo(SETTINGS, tmp_path, DEMO_SECRET_KEY="from-env")["key"] == "from-env"


def test_a_key_file_left_readable_by_others_is_made_private(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("an-older-key\n")
    key_file.chmod(0o644)
    assert run_demo(SETTINGS, tmp_path)["key"] == "an-older-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_debug_is_off_unless_the_environment_says_on(tmp_path):
    assert run_demo(SETTINGS, tmp_path)["debug"] is False
    assert run_demo(SETTINGS, tmp_path, DEMO_DEBUG="0")["debug"] is False
    assert run_demo(SETTINGS, tmp_path, DEMO_DEBUG="1")["debug"] is True


def test_without_debug_static_files_are_served_and_each_visitor_is_a_guest(tmp_path):
    site = run_demo(SITE, tmp_path)
    assert site["debug"] is False
    assert site["static"] == [200, True]
    assert site["signin_status"] == 200
    assert site["users_after_signin_page"] == 0  # the sign-in page makes no guest
    first, second = site["visitors"]
    for visitor in (first, second):
        assert visitor["status"] == 200
        assert visitor["name"].startswith("guest-")
        assert not (visitor["staff"] or visitor["superuser"] or visitor["usable_password"])
        assert visitor["again"] == visitor["name"]  # the same guest on the next page
    assert first["name"] != second["name"]


def test_with_debug_every_visitor_is_the_demo_superuser(tmp_path):
    site = run_demo(SITE, tmp_path, DEMO_DEBUG="1")
    assert site["static"] == [200, True]
    assert [v["name"] for v in site["visitors"]] == ["demo", "demo"]
    assert site["visitors"][0]["superuser"]
