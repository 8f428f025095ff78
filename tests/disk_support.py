"""A real small disk for the tests of what a full one does: a tmpfs mounted for one test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's spelling: "1m") mounted on `mount_point` (made here) until the
    block ends; skips the test where it cannot be mounted (it needs root and `mount`)."""
    mount_point.mkdir()
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if not mounted:
        pytest.skip("mounting a tmpfs needs root and a kernel that allows it")
    try:
        yield mount_point
    finally:
        # Lazily only where a plain unmount fails (still busy): no mount outlives its test.
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def resize_tmpfs(mount_point: Path, size: str) -> None:
    """Give the tmpfs on `mount_point` (from `mounted_tmpfs`) `size` in place, its files kept:
    room made on a full disk, for the run after the one that failed there."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True)
