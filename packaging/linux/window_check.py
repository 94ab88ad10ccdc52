"""The frozen bundle in a real X11 window, used as a person would: started on a virtual screen
(Xvfb) with a model, a question typed with xdotool and sent with Enter. It passes once the answer
is saved in the bundle's database, and leaves a screenshot of the window beside the bundle.

    .venv/bin/python packaging/linux/window_check.py dist/Hearth/Hearth MODEL.gguf

Prints one line of JSON; exits 0 only if the answer came.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from app.core.paths import resolve_paths

QUESTION = "What is the capital of France? Answer in one sentence."
DEADLINE_S = 120


def main() -> int:
    bundle, model = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            print(json.dumps({"ok": False, "error": f"{tool} is not installed"}))
            return 1
    screenshot = bundle.parent.parent / "window-check.png"
    home = Path(tempfile.mkdtemp(prefix="hearth-window-"))
    display = next(f":{n}" for n in range(73, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24"], stderr=subprocess.DEVNULL)
    env = {**os.environ, "DISPLAY": display}
    env.pop("QT_QPA_PLATFORM", None)
    app = None
    try:
        time.sleep(1)
        app = subprocess.Popen([bundle, "--data-dir", home, "--model", model], env=env)
        window = wait_for(lambda: xdotool(env, "search", "--name", "Hearth").split()[:1], 30)
        if not window:
            return report(False, "the window never appeared")
        xdotool(env, "windowsize", window[0], "1280", "800")
        time.sleep(2)  # mapped, laid out, the message box focused
        xdotool(env, "windowfocus", window[0])  # no window manager here to do it
        xdotool(env, "type", "--delay", "20", QUESTION)
        # Enter sends once the model is ready; until then the box keeps the text and says why.
        sent = wait_for(lambda: press_enter(env) or asked(home), 60)
        if not sent:
            grab(env, screenshot)
            return report(False, "the question was never sent", screenshot=str(screenshot))
        answer = wait_for(lambda: saved_answer(home), DEADLINE_S)
        time.sleep(1)  # the last repaint
        grab(env, screenshot)
        if not answer:
            return report(False, "no answer was saved", screenshot=str(screenshot))
        return report(True, answer=answer, screenshot=str(screenshot))
    finally:
        if app is not None:
            app.terminate()
            app.wait(30)
        server.terminate()
        shutil.rmtree(home, ignore_errors=True)


def xdotool(env: dict, *arguments: str) -> str:
    done = subprocess.run(["xdotool", *arguments], env=env, capture_output=True, text=True)
    return done.stdout


def press_enter(env: dict) -> bool:
    xdotool(env, "key", "Return")
    return False


def wait_for(probe, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    return None


def _first(home: Path, query: str) -> str:
    database = resolve_paths(str(home)).database
    if not database.exists():
        return ""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            row = connection.execute(query).fetchone()
    except sqlite3.Error:
        return ""
    return row[0] if row else ""


def asked(home: Path) -> str:
    return _first(home, "SELECT content FROM messages WHERE role = 'user'")


def saved_answer(home: Path) -> str:
    return _first(home, "SELECT content FROM messages WHERE role = 'assistant' AND status = 'complete'")


def grab(env: dict, target: Path) -> None:
    """The whole virtual screen, through Qt (the X server's own framebuffer)."""
    script = (
        "import sys\n"
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication(sys.argv[:1])\n"
        "app.primaryScreen().grabWindow(0).save(sys.argv[1])\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(target)], env={**env, "QT_QPA_PLATFORM": "xcb"}, check=False
    )


def report(ok: bool, error: str = "", **facts) -> int:
    print(json.dumps({"ok": ok, **({"error": error} if error else {}), **facts}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
