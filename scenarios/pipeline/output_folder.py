"""Output folders that never cost the user a file.

Every command that writes a folder (``run``, ``sweep``, ``compare``, ``report``, ``init``,
``prepare osm``) claims it with :func:`claim` before it reads a layer or solves anything, and
writes through the returned :class:`OutputFolder`. The rule:

* a folder that does not exist, or is empty: written into;
* a folder holding an earlier output of the same command, recognised by the manifest
  ``.siting-manifest.json`` that siting writes there (the command, and every file it wrote with
  its size and SHA-256): only those files are replaced, and only once the new output is complete;
  every other file in the folder stays as it is;
* any other non-empty folder (the scenario's own folder, the working directory, a folder with a
  thesis in it), or an earlier output one of whose files was changed after siting wrote it:
  refused before anything is read or solved, with one line naming the folder; nothing is deleted.

Crash consistency
-----------------
New files are written into a staging folder ``.siting-staging-<pid>-<random>`` *inside* the
target (so every move is a rename within one file system, hence atomic), marked by
``staging.json`` (owning pid, its start time, state). :meth:`OutputFolder.commit` then

1. checks again that the files it will replace are still the ones siting wrote (a user may have
   edited one during the solve: then nothing is replaced and the run fails);
2. rewrites the marker (atomically) with state ``committing`` and the list of moves and removals;
3. hard-links every file it will replace or remove into ``<staging>/.previous`` (a backup that
   costs no space; a copy where hard links are not supported);
4. moves every new file into place with ``os.replace`` (atomic per file: a reader sees the old or
   the new file, never a partial one), removes the files of the previous output that the new one
   no longer has, and moves the new manifest into place last;
5. removes the staging folder.

SIGINT and SIGTERM are blocked during steps 2-5 (milliseconds), so a signal lands either before
the commit (nothing changed) or after it (the new output complete). An error during step 4 (disk
full, a file made immutable) moves the backups back: the previous output is restored exactly. A
SIGKILL or a power cut cannot be cleaned up at death: the next siting command on the folder (it
holds the lock, so nobody else is writing there) finds the staging folder of a dead process and
deletes it (state ``staging``: the previous output was never touched) or finishes the commit from
it (state ``committing``: each new file is either still staged or already in place). The folder
thus ends with the complete previous output or the complete new one, never a mixture, and no copy
of it ever lives only in a hidden folder (no ``.old`` folder is ever made).

Two commands on one folder: the lock file ``.siting.lock`` (``fcntl.flock``) is taken before
anything is staged, and a second command refuses at once with one line. The lock file is removed
on release; whoever locks it checks that the file it locked is still the one at the path.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from siting.models.errors import ScenarioError

if TYPE_CHECKING:
    from siting.scenarios.schema import ScenarioBody

MANIFEST = ".siting-manifest.json"
LOCK = ".siting.lock"
STAGING_PREFIX = ".siting-staging-"
MARKER = "staging.json"
_STAGING_RE = re.compile(r"^\.siting-staging-(\d+)-[0-9a-f]+$")
_BACKUP = ".previous"

#: What the last claimed folder holds, for the one line printed when a signal stops the command.
_note: dict[str, str | None] = {"kept": None}


def kept_note() -> str:
    """What an interrupted command kept, e.g. ``nothing written; the previous output in X is unchanged``."""
    return _note["kept"] or "nothing written"


def reset_note() -> None:
    """Forget the last claim (a new command starts)."""
    _note["kept"] = None


class OutputFolderError(ScenarioError):
    """An output folder that cannot or must not be written (exit code 1)."""


# ------------------------------------------------------------------------------ manifest
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest siting wrote in ``folder``, or None (absent, unreadable or not siting's)."""
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != 1 or not isinstance(doc.get("kind"), str):
        return None
    files = doc.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and _plain_name(k) and isinstance(v, dict) and isinstance(v.get("sha256"), str)
        for k, v in files.items()
    ):
        return None
    return doc


def _plain_name(name: str) -> bool:
    """A file name directly in the folder (a manifest must never point elsewhere)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def _changed(folder: Path, name: str, entry: dict[str, Any]) -> bool:
    """Whether ``folder/name`` exists and differs from what the manifest says siting wrote."""
    p = folder / name
    if not os.path.lexists(p):
        return False
    if p.is_symlink() or not p.is_file():
        return True
    try:
        if entry.get("bytes") is not None and p.stat().st_size != entry["bytes"]:
            return True
        return _sha256_file(p) != entry["sha256"]
    except OSError:
        return True


# ------------------------------------------------------------------------------ processes
def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux /proc), to tell a live owner from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int, started: str | None) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return started is None or now is None or now == started


# ------------------------------------------------------------------------------ the folder
@dataclass
class OutputFolder:
    """A claimed output folder: locked, checked, with a staging folder inside it.

    Use as a context manager; write with :meth:`commit` (or write into :attr:`staging` and call
    :meth:`commit` without files). Leaving the block without a commit removes everything staged
    and any folder created for the claim; the lock is released either way.
    """

    path: Path
    kind: str
    staging: Path
    manifest: bool
    previous: dict[str, Any] | None
    update: bool = False
    created: list[Path] = field(default_factory=list)
    committed: bool = False
    _lock_fd: int | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def commit(self, files: dict[str, bytes] | None = None) -> None:
        """Put the new output in place (see the module docstring for the steps and their order)."""
        if self.committed:
            raise RuntimeError("output folder already committed")
        bad = [n for n in files or {} if not _plain_name(n) or n in (MARKER, _BACKUP, MANIFEST)]
        if self.manifest and bad:
            raise ValueError(f"output file names must be plain names inside the folder, not {', '.join(bad)}")
        try:
            for name, data in (files or {}).items():
                _write_file(self.staging / name, data)
        except OSError as exc:
            raise _os_error(exc, self.path) from None
        staged = sorted(p.name for p in self.staging.iterdir() if p.name not in (MARKER, _BACKUP, MANIFEST))
        prev_files: dict[str, Any] = dict(self.previous["files"]) if self.previous else {}
        if self.manifest:
            for name in staged:
                if not _plain_name(name) or not (self.staging / name).is_file():
                    raise RuntimeError(f"only plain files can be written with a manifest, not {name}")
            entries = {
                name: {"bytes": (self.staging / name).stat().st_size, "sha256": _sha256_file(self.staging / name)}
                for name in staged
            }
            listed = {**prev_files, **entries} if self.update else entries
            removes = [] if self.update else sorted(n for n in prev_files if n not in entries)
            try:
                _write_file(self.staging / MANIFEST, _manifest_bytes(self.kind, listed))
            except OSError as exc:
                raise _os_error(exc, self.path) from None
        else:
            removes = []
        # 1. whatever we replace must still be what siting wrote (or absent)
        for name in staged:
            if os.path.lexists(self.path / name) and name not in prev_files:
                raise OutputFolderError(
                    f"{self.path / name} appeared during the run and is not siting's: nothing was written; "
                    "move it away or give a new folder with --out"
                )
        for name in set(staged) | set(removes):
            if name in prev_files and _changed(self.path, name, prev_files[name]):
                raise OutputFolderError(
                    f"{self.path / name} was changed during the run: nothing was written; "
                    "keep your copy elsewhere and run again, or give a new folder with --out"
                )
        moves = staged + ([MANIFEST] if self.manifest else [])
        with _signals_blocked():
            backups = self.staging / _BACKUP
            done: list[str] = []
            try:
                _write_marker(self.staging, "committing", moves=moves, removes=removes)
                backups.mkdir()
                for name in set(moves) | set(removes):
                    if os.path.lexists(self.path / name):
                        _backup(self.path / name, backups / name)
                for name in staged:
                    os.replace(self.staging / name, self.path / name)
                    done.append(name)
                for name in removes:
                    (self.path / name).unlink(missing_ok=True)
                    done.append(name)
                if self.manifest:
                    os.replace(self.staging / MANIFEST, self.path / MANIFEST)
                _fsync_dir(self.path)
            except OSError as exc:
                _roll_back(self.path, backups, done)
                raise _os_error(exc, self.path) from None
            self.committed = True
            _note["kept"] = f"the new output in {self.path} is complete"
            shutil.rmtree(self.staging, ignore_errors=True)

    def add(self, files: dict[str, bytes]) -> None:
        """Put ``files`` in place now and keep the folder claimed: a folder that grows (``siting batch``).

        Each file is written into the staging folder, then the manifest is rewritten listing it
        (with its size and SHA-256) and the file moved into place with ``os.replace``: a reader
        sees the old or the new file, and a file in the folder is always one the manifest lists
        (a kill between the two leaves a listed file missing, which is not a change). A file that
        is in the folder but not in the manifest, or was changed after siting wrote it, is refused
        as in :meth:`commit`. Files listed earlier stay listed; nothing is removed. Do not mix
        with :meth:`commit` on one claim.
        """
        if not self.manifest:
            raise RuntimeError("add() needs a folder with a manifest")
        if self.committed:
            raise RuntimeError("output folder already committed")
        bad = [n for n in files if not _plain_name(n) or n in (MARKER, _BACKUP, MANIFEST)]
        if bad:
            raise ValueError(f"output file names must be plain names inside the folder, not {', '.join(bad)}")
        listed: dict[str, Any] = dict(self.previous["files"]) if self.previous else {}
        for name in files:
            if name not in listed and os.path.lexists(self.path / name):
                raise OutputFolderError(
                    f"{self.path / name} is not siting's: nothing was written; move it away or give a new folder with --out"
                )
            if name in listed and _changed(self.path, name, listed[name]):
                raise OutputFolderError(
                    f"{self.path / name} was changed after siting wrote it; keep your copy elsewhere and run "
                    "again, or give a new folder with --out"
                )
        try:
            for name, data in files.items():
                _write_file(self.staging / name, data)
                listed[name] = {"bytes": len(data), "sha256": sha256_bytes(data)}
            _write_file(self.staging / MANIFEST, _manifest_bytes(self.kind, listed))
            with _signals_blocked():
                os.replace(self.staging / MANIFEST, self.path / MANIFEST)
                for name in files:
                    os.replace(self.staging / name, self.path / name)
            _fsync_dir(self.path)
        except OSError as exc:
            raise _os_error(exc, self.path) from None
        self.previous = {"format": 1, "kind": self.kind, "files": listed}
        _note["kept"] = f"every file written so far in {self.path} is complete"

    def close(self) -> None:
        """Remove what was staged (unless committed), folders made for the claim, and the lock."""
        if not self.committed:
            shutil.rmtree(self.staging, ignore_errors=True)
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                (self.path / LOCK).unlink()
            os.close(self._lock_fd)
            self._lock_fd = None
        if not self.committed:
            for c in self.created:  # deepest first
                try:
                    c.rmdir()
                except OSError:
                    break


def claim(
    target: str | Path,
    kind: str,
    names: Iterable[str] = (),
    *,
    manifest: bool = True,
    update: bool = False,
) -> OutputFolder:
    """Check, lock and stage the output folder ``target`` for a command of ``kind``.

    Parameters
    ----------
    target : the output folder.
    kind : what writes it (``run``, ``sweep``, ``compare``, ``init``, ...); an earlier output is
        replaced only by the same kind.
    names : every file the command may write; one of them already in the folder and not listed in
        its manifest makes the folder someone else's.
    manifest : write a manifest (False for ``init`` / ``prepare osm``: their folder becomes the
        user's, so it must be new or empty).
    update : add ``names`` to an existing output of ``kind`` (``siting report``) rather than
        replace it; the folder must hold one.

    Raises
    ------
    OutputFolderError : the folder is someone else's, is locked by another siting command, or
        cannot be written; nothing was created or changed.
    """
    path = Path(target).expanduser()
    path = Path(os.path.abspath(path))
    names = tuple(names)
    _check_path(path)
    if path.exists():
        _classify(path, kind, names, manifest=manifest, update=update, strict=False)
    elif update:
        raise OutputFolderError(f"{path} not found: give the folder of a finished `siting run`")
    created: list[Path] = []
    p = path
    while not os.path.lexists(p):
        created.append(p)
        p = p.parent
    fd: int | None = None
    staging: Path | None = None
    try:
        for c in reversed(list(created)):
            try:
                c.mkdir()
            except FileExistsError:  # another command made it just now: not ours to remove
                created.remove(c)
        fd = _lock(path)
        _recover(path)
        previous = _classify(path, kind, names, manifest=manifest, update=update, strict=True)
        if previous is not None:
            _note["kept"] = f"nothing written; the previous output in {path} is unchanged"
        elif created:
            _note["kept"] = f"nothing written ({path} was not created)"
        else:
            _note["kept"] = f"nothing written; {path} is unchanged"
        staging = path / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o700)
        _write_marker(staging, "staging")
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if fd is not None:
            with contextlib.suppress(OSError):
                (path / LOCK).unlink()
            os.close(fd)
        for c in created:
            with contextlib.suppress(OSError):
                c.rmdir()
        if isinstance(exc, OSError):
            raise _os_error(exc, path) from None
        raise
    return OutputFolder(
        path=path,
        kind=kind,
        staging=staging,
        manifest=manifest,
        previous=previous,
        update=update,
        created=created,
        _lock_fd=fd,
    )


@contextlib.contextmanager
def claimed(target: str | Path, kind: str, names: Iterable[str] = (), **kw: Any) -> Iterator[OutputFolder]:
    """:func:`claim` as a ``with`` block."""
    folder = claim(target, kind, names, **kw)
    with folder:
        yield folder


def write_folder(target: str | Path, kind: str, files: dict[str, bytes]) -> Path:
    """Claim ``target`` and write ``files`` into it at once (for writers with nothing slow to do)."""
    with claimed(target, kind, files) as folder:
        folder.commit(files)
    return folder.path


# ------------------------------------------------------------------------------ checks
def _check_path(path: Path) -> None:
    """A file in the way, a name too long: refused before anything is created."""
    for parent in [path, *path.parents]:
        if os.path.lexists(parent):
            if not parent.is_dir():
                what = "the output folder" if parent == path else f"the output folder {path} lies under it, but it"
                raise OutputFolderError(
                    f"{parent} is a file, not a folder ({what} must be a folder); give another folder with --out"
                )
            break
    existing = next(p for p in [path, *path.parents] if os.path.lexists(p))
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in path.relative_to(existing).parts:
        if len(os.fsencode(part)) > name_max:
            raise OutputFolderError(
                f"output folder name {part[:40]}... is {len(os.fsencode(part))} bytes long; this file system "
                f"allows {name_max}: give a shorter name with --out"
            )
    if len(os.fsencode(str(path))) + 64 > path_max:
        raise OutputFolderError(f"output folder path {str(path)[:60]}... is too long; give a shorter one with --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError(
            f"cannot write in {existing}: permission denied; give a folder you can write to with --out"
        )


def _ours(name: str) -> bool:
    """Entries siting itself keeps in an output folder (its manifest, lock and staging folders)."""
    return name in (MANIFEST, LOCK) or bool(_STAGING_RE.match(name))


def _classify(
    path: Path, kind: str, names: tuple[str, ...], *, manifest: bool, update: bool, strict: bool
) -> dict[str, Any] | None:
    """The previous output's manifest (or None for an empty folder); refuses anyone else's folder.

    Without ``strict`` (a first look, before the lock is taken) only whose folder it is is checked;
    with it (under the lock, a killed run recovered), also that siting's files are unchanged and
    that no file the command may write is someone else's; staging folders then count as foreign.
    """
    if not path.is_dir():
        raise OutputFolderError(f"{path} is a file, not a folder; give a folder with --out")
    try:
        entries = [e for e in os.listdir(path) if not (e in (MANIFEST, LOCK) if strict else _ours(e))]
    except OSError as exc:
        raise _os_error(exc, path) from None
    doc = read_manifest(path) if manifest else None
    if update:
        if doc is None or doc["kind"] != kind:
            raise OutputFolderError(
                f"{path} has no {MANIFEST} from `siting {kind}`, so siting cannot tell its files from yours; "
                f"run `siting {kind}` into it again (or into a new folder)"
            )
    elif not entries and (doc is None or doc["kind"] == kind):
        return doc
    if doc is None or doc["kind"] != kind:
        found = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} ({', '.join(sorted(entries)[:3])}"
        found += ", ...)" if len(entries) > 3 else ")"
        what = f"the output of `siting {doc['kind']}`" if doc is not None else found
        hint = "" if kind == "init" else " with --out"
        if manifest:
            head = f"output folder {path} is not an empty folder nor an earlier `siting {kind}` output"
        else:
            head = f"{path} exists and is not an empty folder"
        raise OutputFolderError(
            f"{head} (it holds {what}); siting never deletes files it did not write: give a new or empty folder{hint}"
        )
    if not strict:  # a first look without the lock: the rest is checked once a killed run is recovered
        return doc
    files = doc["files"]
    for name in sorted(set(files) if not update else set(names) & set(files)):
        if _changed(path, name, files[name]):
            raise OutputFolderError(
                f"{path / name} was changed after siting wrote it; keep your copy elsewhere (or delete it) "
                "and run again, or give a new folder with --out"
            )
    foreign = sorted(n for n in names if n not in files and os.path.lexists(path / n))
    if foreign:
        raise OutputFolderError(
            f"{path} holds {', '.join(foreign)}, which siting did not write there and would overwrite; "
            "move it away or give a new folder with --out"
        )
    return doc


# ------------------------------------------------------------------------------ lock, recovery
def _lock(path: Path) -> int:
    """Take the folder's lock without waiting; refuse when another siting command holds it."""
    import fcntl

    for _ in range(5):
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputFolderError(
                    f"output folder {path} is in use by another siting command; wait for it to finish "
                    "or give another folder with --out"
                ) from None
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path / LOCK).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the holder removed the file as we opened it: lock the new one
    raise OutputFolderError(f"could not lock output folder {path}; try again")


def _recover(path: Path) -> None:
    """Under the lock: finish or delete what a killed siting command left in ``path``."""
    for name in sorted(os.listdir(path)):
        m = _STAGING_RE.match(name)
        if not m:
            continue
        staging = path / name
        marker = _read_marker(staging)
        if marker is not None:  # no marker: killed between making the folder and marking it
            pid = marker.get("pid")
            if isinstance(pid, int) and pid != os.getpid() and _alive(pid, marker.get("started")):
                continue
        if marker and marker.get("state") == "committing":
            _roll_forward(path, staging, marker)
        shutil.rmtree(staging, ignore_errors=True)


def _roll_forward(path: Path, staging: Path, marker: dict[str, Any]) -> None:
    """Finish a commit that a killed process started: every new file is staged or in place."""
    moves = [n for n in marker.get("moves", []) if _plain_name(n)]
    removes = [n for n in marker.get("removes", []) if _plain_name(n)]
    for name in moves:
        if name != MANIFEST and os.path.lexists(staging / name):
            os.replace(staging / name, path / name)
    for name in removes:
        with contextlib.suppress(FileNotFoundError):
            (path / name).unlink()
    if MANIFEST in moves and os.path.lexists(staging / MANIFEST):
        os.replace(staging / MANIFEST, path / MANIFEST)
    _fsync_dir(path)


def _roll_back(path: Path, backups: Path, done: list[str]) -> None:
    """Undo the moves and removals of a failed commit from the backups."""
    for name in reversed(done):
        with contextlib.suppress(OSError):
            if os.path.lexists(backups / name):
                os.replace(backups / name, path / name)
            else:
                (path / name).unlink(missing_ok=True)


# ------------------------------------------------------------------------------ small helpers
def _write_marker(staging: Path, state: str, **extra: Any) -> None:
    doc = {"pid": os.getpid(), "started": _start_time(os.getpid()), "state": state, **extra}
    tmp = staging / (MARKER + ".tmp")
    _write_file(tmp, json.dumps(doc).encode("utf-8"))
    os.replace(tmp, staging / MARKER)


def _read_marker(staging: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((staging / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _backup(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dest, follow_symlinks=False)


def _manifest_bytes(kind: str, files: dict[str, Any]) -> bytes:
    from importlib import metadata

    try:
        version = metadata.version("siting")
    except metadata.PackageNotFoundError:
        version = "unknown"
    doc = {
        "format": 1,
        "written_by": f"siting {version}",
        "kind": kind,
        "command": ["siting", *sys.argv[1:]] if Path(sys.argv[0]).name == "siting" else [kind],
        "written_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "note": "siting replaces only the files listed here when it writes into this folder again",
        "files": dict(sorted(files.items())),
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _os_error(exc: OSError, path: Path) -> OutputFolderError:
    reason = exc.strerror or str(exc)
    return OutputFolderError(
        f"cannot write the output folder {path}: {reason}; give a folder you can write to with --out"
    )


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the commit: they arrive after it, never in the middle."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


__all__ = [
    "LOCK",
    "MANIFEST",
    "OutputFolder",
    "OutputFolderError",
    "claim",
    "claimed",
    "kept_note",
    "read_manifest",
    "reset_note",
    "write_folder",
]


def output_dir(body: ScenarioBody, base_dir: Path, out: str | Path | None, source: str = "scenario file") -> Path:
    """Where the outputs go: ``out`` (relative to the working directory), else ``output.folder``
    relative to the scenario file.

    A scenario file may only aim inside its own folder: an ``output.folder`` that is absolute or
    leaves the scenario's folder (``../victim``) is refused unless the user gives ``out``.
    """
    if out is not None:
        return Path(out).expanduser().resolve()
    folder = Path(body.output.folder)
    base = base_dir.resolve()
    target = (base / folder).resolve()
    if folder.is_absolute() or body.output.folder.startswith("~") or not target.is_relative_to(base):
        raise ScenarioError(
            f"{source}: output.folder {body.output.folder!r} is outside the scenario's folder {base}; a scenario "
            "file may only write inside its own folder: use a relative folder such as 'out', or give --out"
        )
    return target


def write_atomically(target: Path, files: dict[str, bytes], kind: str = "files") -> None:
    """Write ``files`` into ``target`` all at once, under the rules of this module."""
    write_folder(target, kind, files)
