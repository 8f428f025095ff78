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
    folders = [arg for arg in argv[1:] if not arg.startswith("-")]
    if not folders:
        # No corpus folder given: make one (libFuzzer adds what it finds there, so it is kept
        # and named, for the next run to start from).
        folders = [tempfile.mkdtemp(prefix="cookiewall-fuzz-")]
        argv.append(folders[0])
        print(f"corpus: {folders[0]}", file=sys.stderr)
    corpus = Path(folders[0])
    if not corpus.exists() or not any(corpus.iterdir()):
        # A new or empty corpus starts from the seeds.
        corpus.mkdir(parents=True, exist_ok=True)
        for number, seed in enumerate(seeds):
            (corpus / f"seed-{number}").write_bytes(seed)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
