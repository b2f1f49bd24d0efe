"""PNG plots of a run (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _short(label: str) -> str:
    return label.replace("django-liveops 0.4.1", "django-liveops").replace(
        "celery-progress 0.5", "celery-progress"
    )


def latency(results: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 5))
    for row in results["latency"]:
        samples = sorted(v for v in row.get("samples", []) if v is not None)
        if samples:
            ax.plot(
                samples,
                [(k + 1) / len(samples) for k in range(len(samples))],
                label=_short(row["label"]),
            )
    ax.set_xscale("log")
    ax.set_xlabel("latency from p.status() to the frame at the client (ms, log)")
    ax.set_ylabel("fraction of updates")
    ax.set_title("1. Single-viewer latency (CDF)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(
    ax: Any, labels: list[str], series: dict[str, list[float]], ylabel: str, log: bool = False
) -> None:
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        xs = [x + k * width for x in range(len(labels))]
        ax.bar(xs, [v if v is not None else 0 for v in values], width, label=name)
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))])
    ax.set_xticklabels(labels, rotation=25, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)


def fanout(results: dict[str, Any], path: Path) -> None:
    rows = [r for r in results["fanout"] if "staleness" in r]
    labels = [f"{_short(r['label'])}\n{r['viewers']} viewers {r['kind']}" for r in rows]
    fig, ax = plt.subplots(figsize=(11, 5.5))
    _bars(
        ax,
        labels,
        {
            "staleness p50": [r["staleness"]["p50_ms"] for r in rows],
            "staleness p99": [r["staleness"]["p99_ms"] for r in rows],
            "all viewers have the result": [r["all_have_result_ms"] for r in rows],
        },
        "ms (log)",
        log=True,
    )
    ax.axhline(250, color="red", linestyle="--", linewidth=1)
    ax.set_title("2. Fan-out: 20 updates/s for 5 s, then the result (missing bar: never)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def storm(results: dict[str, Any], path: Path) -> None:
    rows = results["storm"]
    labels = [_short(r["label"]) for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    _bars(
        left,
        labels,
        {"connects with snapshot per s": [r.get("connects_per_s") for r in rows]},
        "per second",
    )
    _bars(
        right,
        labels,
        {"extra frames per connected viewer": [r.get("extra_frames_per_watcher") for r in rows]},
        "frames",
    )
    fig.suptitle("3. Connect storm")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def memory(results: dict[str, Any], path: Path) -> None:
    rows = results["memory"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    _bars(
        ax,
        [_short(r["label"]) for r in rows],
        {"KiB per idle viewer": [r["kib_per_viewer"] for r in rows]},
        "KiB",
    )
    ax.set_title("5. Server RSS per idle viewer")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def wire(results: dict[str, Any], path: Path) -> None:
    names: list[str] = []
    sizes: list[int] = []
    for system, frames in results["wire"].items():
        for name, size in frames.items():
            names.append(f"{system}: {name}")
            sizes.append(size["frame"])
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(names) + 1.5))
    ax.barh(names, sizes)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("bytes per frame (log)")
    ax.set_title("6. Wire cost")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def grow(results: dict[str, Any], axis: str, path: Path) -> None:
    """Server CPU per delivered frame and p99 staleness as viewers or operations grow."""
    rows = [r for r in results.get("grow", []) if r["axis"] == axis and "staleness" in r]
    if not rows:
        raise ValueError(f"no growth rows along {axis}")
    size = "viewers" if axis == "viewers" else "ops"
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = sorted((r for r in rows if r["label"] == label), key=lambda r: r[size])
        xs = [r[size] for r in mine]
        left.plot(xs, [r["cpu_us_per_frame"] for r in mine], marker="o", label=_short(label))
        right.plot(xs, [r["staleness"]["p99_ms"] for r in mine], marker="o", label=_short(label))
    what = "viewers of one operation" if axis == "viewers" else "operations, 2 viewers each"
    for ax, ylabel in (
        (left, "server CPU per delivered frame (µs, log)"),
        (right, "p99 staleness (ms, log)"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(what)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"11. How cost grows with {what} (5 updates/s each)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def all_plots(results: dict[str, Any], out: Path) -> list[str]:
    made = []
    drawn = {
        "grow-viewers": any(r["axis"] == "viewers" for r in results.get("grow", [])),
        "grow-ops": any(r["axis"] == "ops" for r in results.get("grow", [])),
    }
    for name, draw in (
        ("latency", latency),
        ("fanout", fanout),
        ("storm", storm),
        ("memory", memory),
        ("wire", wire),
        ("grow-viewers", lambda r, p: grow(r, "viewers", p)),
        ("grow-ops", lambda r, p: grow(r, "ops", p)),
    ):
        if not drawn.get(name, True):
            continue
        try:
            draw(results, out / f"{name}.png")
            made.append(f"{name}.png")
        except Exception as exc:  # a plot must not lose the run's numbers
            print(f"bench: plot {name} failed: {exc!r}")
    return made
