from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test.utils import override_settings

from liveops_htmx import checks


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


def test_missing_partials_app_is_e002():
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "template_partials"]
    with override_settings(INSTALLED_APPS=apps_without):
        (error,) = checks.check_partials()
    assert error.id == "liveops_htmx.E002"
    assert "template_partials" in error.hint


def test_templates_that_cannot_load_the_partials_are_e002():
    engine = {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": False}
    with override_settings(TEMPLATES=[engine]):
        (error,) = checks.check_partials()
    assert error.id == "liveops_htmx.E002"


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
        ({"WS_URL": "asgi/notifications"}, ["liveops_htmx.E006"]),
        ({"TRANSPORT": "sse"}, []),
        ({"TRANSPORT": "long-polling"}, ["liveops_htmx.E008"]),
        ({"POLL_INTERVAL": 0}, ["liveops_htmx.E005"]),
        ({"FALLBACK_AFTER": "soon"}, ["liveops_htmx.E005"]),
        ({"HTMX_VERSION": 4, "LOG_TAIL": 50}, []),
    ],
)
def test_settings(liveops, expected):
    with override_settings(LIVEOPS=liveops):
        assert ids(checks.check_settings()) == expected


@override_settings(LIVEOPS=["not", "a", "dict"])
def test_liveops_must_be_a_dict():
    assert ids(checks.check_settings()) == ["liveops_htmx.E003"]


def test_project_warnings():
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "django_htmx"]
    with override_settings(INSTALLED_APPS=apps_without, ASGI_APPLICATION=None):
        assert ids(checks.check_project()) == ["liveops_htmx.W002", "liveops_htmx.W003"]


@override_settings(CHANNEL_LAYERS={})
def test_the_check_command_stops_on_e001():
    with pytest.raises(SystemCheckError, match=r"liveops_htmx\.E001"):
        call_command("check")


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
