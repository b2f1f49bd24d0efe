from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User

from liveops_htmx.publisher import get_publisher
from liveops_htmx.testing import CapturingChannelLayer, ManualClock
from tests.testapp.models import Report

pytest_plugins = ["liveops_htmx.pytest_plugin"]


@pytest.fixture
def user(db):
    return User.objects.create_user("ada", password="pw")


@pytest.fixture
def other_user(db):
    return User.objects.create_user("bob", password="pw")


@pytest.fixture
def anonymous():
    return AnonymousUser()


@pytest.fixture
def report(user):
    return Report.objects.create(owner=user, title="Q3")


@pytest.fixture
def layer():
    captured = CapturingChannelLayer()
    yield captured
    captured.clear()


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture(autouse=True)
def _drain_publisher():
    yield
    get_publisher().flush(5)
