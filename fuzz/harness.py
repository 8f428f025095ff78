"""What every fuzz target shares: atheris when it is installed, and a start from the seeds."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

try:
    import atheris
except ImportError:  # the corpus test runs the targets without atheris
    atheris = None


@contextlib.contextmanager
def instrumented(module_name: str) -> Iterator[None]:
    """Around a target's imports: under atheris the code under test gets coverage feedback."""
    if atheris is not None and module_name == "__main__":
        with atheris.instrument_imports():
            yield
    else:
        yield


def fuzz(seeds: Sequence[bytes], one_input: Callable[[bytes], None]) -> None:
    """Run `one_input` under atheris with the command line's libFuzzer options."""
    assert atheris is not None, "pip install atheris to fuzz"
    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):
        # No corpus folder given: start from the seeds (libFuzzer adds what it finds there).
        corpus = tempfile.mkdtemp(prefix="cookiewall-fuzz-")
        for number, seed in enumerate(seeds):
            Path(corpus, f"seed-{number}").write_bytes(seed)
        argv.append(corpus)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
