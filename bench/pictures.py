"""Picture intake in the real window: a 24 MP camera JPEG and a 4000 × 3000 PNG screenshot
dropped on it, from the drop to the tile in the message box (checked, scaled down, stored,
thumbnailed and judged for its automatic detail off the UI thread). Each runs in a process of
its own, for a clean peak memory. Prints one JSON object as its last line."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "camera_jpeg_24mp": ("harbour.jpg", (6000, 4000)),
    "screenshot_png_12mp": ("screen.png", (4000, 3000)),
}


def make(path: Path, size: tuple[int, int]) -> None:
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", size, (236, 236, 236))
    draw = ImageDraw.Draw(picture)
    # Detail everywhere, as in a real photo or a screen of text (flat colour compresses to nothing).
    for y in range(0, size[1], 24):
        draw.text(
            (20 + (y * 7) % 90, y),
            "The quick brown fox jumps over the lazy dog 0123456789 " * 8,
            fill=(20, 20, 20),
        )
    if path.suffix == ".jpg":
        picture.save(path, "JPEG", quality=92)
    else:
        picture.save(path, "PNG")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one(path: Path) -> dict[str, float]:
    from _harness import LoopGaps, wait_for
    from PySide6.QtWidgets import QApplication

    from app.core.paths import resolve_paths
    from app.ui.application import build
    from tests.window_input import drop_files

    app = QApplication([])
    hearth = build(resolve_paths(tempfile.mkdtemp(prefix="hearth-bench-")).ensure(), theme="light")
    window = hearth.window
    window.resize(1280, 800)
    shown = time.perf_counter()
    wait_for(lambda: time.perf_counter() - shown > 1.5)
    before = peak_rss_mb()
    gaps = LoopGaps()
    gaps.start()
    started = time.perf_counter()
    drop_files(window, [path])
    wait_for(lambda: len(window.composer.pending()) == 1)
    intake_ms = (time.perf_counter() - started) * 1000
    gaps.stop()
    result = {
        "intake_ms": round(intake_ms),
        "ui_peak_mb": round(peak_rss_mb()),
        "ui_peak_before_mb": round(before),
        "ui_max_stall_ms": round(max(gaps.gaps), 1),
        "detail": window.composer.pending()[0].detail,
        "auto_detail_tokens": window.composer.pending()[0].auto_detail,
    }
    hearth.shutdown()
    app.quit()
    return result


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one(Path(sys.argv[2]))))
        return
    folder = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    results = {}
    for case, (name, size) in CASES.items():
        path = folder / name
        make(path, size)
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(path)], capture_output=True, text=True, check=True
        )
        results[case] = json.loads(done.stdout.strip().splitlines()[-1]) | {
            "file_mb": round(path.stat().st_size / 1e6, 1)
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
