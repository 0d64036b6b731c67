"""Packed rows on disk, read back lazily: training data that does not fit in memory.

A store is a folder of flat little-endian int32 files, one row after another: `input_ids`,
`labels` and `position_ids` (rows × seq_length each), `counts` (examples per row) with their
`lengths` (flattened), and `label_tokens` per row. Rows are memory-mapped, so opening a
store of any size costs a few arrays of one number per row.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from scaler_wizard.data.packing import PackedRow
from scaler_wizard.data.tokenize import IGNORE_INDEX

if TYPE_CHECKING:
    import numpy as np

TOKEN_FILES = ("input_ids", "labels", "position_ids")
META_FILE = "rows.json"
STORE_VERSION = 1


class RowStoreWriter:
    """Appends packed rows to a new store; `close` makes it readable."""

    def __init__(self, folder: Path, seq_length: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.seq_length = seq_length
        self.rows = 0
        self.real_tokens = 0
        self.label_tokens = 0
        names = (*TOKEN_FILES, "counts", "lengths", "label_tokens")
        self._files = {name: (folder / f"{name}.i32").open("wb") for name in names}

    def write(self, rows: Sequence[PackedRow]) -> None:
        import numpy as np

        if not rows:
            return
        for name in TOKEN_FILES:
            block = np.asarray([getattr(r, name) for r in rows], dtype="<i4")
            if block.shape[1] != self.seq_length:
                raise ValueError(f"rows are {block.shape[1]} tokens, the store's {self.seq_length}")
            self._files[name].write(block.tobytes())
        counts = [len(r.lengths) for r in rows]
        labels = [sum(1 for label in r.labels if label != IGNORE_INDEX) for r in rows]
        self._files["counts"].write(np.asarray(counts, dtype="<i4").tobytes())
        self._files["lengths"].write(
            np.asarray([n for r in rows for n in r.lengths], dtype="<i4").tobytes()
        )
        self._files["label_tokens"].write(np.asarray(labels, dtype="<i4").tobytes())
        self.rows += len(rows)
        self.real_tokens += sum(r.real_tokens for r in rows)
        self.label_tokens += sum(labels)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        meta = {
            "version": STORE_VERSION,
            "rows": self.rows,
            "seq_length": self.seq_length,
            "real_tokens": self.real_tokens,
            "label_tokens": self.label_tokens,
        }
        (self.folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


class _Rows(Sequence[PackedRow]):
    """Random access by `row(i)`; slices, negative indices and bounds handled once here."""

    @abstractmethod
    def row(self, index: int) -> PackedRow:
        """Row `index`, already checked to be within 0..len-1."""

    @overload
    def __getitem__(self, index: int) -> PackedRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[PackedRow]: ...

    def __getitem__(self, index: int | slice) -> PackedRow | list[PackedRow]:
        if isinstance(index, slice):
            return [self.row(i) for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"row {index} of {len(self)}")
        return self.row(index % len(self))

    def __iter__(self) -> Iterator[PackedRow]:
        for i in range(len(self)):
            yield self.row(i)


class StoredRows(_Rows):
    """The rows of a closed store, each read from disk when asked for."""

    def __init__(self, folder: Path) -> None:
        import numpy as np

        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"not a finished row store (no {META_FILE}): {folder}")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        if self.meta.get("version") != STORE_VERSION:
            raise ValueError(f"row store {folder} has version {self.meta.get('version')}")
        self.folder = folder
        rows, width = int(self.meta["rows"]), int(self.meta["seq_length"])
        self._tokens = {name: _map(folder / f"{name}.i32", (rows, width)) for name in TOKEN_FILES}
        self.counts = np.fromfile(folder / "counts.i32", dtype="<i4")
        self.label_counts = np.fromfile(folder / "label_tokens.i32", dtype="<i4")
        self._lengths = _map(folder / "lengths.i32", (int(self.counts.sum()),))
        self._offsets = np.concatenate([[0], np.cumsum(self.counts, dtype=np.int64)])
        # Every row holds at least one example, so reduceat's segments are never empty.
        self.real_counts = (
            np.add.reduceat(np.asarray(self._lengths, dtype=np.int64), self._offsets[:-1])
            if rows
            else np.zeros(0, dtype=np.int64)
        )

    def __len__(self) -> int:
        return int(self.meta["rows"])

    def row(self, index: int) -> PackedRow:
        start, end = self._offsets[index], self._offsets[index + 1]
        ids, labels, positions = (self._tokens[name][index].tolist() for name in TOKEN_FILES)
        return PackedRow(ids, labels, positions, self._lengths[start:end].tolist())


class RowView(_Rows):
    """Rows picked from several stores in a given order: (store, row) pairs."""

    def __init__(self, stores: Sequence[StoredRows], picks: np.ndarray) -> None:
        self.stores = list(stores)
        self.picks = picks  # int64 [n, 2]

    def __len__(self) -> int:
        return len(self.picks)

    def row(self, index: int) -> PackedRow:
        store, row = self.picks[index]
        return self.stores[int(store)].row(int(row))

    def label_tokens(self) -> int:
        return self._total("label_counts")

    def real_tokens(self) -> int:
        return self._total("real_counts")

    def _total(self, per_row: str) -> int:
        total = 0
        for i, store in enumerate(self.stores):
            rows = self.picks[self.picks[:, 0] == i, 1]
            total += int(getattr(store, per_row)[rows].sum())
        return total


def _map(path: Path, shape: tuple[int, ...]) -> Any:
    import numpy as np

    if shape[0] == 0:  # an empty file cannot be memory-mapped
        return np.zeros(shape, dtype="<i4")
    return np.memmap(path, dtype="<i4", mode="r", shape=shape)
