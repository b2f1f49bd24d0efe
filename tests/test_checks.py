from __future__ import annotations

import sys

import django
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test.utils import override_settings

from liveops_htmx import checks

#: Django 6 has template partials built in; before it, django-template-partials' app is needed.
PARTIALS_ARE_AN_APP = django.VERSION < (6, 0)


def ids(messages):
    return [m.id for m in messages]


def test_a_sound_project_has_no_messages():
    assert checks.check_channel_layer() == []
    assert checks.check_partials() == []
    assert checks.check_settings() == []
    assert checks.check_project() == []


@override_settings(CHANNEL_LAYERS={})
def test_no_channel_layer_is_e001():
    (error,) = checks.check_channel_layer()
    assert error.id == "liveops_htmx.E001"
    assert "InMemoryChannelLayer" in error.hint


@override_settings(LIVEOPS={"CHANNEL_LAYER": "other"})
def test_a_layer_alias_that_is_not_configured_is_e001():
    assert ids(checks.check_channel_layer()) == ["liveops_htmx.E001"]


def test_the_partials_app_is_in_the_test_project_before_django_6_only():
    from django.conf import settings

    assert ("template_partials" in settings.INSTALLED_APPS) is PARTIALS_ARE_AN_APP


def test_without_the_partials_app_e002_before_django_6_only():
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "template_partials"]
    with override_settings(INSTALLED_APPS=apps_without):
        messages = checks.check_partials()
    if PARTIALS_ARE_AN_APP:
        (error,) = messages
        assert error.id == "liveops_htmx.E002"
        assert "template_partials" in error.hint
    else:
        assert messages == []


def test_the_bundled_partials_load_and_render():
    from django.template.loader import get_template

    html = get_template("liveops_htmx/liveop.html#status").render({"ids": {"status": "s-1"}})
    assert html.strip().startswith('<div id="s-1" class="liveop-status"')
    assert "liveop-progress" not in html  # the partial alone, not the whole file
    # On Django 6 the partials are Django's own: nothing imports the backport.
    assert ("template_partials" in sys.modules) is PARTIALS_ARE_AN_APP


def test_templates_that_cannot_load_the_partials_are_e002():
    engine = {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": False}
    with override_settings(TEMPLATES=[engine]):
        (error,) = checks.check_partials()
    assert error.id == "liveops_htmx.E002"
    assert "liveops_htmx/liveop.html" in error.msg
    assert "APP_DIRS" in error.hint
    # The backport's loader is advice for Django < 6 only.
    assert ("template_partials" in error.hint) is PARTIALS_ARE_AN_APP
    assert ("partials" in error.hint) is PARTIALS_ARE_AN_APP


@pytest.mark.parametrize(
    ("liveops", "expected"),
    [
        ({"FLUSH_INTERVALL": 1}, ["liveops_htmx.W001"]),
        ({"HTMX_VERSION": 3}, ["liveops_htmx.E004"]),
        ({"TOKEN_MAX_AGE": 0}, ["liveops_htmx.E005"]),
        ({"LOG_TAIL": "many"}, ["liveops_htmx.E005"]),
        ({"PUBLISH_TIMEOUT": True}, ["liveops_htmx.E005"]),
        ({"FLUSH_INTERVAL": -1}, ["liveops_htmx.E005"]),
        ({"FLUSH_INTERVAL": 0}, []),
        ({"CLOSE_GRACE": -0.5}, ["liveops_htmx.E005"]),
        ({"CLOSE_GRACE": "5"}, ["liveops_htmx.E005"]),
        ({"CLOSE_GRACE": 0}, []),
        ({"WS_URL": "asgi/notifications"}, ["liveops_htmx.E006"]),
        ({"TRANSPORT": "sse"}, []),
        ({"TRANSPORT": "long-polling"}, ["liveops_htmx.E012"]),
        ({"POLL_INTERVAL": 0}, ["liveops_htmx.E005"]),
        ({"FALLBACK_AFTER": "soon"}, ["liveops_htmx.E005"]),
        ({"INBOX_CHANNELS": 0}, ["liveops_htmx.E005"]),
        ({"INBOX_CHANNELS": 2.5}, ["liveops_htmx.E005"]),
        ({"INBOX_CHANNELS": 1}, []),
        ({"HTMX_VERSION": 4, "LOG_TAIL": 50}, []),
        ({"HTMX_SCRIPTS": None}, []),
        ({"HTMX_SCRIPTS": ["django_htmx/htmx-4.min.js", "/js/hx-ws.js"]}, []),
        ({"HTMX_SCRIPTS": ("https://cdn.example/htmx.min.js", "http://x/hx-ws.js")}, []),
        ({"HTMX_SCRIPTS": "django_htmx/htmx-4.min.js"}, ["liveops_htmx.E008"]),
        ({"HTMX_SCRIPTS": {"htmx": "django_htmx/htmx-4.min.js"}}, ["liveops_htmx.E008"]),
        ({"HTMX_SCRIPTS": []}, ["liveops_htmx.E008"]),
        ({"HTMX_SCRIPTS": ["django_htmx/htmx-4.min.js", None]}, ["liveops_htmx.E008"]),
        ({"HTMX_SCRIPTS": ["django_htmx/htmx-4.min.js", ""]}, ["liveops_htmx.E008"]),
        ({"HTMX_SCRIPTS": [" django_htmx/htmx-4.min.js"]}, ["liveops_htmx.E008"]),
        ({"HTMX_SCRIPTS": ["vendor/htmx.min.js", "/js/hx-ws.js"]}, ["liveops_htmx.W007"]),
    ],
)
def test_settings(liveops, expected):
    with override_settings(LIVEOPS=liveops):
        assert ids(checks.check_settings()) == expected


@override_settings(LIVEOPS={"HTMX_SCRIPTS": "vendor/htmx.min.js"})
def test_htmx_scripts_given_as_one_string_says_what_it_takes():
    (error,) = checks.check_settings()
    assert error.id == "liveops_htmx.E008"
    assert "must be a list of script paths or URLs, not 'vendor/htmx.min.js'" in error.msg
    assert "load order" in error.hint and "None loads django-htmx's bundled copies" in error.hint


@override_settings(LIVEOPS={"HTMX_SCRIPTS": ["vendor/htmx.min.js", "vendor/ext/hx-ws.js"]})
def test_htmx_scripts_no_finder_finds_are_named_in_w007():
    (warning,) = checks.check_settings()
    assert warning.id == "liveops_htmx.W007"
    assert "vendor/htmx.min.js, vendor/ext/hx-ws.js" in warning.msg


def test_htmx_scripts_are_not_looked_up_without_staticfiles():
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "django.contrib.staticfiles"]
    liveops = {"HTMX_SCRIPTS": ["vendor/htmx.min.js"]}
    with override_settings(INSTALLED_APPS=apps_without, LIVEOPS=liveops):
        assert checks.check_settings() == []


@override_settings(LIVEOPS=["not", "a", "dict"])
def test_liveops_must_be_a_dict():
    assert ids(checks.check_settings()) == ["liveops_htmx.E003"]


def test_project_warnings():
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "django_htmx"]
    with override_settings(INSTALLED_APPS=apps_without, ASGI_APPLICATION=None):
        assert ids(checks.check_project()) == ["liveops_htmx.W002", "liveops_htmx.W003"]


def test_own_htmx_scripts_need_no_django_htmx():
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "django_htmx"]
    liveops = {"HTMX_SCRIPTS": ["/js/htmx.min.js", "/js/hx-ws.min.js"]}
    with override_settings(INSTALLED_APPS=apps_without, LIVEOPS=liveops):
        assert ids(checks.check_project()) == []


# From Django 6, `check` runs the model checks against every database (JSONField asks
# SQLite whether it supports JSON), so the command needs database access.
@pytest.mark.django_db
@override_settings(CHANNEL_LAYERS={})
def test_the_check_command_stops_on_e001():
    with pytest.raises(SystemCheckError, match=r"liveops_htmx\.E001"):
        call_command("check")


@pytest.mark.django_db
def test_the_check_command_passes_on_the_test_project():
    call_command("check")


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (["redis://127.0.0.1:6379"], ["liveops_htmx.W006"]),
        ([{"address": "redis://127.0.0.1:6379"}], ["liveops_htmx.W006"]),
        ([{"address": "redis://127.0.0.1:6379", "socket_timeout": 10}], []),
    ],
)
def test_a_redis_layer_whose_socket_timeout_cuts_its_receives_is_w006(hosts, expected):
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": hosts}}
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        assert [m.id for m in checks.check_redis_timeout()] == expected
    assert checks.check_redis_timeout() == []  # the in-memory layer of the test project


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True])
def test_a_socket_limit_that_is_no_whole_number_above_0_is_e010(value):
    with override_settings(LIVEOPS={"SOCKETS_PER_USER": value}):
        assert ids(checks.check_settings()) == ["liveops_htmx.E010"]


@pytest.mark.parametrize("value", [1, 500, None])
def test_a_socket_limit_may_be_a_number_or_none(value):
    from liveops_htmx.conf import conf

    with override_settings(LIVEOPS={"SOCKETS_PER_USER": value}):
        assert checks.check_settings() == []
        assert value == conf.SOCKETS_PER_USER


def test_the_socket_limit_is_generous_by_default():
    from liveops_htmx.conf import DEFAULTS, conf

    assert conf.SOCKETS_PER_USER == DEFAULTS["SOCKETS_PER_USER"] == 100


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"hosts": ["redis://x"]}, ["liveops_htmx.W010"]),
        ({"hosts": ["redis://x"], "capacity": 5000}, []),
        ({"hosts": ["redis://x"], "channel_capacity": {"liveops.inbox.*": 10000}}, []),
        ({"hosts": ["redis://x"], "channel_capacity": {"http.*": 10000}}, ["liveops_htmx.W010"]),
        ({"hosts": ["redis://x", "redis://y"]}, ["liveops_htmx.W010"]),
        ({"hosts": ["redis://x", "redis://y"], "channel_capacity": {"specific.*": 10000}}, []),
        (
            {"hosts": ["redis://x", "redis://y"], "channel_capacity": {"liveops.inbox.*": 10000}},
            ["liveops_htmx.W010"],  # over several hosts the inboxes use the layer's names
        ),
    ],
)
def test_a_redis_layer_whose_inbox_channel_holds_little_is_w010(config, expected):
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        found = checks.check_inbox_capacity()
    assert [m.id for m in found] == expected
    if found:
        wanted = "liveops.inbox.*" if len(config["hosts"]) == 1 else "specific.*"
        assert wanted in found[0].hint
    assert checks.check_inbox_capacity() == []  # the in-memory layer of the test project
