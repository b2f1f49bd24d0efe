"""liveops-htmx: ``WebProgress`` on a real operation row, pushed by the kit's publisher."""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from typing import Any

import msgpack
from django.contrib.auth.models import AnonymousUser

from bench.kits import counting, pacing, users
from bench.kits.sizes import deflated
from bench.project.htmxapp.models import BenchOp
from liveops_htmx.progress import OperationCancelled, WebProgress
from liveops_htmx.rendering import fragments
from liveops_htmx.security import make_list_token, make_subscription_token
from liveops_htmx.testing import CapturingChannelLayer
from liveops_htmx.workerside.heartbeat import get_heart
from liveops_htmx.workerside.publisher import get_publisher


def sizes(message: dict[str, Any]) -> dict[str, int]:
    frame = str(message["liveop_html"])
    return {
        "frame": len(frame.encode()),
        "deflated": deflated(frame),
        "layer": len(msgpack.packb(message)),
    }


class HtmxKit:
    def prepare(self, count: int, owned: bool = False) -> list[dict[str, Any]]:
        """Operations without an owner, viewed anonymously; ``owned``: the bench user's."""
        if not owned:
            ops = [BenchOp.objects.create() for _ in range(count)]
            return [
                {
                    "pk": op.pk,
                    "model": op._meta.label_lower,
                    "query": "subscription_token=" + make_subscription_token(AnonymousUser(), op),
                }
                for op in ops
            ]
        user = users.owner()
        cookie = users.cookie(user)
        ops = [BenchOp.objects.create(owner=user) for _ in range(count)]
        return [
            {
                "pk": op.pk,
                "model": op._meta.label_lower,
                "query": "subscription_token=" + make_subscription_token(user, op),
                "cookie": cookie,
            }
            for op in ops
        ]

    def list_target(self, targets: list[dict[str, Any]]) -> dict[str, Any]:
        """The socket of ``{% liveops_list %}``: the owner's list token, rows of every operation."""
        user = users.owner()
        token = make_list_token(user)
        return {"query": f"subscription_token={token}", "cookie": users.cookie(user)}

    def drive(self, targets: list[dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
        """Many operations paced in this process, each with its own ``WebProgress``.

        Each beats while it runs, as under the kit's runners: a server that rereads a
        running row whose heartbeat is older than ``LOST_AFTER`` marks it lost.
        """
        progress = [WebProgress(BenchOp.objects.get(pk=t["pk"])) for t in targets]
        publisher = get_publisher()
        tags = [t.get("tag") for t in targets]
        lost: list[int] = []

        def publish(k: int, i: int, t: float) -> None:
            progress[k].status(pacing.stamp_text(t, i, tag=tags[k]))

        def finish(k: int) -> None:
            try:
                progress[k].result(message=f"{pacing.RESULT} o={tags[k]}")
            except OperationCancelled:  # marked lost or cancelled meanwhile: say so
                lost.append(tags[k])

        with ExitStack() as beating:
            for p in progress:
                beating.enter_context(get_heart().beating(p.op))
                p.start()
            publisher.flush()
            sent = dict(publisher.stats)
            out = pacing.run_many(publish, finish, len(progress), spec)
            publisher.flush()
        out["failed"] = publisher.stats["failed"] - sent.get("failed", 0)
        out["dropped"] = publisher.stats["dropped"] - sent.get("dropped", 0)
        out["ended_elsewhere"] = lost
        return out

    def steady(self, target: dict[str, Any]) -> None:
        p = WebProgress(BenchOp.objects.get(pk=target["pk"]))
        p.start()
        p.status("Working steadily")
        get_publisher().flush()

    def series(self, target: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        p = WebProgress(BenchOp.objects.get(pk=target["pk"]))
        p.start()
        publisher = get_publisher()
        publisher.flush()
        n = int(spec["n"])

        def publish(i: int, t: float) -> None:
            if spec.get("kind", "status") == "status":
                p.status(pacing.stamp_text(t, i))
            else:
                p.percent(100.0 * i / n)

        out = pacing.run(publish, lambda: p.result(message=pacing.RESULT), spec)
        publisher.flush()
        out["publisher"] = dict(publisher.stats)
        return out

    def track(self, n: int) -> dict[str, Any]:
        publisher = get_publisher()
        bare: list[float] = []
        tracked: list[float] = []
        for _ in range(3):
            began = time.perf_counter()
            for _item in range(n):
                pass
            bare.append(time.perf_counter() - began)
            p = WebProgress(BenchOp.objects.create())
            p.start()
            publisher.flush()
            sent = publisher.stats["sent"]
            with counting.statements() as seen:
                began = time.perf_counter()
                for _item in p.track(range(n), label="Items"):
                    pass
                tracked.append(time.perf_counter() - began)
            publisher.flush()
            pushes = publisher.stats["sent"] - sent
            p.result()
            publisher.flush()
        overhead = statistics.median(tracked) - statistics.median(bare)
        return {
            "items": n,
            "bare_s": statistics.median(bare),
            "tracked_s": statistics.median(tracked),
            "per_item_us": overhead / n * 1e6,
            "db": dict(seen),
            "db_writes": seen["UPDATE"] + seen["INSERT"],
            "pushes": pushes,
        }

    def wire(self) -> dict[str, Any]:
        layer = CapturingChannelLayer()
        op = BenchOp.objects.create()
        p = WebProgress(op, layer, interval=0.0)
        out: dict[str, Any] = {}

        def take(name: str) -> None:
            out[name] = sizes(layer.messages()[-1])

        out["snapshot (pending)"] = self._snapshot(op)
        p.start()
        take("start (state)")
        with p.stage("Prepare"):
            take("stage")
            p.status("Processing row 1234 of 5000")
            take("status")
            p.percent(42.5)
            take("progress (percent)")
            p.log("Imported row 1234")
            take("log append (1 line)")
            p.log("\n".join(f"Imported row {n}" for n in range(10)))
            take("log append (10 lines)")
            p.percent(50.0)
            p.status("Halfway there")
        p.log("\n".join(f"Imported row {n}" for n in range(100)))
        for row in p.track(range(40), label="Rows"):  # every item flushes (interval 0)
            if row == 20:
                break  # mid-loop: the last push has a count and an ETA
            time.sleep(0.001)
        take("progress (track: count, ETA)")
        out["snapshot (running, 100-line log)"] = self._snapshot(op)
        p.result(message="Imported 5000 rows", url="/imports/1/")
        take("result (terminal)")
        out["snapshot (finished)"] = self._snapshot(op)
        failing = WebProgress(BenchOp.objects.create(), layer, interval=0.0)
        failing.start()
        failing.error("The import failed: bad row 17")
        take("error (terminal)")
        return out

    @staticmethod
    def _snapshot(op: BenchOp) -> dict[str, int]:
        op.refresh_from_db()
        text = fragments.snapshot(op)
        return {"frame": len(text.encode()), "deflated": deflated(text), "layer": 0}


def build() -> HtmxKit:
    return HtmxKit()
