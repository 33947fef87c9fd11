"""Temporary files for atomic writes: beside the target, created with the user's umask."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_temp(target: Path, suffix: str = ".part") -> tuple[int, Path]:
    """Create a new hidden file next to ``target``; return its descriptor and path.

    Unlike ``tempfile.mkstemp`` (always 0600), the file gets the permissions any new file of
    the user would get, so a finished output is as readable as one written directly.
    """
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666), tmp
        except FileExistsError:
            continue
