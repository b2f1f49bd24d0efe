"""The bare relay: ``async_to_sync(layer.group_send)`` per update, the plain way."""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from bench.kits import pacing
from bench.kits.held import Held
from bench.project.relay import RELAY_TYPE


class RelayKit:
    def prepare(self, count: int, owned: bool = False) -> list[dict[str, Any]]:
        groups = [f"bench-relay-{uuid.uuid4().hex[:12]}" for _ in range(count)]
        return [{"group": g, "query": f"group={g}"} for g in groups]

    def steady(self, target: dict[str, Any]) -> None:
        return None

    def series(self, target: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        layer = get_channel_layer()
        assert layer is not None
        send = async_to_sync(layer.group_send)
        group, size = target["group"], int(spec.get("size", 0))

        def publish(i: int, t: float) -> None:
            send(group, {"type": RELAY_TYPE, "text": pacing.stamp_text(t, i, size)})

        def finish() -> None:
            send(group, {"type": RELAY_TYPE, "text": pacing.RESULT.ljust(size, "x")})

        return pacing.run(publish, finish, spec)

    def drive(self, targets: list[dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
        """Many groups paced in this process, sent through one held loop (bench.kits.held)."""
        layer, held = get_channel_layer(), Held()
        assert layer is not None
        size = int(spec.get("size", 0))
        groups, tags = [t["group"] for t in targets], [t.get("tag") for t in targets]

        def publish(k: int, i: int, t: float) -> None:
            text = pacing.stamp_text(t, i, size, tag=tags[k])
            held.send(layer.group_send, groups[k], {"type": RELAY_TYPE, "text": text})

        def finish(k: int) -> None:
            text = f"{pacing.RESULT} o={tags[k]}".ljust(size, "x")
            held.send(layer.group_send, groups[k], {"type": RELAY_TYPE, "text": text})

        out = pacing.run_many(publish, finish, len(groups), spec)
        held.flush()
        out["failed"] = held.failed
        return out

    def list_target(self, targets: list[dict[str, Any]]) -> dict[str, Any]:
        """One socket that joins every operation's group."""
        return {"query": "groups=" + ",".join(t["group"] for t in targets)}

    def track(self, n: int) -> dict[str, Any]:
        return {}

    def wire(self) -> dict[str, Any]:
        return {}


def build() -> RelayKit:
    return RelayKit()
