"""Whether a sealed segment's pages still hold what was written: damage in place (bit rot).

A segment is sealed once and then only read, but the bytes on disk can still change under it:
a failing disk or controller, a network filesystem, a copy tool that garbles a block. A
footer check (`analytics.footers`) does not see that: the footer is intact, only a data page
differs. Most such damage decodes without an error into other values (a `path` page's
dictionary indices pointing at other paths: pages counted twice, others never), and DuckDB
ignores Parquet's page checksums, so it reads them silently wrong.

Segments are therefore written with a CRC-32 per page (`write_segment`,
``write_page_checksum=True``), and `verify_segment` reads every page with Arrow, which checks
them. A segment written before page checksums (or by an engine that writes none) has nothing
to check against: it passes unless a page fails to decode.
"""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from analytics.errors import first_line
from analytics.footers import required_column_damage


def verify_segment(path: str | os.PathLike[str]) -> str | None:
    """Why the segment at `path` is damaged (a page whose CRC-32 does not match, or that does
    not decode, or a footer that no longer says a column is REQUIRED), or None when every
    page reads back as written.

    Reads every column of every row group, one row group at a time, so that memory stays
    that of one row group whatever the segment's size. Raises FileNotFoundError and
    PermissionError (nothing is known about the contents then: the caller decides), and
    never anything else for a damaged file."""
    try:
        with pq.ParquetFile(path, page_checksum_verification=True) as segment:
            # The footer itself has no checksum: a flipped bit there that DuckDB reads as
            # other values is found by what the footer says, not by reading pages.
            footer_damage = required_column_damage(segment.metadata)
            if footer_damage is not None:
                return footer_damage
            for index in range(segment.num_row_groups):
                segment.read_row_group(index)
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as exc:  # Arrow raises OSError for a CRC, ArrowInvalid and others
        return first_line(exc)
    return None
