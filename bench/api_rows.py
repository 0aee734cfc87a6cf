#!/usr/bin/env python3
"""Fill a migrated SQLite file with the 10,000 rows the API and listing profiles read.

    python3 bench/api_rows.py FILE

Runs of 30 tasks; of every ten rows eight succeeded, one failed and one awaits approval.
Shared by bench/run.sh (API under load) and bench/profile.sh, so both read the same table.
"""
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
statuses = ["succeeded"] * 8 + ["failed", "awaiting_approval"]
db.executemany(
    "INSERT INTO agents_tasks (task, run_id, status, approval_state) VALUES (?, ?, ?, ?)",
    [
        (
            f"t{i % 30}",
            f"nightly-{i // 30}",
            statuses[i % 10],
            "pending" if statuses[i % 10] == "awaiting_approval" else None,
        )
        for i in range(10000)
    ],
)
db.commit()
