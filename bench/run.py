"""The liveops-htmx benchmark: ``python bench/run.py [--quick]`` (see bench/README.md).

Compares liveops-htmx with a bare Channels relay, django-liveops 0.4.1 and
celery-progress 0.5, each as real processes on this machine: Redis, an ASGI server
(uvicorn and daphne), a worker and WebSocket (or HTTP polling) clients. Prints the
summary tables, writes bench/out/report.json and bench/out/*.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke run: small sizes, no thresholds"
    )
    parser.add_argument(
        "--no-assert", action="store_true", help="report missed targets without failing"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated systems to run (htmx,relay,djl,celery)"
    )
    parser.add_argument(
        "--steps",
        default="",
        help="comma-separated measurements to run (wire,memory,latency,storm,fanout,track,"
        "many,unwatched,list,grow,transports,shards)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated steps during which py-spy records the server (bench/out/profile-*)",
    )
    parser.add_argument(
        "--profile-format", default="raw", choices=("raw", "speedscope"), help="py-spy's format"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import venv

    if not venv.inside():
        venv.reexec(Path(__file__), argv)
    venv.ensure()

    from bench import plan, plots, redisdb, table, targets
    from bench.limits import raise_nofile
    from bench.procs import OUT, RUN
    from bench.runner import Runner
    from bench.stats import clean

    began = time.monotonic()
    raise_nofile()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in RUN.glob("*.log") if RUN.exists() else ():
        old.unlink()
    sizes = plan.QUICK if args.quick else plan.FULL
    sessions = plan.sessions(args.quick)
    if args.only:
        wanted = set(args.only.split(","))
        sessions = [s for s in sessions if s.setup.system in wanted]
    if args.steps:
        steps = set(args.steps.split(","))
        sessions = [replace(s, steps=tuple(x for x in s.steps if x in steps)) for s in sessions]
        sessions = [s for s in sessions if s.steps]
    url, own_redis = redisdb.find()
    prefix = redisdb.prefix()
    print(f"bench: Redis {url.rsplit('@', 1)[-1]} (keys under {prefix}*)", flush=True)
    try:
        runner = Runner(
            sizes,
            url,
            prefix,
            profile_steps=frozenset(filter(None, args.profile.split(","))),
            profile_format=args.profile_format,
        )
        results = runner.run(sessions)
    finally:
        removed = redisdb.cleanup(url, prefix)
        if own_redis is not None:
            own_redis.stop()
        print(f"bench: removed {removed} Redis keys of this run", flush=True)
    checks = targets.check(results, max(sizes.fan_viewers), quick=args.quick)
    report = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full",
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "sizes": asdict(sizes),
            "wall_s": round(time.monotonic() - began, 1),
        },
        **results,
        "targets": checks,
    }
    (OUT / "report.json").write_text(json.dumps(clean(report), indent=1))
    made = plots.all_plots(results, OUT)
    print()
    print(table.render(results, checks))
    print(
        f"bench: wrote bench/out/report.json and {', '.join(made)} in {report['meta']['wall_s']} s"
    )
    # --quick asserts the scale targets alone, with their quick margins.
    missed = [c for c in checks if c["met"] is False and (c.get("quick") or not args.quick)]
    if results["failures"]:
        print(f"bench: {len(results['failures'])} session(s) failed", file=sys.stderr)
        return 1
    if missed and not args.no_assert:
        print(f"bench: {len(missed)} target(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
