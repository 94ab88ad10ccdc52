"""Command-line options of the GUI."""

from __future__ import annotations

import argparse

from app import APP_NAME, __version__


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hearth", description=f"{APP_NAME}: a private, offline assistant.")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("--data-dir", help="keep all data, settings and models under this folder")
    parser.add_argument("--model", help="load this GGUF model file at start")
    parser.add_argument("--theme", choices=("system", "light", "dark"), help="colour theme")
    parser.add_argument(
        "files",
        nargs="*",
        help="pictures or sounds to attach to a new chat, or a GGUF model to load; given to the "
        "running Hearth if there is one",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="with --model: start the worker, load the model, generate a few tokens, print one line "
        "of JSON and exit 0 if all of that worked (no window)",
    )
    # For bench/startup.py: print when the window is up and how much memory the UI uses, then quit.
    parser.add_argument("--report-startup", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)
