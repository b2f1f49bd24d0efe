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
    out.append(scale(results))
    out.append("\n### Ratios against the peers (liveops-htmx / peer; below 1: ours is lower)\n")
    out.append(
        grid(
            ["measure", "setup", "ours", "bare relay", "ratio", "django-liveops", "ratio"],
            ratios(results),
        )
    )
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


def _pace(r: dict[str, Any]) -> str:
    pace = r.get("pace") or {}
    kept = "kept" if pace.get("kept") else "NOT kept"
    return f"{pace.get('wanted_per_s')}, {pace.get('achieved_per_s')} {kept}"


def scale(results: dict[str, Any]) -> str:
    """Tables 7-12: the scale scenarios."""
    out: list[str] = []
    out.append("\n### 7. Many operations on one server process\n")
    out.append(
        grid(
            [
                "setup",
                "ops x viewers",
                "pushes/s wanted, made",
                "stale p50 ms",
                "stale p99 ms",
                "got result",
                "dropped",
                "frames",
                "server CPU s",
                "µs CPU/frame",
                "KiB/op",
                "KiB/viewer",
            ],
            [
                [
                    r["label"],
                    f"{r.get('ops')} x {r.get('per_op')}",
                    _pace(r),
                    _ms(r, "staleness", "p50_ms"),
                    _ms(r, "staleness", "p99_ms"),
                    r.get("with_result"),
                    r.get("dropped"),
                    r.get("frames"),
                    r.get("server_cpu_s"),
                    r.get("cpu_us_per_frame"),
                    r.get("kib_per_op"),
                    r.get("kib_per_viewer") or r.get("error"),
                ]
                for r in results.get("many", [])
            ],
        )
    )
    out.append("\n### 8. One list page watching many operations (one socket)\n")
    out.append(
        grid(
            [
                "setup",
                "ops",
                "frames/s",
                "bytes/s",
                "bytes/frame",
                "row stale p50 ms",
                "row stale p99 ms",
                "rows ended finished",
                "server CPU s",
            ],
            [
                [
                    r["label"],
                    r.get("ops"),
                    r.get("frames_per_s"),
                    r.get("bytes_per_s"),
                    r.get("bytes_per_frame"),
                    _ms(r, "staleness", "p50_ms"),
                    _ms(r, "staleness", "p99_ms"),
                    r.get("finished_rows"),
                    r.get("server_cpu_s"),
                ]
                for r in results.get("list", [])
            ],
        )
    )
    out.append("\n### 9. Two servers, two workers, two Redis shards; one shard restarted\n")
    out.append(
        grid(
            [
                "setup",
                "viewers",
                "ops",
                "got result",
                "dropped",
                "stale p50 ms",
                "stale p99 ms",
                "live again p50 s",
                "live again max s",
                "restart s",
                "commands per shard",
                "server CPU s",
            ],
            [
                [
                    r["label"],
                    r.get("viewers"),
                    r.get("ops"),
                    r.get("with_result"),
                    r.get("dropped"),
                    _ms(r, "staleness", "p50_ms"),
                    _ms(r, "staleness", "p99_ms"),
                    _s(_ms(r, "reconverged", "p50_ms")),
                    _s(_ms(r, "reconverged", "max_ms")),
                    r.get("restart_up_after_s"),
                    " / ".join(str(s["commands"]) for s in r.get("shard_load", []))
                    or r.get("error"),
                    " / ".join(str(c) for c in r.get("server_cpu_s", [])),
                ]
                for r in results.get("shards", [])
            ],
        )
    )
    out.append("\n### 10. Transports (one operation)\n")
    out.append(
        grid(
            [
                "setup",
                "transport",
                "viewers",
                "stale p50 ms",
                "stale p99 ms",
                "got result",
                "µs CPU/frame",
            ],
            [
                [
                    r["label"],
                    r["transport"],
                    r.get("viewers"),
                    _ms(r, "staleness", "p50_ms"),
                    _ms(r, "staleness", "p99_ms"),
                    r.get("with_result"),
                    r.get("cpu_us_per_frame") or r.get("error"),
                ]
                for r in results.get("transports", [])
            ],
        )
    )
    out.append("\n### 11. How cost grows (plots: grow-viewers.png, grow-ops.png)\n")
    out.append(
        grid(
            [
                "setup",
                "grows",
                "ops x viewers",
                "stale p50 ms",
                "stale p99 ms",
                "µs CPU/frame",
                "got result",
            ],
            [
                [
                    r["label"],
                    r["axis"],
                    f"{r.get('ops')} x {r.get('per_op')}",
                    _ms(r, "staleness", "p50_ms"),
                    _ms(r, "staleness", "p99_ms"),
                    r.get("cpu_us_per_frame"),
                    f"{r.get('with_result')}/{r.get('viewers')}",
                ]
                for r in results.get("grow", [])
            ],
        )
    )
    out.append("\n### 12. Operations nobody watches\n")
    out.append(
        grid(
            [
                "setup",
                "ops updating",
                "server CPU s, idle",
                "server CPU s, updating",
                "RSS added KiB",
            ],
            [
                [
                    r["label"],
                    r.get("ops"),
                    r.get("idle_cpu_s"),
                    r.get("server_cpu_s"),
                    r.get("kib_added"),
                ]
                for r in results.get("unwatched", [])
            ],
        )
    )
    return "\n".join(out)


def _s(ms: Any) -> Any:
    return None if ms is None else round(ms / 1000, 2)


#: (measure, section of the results, its value in a row); peers compare by server and size
MEASURES: list[tuple[str, str, Any]] = [
    ("latency p50 ms", "latency", lambda r: _ms(r, "latency", "p50_ms")),
    ("fan-out p99 ms", "fanout", lambda r: _ms(r, "staleness", "p99_ms")),
    ("many ops p99 ms", "many", lambda r: _ms(r, "staleness", "p99_ms")),
    ("many ops µs CPU/frame", "many", lambda r: r.get("cpu_us_per_frame")),
    ("many ops KiB/viewer", "many", lambda r: r.get("kib_per_viewer")),
    ("list row p99 ms", "list", lambda r: _ms(r, "staleness", "p99_ms")),
    ("list bytes/s", "list", lambda r: r.get("bytes_per_s")),
    ("shards: live again max ms", "shards", lambda r: _ms(r, "reconverged", "max_ms")),
    ("memory KiB/idle viewer", "memory", lambda r: r.get("kib_per_viewer")),
    ("unwatched: server CPU s", "unwatched", lambda r: r.get("server_cpu_s")),
]


def _same(rows: list[dict[str, Any]], row: dict[str, Any], system: str) -> dict[str, Any] | None:
    def like(r: dict[str, Any], keys: tuple[str, ...]) -> bool:
        return r["system"] == system and all(r.get(k) == row.get(k) for k in keys)

    for keys in (("server", "layer", "viewers", "ops"), ("server", "viewers", "ops"), ("server",)):
        found = [r for r in rows if like(r, keys)]
        if found:
            return found[0]
    return None


def ratios(results: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, section, value in MEASURES:
        section_rows = [r for r in results.get(section, []) if "error" not in r]
        for row in section_rows:
            if row["system"] != "htmx" or row.get("kind", "status") != "status":
                continue
            mine = value(row)
            line: list[Any] = [name, row["label"].split(" / ", 1)[1], mine]
            for system in ("relay", "djl"):
                other = _same(section_rows, row, system)
                theirs = value(other) if other else None
                line += [theirs, round(mine / theirs, 2) if mine is not None and theirs else None]
            rows.append(line)
    return rows
