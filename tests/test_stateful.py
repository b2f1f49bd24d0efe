"""Property-based and stateful: random runs, seen by viewers through a lossy layer.

A Hypothesis state machine plays one operation's worker (every ``Progress`` call,
stages, regions, results and errors, with markup, marked-safe and oversized text),
wraps its calls in transactions that commit or roll back (savepoints too), cancels
and runs it again from another writer, and opens and closes browser tabs at random
points. A tab loads its page from the row, joins the hub (pushes from then on are
held), then gets its snapshot from a fresh read, as the server does; every push is
offered through a real :class:`~liveops_htmx.serverside.outbox.Outbox` and the frames
are swapped into a :class:`tests.oob.Page`. The layer drops pushes or delays them
(delivered later, out of order) per tab; gaps heal as the hub heals them, from a
fresh read of the row offered to every admitted tab.

Checked after every step: frames are valid UTF-8 and never carry worker text as
markup; each tab's seqs only grow; a page shows a terminal state only once the row
is terminal; nothing of a rolled-back result or error is ever pushed, shown or
stored; inside a transaction, progress is pushed at once. After each settled step
(no transaction open, every push delivered, gaps healed): every tab's page is a
fresh page of the row, part by part and region by region, and its log ends with
the row's tail, numbered without a gap or a repeat.

``LIVEOPS_HYPOTHESIS=long`` runs many more and longer examples than CI does.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import override_settings
from django.utils.html import format_html
from django.utils.safestring import SafeData, mark_safe
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from liveops_htmx import control
from liveops_htmx.conf import conf
from liveops_htmx.models import Level
from liveops_htmx.progress import OperationCancelled, WebProgress
from liveops_htmx.rendering import fragments
from liveops_htmx.serverside.outbox import Offer, Outbox
from liveops_htmx.serverside.snapshots import OperationSubject
from liveops_htmx.states import TERMINAL_STATES
from liveops_htmx.testing import CapturingChannelLayer, ManualClock
from liveops_htmx.workerside import publisher, side
from tests.oob import Page
from tests.testapp.models import Report

pytestmark = pytest.mark.django_db(transaction=True)
POSTGRES = connection.vendor == "postgresql"

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
PROFILES = {
    # CI: the same examples every run, about half a minute per database.
    "ci": settings(
        max_examples=250,
        stateful_step_count=50,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=SLOW,
        print_blob=True,
    ),
    # LIVEOPS_HYPOTHESIS=long: new examples each run, many more and longer.
    "long": settings(
        max_examples=600,
        stateful_step_count=120,
        deadline=None,
        suppress_health_check=SLOW,
        print_blob=True,
    ),
}
PROFILE = os.environ.get("LIVEOPS_HYPOTHESIS", "ci")

#: Worker text that must never reach a page as markup.
EVIL = "<x-evil>"
#: Markup a worker marks safe where markup is allowed (result context, regions).
SAFE = "<x-safe>kept</x-safe>"
REGIONS = ("#region-a", "#region-b")
LOG_TAIL = 6

# -- strategies ------------------------------------------------------------------------

pieces = st.sampled_from(
    ["plain", EVIL, "a & b", "two\nlines", "\r\n", "é", "…", '"q"', "'s", " ", "\t"]
)
#: NUL, a lone surrogate (os.fsdecode() of an undecodable byte), a line separator.
awkward = st.sampled_from(["\x00", "\udcff", "\u2028"])
texts = st.one_of(
    st.lists(pieces | awkward, max_size=4).map("".join),
    st.text(max_size=12),
    # Over TEXT_MAX (and the status column), with markup astride the cut.
    st.integers(-3, 40).map(lambda n: "h" * (conf.TEXT_MAX - 4 + n) + EVIL),
)
worker_text = st.one_of(texts, texts.map(mark_safe))
#: The model declares Collect and Render; each example adds one stage of its own (two
#: would show out of order in a PostgreSQL snapshot: see test_progress.py's xfail).
extra_stages = st.one_of(
    st.sampled_from(["Upload", f"Evil {EVIL}"]),
    st.integers(1, 30).map(lambda n: "S" * (195 + n) + EVIL),  # the column holds 200
)
log_text = st.one_of(
    worker_text,
    st.lists(texts, min_size=2, max_size=4).map("\n".join),
)


# -- the server side, as the test plays it -------------------------------------------


class Elsewhere:
    """A thread with a connection of its own: a serving process, or another writer."""

    def __init__(self, *setup: str) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.setup = setup
        self.ready = False

    def __call__(self, fn, *args):
        return self.pool.submit(self._run, fn, *args).result(timeout=60)

    def _run(self, fn, *args):  # in the thread
        if not self.ready:
            with connection.cursor() as cursor:
                for sql in self.setup:
                    cursor.execute(sql)
            self.ready = True
        return fn(*args)

    def close(self) -> None:
        self.pool.submit(connections.close_all).result(timeout=60)
        self.pool.shutdown()


def page_html(op) -> str:
    """What the browser loaded: the widget of the row, and the regions a run may fill."""
    regions = "".join(f'<div id="{r[1:]}"></div>' for r in REGIONS)
    return fragments.widget(op, fragments.socket_element(op, "/ws/", 2)) + regions


def log_lines(page: Page, pk) -> list[tuple[int, str]]:
    node = page.find(f"op-log-lines-{pk}")
    assert node is not None, "the log list is gone"
    return [
        (int(li.attrs["value"]), li.text())
        for li in node.children
        if not isinstance(li, str) and li.tag == "li"
    ]


def shown_state(page: Page, pk) -> str:
    match = re.search(r'data-state="(\w+)"', page.inner(f"op-status-{pk}"))
    assert match, "no state on the page"
    return match.group(1)


@dataclass
class Tab:
    """One browser tab: its page, its socket's outbox, what the layer still owes it."""

    name: int
    page: Page
    cursor: int  # pushes from this index of the layer's list on reach this tab
    outbox: Outbox = field(default_factory=Outbox)
    delayed: list = field(default_factory=list)
    seqs: list = field(default_factory=list)
    admitted: bool = False
    closed: bool = False


@dataclass
class Block:
    """An open ``transaction.atomic()`` or ``p.stage()`` of the worker."""

    kind: str  # "atomic" or "stage"
    cm: object
    finishes: list = field(default_factory=list)  # markers of result()/error() in it


class Boom(Exception):
    pass


def is_safe(text) -> bool:
    return isinstance(text, SafeData)


class Run(RuleBasedStateMachine):
    """One operation, its worker, the other writers, and the tabs that follow it."""

    stats = {"examples": 0, "steps": 0, "longest": 0, "slowest": 0.0}
    seen: Counter[str] = Counter()  # what the examples went through, for the summary

    def __init__(self) -> None:
        super().__init__()
        self.server = SERVER
        self.other_writer = OTHER_WRITER
        self.layer = CapturingChannelLayer()
        self.clock = ManualClock()
        self.op = Report.objects.create(title="stateful", steps=0)
        self.pk = self.op.pk
        self.pks = [self.pk]  # every operation of the example: teardown deletes them
        self.label = self.op._meta.label
        self.p = self.worker(self.op)
        self.p.start()
        self.blocks: list[Block] = []
        self.tabs: dict[int, Tab] = {}
        self.names = itertools.count(1)
        self.markers = itertools.count(1)
        self.rolled_back: set[str] = set()  # markers of finishes whose block rolled back
        self.finish: str | None = None  # the marker of run()'s last finish
        self.reset_due: int | None = None  # the worker's seq when a rollback took it back
        self.checked = 0  # messages already checked
        self.steps = 0
        self.started = time.monotonic()
        Run.stats["examples"] += 1

    @initialize(name=extra_stages)
    def name_its_own_stage(self, name):
        self.own_stage = name

    def worker(self, op) -> WebProgress:
        return WebProgress(op, self.layer, clock=self.clock, interval=1.0)

    # -- the worker's situation ----------------------------------------------------

    @property
    def in_atomic(self) -> bool:
        return any(b.kind == "atomic" for b in self.blocks)

    @property
    def reporting(self) -> bool:
        """True while run() may still report: it has not finished, or that was rolled back."""
        return not self.p.finished and (self.finish is None or self.finish in self.rolled_back)

    @property
    def over(self) -> bool:
        return self.p.finished and not self.blocks

    def call(self, method, *args, **kwargs):
        """Call the worker; a cancel that escapes ends run() as execute() ends it."""
        fn = getattr(self.p, method) if isinstance(method, str) else method
        try:
            return fn(*args, **kwargs)
        except OperationCancelled:
            self.unwind(len(self.blocks), OperationCancelled())
            if not self.p.finished:
                self.finish_marker()
                self.p.cancelled()
            return None

    def unwind(self, depth: int, exc: BaseException) -> None:
        """Leave the ``depth`` innermost blocks with ``exc`` (a rollback for each atomic)."""
        for _ in range(depth):
            block = self.blocks.pop()
            # A stage's own write may learn of a cancel: it ends the run anyway.
            with contextlib.suppress(OperationCancelled):
                block.cm.__exit__(type(exc), exc, None)
            if block.kind == "atomic":
                self.rolled_back.update(block.finishes)
                self.took_back()
            elif self.blocks:
                self.blocks[-1].finishes.extend(block.finishes)

    def took_back(self) -> None:
        """After a rollback: pages may show what it took back until the worker's next write."""
        row_seq = Report.objects.filter(pk=self.pk).values_list("seq", flat=True).get()
        pushed = max((m["seq"] for m in self.layer.messages()), default=0)
        if row_seq < min(self.p.op.seq, pushed):  # written, pushed at once, taken back
            self.reset_due = self.p.op.seq
            Run.seen["rollback of pushed writes"] += 1

    def finish_marker(self) -> str:
        marker = self.finish = f"finish-{next(self.markers)}-{self.pk}"
        if self.blocks:
            self.blocks[-1].finishes.append(marker)
        return marker

    # -- worker rules ----------------------------------------------------------------

    @precondition(lambda self: self.reporting)
    @rule(text=worker_text, level=st.sampled_from(Level.values))
    def status(self, text, level):
        self.call("status", text, level)

    @precondition(lambda self: self.reporting)
    @rule(value=st.floats(-10, 110, allow_nan=False))
    def percent(self, value):
        self.call("percent", value)

    @precondition(lambda self: self.reporting)
    @rule(
        items=st.integers(0, 3),
        sized=st.booleans(),
        label=st.none() | worker_text,
        unit=worker_text,
        log_each=st.booleans(),
    )
    def track(self, items, sized, label, unit, log_each):
        def loop():
            iterable = range(items) if sized else iter(range(items))
            for i in self.p.track(iterable, label=label, unit=unit):
                self.clock.advance(0.4)
                if log_each:
                    self.p.log(f"item {i}")

        self.call(loop)

    @precondition(lambda self: self.reporting)
    @rule(text=log_text)
    def log(self, text):
        self.call("log", text)

    @precondition(lambda self: self.reporting)
    @rule(seconds=st.sampled_from([0.3, 1.0, 2.5]))
    def tick(self, seconds):
        self.clock.advance(seconds)

    @precondition(lambda self: self.reporting)
    @rule()
    def check_cancelled(self):
        self.call("check_cancelled")

    @precondition(lambda self: self.reporting)
    @rule(selector=st.sampled_from(REGIONS), text=texts, safe=st.booleans())
    def html(self, selector, text, safe):
        self.call("html", selector, format_html("{}{}", mark_safe(SAFE), text) if safe else text)

    @precondition(lambda self: self.reporting)
    @rule(selector=st.sampled_from(REGIONS), text=texts)
    def swap(self, selector, text):
        self.call("swap", selector, name="log_lines", log=[{"n": 1, "text": text}])

    @precondition(lambda self: self.reporting)
    @rule(which=st.sampled_from(["Collect", "Render", "own"]))
    def enter_stage(self, which):
        cm = self.p.stage(self.own_stage if which == "own" else which)

        def enter():
            cm.__enter__()
            self.blocks.append(Block("stage", cm))

        self.call(enter)

    @precondition(lambda self: self.blocks and self.blocks[-1].kind == "stage")
    @rule()
    def leave_stage(self):
        block = self.blocks.pop()
        if self.blocks:
            self.blocks[-1].finishes.extend(block.finishes)
        self.call(lambda: block.cm.__exit__(None, None, None))

    @precondition(lambda self: self.reporting)
    @rule(how=st.sampled_from(["result", "safe result", "error", "crash"]), message=worker_text)
    def finish(self, how, message):
        """run() finishes: a result, an error, or an exception that escapes it."""
        if how == "crash":  # execute() marks the operation failed
            self.unwind(len(self.blocks), Boom())
            if self.p.finished:
                return
            message = "The operation failed unexpectedly."
        marker = self.finish_marker()
        if how in ("error", "crash"):  # error text is escaped, even marked safe
            self.call(
                "error", mark_safe(message + marker) if is_safe(message) else message + marker
            )
        elif how == "safe result":  # a result value marked safe is markup, as it was given
            self.call("result", {"message": mark_safe(SAFE + marker)})
        else:
            self.call("result", {"message": f"{message}{marker}"})  # plain text: escaped

    @precondition(lambda self: self.blocks)
    @rule(data=st.data())
    def raise_through(self, data):
        """An exception leaves some blocks and is caught by the worker's own code."""
        depth = data.draw(st.integers(1, len(self.blocks)), label="depth")
        self.unwind(depth, Boom())

    @precondition(lambda self: self.reporting)
    @rule()
    def begin(self):
        cm = transaction.atomic()
        cm.__enter__()
        self.blocks.append(Block("atomic", cm))

    @precondition(lambda self: self.blocks and self.blocks[-1].kind == "atomic")
    @rule()
    def commit(self):
        block = self.blocks.pop()
        block.cm.__exit__(None, None, None)
        if self.blocks:
            self.blocks[-1].finishes.extend(block.finishes)

    @precondition(lambda self: self.blocks and self.blocks[-1].kind == "atomic")
    @rule()
    def rollback(self):
        self.unwind(1, Boom())

    @precondition(lambda self: self.in_atomic and not self.p.op.is_finished)
    @rule()
    def lock_the_row(self):
        """The user's own work in the transaction writes the operation's row."""
        Report.objects.filter(pk=self.pk).update(title="the user's own work")

    # -- other writers ---------------------------------------------------------------

    @precondition(lambda self: not self.in_atomic or POSTGRES)
    @rule()
    def cancel(self):
        """Another process asks the operation to stop."""

        def request():
            with contextlib.suppress(DatabaseError):  # locked by the worker's transaction
                if control.request_cancel(Report.objects.get(pk=self.pk), self.layer):
                    Run.seen["cancel"] += 1

        self.other_writer(request)

    @precondition(lambda self: self.over)
    @rule()
    def run_again(self):
        """Run again: a new operation with the same inputs, made by another process (as
        ``control.run_again`` makes it, the runner being this machine's own worker), and
        new tabs that follow it. The finished one keeps its history."""
        self.settled()  # the tabs the finish closed are checked, then gone

        def again():
            copy = Report.objects.get(pk=self.pk).copy_inputs()
            copy.save()
            return copy.pk

        self.pk = self.other_writer(again)
        self.pks.append(self.pk)
        Run.seen["run again"] += 1
        self.layer = CapturingChannelLayer()  # a new operation: a new group, no pushes yet
        self.tabs.clear()  # pages of the finished operation: nothing more reaches them
        self.rolled_back.clear()
        self.finish, self.reset_due, self.checked = None, None, 0
        self.p = self.worker(Report.objects.get(pk=self.pk))
        self.p.start()

    # -- tabs --------------------------------------------------------------------------

    @rule(snapshot_now=st.booleans())
    def open_tab(self, snapshot_now):
        """A page loads from the row, its socket joins the hub, then gets its snapshot."""
        op = self.read_row()
        tab = Tab(next(self.names), Page(page_html(op)), len(self.layer.messages()))
        self.tabs[tab.name] = tab
        if snapshot_now:
            self.admit(tab)

    @precondition(lambda self: any(not t.admitted for t in self.tabs.values()))
    @rule(data=st.data())
    def snapshot_arrives(self, data):
        waiting = sorted(n for n, t in self.tabs.items() if not t.admitted)
        self.admit(self.tabs[data.draw(st.sampled_from(waiting), label="tab")])

    @precondition(lambda self: self.tabs)
    @rule(data=st.data())
    def close_tab(self, data):
        del self.tabs[data.draw(st.sampled_from(sorted(self.tabs)), label="tab")]

    @precondition(lambda self: self.tabs)
    @rule(data=st.data())
    def pump(self, data):
        """The layer delivers some of what was pushed: to each tab now, later, or never."""
        fates = st.sampled_from(["now", "now", "now", "later", "never"])
        messages = self.layer.messages()
        gap = False
        for name in sorted(self.tabs):
            tab = self.tabs[name]
            arriving = []
            count = len(messages) - tab.cursor
            if count > 1:  # the rest is still on its way
                count = data.draw(st.integers(1, count), label=f"tab {name} gets")
            for message in messages[tab.cursor : tab.cursor + count]:
                fate = data.draw(fates, label=f"tab {name} seq {message['seq']}")
                if fate == "now":
                    arriving.append(message)
                elif fate == "later":
                    tab.delayed.append(message)
            tab.cursor += count
            if tab.delayed and data.draw(st.booleans(), label="late ones arrive"):
                arriving += tab.delayed
                tab.delayed = []
            gap |= self.offer(tab, arriving)
        if gap:
            self.heal()

    @precondition(lambda self: self.tabs)
    @rule(data=st.data())
    def pump_again(self, data):
        """The same as pump(): the layer delivers about as often as the worker writes."""
        self.pump(data)

    @precondition(lambda self: not self.in_atomic)
    @rule()
    def settle(self):
        self.settled()

    # -- the hub, as the test plays it -------------------------------------------------

    def admit(self, tab: Tab) -> None:
        """The tab's snapshot, read after it joined, as the consumer reads it."""
        tab.admitted = True
        if Offer.GAP in tab.outbox.offer_snapshot(self.snapshot()):
            self.heal()
        self.drain(tab)

    def read_row(self):
        return self.server(lambda: Report.objects.get(pk=self.pk))

    def snapshot(self):
        return self.server(OperationSubject(self.label, str(self.pk)).load)

    def offer(self, tab: Tab, messages) -> bool:
        """Offer pushes to ``tab``; True if one of them showed a gap."""
        gap = False
        for message in messages:
            if tab.closed:
                break
            whole = message.get("full") and tab.outbox.synced
            whole = whole and message["base"] > tab.outbox.last_seq
            outcome = tab.outbox.offer(message)
            Run.seen[f"push {outcome.value}" if tab.admitted else "push before the snapshot"] += 1
            if outcome is Offer.QUEUED and (message.get("reset") or whole):
                Run.seen["reset taken" if message.get("reset") else "full copy taken"] += 1
            gap |= outcome is Offer.GAP and tab.admitted
        self.drain(tab)
        return gap

    def heal(self, rounds: int = 3) -> bool:
        """Reread the row for every admitted tab (as a hub's resync); True once none waits."""
        for _ in range(rounds):
            Run.seen["reread"] += 1
            snap = self.snapshot()
            again = False
            for tab in self.admitted():
                again |= Offer.GAP in tab.outbox.offer_snapshot(snap)
                self.drain(tab)
            if not again:
                return True
        return False

    def admitted(self) -> list[Tab]:
        return [t for _, t in sorted(self.tabs.items()) if t.admitted and not t.closed]

    def drain(self, tab: Tab) -> None:
        """Send the tab's waiting frames: the page swaps each in."""
        while not tab.closed and (frame := tab.outbox.pop()) is not None:
            text = frame.text()
            text.encode("utf-8")  # a WebSocket text frame is UTF-8
            assert "<x-e" not in text, "worker text reached a page as markup"
            assert not tab.seqs or frame.seq > tab.seqs[-1], f"seq went back: {tab.seqs}"
            tab.seqs.append(frame.seq)
            tab.page.apply(text)
            Run.seen["frame"] += 1
            if frame.terminal:
                tab.closed = True
                assert self.read_row().is_finished, "a terminal frame before the row's commit"

    def settled(self) -> None:
        """Every push delivered, gaps healed, the watchdog's reread: then pages == the row."""
        for tab in self.admitted():
            self.offer(tab, self.layer.messages()[tab.cursor :] + tab.delayed)
            tab.cursor, tab.delayed = len(self.layer.messages()), []
        assert self.heal(), "a tab still waits for a snapshot outside any transaction"
        row = self.read_row()
        fresh = Page(page_html(row))
        fresh.apply(fragments.snapshot(row))
        behind = self.reset_due == self.p.op.seq  # no write since a rollback: see below
        for tab in self.admitted() + [t for t in self.tabs.values() if t.closed]:
            self.check_page(tab, row, fresh, behind)
        for name in [n for n, t in self.tabs.items() if t.closed]:
            del self.tabs[name]  # a closed socket: the page stays as it is

    def check_page(self, tab: Tab, row, fresh: Page, behind: bool) -> None:
        pk = self.pk
        shown = log_lines(tab.page, pk)
        numbers = [n for n, _ in shown]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else True
        if behind and not tab.closed:
            # Until the worker's next write pushes a reset, a page may still show what a
            # rolled-back block pushed at once (progress); never a terminal state.
            assert shown_state(tab.page, pk) not in TERMINAL_STATES or row.is_finished
            return
        tail = [tuple(entry) for entry in row.log_tail]
        assert shown[len(shown) - len(tail) :] == tail, (shown, tail)
        assert (numbers[-1] if numbers else 0) == row.log_count
        for part in fragments.PARTS:
            if part == "log":
                continue
            dom_id = f"op-{part}-{pk}"
            assert tab.page.inner(dom_id) == fresh.inner(dom_id), (tab.name, part, tab.seqs)
        for region in REGIONS:
            assert tab.page.inner(region[1:]) == fresh.inner(region[1:]), (tab.name, region)
        assert tab.closed == row.is_finished, "a finished operation leaves its sockets open"

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def pushes_are_safe(self):
        messages = self.layer.messages()
        for message in messages[self.checked :]:
            texts = [message["liveop_html"], *message["parts"].values()]
            texts += list((message.get("full") or {}).get("parts", {}).values())
            for text in texts:
                text.encode("utf-8")
                assert "<x-e" not in text, "worker text pushed as markup"
                for marker in self.rolled_back:
                    assert marker not in text, "a rolled-back finish was pushed"
        self.checked = len(messages)

    @invariant()
    def count(self):
        self.steps += 1
        Run.stats["steps"] += 1

    @invariant()
    def pages_are_terminal_only_with_the_row(self):
        shown = [t for t in self.tabs.values() if t.seqs and not t.closed]
        terminal = [t for t in shown if shown_state(t.page, self.pk) in TERMINAL_STATES]
        if not terminal and not self.rolled_back:
            return
        row = self.read_row()
        assert not terminal or row.is_finished, "a page shows a state the row does not have"
        stored = f"{row.result_context} {row.error}"
        for tab in self.tabs.values():
            html = tab.page.body.html()
            for marker in self.rolled_back:
                assert marker not in html, "a rolled-back finish shows on a page"
                assert marker not in stored, "a rolled-back finish is in the row"

    @invariant()
    def progress_in_a_transaction_is_pushed_at_once(self):
        """The worker's last write is out, unless a finish in an open block holds it back."""
        if not self.in_atomic or any(b.finishes for b in self.blocks) or self.p.op.is_finished:
            return
        written = self.p.op.seq
        assert any(m["seq"] == written for m in self.layer.messages()), (
            "progress inside a transaction waits for the commit"
        )

    def teardown(self):
        """run() returns (execute() finishes it if it did not): every tab ends on the row."""
        try:
            self.unwind(len(self.blocks), Boom())
            if not self.p.finished:
                self.call("result", {"message": "end of run"})
            for tab in [t for t in self.tabs.values() if not t.admitted]:
                self.admit(tab)
            self.settled()
        finally:
            self.unwind(len(self.blocks), Boom())
            side.close_all()
            Report.objects.filter(pk__in=self.pks).delete()
            Run.stats["longest"] = max(Run.stats["longest"], self.steps)
            Run.stats["slowest"] = max(Run.stats["slowest"], time.monotonic() - self.started)


SERVER: Elsewhere
OTHER_WRITER: Elsewhere


@pytest.fixture
def elsewhere(monkeypatch):
    global SERVER, OTHER_WRITER
    # A side write waits this long for the user's row lock (500 ms in production).
    monkeypatch.setattr(side, "LOCK_TIMEOUT", "20ms")
    # The publisher merges a push into one still waiting for its thread, so how many
    # messages a step leaves would depend on thread timing, and Hypothesis replays
    # must draw alike: here every push goes out as it is (test_publisher covers merging).
    monkeypatch.setattr(publisher, "merge", lambda waiting, new: None)
    lock = "SET lock_timeout = '50ms'" if POSTGRES else "PRAGMA busy_timeout = 50"
    SERVER, OTHER_WRITER = Elsewhere(), Elsewhere(lock)
    yield
    SERVER.close()
    OTHER_WRITER.close()


@override_settings(LIVEOPS={"LOG_TAIL": LOG_TAIL, "LOST_AFTER": 24 * 3600})
def test_random_runs_keep_every_viewer_on_the_row(elsewhere):
    Run.stats.update(examples=0, steps=0, longest=0, slowest=0.0)
    Run.seen.clear()
    began = time.monotonic()
    run_state_machine_as_test(Run, settings=PROFILES[PROFILE])
    stats = Run.stats
    print(
        f"stateful ({PROFILE}, {connection.vendor}): {stats['examples']} examples,"
        f" {stats['steps']} steps, longest {stats['longest']} steps,"
        f" slowest example {stats['slowest']:.2f} s, {time.monotonic() - began:.1f} s in all;"
        f" {', '.join(f'{n} {what}' for what, n in sorted(Run.seen.items()))}"
    )
