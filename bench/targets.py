"""The targets liveops-htmx is held to, checked against a run's results."""

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


def check(results: dict[str, Any], biggest_fan: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, measured: str, target: str, met: bool | None) -> None:
        out.append({"name": name, "measured": measured, "target": target, "met": met})

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
