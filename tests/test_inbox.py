"""A loop's inboxes: groups shared out over several channels, and a layer over several hosts."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.layers import channel_layers
from django.test.utils import override_settings

from liveops_htmx.serverside import hub
from liveops_htmx.serverside.inbox import PLAIN_PREFIX, slot_of
from tests import services
from tests.helpers import TIMEOUT, follow, worker
from tests.testapp.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


async def follow_each(reports, user):
    comms = []
    for report in reports:
        comm = await follow(report, user)
        assert "Pending" in await comm.receive_from(timeout=TIMEOUT)
        comms.append(comm)
    return comms


async def each_gets_its_status(reports, comms):
    for k, report in enumerate(reports):
        await worker(report)("status", f"live {k}")
    for k, comm in enumerate(comms):
        frame = ""
        while f"live {k}" not in frame:  # a first "start" frame may come before
            frame = await comm.receive_from(timeout=TIMEOUT)
    for comm in comms:
        await comm.disconnect()


@pytest.fixture
def reports(user):
    return [Report.objects.create(owner=user, title=f"R{k}") for k in range(12)]


@override_settings(LIVEOPS={"INBOX_CHANNELS": 4})
async def test_groups_are_shared_out_over_the_loops_inboxes_each_always_on_one(reports, user):
    comms = await follow_each(reports, user)
    inboxes = {h.group: h.subscription.inbox for h in hub.hubs()}
    assert len(inboxes) == 12
    assert len({id(i) for i in inboxes.values()}) > 1  # 12 groups over 4: more than one used
    assert len({i.channel for i in inboxes.values()}) == len({id(i) for i in inboxes.values()})
    for group, inbox in inboxes.items():
        assert inbox.key[1] == slot_of(group)
    await each_gets_its_status(reports, comms)


@override_settings(LIVEOPS={"INBOX_CHANNELS": 1})
async def test_one_inbox_channel_carries_every_group(reports, user):
    comms = await follow_each(reports[:5], user)
    assert len({h.subscription.inbox.channel for h in hub.hubs()}) == 1
    await each_gets_its_status(reports[:5], comms)


def other_db(url: str) -> str:
    """The same Redis server, another database: as good as another host for the hashing."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db + 1) % 16}"))


@pytest.fixture
def two_hosts(redis_url):
    urls = [redis_url, other_db(redis_url)]
    config = {
        "hosts": [{"address": url, "socket_timeout": 10} for url in urls],
        "prefix": services.REDIS_PREFIX,
    }
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    channel_layers.backends.clear()
    with override_settings(CHANNEL_LAYERS=layers, LIVEOPS={"WATCHDOG_INTERVAL": 60}):
        yield
    channel_layers.backends.clear()
    import redis

    for url in urls:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=f"{services.REDIS_PREFIX}*"):
            client.delete(key)
        client.close()


async def test_a_layer_sharded_over_two_hosts_delivers_every_push_live(two_hosts, reports, user):
    """channels_redis reads a plain channel from its hosts in turn, but a group's
    messages reach it on one: the inboxes keep the layer's own names there (a reread by
    the watchdog, a minute away here, is not how these pushes may arrive)."""
    comms = await follow_each(reports, user)
    assert not any(h.subscription.inbox.channel.startswith(PLAIN_PREFIX) for h in hub.hubs())
    await each_gets_its_status(reports, comms)
