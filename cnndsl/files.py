"""Writing files without losing any: every file a cnndsl command writes (build's
source, weights and ONNX graph, graph's diagrams, train's checkpoints, metrics
and curves) goes through this module.

- Atomic: the content goes to a temporary file in the target's folder, is
  flushed to disk, and is renamed over the target (os.replace).  A crash, a
  kill or a full disk leaves the old file or the new one, never a torn one, and
  no temporary behind.
- Never an input: a target that is, by device and inode, a file the command
  reads (the spec, a library it imports, the weights) is refused, whatever
  symbolic or hard link leads to it.
- Never what the user did not name: a file named on the command line (`-o
  PATH`) may be replaced.  A file whose name cnndsl derives (the weights beside
  the generated source, the .dot written when Graphviz is missing) is replaced
  only if this command created it or `owned(path)` shows that cnndsl wrote it
  for this same output before.

See docs/limits.md ("Files cnndsl writes").
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Union

from cnndsl.errors import SpecError

# what to write: the bytes, the text (written as UTF-8), or a function that
# writes the file at the temporary path it is given (torch.save, savefig, dot -o)
Content = Union[bytes, str, Callable[[Path], None]]


class OutputError(SpecError):
    """A file that may not or cannot be written; the old file, if any, is intact."""


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether `a` and `b` are one file (device and inode), through any link."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


@dataclass
class Outputs:
    """The files one command reads, and the ones it has written so far.

    `reads` lists (description, path): ("the spec", "net.cnn"),
    ("the weights file", "best.pt"), ..."""

    reads: list[tuple[str, Path]] = field(default_factory=list)
    created: set[str] = field(default_factory=set)  # real paths written so far
    written: list[str] = field(default_factory=list)  # the same, as they were named
    # the hint when a derived name holds a file cnndsl did not write
    derived_hint: str = "move or delete it, or name the output explicitly"

    @classmethod
    def reading(cls, pairs: Iterable[tuple[str, str | Path | None]]) -> "Outputs":
        return cls([(what, Path(path)) for what, path in pairs if path])

    @classmethod
    def for_network(cls, network, **others: str | Path | None) -> "Outputs":
        """Outputs that guard the files `network` was read from (the spec and the
        libraries it imports) and `others`, e.g. weights=PATH."""
        reads = [("the spec" if k == 0 else "a library the spec imports", f)
                 for k, f in enumerate(getattr(network, "files", ()))]
        return cls.reading(reads + [(f"the {what} file", f) for what, f in others.items()])

    def target(self, path: str | Path, named: bool = True,
               owned: Callable[[Path], bool] | None = None) -> Path:
        """The real path that writing `path` replaces, or OutputError if it must
        not be written (an input; a folder; a derived name holding a file that
        neither this command nor, per `owned`, an earlier cnndsl wrote)."""
        path = Path(path)
        for what, source in self.reads:
            if same_file(path, source):
                link = "" if os.path.abspath(path) == os.path.abspath(source) else \
                    f" ({path} is a link to {source})"
                raise OutputError(f"refusing to write {path}: it is {what} this command "
                                  f"reads{link}", hint="choose another output file")
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a directory",
                              hint="give a file name, e.g. -o model.onnx")
        real = Path(os.path.realpath(path))
        if (not named and real.exists() and str(real) not in self.created
                and not (owned is not None and owned(real))):
            raise OutputError(f"refusing to replace {path}: cnndsl would name it itself, and "
                              f"it holds a file this command did not write",
                              hint=self.derived_hint)
        return real

    def write(self, path: str | Path, content: Content, named: bool = True,
              owned: Callable[[Path], bool] | None = None) -> Path:
        """Write `content` to `path` atomically, after the checks of target()."""
        return self.write_all([(path, content, named, owned)])[0]

    def write_all(self, items: list[tuple]) -> list[Path]:
        """Write several files as one step: (path, content, named, owned) each.
        Every target is checked and every content staged before any file is
        replaced, so a refusal or a failed write changes nothing."""
        targets = [self.target(path, named, owned) for path, _, named, owned in items]
        staged: list[tuple[Path | None, Path]] = []
        try:
            for real, (path, content, _, _) in zip(targets, items):
                staged.append((_stage(real, content, path), real))
            for temp, real in staged:
                _commit(temp, real)
        finally:
            for temp, _ in staged:
                if temp is not None:
                    with contextlib.suppress(OSError):
                        temp.unlink()
        self.created.update(str(real) for real in targets)
        self.written += [str(path) for path, *_ in items]
        return targets


def write_atomic(path: str | Path, content: Content) -> Path:
    """Write `content` to `path` atomically (no checks: for files a command
    owns by construction, such as a run folder's checkpoints)."""
    return Outputs().write(path, content)


def duplicate_atomic(source: str | Path, path: str | Path) -> Path:
    """Make `path` a copy of `source` atomically: a hard link renamed over `path`
    (no bytes written; `source` replaced later by a rename leaves `path` as it
    is), or, where the file system has no hard links, a copy of its bytes."""
    source, path = Path(source), Path(path)
    temp = path.parent / f"{temporary_name(path)}{os.getpid()}.link{path.suffix}"
    try:
        temp.unlink(missing_ok=True)
        os.link(source, temp)
    except OSError:
        return write_atomic(path, source.read_bytes())
    _commit(temp, path)
    return path


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of the file at `path`, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def temporary_name(path: Path) -> str:
    """The prefix of the temporaries written for `path` (".last.pt."): a run
    folder clears stale ones it finds (cnndsl.train.rundir)."""
    return f".{path.name}."


def _stage(real: Path, content: Content, shown: str | Path) -> Path | None:
    """Write `content` next to `real`; returns the temporary (None when `real`
    is a device or a pipe, written in place: /dev/stdout, /dev/null)."""
    if real.exists() and not real.is_file():
        _fill(real, content, shown)
        return None
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=temporary_name(real), suffix=".tmp" + real.suffix,
                                        dir=real.parent)
        os.close(handle)
    except OSError as exc:
        raise cannot_write(shown, exc) from None
    temp = Path(name)
    try:
        os.chmod(temp, _mode_for(real))
        _fill(temp, content, shown)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise cannot_write(shown, exc) from None
        raise
    return temp


def _fill(path: Path, content: Content, shown: str | Path) -> None:
    try:
        if isinstance(content, str):
            content = content.encode("utf-8")
        if isinstance(content, bytes):
            with open(path, "wb") as handle:
                handle.write(content)
                handle.flush()
        else:
            content(path)
    except OSError as exc:
        raise cannot_write(shown, exc) from None


def _commit(temp: Path | None, real: Path) -> None:
    if temp is None:
        return
    try:
        os.replace(temp, real)
    except OSError as exc:
        raise cannot_write(real, exc) from None
    with contextlib.suppress(OSError):  # make the rename itself durable
        folder = os.open(real.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _mode_for(real: Path) -> int:
    """The replaced file's permissions, or those open() gives a new file."""
    try:
        return stat.S_IMODE(real.stat().st_mode)
    except OSError:
        mask = os.umask(0)  # the umask can only be read by setting it
        os.umask(mask)
        return 0o666 & ~mask


def cannot_write(path: str | Path, exc: Exception) -> OutputError:
    """The error for a failed write: which file, and the system's reason."""
    if isinstance(exc, OutputError):
        return exc
    lines = str(exc).strip().splitlines()
    reason = getattr(exc, "strerror", None) or (lines[0] if lines else type(exc).__name__)
    return OutputError(f"cannot write {path}: {reason}",
                       hint="is the disk full or the folder read-only? files written before "
                            "are kept")
