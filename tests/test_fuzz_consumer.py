"""Fuzzing the consumer: whatever a client sends, a documented close code and no mess.

Query strings (missing, repeated, huge, percent-encodings that are not UTF-8, other
parameters), tokens (random text and bytes, real tokens cut or altered, tokens for
another user, model or pk, expired ones) and frames from the client (sizes around
``CLIENT_FRAME_MAX``, text with lone surrogates, binary, bursts of small frames) go
through ``LiveOperationConsumer`` by channels' ``WebsocketCommunicator``.

For every input: the socket is accepted, then either follows (a snapshot, and no
close until the client leaves) or closes with a code of :class:`CloseCode`; a client
frame over the limit closes it 1009; nothing raises, nothing is logged at ERROR, and
once the socket is gone no hub and no viewer is left behind.

``LIVEOPS_HYPOTHESIS=long`` tries many more inputs than CI does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from liveops_htmx.conf import conf
from liveops_htmx.consumers import LiveOperationConsumer
from liveops_htmx.progress import WebProgress
from liveops_htmx.security import SALT, CloseCode, make_list_token, make_subscription_token
from liveops_htmx.serverside import hub
from tests.helpers import TIMEOUT
from tests.testapp.models import Keyed, Report

# What a client sends: the database only holds the operation the tokens name.
pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]

#: Every code the consumer may close with (security.CloseCode, documented in the README).
DOCUMENTED = frozenset(v for k, v in vars(CloseCode).items() if k.isupper())
#: CI: the same 100 examples per test every run; LIVEOPS_HYPOTHESIS=long: 2,000 new ones.
LONG = os.environ.get("LIVEOPS_HYPOTHESIS") == "long"
FUZZ = settings(
    max_examples=2000 if LONG else 100,
    derandomize=not LONG,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: A refusal's frame makes the socket element inert (a snapshot does that to the fallback).
REFUSED_SOCKET = re.compile(
    r'<div id="(op-socket-[^"]*|liveops-socket)" hx-swap-oob="outerHTML" hidden>'
)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# -- driving one socket -------------------------------------------------------------------


def communicator(query: bytes, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(LiveOperationConsumer.as_asgi(), "/asgi/notifications/")
    comm.scope["query_string"] = query  # raw: whatever bytes a client put in its URL
    comm.scope["user"] = user
    return comm


async def opened(comm) -> tuple[list[str], int | None]:
    """Connect; return the frames until the close (and its code), or the open socket's first."""
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected, "refusals are accepted first, then closed with a code"
    frames: list[str] = []
    while True:
        out = await comm.receive_output(timeout=TIMEOUT)
        if out["type"] == "websocket.close":
            return frames, out.get("code")
        frames.append(out["text"])
        if "liveop-notice" not in out["text"] and not REFUSED_SOCKET.search(out["text"]):
            return frames, None  # a snapshot of a live operation (or list): it follows


async def left_nothing_behind(comm) -> None:
    await comm.disconnect()
    for _ in range(20):
        await asyncio.sleep(0.005)  # a hub that stopped leaves its group on this loop
        if not hub.hubs():
            return
    assert hub.hubs() == [], "a hub outlived its last socket"


def session(query: bytes, user, frames=(), caplog=None) -> tuple[int | None, list[str]]:
    """One socket from connect to goodbye; return its close code (None: still open) and frames."""
    before = len(caplog.records) if caplog is not None else 0

    async def go():
        comm = communicator(query, user)
        shown, code = await opened(comm)
        for frame in frames if code is None else ():
            await comm.send_input({"type": "websocket.receive", **frame})
            size = len(frame["text"].encode(errors="surrogatepass")) if "text" in frame else None
            size = len(frame["bytes"]) if size is None else size
            if size > conf.CLIENT_FRAME_MAX:
                out = await comm.receive_output(timeout=TIMEOUT)
                assert out["type"] == "websocket.close", out
                code = out.get("code")
                break
        if code is None:
            assert await comm.receive_nothing(0.01), "the client's frames got an answer"
        await left_nothing_behind(comm)
        return code, shown

    code, shown = async_to_sync(go)()
    assert code is None or code in DOCUMENTED, code
    if caplog is not None:
        errors = [r for r in caplog.records[before:] if r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage() for r in errors]
    return code, shown


def query_with(token: str | None, *, before: str = "", after: str = "") -> bytes:
    parts = [before] if before else []
    if token is not None:
        parts.append(f"subscription_token={quote(token, safe='')}")
    if after:
        parts.append(after)
    return "&".join(parts).encode()


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_worker_is_lost(settings):
    # The operations here have no heartbeat: a long fuzzing run must not see them lost.
    settings.LIVEOPS = {"LOST_AFTER": 24 * 3600}


@pytest.fixture
def running(report):
    WebProgress(report).start()
    return report


@pytest.fixture
def token(running, user):
    return make_subscription_token(user, running)


def signed(payload) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object(payload, compress=False)


# -- query strings ---------------------------------------------------------------------------


def test_a_real_token_follows_and_leaves_nothing_behind(token, user, caplog):
    code, shown = session(query_with(token), user, caplog=caplog)
    assert code is None and "op-status-" in shown[0]


junk_params = st.lists(
    st.tuples(st.text(max_size=8), st.text(max_size=8)).map(
        lambda kv: f"{quote(kv[0], safe='')}={quote(kv[1], safe='')}"
    ),
    max_size=3,
).map("&".join)


@given(before=junk_params, after=junk_params)
@settings(FUZZ)
def test_other_parameters_around_the_token_change_nothing(token, user, caplog, before, after):
    if "subscription_token" in before:  # the first one counts: tested below
        return
    assert session(query_with(token, before=before, after=after), user, caplog=caplog)[0] is None


@given(first=st.text(max_size=40) | st.just(""))
@settings(FUZZ)
def test_a_repeated_token_parameter_takes_the_first(token, user, caplog, first):
    query = query_with(first, after=f"subscription_token={token}")
    code, _ = session(query, user, caplog=caplog)
    if first:
        assert code in (CloseCode.MALFORMED, CloseCode.BAD_SIGNATURE)
    else:  # a blank value is no value: the real token counts
        assert code is None


@given(raw=st.binary(max_size=300))
@example(raw=b"")
@example(raw=b"subscription_token")
@example(raw=b"subscription_token=")
@example(raw=b"subscription_token=%ff%fe%80")
@example(raw=b"subscription_token=%ED%A0%80")  # an encoded lone surrogate
@example(raw=b"subscription_token=\xff\x00\xc3")
@example(raw=b"subscription_token=" + b"A" * 200_000)
@example(raw=b"&" * 10_000 + b"subscription_token=x")
@settings(FUZZ)
def test_any_query_string_is_refused_with_a_code(user, caplog, raw):
    code, _ = session(raw, user, caplog=caplog)
    assert code in (CloseCode.MALFORMED, CloseCode.BAD_SIGNATURE)


# -- tokens --------------------------------------------------------------------------------


@given(text=st.text(max_size=120) | st.binary(max_size=120).map(lambda b: b.decode("latin-1")))
@example(text="a:b:c")
@example(text="x" * 2000 + ":y:z")
@settings(FUZZ)
def test_a_random_token_is_refused_4400_or_4401(user, caplog, text):
    code, _ = session(query_with(text), user, caplog=caplog)
    assert code in (CloseCode.MALFORMED, CloseCode.BAD_SIGNATURE)


@given(data=st.data())
@settings(FUZZ)
def test_a_real_token_cut_or_altered_is_refused(token, user, caplog, data):
    if data.draw(st.booleans(), label="cut"):
        bad = token[: data.draw(st.integers(0, len(token) - 1), label="keep")]
    else:
        at = data.draw(st.integers(0, len(token) - 1), label="at")
        swap = data.draw(st.sampled_from(B64 + ":=.%~ é"), label="into")
        if token[at] == swap:
            return
        bad = token[:at] + swap + token[at + 1 :]
    code, shown = session(query_with(bad), user, caplog=caplog)
    assert code in (CloseCode.MALFORMED, CloseCode.BAD_SIGNATURE)
    assert not any("op-status-" in frame for frame in shown)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"m": "testapp.report", "p": "{pk}", "u": "{other}"}, CloseCode.FORBIDDEN),
        ({"m": "testapp.report", "p": "{pk}", "u": None}, CloseCode.FORBIDDEN),
        ({"m": "auth.user", "p": "{user}", "u": "{user}"}, CloseCode.NOT_FOUND),
        ({"m": "nope.nothing", "p": "1", "u": "{user}"}, CloseCode.NOT_FOUND),
        ({"m": "testapp.report", "p": "999999", "u": "{user}"}, CloseCode.NOT_FOUND),
        ({"m": "testapp.report", "p": "x<b>", "u": "{user}"}, CloseCode.NOT_FOUND),
        ({"m": "testapp.report", "p": "9" * 40, "u": "{user}"}, CloseCode.NOT_FOUND),
        ({"m": "testapp.report", "p": "-1", "u": "{user}"}, CloseCode.NOT_FOUND),
        ({"m": "testapp.keyed", "p": "not-a-uuid", "u": "{user}"}, CloseCode.NOT_FOUND),
        ({"m": "testapp.report", "p": 1, "u": "{user}"}, CloseCode.MALFORMED),
        ({"m": "testapp.report", "u": "{user}"}, CloseCode.MALFORMED),
        ({"k": "list", "u": None}, CloseCode.MALFORMED),
        ({"k": "list", "u": "{other}"}, CloseCode.FORBIDDEN),
        (["testapp.report", "{pk}"], CloseCode.MALFORMED),
        ("just a string", CloseCode.MALFORMED),
        (None, CloseCode.MALFORMED),
    ],
)
def test_a_signed_token_for_something_else_is_refused_with_its_code(
    running, user, other_user, caplog, payload, code
):
    names = {"{pk}": str(running.pk), "{user}": str(user.pk), "{other}": str(other_user.pk)}
    if isinstance(payload, dict):
        payload = {k: names.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    elif isinstance(payload, list):
        payload = [names.get(v, v) for v in payload]
    shown_code, shown = session(query_with(signed(payload)), user, caplog=caplog)
    assert shown_code == code
    assert not any("op-status-" in frame for frame in shown), "the operation leaked"


@given(
    model=st.sampled_from(["testapp.report", "testapp.keyed", "testapp.failing", "auth.user"])
    | st.text(max_size=20),
    pk=st.sampled_from(["{pk}", "0", "-1", "1e3", " 1", "1\x00", "9" * 30]) | st.text(max_size=20),
    owner=st.sampled_from(["{user}", "{other}", None]) | st.text(max_size=5),
)
@settings(FUZZ)
def test_any_signed_subscription_is_followed_or_refused_with_its_code(
    running, user, other_user, caplog, model, pk, owner
):
    names = {"{pk}": str(running.pk), "{user}": str(user.pk), "{other}": str(other_user.pk)}
    payload = {"m": model, "p": names.get(pk, pk), "u": names.get(owner, owner)}
    code, shown = session(query_with(signed(payload)), user, caplog=caplog)
    if code is None:  # followed: only the user's own operation (" 1" is pk 1, say)
        assert (model, payload["u"]) == ("testapp.report", str(user.pk)), payload
        assert f'id="op-status-{running.pk}"' in shown[0]
    else:
        assert payload != {"m": "testapp.report", "p": str(running.pk), "u": str(user.pk)}
        assert code in (CloseCode.FORBIDDEN, CloseCode.NOT_FOUND), payload
        assert not any("op-status-" in frame for frame in shown), "an operation leaked"


def test_tokens_for_other_viewers_and_of_other_kinds(running, user, other_user, caplog):
    keyed = Keyed.objects.create(owner=user)
    assert session(query_with(make_subscription_token(user, keyed)), user)[0] is None
    assert session(query_with(make_list_token(user)), user, caplog=caplog)[0] is None
    for viewer in (other_user, AnonymousUser()):
        token = make_subscription_token(user, running)
        assert session(query_with(token), viewer, caplog=caplog)[0] == CloseCode.FORBIDDEN
    deleted = Report.objects.create(owner=user)
    token = make_subscription_token(user, deleted)
    deleted.delete()
    assert session(query_with(token), user, caplog=caplog)[0] == CloseCode.NOT_FOUND
    finished = Report.objects.create(owner=user)
    p = WebProgress(finished)
    p.start()
    p.result(message="done")
    code, shown = session(query_with(make_subscription_token(user, finished)), user)
    assert code == CloseCode.NORMAL and "done" in shown[0]


def test_an_expired_token_closes_4410(running, user, caplog, monkeypatch):
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(1))
    token = make_subscription_token(user, running)
    monkeypatch.undo()
    code, shown = session(query_with(token), user, caplog=caplog)
    assert code == CloseCode.EXPIRED and "reload the page" in shown[0]


# -- frames from the client -----------------------------------------------------------------


sizes = st.integers(-3, 3).map(lambda d: conf.CLIENT_FRAME_MAX + d) | st.integers(0, 10_000)
frames = st.one_of(
    sizes.map(lambda n: {"text": "x" * n}),
    sizes.map(lambda n: {"bytes": b"\x00" * n}),
    st.integers(1, 3).map(lambda n: {"text": "é" * (conf.CLIENT_FRAME_MAX // 2 - 1 + n)}),
    st.text(max_size=50).map(lambda t: {"text": t}),
    st.sampled_from(["\ud800", "a\udcffb", "\udfff" * 2000, "\ud800" * 1365]).map(
        lambda t: {"text": t}  # not UTF-8: a lenient server might pass it on
    ),
    st.binary(max_size=50).map(lambda b: {"bytes": b}),
)


@given(sent=st.lists(frames, max_size=6))
@example(sent=[{"text": "."}] * 300)  # many small frames
@example(sent=[{"text": "x" * conf.CLIENT_FRAME_MAX}, {"text": "x" * (conf.CLIENT_FRAME_MAX + 1)}])
@example(sent=[{"bytes": b"x" * (conf.CLIENT_FRAME_MAX + 1)}])
@settings(FUZZ)
def test_client_frames_are_ignored_until_one_is_too_big(token, user, caplog, sent):
    code, _ = session(query_with(token), user, frames=sent, caplog=caplog)
    assert code in (None, CloseCode.TOO_BIG)
