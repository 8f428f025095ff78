"""A sealed segment damaged the way a bad disk block damages it: a few bytes of a column's
data page changed in place, the footer left intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def data_pages(path: Path, row_group: int = 0, column: str = "path") -> tuple[int, int]:
    """The byte range of `column`'s data pages in `row_group` (after its dictionary)."""
    meta = pq.read_metadata(path)
    index = next(i for i in range(meta.num_columns) if meta.schema.column(i).path == column)
    chunk = meta.row_group(row_group).column(index)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    return chunk.data_page_offset, start + chunk.total_compressed_size


def read_column(path: Path, column: str) -> list[object] | None:
    """`column`'s values read without checksums, as DuckDB reads them; None if that fails."""
    try:
        values: list[object] = pq.read_table(path, columns=[column]).column(column).to_pylist()
        return values
    except (OSError, pa.ArrowException):
        return None


def flips(path: Path, row_group: int = 0, column: str = "path") -> Iterator[None]:
    """Rewrite `path` with 4 bytes of `column`'s data pages in `row_group` flipped, at one
    offset after another (each time from the original bytes); the caller stops when one
    does what it looks for."""
    original = path.read_bytes()
    first, end = data_pages(path, row_group, column)
    for offset in range(first + 20, end - 4, 3):
        damaged = bytearray(original)
        for k in range(offset, offset + 4):
            damaged[k] ^= 0x5A
        path.write_bytes(bytes(damaged))
        yield


def damage_silently(path: Path, row_group: int = 0, column: str = "path") -> None:
    """Flip 4 bytes of a data page so that, read without checksums, the segment decodes
    without an error into other values (the damage no footer check and no DuckDB read sees)."""
    expected = read_column(path, column)
    for _ in flips(path, row_group, column):
        values = read_column(path, column)  # None: caught by decoding anyway, look on
        if values is not None and expected is not None and values != expected:
            assert len(values) == len(expected)
            return
    raise AssertionError("no flip in the data pages was read silently as other values")
