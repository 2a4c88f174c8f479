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
    // 2: each run of a gated stage (`ready`, later `preflight`, `smoke`): the verdict for one
    // environment and config (by hash), with the findings as JSON evidence.
    "CREATE TABLE gates (
        id          INTEGER PRIMARY KEY,
        stage       TEXT NOT NULL,
        env         TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        passed      INTEGER NOT NULL,
        at          TEXT NOT NULL,
        evidence    TEXT NOT NULL
    );
    CREATE INDEX gates_latest ON gates (stage, env, id);",
    // 3: secret rotations: which secret, where, when, by whom; never a value.
    "CREATE TABLE rotations (
        id      INTEGER PRIMARY KEY,
        env     TEXT NOT NULL,
        name    TEXT NOT NULL,
        at      TEXT NOT NULL,
        user    TEXT NOT NULL,
        machine TEXT NOT NULL
    );",
    // 4: monitor windows, each round's verdict and every sample (times in Unix milliseconds).
    "CREATE TABLE monitors (
        id          INTEGER PRIMARY KEY,
        env         TEXT NOT NULL,
        release     TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        started_ms  INTEGER NOT NULL,
        ends_ms     INTEGER NOT NULL,
        interval_ms INTEGER NOT NULL,
        state       TEXT NOT NULL,
        updated_ms  INTEGER NOT NULL,
        detail      TEXT NOT NULL DEFAULT '',
        pid         INTEGER NOT NULL DEFAULT 0,
        machine     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX monitors_by_env ON monitors (env, id);
    CREATE TABLE monitor_rounds (
        monitor_id INTEGER NOT NULL,
        round      INTEGER NOT NULL,
        at_ms      INTEGER NOT NULL,
        verdict    TEXT NOT NULL,
        PRIMARY KEY (monitor_id, round)
    );
    CREATE TABLE monitor_samples (
        monitor_id INTEGER NOT NULL,
        round      INTEGER NOT NULL,
        at_ms      INTEGER NOT NULL,
        check_name TEXT NOT NULL,
        via        TEXT NOT NULL,
        ok         INTEGER NOT NULL,
        status     INTEGER,
        latency_ms REAL,
        failure    TEXT,
        reason     TEXT
    );
    CREATE INDEX monitor_samples_by_time ON monitor_samples (monitor_id, at_ms);",
    // 5: the launch path of each environment, every choice and change with who, when and why;
    // and the artifact (manifest hash) a gate's run was about, where there is one.
    "CREATE TABLE paths (
        id      INTEGER PRIMARY KEY,
        env     TEXT NOT NULL,
        path    TEXT NOT NULL,
        at      TEXT NOT NULL,
        user    TEXT NOT NULL,
        machine TEXT NOT NULL,
        reason  TEXT
    );
    CREATE INDEX paths_by_env ON paths (env, id);
    ALTER TABLE gates ADD COLUMN artifact TEXT;",
    // 6: attestations: an item of pre-flight vouched for by a named person, with a note; the
    // OS user and machine that recorded it.
    "CREATE TABLE attestations (
        id      INTEGER PRIMARY KEY,
        env     TEXT NOT NULL,
        item    TEXT NOT NULL,
        by_name TEXT NOT NULL,
        note    TEXT,
        at      TEXT NOT NULL,
        user    TEXT NOT NULL,
        machine TEXT NOT NULL
    );
    CREATE INDEX attestations_by_env ON attestations (env, item, id);",
];
