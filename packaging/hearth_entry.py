"""What the frozen Hearth runs: the app, or with ``--worker`` the inference worker."""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
