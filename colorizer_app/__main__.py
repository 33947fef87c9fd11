"""``python -m colorizer_app`` and the bundle's entry point (see build.spec)."""

import multiprocessing

from colorizer_app.cli import entry

if __name__ == "__main__":
    multiprocessing.freeze_support()  # frozen bundles: child processes must not rerun main
    entry()
