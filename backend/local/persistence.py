"""Keep the local stack's data across restarts: saved under the state folder, restored at start.

Tables and the export bucket are read and written through moto's in-process backends
(the local stack runs moto in this process): a scan through moto's HTTP API runs at
about 400 items a second, far too slow to save 100k members every minute. Tables are
matched by logical id, since every deploy gives them new physical names. Saves are
atomic (written beside, then renamed), so a kill mid-save keeps the previous copy.

The export bucket is versioned, so what is saved is its history, not only its current
objects: every version of every key and every delete marker (export pruning and the
withdrawal of a failed run leave delete markers), in order, with their version ids.
The data is the club's members, so the folders are 0700 and the files 0600.

A save that fails is never silent: the autosave thread logs it at ERROR, tells the
person running `hdcn local up` on its terminal, and retries soon; the save at stop is
retried too, and `hdcn local up` exits non-zero if it never succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import FakeDeleteMarker, FakeKey, s3_backends

from backend.local.moto_patches import table_lock

log = logging.getLogger("hdcn.persistence")

DATA_DIR = "data"
SAVING_DIR = f"{DATA_DIR}.saving"
OLD_DIR = f"{DATA_DIR}.old"
TABLES = ("MembersTable", "MemberKeysTable", "ProductsTable", "ExportJobsTable", "AuditLogTable")
BUCKETS = ("ExportBucket",)
FORMAT = 2  # 1: current objects only, as files named by key; 2: every version and delete marker
DIR_MODE = 0o700
FILE_MODE = 0o600
RETRY_SECONDS = 5.0  # after a failed autosave: soon, but not a busy loop against the same fault
SAVE_ATTEMPTS_AT_STOP = 3


class SaveFailed(RuntimeError):
    """The data could not be saved; the previous save (if any) is still in place."""


def secure_dir(path: Path) -> None:
    """Create `path` (and missing parents, also 0700) if needed and make it private to this user."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
        os.chmod(made, DIR_MODE)
    os.chmod(path, DIR_MODE)


def secure_tree(root: Path) -> None:
    """Folders 0700 and files 0600 under `root` (saves written before this rule included)."""
    if not root.exists():
        return
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, DIR_MODE)
        for name in filenames:
            file = Path(dirpath) / name
            if not file.is_symlink():
                os.chmod(file, FILE_MODE)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by this user only, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat() if moment.tzinfo else moment.isoformat()


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    # moto keeps naive UTC datetimes (utcnow); give back what it had.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass
class LocalData:
    """Saves and restores the data of one local stack."""

    state_dir: Path
    physical_ids: dict[str, str]
    account_id: str
    region: str
    _lock: threading.Lock = field(default_factory=threading.Lock)
    last_error: str | None = None
    last_saved_at: float | None = None

    @property
    def path(self) -> Path:
        return self.state_dir / DATA_DIR

    def exists(self) -> bool:
        """Whether a complete save is there (recovering one a kill left mid-rename); call at start."""
        self._recover()
        complete = (self.path / "manifest.json").exists()
        if complete:
            # What a killed save left beside a complete copy is incomplete or superseded.
            for name in (SAVING_DIR, OLD_DIR):
                shutil.rmtree(self.state_dir / name, ignore_errors=True)
        return complete

    def _recover(self) -> None:
        """Finish what a kill between the two renames of a save left: a complete copy wins."""
        if (self.path / "manifest.json").exists():
            return
        for candidate in (self.state_dir / SAVING_DIR, self.state_dir / OLD_DIR):
            # The manifest is written last: a folder that has one is a complete save.
            if (candidate / "manifest.json").exists():
                shutil.rmtree(self.path, ignore_errors=True)
                candidate.rename(self.path)
                log.warning("recovered the saved data from %s", candidate.name)
                return

    # ---------------------------------------------------------------- save

    def save(self) -> dict[str, int]:
        """Write every table and bucket (all versions) to the state folder; returns the counts."""
        with self._lock:
            secure_dir(self.state_dir)
            tmp = self.state_dir / SAVING_DIR
            shutil.rmtree(tmp, ignore_errors=True)
            secure_dir(tmp / "dynamodb")
            secure_dir(tmp / "s3")
            counts: dict[str, int] = {}
            for lid in TABLES:
                counts[lid] = self._save_table(lid, tmp / "dynamodb" / f"{lid}.jsonl")
            for lid in BUCKETS:
                counts[lid] = self._save_bucket(lid, tmp / "s3" / lid)
            saved_at = time.time()
            manifest = {"format": FORMAT, "saved_at": saved_at, "counts": counts}
            _write_private(tmp / "manifest.json", json.dumps(manifest, indent=2).encode())
            old = self.state_dir / OLD_DIR
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            tmp.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
            self.last_saved_at = saved_at
            return counts

    def _save_table(self, lid: str, target: Path) -> int:
        ddb = dynamodb_backends[self.account_id][self.region]
        table = ddb.get_table(self.physical_ids[lid])
        # Under the table's lock (the one its requests run under): a consistent copy, and no
        # "dictionary changed size during iteration" from a write landing mid-iteration.
        with table_lock(self.physical_ids[lid]):
            lines = [json.dumps(item.to_json()["Attributes"]) + "\n" for item in table.all_items()]
        _write_private(target, "".join(lines).encode("utf-8"))
        return len(lines)

    def _save_bucket(self, lid: str, target: Path) -> int:
        """Every version and delete marker of every key, oldest first per key; returns the count."""
        bucket = s3_backends[self.account_id]["aws"].get_bucket(self.physical_ids[lid])
        secure_dir(target / "blobs")
        rows: list[str] = []
        for key, versions in bucket.keys.lists():
            for version in list(versions):
                row: dict[str, Any] = {
                    "key": key,
                    "version_id": version.version_id,
                    "last_modified": _iso(version.last_modified),
                }
                if isinstance(version, FakeDeleteMarker):
                    row["delete_marker"] = True
                elif isinstance(version, FakeKey):
                    if version.disposed:
                        continue  # deleted for good while this save ran
                    try:
                        body = version.value
                    except ValueError:
                        continue  # its buffer was closed by a permanent delete meanwhile
                    # Blobs are numbered, never named by key: a key is no safe file name.
                    blob = f"{len(rows):08d}"
                    _write_private(target / "blobs" / blob, body)
                    row["blob"] = blob
                    row["metadata"] = dict(version.metadata)
                else:
                    raise SaveFailed(f"unknown S3 version type {type(version).__name__}")
                rows.append(json.dumps(row) + "\n")
        _write_private(target / "versions.jsonl", "".join(rows).encode("utf-8"))
        return len(rows)

    # ---------------------------------------------------------------- restore

    def restore(self) -> dict[str, int]:
        """Load the saved tables and bucket into the freshly deployed stack."""
        secure_tree(self.path)  # saves made before the 0700/0600 rule
        manifest = json.loads((self.path / "manifest.json").read_text())
        counts: dict[str, int] = {}
        ddb = dynamodb_backends[self.account_id][self.region]
        for lid in TABLES:
            src = self.path / "dynamodb" / f"{lid}.jsonl"
            n = 0
            if src.exists():
                with src.open(encoding="utf-8") as lines:
                    for line in lines:
                        ddb.put_item(self.physical_ids[lid], json.loads(line))
                        n += 1
            counts[lid] = n
        for lid in BUCKETS:
            root = self.path / "s3" / lid
            if int(manifest.get("format", 1)) >= 2:
                counts[lid] = self._restore_versions(lid, root)
            else:
                counts[lid] = self._restore_current_objects(lid, root)
        return counts

    def _restore_versions(self, lid: str, root: Path) -> int:
        s3 = s3_backends[self.account_id]["aws"]
        name = self.physical_ids[lid]
        bucket = s3.get_bucket(name)
        n = 0
        for row in _read_rows(root / "versions.jsonl"):
            key = str(row["key"])
            moment = _parse_time(row.get("last_modified"))
            if row.get("delete_marker"):
                # moto's DeleteObject makes a marker from the key's current version; a marker may also
                # come first (older versions expired), so give it a placeholder key of the same name.
                current = bucket.keys.get(key) or FakeKey(key, b"", self.account_id, self.region)
                made: Any = FakeDeleteMarker(key=current)
                made._version_id = row["version_id"]
                bucket.keys.setlist(key, [*bucket.keys.getlist(key, []), made])
            else:
                made = s3.put_object(name, key, (root / "blobs" / str(row["blob"])).read_bytes())
                made.set_metadata(dict(row.get("metadata") or {}))
                made._version_id = row["version_id"]
            if moment is not None:
                made.last_modified = moment
            n += 1
        return n

    def _restore_current_objects(self, lid: str, root: Path) -> int:
        """A format-1 save: current objects as files named by their key."""
        s3 = s3_backends[self.account_id]["aws"]
        n = 0
        for file in sorted(root.rglob("*")) if root.exists() else []:
            if file.is_file():
                s3.put_object(self.physical_ids[lid], file.relative_to(root).as_posix(), file.read_bytes())
                n += 1
        return n

    def discard(self) -> None:
        """Forget saved data (`--fresh`)."""
        for name in (DATA_DIR, SAVING_DIR, OLD_DIR):
            shutil.rmtree(self.state_dir / name, ignore_errors=True)

    # ---------------------------------------------------------------- when to save

    def save_or_report(self, tell: Callable[[str], None]) -> bool:
        """Save; on failure log it loudly, tell the operator, keep the previous save. True if saved."""
        try:
            self.save()
        except Exception as err:
            # The message names the cause, never data: moto's errors carry no item values.
            self.last_error = f"{type(err).__name__}: {err}"
            log.exception("saving the local data FAILED; the previous save is kept")
            where = f" ({self.path} is from {_ago(self.last_saved_at)})" if self.last_saved_at else ""
            tell(f"WARNING: saving the local data failed: {self.last_error}; the last save is kept{where}")
            return False
        if self.last_error is not None:
            tell("saving the local data works again")
            self.last_error = None
        return True

    def save_at_stop(self, tell: Callable[[str], None], pause: float = 1.0) -> bool:
        """The final save, retried a few times `pause` seconds apart; True if it succeeded."""
        for attempt in range(1, SAVE_ATTEMPTS_AT_STOP + 1):
            if self.save_or_report(tell):
                return True
            if attempt < SAVE_ATTEMPTS_AT_STOP:
                time.sleep(pause)
        tell(f"ERROR: the data could not be saved at stop; {self.path} holds the last good save")
        return False

    def autosave(
        self, interval: float, stop: threading.Event, tell: Callable[[str], None] | None = None
    ) -> threading.Thread:
        """Save every `interval` seconds until `stop` is set; a failed save is reported and retried soon."""
        say = tell or _tell

        def loop() -> None:
            wait = interval
            while not stop.wait(wait):
                wait = interval if self.save_or_report(say) else min(interval, RETRY_SECONDS)

        thread = threading.Thread(target=loop, name="hdcn-autosave", daemon=True)
        thread.start()
        return thread


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _ago(when: float | None) -> str:
    return "never" if when is None else f"{time.time() - when:.0f} s ago"


def _tell(message: str) -> None:
    """A line on the terminal of `hdcn local up` (its stdout is the operator's console)."""
    print(message, file=sys.stderr, flush=True)
