"""Entry point: ``python -m app`` starts the GUI; ``--worker`` makes this process the inference worker."""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    multiprocessing.freeze_support()
    if argv[:1] == ["--worker"]:
        from app.engine.worker import main as worker_main

        return worker_main()
    from app.cli import parse_args

    args = parse_args(argv)
    if args.self_test:
        from app.ui.self_test import run_self_test

        if not args.model:
            print("--self-test needs --model PATH", file=sys.stderr)
            return 2
        return run_self_test(args.model)
    from app.ui.application import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
