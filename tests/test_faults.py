"""Tier 3, faults on real processes: a worker and a server, each talking to Redis
through a proxy of its own (``tests.proxy``) that adds latency, black-holes or cuts
the line; Redis restarted; the server and the worker killed.

Viewers are ``websockets`` clients whose frames are swapped into a page emulator
(``tests.oob.Page``), as htmx would. After every frame a viewer reads the row and
checks that the page is never ahead of the database (no percent, log line or state
the row does not hold yet), never goes back (percent, last log line, state), and
keeps its log numbered without gaps or duplicates. It also notes when the page
equals a fresh rendering of the row (``fragments.widget``, part by part; the log by
its tail): the *convergence* of a fault is the time from its end to the first such
frame (a killed worker: from the kill; a lost terminal push or a latency that lasts:
from the row's ``finished_at`` to the terminal frame). Every viewer must end on the
row's terminal state with a close 1000, and Redis must not keep the server's
subscription once its viewers are gone. Each test states its bound; the longest
convergences are printed at the end of the module (``-s`` not needed) and kept in
``tests/.run/faults.json``.

``test_roundtrip.test_redis_restarted_mid_run_loses_nothing`` restarts Redis for
half a second under one viewer; ``test_redis_down_longer_than_the_first_tries`` here
keeps it down past the subscription's first tries, behind the proxies, under three.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.db import connection, connections
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from liveops_htmx.rendering import fragments, protocol
from liveops_htmx.rendering.context import progress_view
from liveops_htmx.security import make_subscription_token
from tests import processes, services
from tests.oob import Page
from tests.proxy import Proxy
from tests.testapp.models import Paced

# Faults between processes and Redis: the database is the same code on either backend.
pytestmark = [pytest.mark.redis, pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]

#: The servers' WATCHDOG_INTERVAL: a hub that heard nothing for this long rereads the row.
WATCHDOG = 1.0
#: LOST_AFTER where a worker is killed (elsewhere the default: no false "lost" under load).
LOST_AFTER = 1.0
LAYERS = ["redis", "pubsub"]

#: Bounds, in seconds, on the convergence of each fault (see each test's docstring).
BOUNDS = {
    "latency": 2.0,
    "latency, whole run": 1.5,
    "cut": 3.0,
    "blackhole": 2.0,
    "first viewer in a hole": 2.0 + 1.0,  # PUBLISH_TIMEOUT + 1 s
    "redis restart": 5.0,
    "server killed": 3.0,
    "worker killed": LOST_AFTER + 2 * WATCHDOG + 1.0,
    "terminal push lost": 2 * WATCHDOG + 1.0,
}

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "lost"})
RANK = {"pending": 0, "running": 1, **dict.fromkeys(TERMINAL, 2)}


# -- figures -----------------------------------------------------------------------------


@dataclass
class Figure:
    test: str
    fault: str
    layer: str
    faults: int
    viewers: int
    convergence: float
    terminal_lag: float
    frames: int


FIGURES: list[Figure] = []


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    """Print the figures once the module is done (shown without ``-s``); keep them as JSON."""
    yield
    if not FIGURES:
        return
    lines = ["", "faults: the longest convergence per fault and layer, over all its viewers"]
    groups: dict[tuple[str, str], list[Figure]] = {}
    for figure in FIGURES:
        groups.setdefault((figure.fault, figure.layer), []).append(figure)
    for (fault, layer), figures in groups.items():
        lag = max(f.terminal_lag for f in figures)
        lines.append(
            f"  {fault:<22} {layer:<6} {max(f.convergence for f in figures):6.2f} s"
            f" (bound {BOUNDS[fault]:.1f} s), terminal lag {lag:5.2f} s;"
            f" {len(figures)} test(s), {sum(f.faults for f in figures)} fault(s),"
            f" {sum(f.viewers for f in figures)} viewers, {sum(f.frames for f in figures)} frames"
        )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n".join(lines))
    out = Path(os.environ.get("LIVEOPS_TEST_RUN_DIR", processes.ROOT / "tests" / ".run"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "faults.json").write_text(json.dumps([f.__dict__ for f in FIGURES], indent=1))


# -- the rig: Redis, a proxy per side, a server ------------------------------------------


def env_for(url, layer, **extra):
    return processes.child_env(
        str(connection.settings_dict["NAME"]),
        LIVEOPS_TEST_LAYER=layer,
        LIVEOPS_TEST_REDIS_URL=url,
        LIVEOPS_TEST_REDIS_PREFIX=services.REDIS_PREFIX,
        LIVEOPS_TEST_WATCHDOG=str(WATCHDOG),
        **extra,
    )


class Rig:
    """Redis; the server and the workers each reach it through a proxy of their own."""

    def __init__(self, redis_server, layer, **extra):
        self.redis = redis_server
        self.layer = layer
        self.server_proxy = Proxy(redis_server.port).__enter__()
        self.worker_proxy = Proxy(redis_server.port).__enter__()
        self.server_env = env_for(self.server_proxy.url, layer, **extra)
        self.worker_env = env_for(self.worker_proxy.url, layer, **extra)
        self.server = processes.uvicorn_server(self.server_env)
        self.workers: list[processes.Process] = []
        try:
            self.server.start()
        except BaseException:
            self.stop()
            raise

    @property
    def proxies(self):
        return (self.server_proxy, self.worker_proxy)

    @property
    def host(self):
        return f"127.0.0.1:{self.server.port}"

    def url(self, op):
        from django.contrib.auth.models import AnonymousUser

        token = make_subscription_token(AnonymousUser(), op)
        return f"ws://{self.host}/asgi/notifications/?subscription_token={token}"

    def worker(self, op):
        child = processes.worker(self.worker_env, op._meta.label, op.pk).start()
        self.workers.append(child)
        return child

    def watch(self, op, n, *, reconnect=False):
        """``n`` viewers of ``op``, each holding its first frame (the snapshot)."""
        watchers = [Watcher(self, op, reconnect=reconnect) for _ in range(n)]
        for w in watchers:
            w.start()
        for w in watchers:
            w.first.wait(20)
            assert w.sockets, f"a viewer did not connect: {w.violations}"
        return watchers

    def faults(self):
        return sum(p.stats[k] for p in self.proxies for k in ("delays", "blackholes", "cuts"))

    def outputs(self):
        return "\n".join(p.output() for p in (self.server, *self.workers))

    def stop(self):
        for child in self.workers:
            child.stop()
        self.server.stop()
        for proxy in self.proxies:
            proxy.__exit__(None, None, None)


@pytest.fixture(params=LAYERS)
def rig(request, own_redis):
    rig = Rig(own_redis, request.param)
    yield rig
    rig.stop()


#: Records channels_redis logs with a traceback when its connection drops, expected
#: here and not ours: the pub/sub layer's receive task (which reconnects by itself) and
#: the Redis layer's cleaner of a received message (a task nobody awaits).
EXPECTED = (
    "Unexpected exception in receive task",
    "Unexpected exception while cleaning-up channel",
    "coro=<RedisChannelLayer._clean_receive_backup()",
)
_CONTINUED = re.compile(
    r"^(\s|$|Traceback \(most|During handling of|The above exception"
    r"|[A-Za-z_][\w.]*(Error|Exception|Exit)\b)"
)


def tracebacks(output):
    """The log records of ``output`` that carry a traceback, but those of EXPECTED."""
    records: list[list[str]] = []
    for line in output.splitlines():
        if records and _CONTINUED.match(line):
            records[-1].append(line)
        else:
            records.append([line])
    return [
        "\n".join(r)
        for r in records
        if any(line.startswith("Traceback") for line in r)
        and not any(known in r[0] for known in EXPECTED)
    ]


def until_lines(op, n, timeout=30):
    processes.until(lambda: Paced.objects.get(pk=op.pk).log_count >= n, timeout, f"{n} lines")


# -- a viewer: a socket, a page, and the checks after each frame --------------------------


@dataclass
class Shown:
    state: str
    percent: float
    log: list[tuple[int, str]]


def shown(page, pk):
    status = page.inner(f"op-status-{pk}")
    state = re.search(r'data-state="(\w+)"', status)
    value = re.search(r'<progress[^>]*\bvalue="([\d.]+)"', page.inner(f"op-progress-{pk}"))
    log = re.findall(r'<li value="(\d+)">([^<]*)</li>', page.inner(f"op-log-{pk}"))
    return Shown(
        state[1] if state else "",
        float(value[1]) if value else 0.0,
        [(int(n), text) for n, text in log],
    )


def differences(page, row):
    """The parts in which ``page`` differs from a fresh page of ``row`` (log: its tail)."""
    fresh = Page(fragments.widget(row, ""))
    differ = [
        part
        for part in fragments.PARTS
        if part != "log" and page.inner(f"op-{part}-{row.pk}") != fresh.inner(f"op-{part}-{row.pk}")
    ]
    tail = shown(fresh, row.pk).log
    log = shown(page, row.pk).log
    if log[len(log) - len(tail) :] != tail or (not tail and log):
        differ.append("log")
    return differ


@dataclass(eq=False)
class Watcher:
    """A page that follows one operation over a socket (a new one after a 1006, if asked)."""

    rig: Rig
    op: Paced
    reconnect: bool = False
    timeout: float = 60.0
    frames: list[tuple[float, str]] = field(default_factory=list)
    codes: list[int | None] = field(default_factory=list)
    sockets: int = 0
    violations: list[str] = field(default_factory=list)
    matched: list[float] = field(default_factory=list)
    terminal_at: float | None = None  # time.monotonic() of the terminal frame
    terminal_wall: float | None = None  # time.time() of it, against the row's finished_at

    def __post_init__(self):
        self.page = Page(fragments.widget(self.op, ""))
        self.first = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.last = Shown("pending", 0.0, [])

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.violations.append(f"still following after {timeout} s")

    def _run(self):
        try:
            self._follow()
        except Exception:
            self.violations.append(f"viewer failed: {traceback.format_exc()}")
        finally:
            self.first.set()
            connections.close_all()

    def _follow(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                ws = connect(
                    self.rig.url(self.op), origin=f"http://{self.rig.host}", open_timeout=5
                )
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed):
                # A server starting may take a connection and drop it: htmx tries again.
                if not self.reconnect:
                    raise
                time.sleep(0.1)  # htmx backs off longer; the server's downtime is what counts
                continue
            self.sockets += 1
            with ws:
                try:
                    while True:
                        self._frame(ws.recv(timeout=30))
                except TimeoutError:
                    self.violations.append("no frame for 30 s: stuck")
                    return
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd is not None else None
                    self.codes.append(code)
                    if code == 1000 or not self.reconnect:
                        return
        self.violations.append("did not end within the test's timeout")

    def _frame(self, frame):
        now, wall = time.monotonic(), time.time()
        self.frames.append((now, frame))
        self.first.set()
        if self.terminal_at is not None:
            self.violations.append(f"a frame after the terminal one: {frame[:200]}")
        self.page.apply(frame)
        seen = shown(self.page, self.op.pk)
        row = Paced.objects.get(pk=self.op.pk)  # read after the frame: never behind it
        self._check(seen, row)
        if not differences(self.page, row):
            self.matched.append(now)
        if seen.state in TERMINAL and self.terminal_at is None:
            self.terminal_at, self.terminal_wall = now, wall
        self.last = seen

    def _check(self, seen, row):
        def bad(what):
            self.violations.append(f"{what} (shown {seen}, row {row.state} {row.percent})")

        numbers = [n for n, _ in seen.log]
        if numbers and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            bad(f"log lines out of order or repeated: {numbers}")
        if any(text != f"line {n}" for n, text in seen.log):
            bad("a log line with the wrong text")
        if numbers and self.last.log and numbers[-1] < self.last.log[-1][0]:
            bad("the last log line went back")
        if seen.percent < self.last.percent:
            bad(f"percent went back from {self.last.percent}")
        if RANK.get(seen.state, -1) < RANK[self.last.state]:
            bad(f"state went back from {self.last.state}")
        if self.last.state in TERMINAL and seen.state != self.last.state:
            bad("a terminal state changed")
        # Ahead of the row: a state the database never had (or not yet).
        if seen.percent > float(progress_view(row)["value"] or 0):
            bad("a percent the row does not have")
        if numbers and numbers[-1] > row.log_count:
            bad("a log line the row does not have")
        if seen.state in TERMINAL and seen.state != row.state:
            bad(f"{seen.state!r} before the row said it")
        if RANK.get(seen.state, -1) > RANK[row.state]:
            bad("a state ahead of the row")

    def frames_between(self, start, end):
        return [t for t, _ in self.frames if start < t < end]

    def convergence(self, since):
        """Seconds from ``since`` to the first frame that left the page equal to the row."""
        if self.terminal_at is not None and self.terminal_at <= since:
            return 0.0
        return next((t - since for t in self.matched if t >= since), math.inf)


def finish(rig, watchers, *, worker=None, state="succeeded", timeout=60):
    """Wait for every viewer's end; check what each saw; return the final row."""
    for w in watchers:
        w.join(timeout)
    if worker is not None:
        assert worker.wait(60) == 0, worker.output()
    row = Paced.objects.get(pk=watchers[0].op.pk)
    assert row.state == state, rig.outputs()
    for w in watchers:
        assert not w.violations, f"{w.violations}\n{rig.outputs()}"
        assert w.codes[-1] == 1000, f"closed {w.codes}\n{rig.outputs()}"
        assert w.terminal_at is not None, "no terminal frame"
        assert not differences(w.page, row), "the page does not end as the row"
    return row


def record(request, rig, fault, watchers, row, *, since=None, faults=None, measured=None):
    """Check each viewer's convergence against the fault's bound; keep the figures.

    ``since``: when the fault ended (``time.monotonic()``); None for a fault measured
    by its terminal lag alone, or by ``measured``. ``faults``: how many were injected
    (default: the proxies' count).
    """
    bound = BOUNDS[fault]
    lag = max(w.terminal_wall - row.finished_at.timestamp() for w in watchers)
    convergence = lag if since is None else max(w.convergence(since) for w in watchers)
    convergence = convergence if measured is None else measured
    FIGURES.append(
        Figure(
            request.node.name,
            fault,
            rig.layer,
            rig.faults() if faults is None else faults,
            len(watchers),
            convergence,
            lag,
            sum(len(w.frames) for w in watchers),
        )
    )
    assert convergence <= bound, (
        f"{fault}: a viewer took {convergence:.2f} s to show the row (bound {bound} s)"
    )
    assert not tracebacks(rig.outputs()), rig.outputs()
    assert all(p.stats["bytes up"] and p.stats["bytes down"] for p in rig.proxies)


# -- (a) latency ---------------------------------------------------------------------------


def test_latency_mid_run(request, rig):
    """150 ms (+ up to 50 ms jitter) on every chunk, both ways, both sides, for 1.5 s.

    Bound: every viewer shows the row within 2 s of the latency's end (the backlog
    that built up in the publisher and in the server's channel drains first).
    """
    op = Paced.objects.create(steps=80, delay=0.05)
    watchers = rig.watch(op, 3)
    worker = rig.worker(op)
    until_lines(op, 10)
    for proxy in rig.proxies:
        proxy.delay(0.15, jitter=0.05)
    time.sleep(1.5)
    healed = max(proxy.heal() for proxy in rig.proxies)
    row = finish(rig, watchers, worker=worker)
    record(request, rig, "latency", watchers, row, since=healed)
    left_behind(rig, row)


@pytest.mark.parametrize("layer", LAYERS)
def test_latency_for_the_whole_run(request, own_redis, layer):
    """25 ms on every chunk, both ways, both sides, from before the run to its end.

    A fault that never ends: the figure is the terminal lag, from the row's
    ``finished_at`` to each viewer's terminal frame. Bound: 1.5 s.
    """
    rig = Rig(own_redis, layer)
    try:
        for proxy in rig.proxies:
            proxy.delay(0.025)
        op = Paced.objects.create(steps=60, delay=0.05)
        watchers = rig.watch(op, 2)
        row = finish(rig, watchers, worker=rig.worker(op))
        record(request, rig, "latency, whole run", watchers, row)
        left_behind(rig, row)
    finally:
        rig.stop()


# -- (b) cuts -------------------------------------------------------------------------------


def test_connections_cut_mid_run(request, rig):
    """Every connection to Redis reset, and none accepted for 1 s, on both sides at once.

    A viewer that connects during the cut is served from the row. Bound: every viewer
    shows the row within 3 s of the cut's end (a failed receive rejoins after its
    backoff; a push lost meanwhile shows as a gap, healed by a reread).
    """
    op = Paced.objects.create(steps=80, delay=0.05)
    watchers = rig.watch(op, 3)
    worker = rig.worker(op)
    until_lines(op, 15)
    for proxy in rig.proxies:
        proxy.cut(1.0)
    watchers += rig.watch(op, 1)  # joins while Redis cannot be reached
    healed = max(proxy.wait_healed() for proxy in rig.proxies)
    row = finish(rig, watchers, worker=worker)
    assert all(proxy.stats["connections cut"] for proxy in rig.proxies), "nothing was cut"
    record(request, rig, "cut", watchers, row, since=healed)
    left_behind(rig, row)


# -- (c) a black hole ----------------------------------------------------------------------


def test_a_black_hole_mid_run(request, rig):
    """Nothing forwarded, connections kept open: 2.5 s for the worker, 4 s for the server.

    Pushes stall and time out (PUBLISH_TIMEOUT) in the worker; the hubs hear nothing
    and reread the row every WATCHDOG_INTERVAL, so viewers stay current through the
    hole (each gets a frame inside it). In the hole, a viewer joins the hub and the first viewer of
    another operation makes a hub of its own: its join cannot be confirmed, and it
    gets its snapshot from the row after one try (bound: PUBLISH_TIMEOUT + 1 s).
    Bound: every viewer shows the row within 2 s of the hole's end.
    """
    op = Paced.objects.create(steps=100, delay=0.05)
    other = Paced.objects.create(steps=60, delay=0.05)
    watchers = rig.watch(op, 3)
    worker, other_worker = rig.worker(op), rig.worker(other)
    until_lines(op, 15)
    began = time.monotonic()
    rig.worker_proxy.blackhole(2.5)
    rig.server_proxy.blackhole(4.0)  # longer than a first try (PUBLISH_TIMEOUT) and a pause
    (first,) = rig.watch(other, 1)
    waited = first.frames[0][0] - began
    late = rig.watch(op, 1)
    healed = max(proxy.wait_healed() for proxy in rig.proxies)
    row = finish(rig, watchers + late, worker=worker)
    other_row = finish(rig, [first], worker=other_worker)
    for w in watchers:
        assert w.frames_between(began, healed), "no reread reached a viewer in the hole"
    assert "Push to" in rig.outputs(), "no push stalled in the hole"
    record(request, rig, "blackhole", watchers + late, row, since=healed)
    record(request, rig, "first viewer in a hole", [first], other_row, measured=waited)
    left_behind(rig, row)
    left_behind(rig, other_row)


# -- (d) Redis restarted ----------------------------------------------------------------------


def test_redis_down_longer_than_the_first_tries(request, rig):
    """Redis stopped for 3 s (memberships and queued messages lost), then started again.

    Longer than the subscription's first tries and than PUBLISH_TIMEOUT: the hub runs
    degraded, rereading the row (each viewer gets a frame while Redis is down), and
    rejoins in the background. Bound: every viewer shows the row within 5 s of Redis
    answering again.
    """
    op = Paced.objects.create(steps=140, delay=0.05)
    watchers = rig.watch(op, 3)
    worker = rig.worker(op)
    until_lines(op, 15)
    began = time.monotonic()
    rig.redis.restart(down_for=3.0)
    back = time.monotonic()
    row = finish(rig, watchers, worker=worker)
    for w in watchers:
        assert w.frames_between(began + 0.5, back), "the page went stale while Redis was down"
    record(request, rig, "redis restart", watchers, row, since=back, faults=1)
    left_behind(rig, row)


# -- (e) the server killed ------------------------------------------------------------------


def test_the_server_killed_and_restarted(request, rig):
    """SIGKILL to the server mid-run; restarted on the same port; viewers reconnect.

    Each viewer's socket ends without a close frame (1006), and the viewer opens a
    new one, as htmx does; the page it had stays and takes the new snapshot. Bound:
    every viewer shows the row within 3 s of the new server answering.
    """
    op = Paced.objects.create(steps=100, delay=0.05)
    watchers = rig.watch(op, 3, reconnect=True)
    worker = rig.worker(op)
    until_lines(op, 15)
    rig.server.stop(kill=True)
    time.sleep(0.3)
    rig.server.start()
    back = time.monotonic()
    row = finish(rig, watchers, worker=worker)
    for w in watchers:
        assert w.sockets == 2 and w.codes[0] is None, (w.sockets, w.codes)
    record(request, rig, "server killed", watchers, row, since=back, faults=1)
    # A killed process cannot leave: on the Redis layer its channel stays in the group
    # until the group expires (channels_redis' group_expiry); pub/sub subscriptions end
    # with their connection.
    left_behind(rig, row, allowed=1 if rig.layer == "redis" else 0)


# -- (f) the worker killed ------------------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_the_worker_killed_is_lost_on_every_page(request, own_redis, layer):
    """SIGKILL to the worker mid-run, with LOST_AFTER 1 s: every viewer ends on "lost".

    Nothing marks the row but a server's reread: the hub's watchdog rereads after
    WATCHDOG_INTERVAL of silence, finds the heartbeat stale and marks the row lost.
    Bound (from the kill): LOST_AFTER + 2 x WATCHDOG_INTERVAL + 1 s.
    """
    rig = Rig(own_redis, layer, LIVEOPS_TEST_LOST_AFTER=str(LOST_AFTER))
    try:
        op = Paced.objects.create(steps=10_000, delay=0.05)
        watchers = rig.watch(op, 3)
        worker = rig.worker(op)
        until_lines(op, 10)
        worker.stop(kill=True)
        killed = time.monotonic()
        row = finish(rig, watchers, state="lost")
        for w in watchers:
            assert "did not finish" in w.page.inner(f"op-error-{op.pk}")
        record(request, rig, "worker killed", watchers, row, since=killed, faults=1)
        left_behind(rig, row)
    finally:
        rig.stop()


# -- (g) a terminal push lost in flight -------------------------------------------------------


@pytest.mark.parametrize("side", ["worker", "server"])
def test_a_terminal_push_cut_in_flight(request, rig, side):
    """The end of the run is held in a black hole, then every connection is cut.

    The last lines' pushes and the result's are in the hole when the row says
    "succeeded"; the cut loses them. On the worker's side they never reach Redis (the
    worker gives up and exits); on the server's side Redis handed them out and the
    replies are lost. Only a reread can tell the viewers: the hub's watchdog does,
    after WATCHDOG_INTERVAL of silence. Bound (from the row's finished_at):
    2 x WATCHDOG_INTERVAL + 1 s; and no sooner than the cut (no push got through).
    """
    proxy = rig.worker_proxy if side == "worker" else rig.server_proxy
    op = Paced.objects.create(steps=30, delay=0.05)
    watchers = rig.watch(op, 2)
    worker = rig.worker(op)
    until_lines(op, 25)
    proxy.blackhole()
    processes.until(lambda: Paced.objects.get(pk=op.pk).state == "succeeded", 30, "the end")
    time.sleep(0.3)  # the result's push is in the hole
    proxy.cut(None)
    cut = time.time()
    if side == "worker":
        assert worker.wait(30) == 0, worker.output()
    for w in watchers:
        w.join(30)
    proxy.heal()
    row = finish(rig, watchers, worker=worker)
    assert all(w.terminal_wall > cut for w in watchers), "the result got through the hole"
    record(request, rig, "terminal push lost", watchers, row)
    if side == "worker":
        left_behind(rig, row)
    else:
        # The viewers end, and the hub leaves, while the server cannot reach Redis: the
        # leave is tried again until it goes through. On pub/sub the layer forgets the
        # group at once, but redis-py keeps the channel its failed UNSUBSCRIBE named
        # and subscribes it again when it reconnects (upstream: nothing in the layer's
        # API undoes it); the layer drops what arrives there.
        left_behind(rig, row, allowed=1 if rig.layer == "pubsub" else 0, settle=1.5)


# -- what Redis still holds ------------------------------------------------------------------


def left_behind(rig, op, *, allowed=0, settle=0.3):
    """Once every viewer is gone, the server's subscription to the group goes too.

    ``allowed``: subscriptions that may stay, each for a reason the test gives.
    """
    processes.until(lambda: subscribers(rig, op) <= allowed, 15, "the server to leave the group")
    time.sleep(settle)  # and it does not come back (a reconnect resubscribes what it knew)
    assert subscribers(rig, op) <= allowed, "a subscription came back"


def subscribers(rig, op):
    """How many subscriptions Redis holds for the operation's group."""
    client = redis.Redis(port=rig.redis.port)
    try:
        group = protocol.operation_group(op._meta.label, op.pk)
        if rig.layer == "pubsub":
            return client.pubsub_numsub(f"{services.REDIS_PREFIX}__group__{group}")[0][1]
        return client.zcard(f"{services.REDIS_PREFIX}:group:{group}")
    finally:
        client.close()
