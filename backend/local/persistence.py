"""Keep the local stack's data across restarts: saved under the state folder, restored at start.

Tables and the export bucket are read and written through moto's in-process backends
(the local stack runs moto in this process): a scan through moto's HTTP API runs at
about 400 items a second, far too slow to save 100k members every minute. Tables are
matched by logical id, since every deploy gives them new physical names. Saves are
atomic (written beside, then renamed), so a kill mid-save keeps the previous copy.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import s3_backends

DATA_DIR = "data"
TABLES = ("MembersTable", "MemberKeysTable", "ProductsTable", "ExportJobsTable")
BUCKETS = ("ExportBucket",)


@dataclass
class LocalData:
    """Saves and restores the data of one local stack."""

    state_dir: Path
    physical_ids: dict[str, str]
    account_id: str
    region: str
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> Path:
        return self.state_dir / DATA_DIR

    def exists(self) -> bool:
        return (self.path / "manifest.json").exists()

    def save(self) -> dict[str, int]:
        """Write every table and bucket to the state folder; returns item/object counts."""
        with self._lock:
            tmp = self.state_dir / f"{DATA_DIR}.saving"
            shutil.rmtree(tmp, ignore_errors=True)
            (tmp / "dynamodb").mkdir(parents=True)
            (tmp / "s3").mkdir(parents=True)
            counts: dict[str, int] = {}
            ddb = dynamodb_backends[self.account_id][self.region]
            for lid in TABLES:
                items = ddb.get_table(self.physical_ids[lid]).all_items()
                with (tmp / "dynamodb" / f"{lid}.jsonl").open("w", encoding="utf-8") as out:
                    for item in items:
                        out.write(json.dumps(item.to_json()["Attributes"]) + "\n")
                counts[lid] = len(items)
            s3 = s3_backends[self.account_id]["aws"]
            for lid in BUCKETS:
                bucket = s3.get_bucket(self.physical_ids[lid])
                n = 0
                for key in list(bucket.keys.keys()):
                    obj = bucket.keys.get(key)
                    if obj is None or getattr(obj, "is_delete_marker", False):
                        continue
                    target = tmp / "s3" / lid / key
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(obj.value)
                    n += 1
                counts[lid] = n
            manifest = {"saved_at": time.time(), "counts": counts}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
            old = self.state_dir / f"{DATA_DIR}.old"
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            tmp.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
            return counts

    def restore(self) -> dict[str, int]:
        """Load the saved tables and bucket into the freshly deployed stack."""
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
        s3 = s3_backends[self.account_id]["aws"]
        for lid in BUCKETS:
            root = self.path / "s3" / lid
            n = 0
            for file in sorted(root.rglob("*")) if root.exists() else []:
                if file.is_file():
                    s3.put_object(
                        self.physical_ids[lid], file.relative_to(root).as_posix(), file.read_bytes()
                    )
                    n += 1
            counts[lid] = n
        return counts

    def discard(self) -> None:
        """Forget saved data (`--fresh`)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def autosave(self, interval: float, stop: threading.Event) -> threading.Thread:
        """Save every `interval` seconds until `stop` is set."""

        def loop() -> None:
            while not stop.wait(interval):
                self.save()

        thread = threading.Thread(target=loop, name="hdcn-autosave", daemon=True)
        thread.start()
        return thread
