"""A run folder's files for download, confined to that folder.

A requested path is checked part by part (no absolute paths, no '..', no hidden staging
folders) and then resolved: only a regular file inside the run folder is ever served, so a
symlink pointing elsewhere is refused too.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from scaler_wizard.server.schemas import FileEntry


class FileRefusedError(LookupError):
    """No servable file at that path in the run folder."""


def list_files(run: Path) -> list[FileEntry]:
    root = run.resolve()
    entries = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue  # `.<name>.partial` staging folders are not part of the artifact yet
        if path.is_file() and not path.is_symlink():
            entries.append(FileEntry(path=relative.as_posix(), size_bytes=path.stat().st_size))
    return entries


def resolve_file(run: Path, relative: str) -> Path:
    pure = PurePosixPath(relative)
    bad = (
        not relative
        or "\\" in relative
        or "\x00" in relative
        or pure.is_absolute()
        or any(part in ("", ".", "..") or part.startswith(".") for part in pure.parts)
    )
    if bad:
        raise FileRefusedError(f"not a file path inside the run: {relative!r}")
    root = run.resolve()
    path = (root / pure).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise FileRefusedError(f"no file {relative!r} in run {run.name}")
    return path
