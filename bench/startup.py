"""Time from launching `python -m app` (or the bundle, with ``--executable dist/Hearth/Hearth``)
to its window being painted, and the UI process's memory once the engine has started (no model
loaded). Median of several launches. Prints one JSON object as its last line."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def launch_once(command: list[str]) -> tuple[float, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    with tempfile.TemporaryDirectory(prefix="hearth-startup-") as home:
        started = time.time()
        out = subprocess.run(
            [*command, "--data-dir", home, "--report-startup"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    return (report["shown_at"] - started) * 1000, report["rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--executable", help="a frozen Hearth to launch instead of `python -m app`")
    args = parser.parse_args()
    command = [args.executable] if args.executable else [sys.executable, "-m", "app"]
    launch_once(command)  # warm the OS file cache, as a second launch of an installed app would be
    results = [launch_once(command) for _ in range(args.runs)]
    window_ms = [r[0] for r in results]
    rss = [r[1] for r in results]
    print(
        json.dumps(
            {
                "launched": "bundle" if args.executable else "python -m app",
                "runs": args.runs,
                "window_ms_all": [round(v) for v in window_ms],
                "window_ms": round(statistics.median(window_ms)),
                "rss_mb": round(statistics.median(rss), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
