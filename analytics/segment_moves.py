"""Moving a segment out of the spool (to the archive, to quarantine) without ever replacing a
file already there: that file may be the only copy of events ingested long ago.

A plain rename replaces its target. Here the segment is hard-linked to its new name, which
fails when the name is taken, and only then unlinked from the spool. A name that is taken by
a byte-for-byte equal file needs no second copy (another run moved this very segment, or a
backup restored it): the spool's copy is removed. Taken by another file, the segment goes to
the first free name `<stem>.2.parquet`, `<stem>.3.parquet`, ... beside it.

A name that is the segment's own directory entry, spelled another way (an archive that is the
spool itself, or reaches it through a symbolic link, a bind mount, `..`), or a link to it, is
no second copy, however equal its bytes: removing "the spool's copy" would remove the only
one. Such a move is refused (OSError) and the segment stays where it is. A hard link under
another name is a real second entry and counts as a copy.

Some views of a folder give its files other identities (a FUSE passthrough such as bindfs, an
NFS share mounted twice with other options): there `samefile` cannot tell, so the spool's
copy is first set aside under a hidden name, and removed only if the equal file is still
there without it; else it is put back, and the move refused as above.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import itertools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from analytics.spool import temporary_name


@dataclass(frozen=True)
class Moved:
    """Where a segment went: `path`, and whether that is another name than the one asked
    for (`renamed`), or nowhere, because an equal file was there already (`already_there`)."""

    path: Path
    renamed: bool = False
    already_there: bool = False


def _candidates(target: Path) -> itertools.chain[Path]:
    numbered = (target.with_name(f"{target.stem}.{n}{target.suffix}") for n in itertools.count(2))
    return itertools.chain((target,), numbered)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _same_entry(a: Path, b: Path) -> bool:
    """Whether `a` and `b` end at one directory entry (through links, `..`, bind mounts):
    one file under one name, not two names of it."""
    real_a, real_b = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    if real_a.name != real_b.name:
        return False
    try:
        return os.path.samefile(real_a.parent, real_b.parent)
    except OSError:
        return False


def _already_there(source: Path, candidate: Path) -> bool:
    """Whether `candidate` holds a copy of `source`, so that `source` may go. Raises OSError
    when it is `source` itself: nothing was moved, and nothing may be removed."""
    if not _same_bytes(source, candidate):
        return False
    if _same_entry(source, candidate):
        raise OSError(
            errno.EINVAL, f"{str(candidate)!r} is the segment itself (the same folder), not a copy"
        )
    return True


def _set_aside_name(source: Path) -> Path:
    # Hidden, and no `*.parquet` (DuckDB's glob takes dot-files): never listed as a segment.
    # Not a temporary's name either: if a crash left it, it may be the only copy, and
    # `remove_stale_temps` would delete it.
    return source.with_name(f".set-aside-{source.name}.partial")


def _remove_copied(source: Path, candidate: Path) -> None:
    """Remove `source`, whose bytes `candidate` holds, unless `candidate` is `source` itself
    seen through a view that gives it another identity (see the module): then OSError, and
    `source` stays."""
    aside = _set_aside_name(source)
    if os.path.lexists(aside):
        raise FileExistsError(errno.EEXIST, f"{str(aside)!r} is in the way", str(aside))
    os.rename(source, aside)
    try:
        # Opened, not just looked up: a cached entry of the other view may outlive the name.
        still_there = _same_bytes(aside, candidate)
    except BaseException:
        os.rename(aside, source)
        raise
    if not still_there:
        os.rename(aside, source)
        raise OSError(
            errno.EINVAL,
            f"{str(candidate)!r} is the segment itself (another view of its folder), not a copy",
        )
    aside.unlink()


def move_without_replacing(source: Path, target: Path) -> Moved:
    """Move `source` to `target`, or beside it under a free name (see the module); raise
    OSError when it cannot be moved (FileNotFoundError: `source` is gone; EINVAL: `target`
    is `source` itself, reached another way)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for candidate in _candidates(target):
        if os.path.lexists(candidate):
            if _already_there(source, candidate):
                _remove_copied(source, candidate)
                return Moved(candidate, renamed=candidate != target, already_there=True)
            continue
        try:
            os.link(source, candidate)
        except FileExistsError:
            # Taken since the check (another run archiving at the same time): look again.
            if _already_there(source, candidate):
                _remove_copied(source, candidate)
                return Moved(candidate, renamed=candidate != target, already_there=True)
            continue
        except FileNotFoundError:
            raise
        except OSError:
            # Another filesystem (EXDEV), one without hard links, or a segment of another
            # user (the web server's) that fs.protected_hardlinks forbids linking: copy under
            # a temporary name beside the free one, then claim that name as above.
            _copy_then_claim(source, candidate)
            return Moved(candidate, renamed=candidate != target)
        source.unlink()
        return Moved(candidate, renamed=candidate != target)
    raise AssertionError("unreachable: the candidates never end")


def _copy_then_claim(source: Path, candidate: Path) -> None:
    # Not `*.parquet` while incomplete: a reader's glob of the archive must not take it.
    temporary = candidate.with_name(temporary_name(candidate.name, tag=f"move-{os.getpid()}-"))
    try:
        shutil.copy2(source, temporary)
        try:
            os.link(temporary, candidate)
        except FileExistsError:
            raise
        except OSError:
            # No hard links on the target's filesystem at all: the name was free a moment
            # ago; only a run archiving the same segment at this instant could take it, and
            # that run's file is this one's bytes.
            os.replace(temporary, candidate)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    source.unlink()
