"""Who is writing a table version right now: leases held by live processes, a publish mutex, test holds.

A writer takes a lease on its version before Spark creates the folder and holds it until the
version is published or discarded. On a local filesystem the lease is a file under
`.versions/<model>/_leases/` locked with flock(2): the kernel drops the lock when the process
exits, however it exits (kill -9 included), so "the lock is held" means "a live process is
writing". Cleanup removes a version only when nobody holds its lease.

`SPARKMODELS_HOLD_AT=<moment>[,<moment>...][:<table>]` (with `SPARKMODELS_HOLD_FILE=<path>`) makes a
writer stop at named moments of a write (`write`, `publish`, `swapped`), create the hold file and
wait until it is deleted: the fault tests use it to kill or race a writer at an exact point. Unset, it costs
one environment lookup.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

LEASES_DIR = "_leases"
MUTEX_FILE = "_lock"
HOLD_ENV, HOLD_FILE_ENV = "SPARKMODELS_HOLD_AT", "SPARKMODELS_HOLD_FILE"
HOLD_MAX_SECONDS = 600.0


def hold(moment: str, table: str) -> None:
    """Stop here while the test hook names this moment (and table); see the module docstring."""
    wanted = os.environ.get(HOLD_ENV)
    if not wanted:
        return
    at, _, only = wanted.partition(":")
    if moment not in at.split(",") or (only and only != table):
        return
    marker = Path(os.environ.get(HOLD_FILE_ENV) or f"sparkmodels-hold-{os.getpid()}")
    marker.write_text(f"{os.getpid()} {moment} {table}\n", encoding="utf-8")
    deadline = time.monotonic() + HOLD_MAX_SECONDS
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class LeaseBook:
    """This process's open leases: version path -> (locked file descriptor, base version name)."""

    held: dict[str, tuple[int, str | None]] = field(default_factory=dict)

    def take(self, versions: Path, version: str, base: str | None) -> None:
        folder = versions / LEASES_DIR
        folder.mkdir(parents=True, exist_ok=True)
        # Lock a temp file, then rename it into place: a cleaner never sees an unlocked lease
        # of a live writer.
        tmp = folder / f".{version}.{uuid.uuid4().hex[:8]}"
        fd = os.open(tmp, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"pid {os.getpid()} host {socket.gethostname()} base {base}\n".encode())
        os.replace(tmp, folder / version)
        self.held[str(versions / version)] = (fd, base)

    def base(self, versions: Path, version: str) -> tuple[bool, str | None]:
        """(known, base version name when the lease was taken)."""
        entry = self.held.get(str(versions / version))
        return (False, None) if entry is None else (True, entry[1])

    def release(self, versions: Path, version: str) -> None:
        entry = self.held.pop(str(versions / version), None)
        with contextlib.suppress(OSError):
            (versions / LEASES_DIR / version).unlink()
        if entry is not None:
            with contextlib.suppress(OSError):
                os.close(entry[0])


def lease_alive(versions: Path, version: str) -> bool:
    """Whether a live process holds the lease of a version (a lock we cannot take)."""
    path = versions / LEASES_DIR / version
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def live_bases(versions: Path) -> set[str]:
    """The versions live writers started from (`base` in their lease): they may still be reading them."""
    folder = versions / LEASES_DIR
    if not folder.is_dir():
        return set()
    out = set()
    for path in folder.iterdir():
        if path.name.startswith(".") or not lease_alive(versions, path.name):
            continue
        with contextlib.suppress(OSError, UnicodeDecodeError):
            words = path.read_text(encoding="utf-8").split()
            if "base" in words[:-1]:
                out.add(words[words.index("base") + 1])
    return out - {"None"}


def dead_leases(versions: Path) -> list[Path]:
    """Lease files nobody holds (their writer died); their temp names included."""
    folder = versions / LEASES_DIR
    if not folder.is_dir():
        return []
    out = []
    for path in folder.iterdir():
        name = path.name
        if name.startswith("."):
            # a temp of a lease being taken right now is locked; one left by a crash is not
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    out.append(path)
                except BlockingIOError:
                    pass
                finally:
                    os.close(fd)
        elif not lease_alive(versions, name):
            out.append(path)
    return out


@contextlib.contextmanager
def mutex(versions: Path):
    """One publisher or cleaner of a table at a time (processes and threads alike)."""
    versions.mkdir(parents=True, exist_ok=True)
    fd = os.open(versions / MUTEX_FILE, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
