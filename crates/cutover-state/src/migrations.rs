//! Schema changes, in order. Append only: never edit or reorder an entry once released.

pub const MIGRATIONS: &[&str] = &[
    // 1: the audit log of every command run against this config.
    "CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        user        TEXT NOT NULL,
        machine     TEXT NOT NULL,
        command     TEXT NOT NULL,
        env         TEXT,
        exit_code   INTEGER,
        summary     TEXT
    );",
];
