"""Per-item result storage: never pay twice for a finished call.

Each finished call is one row in a SQLite database (WAL journal), keyed by a hash
of everything that determines the answer: model name, generation settings,
messages and sample index. A row is committed in one transaction, so a kill at
any moment leaves either the whole result or nothing; a rerun finds every
finished call and repeats none. API keys are never part of a key or a value.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from msm.errors import MsmError


class ResultStore:
    """A kill-safe key -> JSON store backed by one SQLite file.

    Example::

        store = ResultStore("run/llm-cache.sqlite")
        if (hit := store.get(key)) is None:
            store.put(key, {"text": "..."})
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL survives a killed process (not a power cut) and is much faster
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS results ("
                "key TEXT PRIMARY KEY, model TEXT, value TEXT NOT NULL, created REAL)"
            )
            self._db.commit()
        except (sqlite3.DatabaseError, OSError) as e:
            raise MsmError(f"cannot open result store {self.path}: {e}") from e
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM results WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any], model: str = "") -> None:
        blob = json.dumps(value, sort_keys=True, ensure_ascii=False)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO results(key, model, value, created) VALUES (?,?,?,?)",
                    (key, model, blob, time.time()),
                )
                self._db.commit()
            except sqlite3.Error as e:  # e.g. "database or disk is full"
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()
                raise MsmError(f"cannot write result store {self.path}: {e}") from e

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
