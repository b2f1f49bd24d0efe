"""The summary tables (Markdown, so the README can show them as printed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def grid(head: Sequence[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(row: dict[str, Any], key: str, q: str) -> Any:
    return (row.get(key) or {}).get(q)


def render(results: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    out: list[str] = []
    out.append("### 1. Single-viewer latency (p.status() -> frame at the client)\n")
    out.append(
        grid(
            [
                "setup",
                "calls",
                "rate/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "call p50 ms",
                "call p99 ms",
                "bytes/frame",
            ],
            [
                [
                    r["label"],
                    r.get("n"),
                    r.get("rate_per_s"),
                    _ms(r, "latency", "p50_ms"),
                    _ms(r, "latency", "p95_ms"),
                    _ms(r, "latency", "p99_ms"),
                    _ms(r, "publish_cost", "p50_ms"),
                    _ms(r, "publish_cost", "p99_ms"),
                    r.get("bytes_per_frame"),
                ]
                for r in results["latency"]
            ],
        )
    )
    out.append("\n### 2. Fan-out under overload (one operation, one server process)\n")
    out.append(
        grid(
            [
                "setup",
                "viewers",
                "updates",
                "stale p50 ms",
                "stale p99 ms",
                "all have result ms",
                "got result",
                "dropped",
                "close codes",
                "frames/viewer",
                "server CPU s",
            ],
            [
                [
                    r["label"],
                    r.get("viewers"),
                    f"{r.get('updates')} {r.get('kind')}",
                    _ms(r, "staleness", "p50_ms"),
                    _ms(r, "staleness", "p99_ms"),
                    r.get("all_have_result_ms"),
                    r.get("with_result"),
                    r.get("dropped"),
                    " ".join(f"{k}x{v}" for k, v in (r.get("close_codes") or {}).items())
                    or r.get("error"),
                    r.get("frames_per_viewer"),
                    r.get("server_cpu_s"),
                ]
                for r in results["fanout"]
            ],
        )
    )
    out.append("\n### 3. Connect storm\n")
    out.append(
        grid(
            [
                "setup",
                "viewers",
                "spread s",
                "connected",
                "connects/s",
                "to snapshot p50 ms",
                "p99 ms",
                "extra frames per connected viewer",
                "frames per new viewer",
            ],
            [
                [
                    r["label"],
                    r.get("viewers"),
                    r.get("spread_s"),
                    r.get("connected"),
                    r.get("connects_per_s"),
                    _ms(r, "connect_to_snapshot", "p50_ms"),
                    _ms(r, "connect_to_snapshot", "p99_ms"),
                    r.get("extra_frames_per_watcher"),
                    r.get("frames_per_new_viewer"),
                ]
                for r in results["storm"]
            ],
        )
    )
    out.append("\n### 4. Worker overhead of p.track()\n")
    out.append(
        grid(
            [
                "system",
                "items",
                "bare loop s",
                "tracked s",
                "µs/item",
                "DB writes",
                "DB statements",
                "pushes",
            ],
            [
                [
                    r["label"].split(" / ")[0],
                    r["items"],
                    round(r["bare_s"], 4),
                    round(r["tracked_s"], 4),
                    round(r["per_item_us"], 3),
                    r["db_writes"],
                    " ".join(f"{k}x{v}" for k, v in r["db"].items()),
                    r["pushes"],
                ]
                for r in results["track"]
            ],
        )
    )
    out.append("\n### 5. Server memory per idle viewer\n")
    out.append(
        grid(
            ["setup", "viewers", "RSS before MiB", "RSS after MiB", "KiB/viewer"],
            [
                [
                    r["label"],
                    r["opened"],
                    r["rss_before_mib"],
                    r["rss_after_mib"],
                    r["kib_per_viewer"],
                ]
                for r in results["memory"]
            ],
        )
    )
    out.append("\n### 6. Wire cost (bytes per frame)\n")
    rows = []
    for system, frames in results["wire"].items():
        for name, size in frames.items():
            rows.append([system, name, size["frame"], size["deflated"], size["layer"] or None])
    out.append(grid(["system", "fragment", "bytes", "deflated", "channel-layer bytes"], rows))
    out.append("\n### Targets\n")
    out.append(
        grid(
            ["target", "measured", "wanted", "met"],
            [
                [
                    c["name"],
                    c["measured"],
                    c["target"],
                    {True: "yes", False: "NO", None: "—"}[c["met"]],
                ]
                for c in checks
            ],
        )
    )
    return "\n".join(out) + "\n"
