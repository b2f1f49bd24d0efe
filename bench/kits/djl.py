"""django-liveops 0.4.1: its ``WebProgress`` (render, then ``async_to_sync(group_send)``)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from channels.layers import get_channel_layer
from channels_broadcast.security import issue_subscription_token
from django.contrib.auth.models import User
from django.utils import timezone
from liveops.progress import WebProgress
from liveops.security import make_subscription_token

from bench.kits import counting, pacing, users
from bench.kits.held import Held
from bench.kits.sizes import deflated
from bench.project.djlapp.models import BenchOp


class CapturingLayer:
    """Just enough of a channel layer to keep what django-liveops sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append(message)


def frame_size(message: dict[str, Any]) -> dict[str, int]:
    text = json.dumps(message)  # what its consumer's chat_message sends
    return {"frame": len(text.encode()), "deflated": deflated(text), "layer": 0}


class DjlKit:
    def __init__(self) -> None:
        self.user: User | None = None

    def owner(self) -> User:
        if self.user is None:
            self.user = users.owner()
        return self.user

    def prepare(self, count: int, owned: bool = True) -> list[dict[str, Any]]:
        user = self.owner()  # its operations always have an owner, as its example's do
        cookie = users.cookie(user)
        ops = [BenchOp.objects.create(owner=user) for _ in range(count)]
        return [
            {
                "pk": str(op.pk),
                "query": urlencode({"subscription_token": make_subscription_token(user, op)}),
                "cookie": cookie,
            }
            for op in ops
        ]

    def _progress(self, pk: str) -> WebProgress:
        op = BenchOp.objects.get(pk=pk)
        op.started_on = timezone.now()
        op.save(update_fields=["started_on"])
        return WebProgress(op, get_channel_layer())

    def steady(self, target: dict[str, Any]) -> None:
        self._progress(target["pk"]).status("Working steadily")

    def series(self, target: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        p = self._progress(target["pk"])

        def publish(i: int, t: float) -> None:
            p.status(pacing.stamp_text(t, i))

        return pacing.run(publish, lambda: p.result(message=pacing.RESULT), spec)

    def drive(self, targets: list[dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
        """Many operations paced in this process; sent through one held loop (bench.kits.held)."""
        held, layer = Held(), get_channel_layer()
        progress = []
        for target in targets:
            p = self._progress(target["pk"])

            def push(html: str, group: str = p._channel) -> None:
                held.send(layer.group_send, group, {"type": "chat_message", "liveop_html": html})

            p._push = push  # type: ignore[method-assign]
            progress.append(p)
        tags = [t.get("tag") for t in targets]

        def publish(k: int, i: int, t: float) -> None:
            progress[k].status(pacing.stamp_text(t, i, tag=tags[k]))

        def finish(k: int) -> None:
            progress[k].result(message=f"{pacing.RESULT} o={tags[k]}")

        out = pacing.run_many(publish, finish, len(progress), spec)
        held.flush()
        out["failed"] = held.failed
        return out

    def list_target(self, targets: list[dict[str, Any]]) -> dict[str, Any]:
        """Its list page refetches on lifecycle signals only; the nearest live equivalent is
        one socket whose channels_broadcast token names every operation's channel."""
        user = self.owner()
        ops = BenchOp.objects.filter(pk__in=[t["pk"] for t in targets])
        token = issue_subscription_token(user, [op.get_channel_name() for op in ops], ttl=86400)
        return {"query": urlencode({"subscription_token": token}), "cookie": users.cookie(user)}

    def track(self, n: int) -> dict[str, Any]:
        n = min(n, max(20_000, n // 10))  # some 25 µs an item: the rate is what matters
        op = BenchOp.objects.create(owner=self.owner())
        p = WebProgress(op, get_channel_layer())
        pushes = 0
        push = p._push

        def counted(html: str) -> None:
            nonlocal pushes
            pushes += 1
            push(html)

        p._push = counted  # type: ignore[method-assign]
        began = time.perf_counter()
        for _item in range(n):
            pass
        bare = time.perf_counter() - began
        with counting.statements() as seen:
            began = time.perf_counter()
            for _item in p.track(range(n), total=n, label="Items"):
                pass
            tracked = time.perf_counter() - began
        return {
            "items": n,
            "bare_s": bare,
            "tracked_s": tracked,
            "per_item_us": (tracked - bare) / n * 1e6,
            "db": dict(seen),
            "db_writes": seen["UPDATE"] + seen["INSERT"],
            "pushes": pushes,
        }

    def wire(self) -> dict[str, Any]:
        layer = CapturingLayer()
        op = BenchOp.objects.create(owner=self.owner())
        p = WebProgress(op, layer)
        out: dict[str, Any] = {}

        def take(name: str, back: int = 1) -> None:
            out[name] = frame_size(layer.sent[-back])

        snapshot = {"type": "chat_message", "liveop_html": op._render_snapshot_html()}
        out["snapshot (running)"] = frame_size(snapshot)
        with p.stage("Prepare"):
            take("stage", back=2)
            p.status("Processing row 1234 of 5000")
            take("status")
            p._emit_percent(42)
            take("progress (percent)")
            p.log("Imported row 1234")
            take("log append (1 line)")
        p.result(message="Imported 5000 rows")
        take("result (terminal)")
        op.refresh_from_db()
        snapshot = {"type": "chat_message", "liveop_html": op._render_snapshot_html()}
        out["snapshot (finished)"] = frame_size(snapshot)
        return out


def build() -> DjlKit:
    return DjlKit()
