"""The targets liveops-htmx is held to, checked against a run's results.

Targets 7-12 (the scale scenarios) are also asserted by ``--quick``, with generous
margins for a noisy machine (:data:`QUICK`): there the kit must be ahead of the bare
relay, or near it, and lose nothing. Their rows carry ``"quick": True``.
"""

from __future__ import annotations

from typing import Any


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def _p50(row: dict[str, Any] | None) -> float | None:
    if row is None or "latency" not in row:
        return None
    value = row["latency"]["p50_ms"]
    return float(value) if value is not None else None


#: full run / quick run: p99 staleness (ms), CPU per frame as a share of the relay's,
#: and the bound on reconverging after a shard restart (s).
FULL = {"p99_ms": 100.0, "cpu_share": 0.5, "reconverge_s": 35.0, "unwatched_cpu_s": 0.05}
QUICK = {"p99_ms": 1000.0, "cpu_share": 1.5, "reconverge_s": 45.0, "unwatched_cpu_s": 0.25}
#: the polling viewers' interval (``POLL_INTERVAL``'s default)
POLL_INTERVAL_MS = 2000.0


def peer(rows: list[dict[str, Any]], row: dict[str, Any], system: str) -> dict[str, Any] | None:
    """The row of ``system`` comparable to ``row``: same server and layer, else same server."""
    return _find(rows, system=system, server=row["server"], layer=row["layer"]) or _find(
        rows, system=system, server=row["server"]
    )


def _p99(row: dict[str, Any] | None) -> float | None:
    return None if row is None else (row.get("staleness") or {}).get("p99_ms")


def check(results: dict[str, Any], biggest_fan: int, quick: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, measured: str, target: str, met: bool | None) -> None:
        out.append({"name": name, "measured": measured, "target": target, "met": met})

    scale(results, quick, out)

    lat = results["latency"]
    for row in lat:
        if row["system"] != "htmx":
            continue
        mine = _p50(row)
        server, layer = row["server"], row["layer"]
        relay = _p50(
            _find(lat, system="relay", server=server, layer=layer)
            or _find(lat, system="relay", server=server)
        )
        djl = _p50(_find(lat, system="djl", server=server))
        polling = _p50(_find(lat, system="celery"))
        checks = []
        if relay is not None:
            checks.append(("bare relay", relay, 0.5))
        if djl is not None:
            checks.append(("django-liveops", djl, 0.5))
        if polling is not None and server == "uvicorn":
            checks.append(("polling", polling, 1 / 50))
        for other, theirs, factor in checks:
            met = None if mine is None else mine <= theirs * factor
            add(
                f"1. latency p50, {row['label']} vs {other}",
                f"{mine} ms vs {theirs} ms",
                f"<= {theirs * factor:.2f} ms",
                met,
            )
    for row in results["fanout"]:
        if row["system"] != "htmx" or row.get("viewers") != biggest_fan:
            continue
        stale = (row.get("staleness") or {}).get("p99_ms")
        met = (
            stale is not None
            and stale <= 250
            and row.get("with_result") == row["viewers"]
            and row.get("dropped") == 0
        )
        add(
            f"2. fan-out {row['viewers']} viewers ({row['kind']}), {row['label']}",
            f"p99 {stale} ms, result {row.get('with_result')}/{row['viewers']}, "
            f"dropped {row.get('dropped')}",
            "p99 <= 250 ms, all get the result, none dropped",
            met,
        )
    for row in results["storm"]:
        if row["system"] == "htmx":
            extra = row.get("extra_frames_per_watcher")
            add(
                f"3. connect storm, {row['label']}",
                f"{extra} extra frames per connected viewer",
                "0",
                extra == 0,
            )
    for row in results["track"]:
        if row["system"] == "htmx":
            us = row["per_item_us"]
            add("4. track() overhead", f"{us:.3f} µs/item", "<= 1 µs/item", us <= 1.0)
    mem = results["memory"]
    for row in mem:
        if row["system"] != "htmx":
            continue
        relay = _find(mem, system="relay", server=row["server"])
        if relay is None:
            continue
        mine, theirs = row["kib_per_viewer"], relay["kib_per_viewer"]
        if mine is None or theirs is None:
            continue
        add(
            f"5. memory per idle viewer, {row['server']}",
            f"{mine} KiB vs relay {theirs} KiB",
            f"<= {theirs} KiB",
            mine <= theirs,
        )
    return out


def scale(results: dict[str, Any], quick: bool, out: list[dict[str, Any]]) -> None:
    """Targets 7-12: many operations, a list page, shards, transports, growth, unwatched."""
    m = QUICK if quick else FULL

    def add(name: str, measured: str, target: str, met: bool | None) -> None:
        out.append(
            {"name": name, "measured": measured, "target": target, "met": met, "quick": True}
        )

    for row in results.get("many", []):
        if row["system"] != "htmx":
            continue
        p99 = _p99(row)
        lost = row.get("with_result") != row.get("viewers") or row.get("dropped") != 0
        kept = (row.get("pace") or {}).get("kept")
        add(
            f"7. {row.get('ops')} operations x {row.get('per_op')} viewers, {row['label']}",
            f"p99 {p99} ms, result {row.get('with_result')}/{row.get('viewers')}, "
            f"dropped {row.get('dropped')}, workers kept pace: {kept}",
            f"p99 <= {m['p99_ms']:.0f} ms, every viewer gets every result, none dropped",
            p99 is not None and p99 <= m["p99_ms"] and not lost,
        )
        relay = peer(results["many"], row, "relay")
        mine, theirs = row.get("cpu_us_per_frame"), (relay or {}).get("cpu_us_per_frame")
        if mine is not None and theirs:
            add(
                f"7. server CPU per delivered frame, {row['label']}",
                f"{mine} µs vs relay {theirs} µs",
                f"<= {m['cpu_share']} x relay = {theirs * m['cpu_share']:.1f} µs",
                mine <= theirs * m["cpu_share"],
            )
    for row in results.get("list", []):
        if row["system"] != "htmx":
            continue
        p99 = _p99(row)
        add(
            f"8. list page of {row.get('ops')} operations, {row['label']}",
            f"row p99 {p99} ms, {row.get('finished_rows')}/{row.get('ops')} rows end finished",
            f"row p99 <= {m['p99_ms']:.0f} ms, every row ends finished",
            p99 is not None and p99 <= m["p99_ms"] and row.get("finished_rows") == row.get("ops"),
        )
    for row in results.get("shards", []):
        if row["system"] != "htmx":
            continue
        back = (row.get("reconverged") or {}).get("max_ms")
        add(
            f"9. {row.get('viewers')} viewers on 2 servers, 2 Redis shards, one restarted, "
            f"{row['label']}",
            f"result {row.get('with_result')}/{row.get('viewers')}, dropped {row.get('dropped')}, "
            f"all live again {None if back is None else round(back / 1000, 1)} s after the restart",
            f"every viewer gets every result, none dropped, live again within "
            f"{m['reconverge_s']:.0f} s",
            back is not None
            and back <= m["reconverge_s"] * 1000
            and row.get("with_result") == row.get("viewers")
            and row.get("dropped") == 0,
        )
    for row in results.get("transports", []):
        if row["system"] != "htmx":
            continue
        p99 = _p99(row)
        # A poller sees an update at its next poll: up to its interval (2 s) later.
        limit = m["p99_ms"] + (POLL_INTERVAL_MS if row["transport"] == "poll" else 0)
        add(
            f"10. transport {row['transport']}, {row.get('viewers')} viewers, {row['label']}",
            f"p99 {p99} ms, result {row.get('with_result')}/{row.get('viewers')}",
            f"p99 <= {limit:.0f} ms, every viewer gets the result",
            p99 is not None and p99 <= limit and row.get("with_result") == row.get("viewers"),
        )
    grow = results.get("grow", [])
    for axis in ("viewers", "ops"):
        mine_rows = [r for r in grow if r["system"] == "htmx" and r["axis"] == axis]
        if not mine_rows:
            continue
        size = "viewers" if axis == "viewers" else "ops"
        row = max(mine_rows, key=lambda r: r.get(size) or 0)
        relay = _find(grow, system="relay", axis=axis, server=row["server"], **{size: row[size]})
        mine, theirs = row.get("cpu_us_per_frame"), (relay or {}).get("cpu_us_per_frame")
        if mine is not None and theirs:
            add(
                f"11. CPU per frame at {row[size]} {size}, {row['label']}",
                f"{mine} µs vs relay {theirs} µs",
                f"<= {m['cpu_share']} x relay = {theirs * m['cpu_share']:.1f} µs",
                mine <= theirs * m["cpu_share"],
            )
    for row in results.get("unwatched", []):
        if row["system"] != "htmx":
            continue
        extra = (row.get("server_cpu_s") or 0) - (row.get("idle_cpu_s") or 0)
        add(
            f"12. {row.get('ops')} operations updating, nobody watching, {row['label']}",
            f"server CPU {row.get('server_cpu_s')} s vs {row.get('idle_cpu_s')} s idle, "
            f"RSS +{row.get('kib_added')} KiB",
            f"CPU <= idle + {m['unwatched_cpu_s']} s, RSS + <= 1024 KiB",
            extra <= m["unwatched_cpu_s"] and (row.get("kib_added") or 0) <= 1024,
        )
