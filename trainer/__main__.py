"""``python -m trainer [options]``: the train command alone (what torchrun launches)."""

import sys

from trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
