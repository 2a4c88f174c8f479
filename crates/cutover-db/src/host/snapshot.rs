//! Snapshots: a database's dump compressed into a file on its own db host (the data never
//! crosses SSH), `<deploy path>/.cutover/snapshots/<id>.sql.zst` (0600 in a 0700 directory),
//! with `<id>.json` beside it: the release it was taken for, when, the engine, the database,
//! the size, and each table's rows and checksum. A restore loads it back through the same
//! staging area and swap as any load, reading the file on the host, and checks the tables'
//! checksums against the snapshot's.
//!
//! The file is written under a temporary name and renamed once the dump ended whole (the
//! dump's own exit status counts, though it runs in a pipe into `zstd`; for SQLite, whose
//! `.dump` exits 0 after errors, also how it ends), and its record only after that, so a
//! listed snapshot is always a whole one. A restore checks how the file's dump ends first.

use cutover_remote::Stdin;
use cutover_remote::shell::quote;
use cutover_secrets::Secret;
use serde::{Deserialize, Serialize};

use super::{
    Database, DbError, DbHost, DumpScope, Existing, Input, TableStat, counted_dump, cut_short, dump_script, ends_whole,
    exit_tells_whole, load, load_suffix, mark, noted, read_stats, stats, written_since,
};

/// A snapshot's record (`<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub id: String,
    /// The release it was taken before (its migrate), or for a snapshot taken by hand the
    /// release live then.
    pub release: Option<String>,
    /// Taken by hand (`cutover db snapshot`): kept until removed by hand, not with a release.
    pub manual: bool,
    /// When it was taken (RFC 3339, UTC, to the second).
    pub time: String,
    pub engine: String,
    /// The database, as [`Database::describe`] shows it.
    pub database: String,
    pub host: String,
    /// The compressed file's size in bytes.
    pub size: u64,
    /// The compressed file's SHA-256 (hex): a restore loads only the very file made.
    pub sha256: String,
    /// Each table's rows and checksum when it was taken.
    pub tables: Vec<TableStat>,
    /// Tables written to while the snapshot was taken: the file holds them as they were at
    /// some moment during it, so a restore cannot check their checksums.
    #[serde(default)]
    pub unsettled: Vec<String>,
}

/// A table that differs between a snapshot and the database now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableChange {
    pub table: String,
    /// `added` (not in the snapshot), `removed` (only in the snapshot) or `changed`.
    pub change: &'static str,
    /// Rows in the snapshot.
    pub rows_then: Option<u64>,
    /// Rows now.
    pub rows_now: Option<u64>,
}

/// A snapshot id is a file name: letters, digits, `.`, `_`, `-`, not starting with `.`.
pub fn valid_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("`{id}` is not a snapshot id: use letters, digits, `.`, `_` and `-` (not first), at most 100"))
    }
}

/// The snapshots directory on the db host, as a shell word.
fn dir(host: &DbHost<'_>) -> String {
    format!("{}/.cutover/snapshots", host.root)
}

/// `<dir>/<name>` as a shell word.
fn file(host: &DbHost<'_>, name: &str) -> String {
    format!("{}/{}", dir(host), quote(name))
}

/// Where the snapshot's file is, for messages.
fn shown(host: &DbHost<'_>, id: &str) -> String {
    format!("`{}`:.cutover/snapshots/{id}.sql.zst", host.name())
}

fn refused(host: &DbHost<'_>, step: &str, detail: String) -> DbError {
    DbError::Refused { env: host.env.to_owned(), host: host.name().to_owned(), step: step.to_owned(), detail }
}

/// The time now, RFC 3339 to the second.
fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .expect("the time formats")
}

/// The time now as a release id writes it (`20261203T101500Z`), for snapshot ids.
pub fn stamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .expect("the time formats")
}

/// Snapshots `db` on its host as `id` (an existing snapshot of that id is replaced once the
/// new one is whole). `release`: the release it protects; `manual`: taken by hand.
pub fn snapshot(
    db: &Database,
    host: &DbHost<'_>,
    id: &str,
    release: Option<&str>,
    manual: bool,
) -> Result<SnapshotInfo, DbError> {
    valid_id(id).map_err(|detail| DbError::Config { env: host.env.to_owned(), detail })?;
    let step = format!("snapshotting {} into {}", db.describe(), shown(host, id));
    let partial = format!(".{id}.{}.partial", load_suffix());
    // The dump's failure is noted (dash has no pipefail), zstd's ends the script (`set -e`);
    // where the tool's exit status does not tell a whole dump, its last bytes are kept on the
    // way (a fifo into `tail`). The partial file goes on any exit but the last line's. Where
    // the engine can count and checksum each table as its dump reaches it, the script does, and
    // prints the stats in place of the tail; elsewhere a session of its own does while the
    // dump runs.
    // The engine's mark first: a table made after it counts as written while the snapshot ran.
    let mark = mark(db, host)?;
    let counted = counted_dump(db, host)?;
    let pipe = if let Some((_, counted)) = &counted {
        format!(
            "{counted}dump_counted | \"$zstd\" -q > \"$tmp\"\nif [ -e \"$cutover_tmp/stats.rc\" ] && [ ! -e \"$cutover_tmp/dump.rc\" ]; then echo \"cutover: counting and \\
             checksumming the tables failed\" >&2; exit 1; fi\ncp \"$cutover_tmp/stats\" \"$cutover_tmp/tail\""
        )
    } else if exit_tells_whole(db.engine) {
        format!("{} | \"$zstd\" -q > \"$tmp\"\n: > \"$cutover_tmp/tail\"", noted("dump_db", "dump"))
    } else {
        format!(
            "mkfifo \"$cutover_tmp/end\"\ntail -c 4096 < \"$cutover_tmp/end\" > \"$cutover_tmp/tail\" &\n\
             {} | tee \"$cutover_tmp/end\" | \"$zstd\" -q > \"$tmp\"\nwait",
            noted("dump_db", "dump")
        )
    };
    let mut s = dump_script(db, host, &DumpScope::default()).expose().to_owned();
    s += &format!(
        r#"zstd=$(need zstd) || exit 127
d={dir}
(umask 022; mkdir -p "$d/..")
mkdir -p "$d"
chmod 700 "$d"
tmp={tmp}
trap 'rm -rf "$cutover_tmp" "$tmp"' EXIT
{pipe}
if [ -e "$cutover_tmp/dump.rc" ]; then echo "cutover: the dump failed (exit $(cat "$cutover_tmp/dump.rc"))" >&2; exit 1; fi
stat -c %s "$tmp"
sha256sum "$tmp" | cut -d' ' -f1
cat "$cutover_tmp/tail"
trap 'rm -rf "$cutover_tmp"' EXIT
"#,
        dir = dir(host),
        tmp = file(host, &partial),
    );
    // The tables are counted and checksummed while the dump runs (with it, or in a session of
    // their own), so the snapshot costs little more than the dump. A table written meanwhile
    // may differ between the two: the engine's mark, noted before either starts, tells which
    // were (read again only where it cannot).
    let (before, out) = std::thread::scope(|scope| {
        let counting = counted.is_none().then(|| scope.spawn(|| stats(db, host, true)));
        let out = host.run(&step, Secret::new(s), Stdin::Null);
        (counting.map(|c| c.join().expect("the stats thread does not panic")), out)
    });
    let remove_partial = || {
        let s = format!("rm -f {}\n", file(host, &partial));
        host.target.run("removing a snapshot left partial", &s, Stdin::Null).ok();
    };
    let out = out?;
    let mut parts = out.splitn(3, '\n');
    let (size, sha256, tail) =
        (parts.next().unwrap_or(""), parts.next().unwrap_or("").trim(), parts.next().unwrap_or(""));
    let before = match &counted {
        Some((names, _)) => read_stats(host, "counting and checksumming the tables as the dump read them", names, tail),
        None => before.expect("without the dump's count, a session of its own counted beside it"),
    };
    let before = match before {
        Ok(before) => before,
        Err(e) => {
            remove_partial();
            return Err(e);
        }
    };
    let Ok(size) = size.trim().parse::<u64>() else {
        remove_partial();
        return Err(refused(host, &step, format!("unexpected answer: {}", out.trim())));
    };
    if !exit_tells_whole(db.engine) && !ends_whole(db, tail) {
        remove_partial();
        return Err(cut_short(host, step));
    }
    let names: Vec<String> = before.iter().map(|t| t.name.clone()).collect();
    let unsettled = match written_since(db, host, &mark, &names).and_then(|written| match written {
        Some(written) => Ok(written),
        None => {
            stats(db, host, true).map(|after| changes_between(&before, &after).into_iter().map(|c| c.table).collect())
        }
    }) {
        Ok(mut unsettled) => {
            unsettled.sort();
            unsettled
        }
        Err(e) => {
            remove_partial();
            return Err(e);
        }
    };
    let info = SnapshotInfo {
        id: id.to_owned(),
        release: release.map(str::to_owned),
        manual,
        time: now(),
        engine: db.engine.as_str().to_owned(),
        database: db.describe(),
        host: host.name().to_owned(),
        size,
        sha256: sha256.to_owned(),
        tables: before,
        unsettled,
    };
    // The file takes its name first, its record after: a listed snapshot is a whole one.
    let step = format!("keeping snapshot {}", shown(host, id));
    let record = serde_json::to_string(&info).expect("a snapshot record serializes");
    let s = format!(
        "set -e\numask 077\ncat > {json_tmp}\nmv -f {tmp} {file}\nmv -f {json_tmp} {json}\n",
        json_tmp = file(host, &format!("{partial}.json")),
        tmp = file(host, &partial),
        file = file(host, &format!("{id}.sql.zst")),
        json = file(host, &format!("{id}.json")),
    );
    if let Err(e) = host.target.run(&step, &s, Stdin::Bytes(record.as_bytes())) {
        remove_partial();
        return Err(host.remote(&step, e));
    }
    Ok(info)
}

/// Every snapshot on the host, oldest first.
pub fn snapshots(host: &DbHost<'_>) -> Result<Vec<SnapshotInfo>, DbError> {
    let step = "listing the snapshots";
    let s = format!(
        "d={}\n[ -d \"$d\" ] || exit 0\nfor f in \"$d\"/*.json; do [ -e \"$f\" ] || continue; printf '%s\\t' \"${{f##*/}}\"; tr -d '\\n' < \"$f\"; echo; done\n",
        dir(host)
    );
    let out = host.target.run(step, &s, Stdin::Null).map_err(|e| host.remote(step, e))?.stdout;
    let mut list = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let (name, json) = line.split_once('\t').unwrap_or((line, ""));
        let info: SnapshotInfo = serde_json::from_str(json)
            .map_err(|e| refused(host, step, format!("the record .cutover/snapshots/{name} is not readable: {e}")))?;
        list.push(info);
    }
    list.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    Ok(list)
}

/// Snapshot `id`'s record, or an error saying it is missing or unreadable.
pub fn find(host: &DbHost<'_>, id: &str) -> Result<SnapshotInfo, DbError> {
    let step = format!("reading snapshot {id}");
    valid_id(id).map_err(|detail| refused(host, &step, detail))?;
    let s = format!("f={}\n[ -e \"$f\" ] || exit 3\ncat \"$f\"\n", file(host, &format!("{id}.json")));
    let out =
        host.target.exec(&step, &s, Stdin::Null, cutover_remote::Sink::Answer).map_err(|e| host.remote(&step, e))?;
    match out.code() {
        Some(0) => serde_json::from_str(&out.stdout)
            .map_err(|e| refused(host, &step, format!("its record .cutover/snapshots/{id}.json is not readable: {e}"))),
        Some(3) => Err(refused(host, &step, format!("there is no snapshot `{id}` (no .cutover/snapshots/{id}.json)"))),
        _ => Err(host.remote(&step, host.target.failure(&step, &out))),
    }
}

/// Restores snapshot `id` into `db`, replacing what is there, so that a restore stopped at any
/// moment leaves the database as it was: the file is checked first (`zstd -t`, its record),
/// then loaded through the staging area and swap of [`load`], read on the host, and the
/// restored tables' checksums are compared with the snapshot's.
pub fn restore(db: &Database, host: &DbHost<'_>, id: &str) -> Result<SnapshotInfo, DbError> {
    let info = check(db, host, id)?;
    let path = file(host, &format!("{id}.sql.zst"));
    load(db, host, Existing::Replace, Input::Host(format!("zstd -dcq -- {path}")))?;
    let step = format!("checking the restored tables against snapshot {}", shown(host, id));
    let now = stats(db, host, true)?;
    let wrong: Vec<String> = changes_between(&info.tables, &now)
        .into_iter()
        .filter(|c| !info.unsettled.contains(&c.table))
        .map(|c| describe_change(&c))
        .collect();
    if !wrong.is_empty() {
        return Err(refused(
            host,
            &step,
            format!("the restored database differs from the snapshot: {}", wrong.join(", ")),
        ));
    }
    Ok(info)
}

/// Snapshot `id`'s record, once the snapshot is found to be of `db`'s engine and its file to be
/// whole (`zstd -t`), the one made (its SHA-256) and a whole dump: what a restore checks before
/// it changes anything.
pub fn check(db: &Database, host: &DbHost<'_>, id: &str) -> Result<SnapshotInfo, DbError> {
    let info = find(host, id)?;
    let step = format!("checking snapshot {}", shown(host, id));
    if info.engine != db.engine.as_str() {
        return Err(refused(
            host,
            &step,
            format!("it is of a {} database ({}), not of {}", info.engine, info.database, db.describe()),
        ));
    }
    // Whole as zstd says, the very file made (its hash), and a dump that ends as a whole one.
    let s = format!(
        "set -e\nf={}\n[ -f \"$f\" ] || {{ echo \"cutover: the snapshot's file is missing\" >&2; exit 1; }}\n\
         command -v zstd >/dev/null 2>&1 || {{ echo 'cutover: zstd not found on this host' >&2; exit 127; }}\n\
         zstd -tq \"$f\"\nsha256sum \"$f\" | cut -d' ' -f1\nzstd -dcq \"$f\" | tail -c 4096\n",
        file(host, &format!("{id}.sql.zst"))
    );
    let out = host.target.run(&step, &s, Stdin::Null).map_err(|e| host.remote(&step, e))?.stdout;
    let (sha256, tail) = out.split_once('\n').unwrap_or((&out, ""));
    if sha256.trim() != info.sha256 {
        return Err(refused(
            host,
            &step,
            format!("the file is not the one made ({}): its SHA-256 differs from the record's", info.time),
        ));
    }
    if !ends_whole(db, tail) {
        return Err(refused(host, &step, "the dump in it does not end as a whole dump ends".into()));
    }
    Ok(info)
}

/// What restoring snapshot `id` would undo: the tables whose rows or checksum differ between
/// the snapshot and the database now.
pub fn changes(db: &Database, host: &DbHost<'_>, id: &str) -> Result<(SnapshotInfo, Vec<TableChange>), DbError> {
    let info = find(host, id)?;
    let now = stats(db, host, true)?;
    let changes = changes_between(&info.tables, &now);
    Ok((info, changes))
}

/// `table` (added), `table` (removed, N rows) or `table` (N → M rows), for messages.
pub fn describe_change(c: &TableChange) -> String {
    match (c.change, c.rows_then, c.rows_now) {
        ("added", _, Some(now)) => format!("`{}` (added since, {now} rows)", c.table),
        ("removed", Some(then), _) => format!("`{}` (dropped since, had {then} rows)", c.table),
        (_, Some(then), Some(now)) if then == now => format!("`{}` ({now} rows, contents changed)", c.table),
        (_, Some(then), Some(now)) => format!("`{}` ({then} → {now} rows)", c.table),
        _ => format!("`{}`", c.table),
    }
}

/// The tables that differ between two sets of stats, in name order.
fn changes_between(then: &[TableStat], now: &[TableStat]) -> Vec<TableChange> {
    let mut out = Vec::new();
    for t in then {
        match now.iter().find(|n| n.name == t.name) {
            None => out.push(TableChange {
                table: t.name.clone(),
                change: "removed",
                rows_then: Some(t.rows),
                rows_now: None,
            }),
            Some(n) if n.rows != t.rows || n.checksum != t.checksum => out.push(TableChange {
                table: t.name.clone(),
                change: "changed",
                rows_then: Some(t.rows),
                rows_now: Some(n.rows),
            }),
            Some(_) => {}
        }
    }
    for n in now.iter().filter(|n| !then.iter().any(|t| t.name == n.name)) {
        out.push(TableChange { table: n.name.clone(), change: "added", rows_then: None, rows_now: Some(n.rows) });
    }
    out.sort_by(|a, b| a.table.cmp(&b.table));
    out
}

/// Removes snapshots `ids` (file and record; the record first, so none is listed half gone).
pub fn remove(host: &DbHost<'_>, ids: &[String]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    let step = format!("removing snapshot(s) {}", ids.join(", "));
    let mut s = String::from("set -e\n");
    for id in ids {
        valid_id(id).map_err(|detail| refused(host, &step, detail))?;
        s += &format!("rm -f {} {}\n", file(host, &format!("{id}.json")), file(host, &format!("{id}.sql.zst")));
    }
    host.target.run(&step, &s, Stdin::Null).map_err(|e| host.remote(&step, e))?;
    Ok(())
}

/// Snapshots go with their release: removes every snapshot taken for a release that is not in
/// `kept` (the releases still on the environment's hosts); those taken by hand stay. Returns
/// the ids removed.
pub fn prune(host: &DbHost<'_>, kept: &[String]) -> Result<Vec<String>, DbError> {
    let gone: Vec<String> = snapshots(host)?
        .into_iter()
        .filter(|s| !s.manual && s.release.as_ref().is_none_or(|r| !kept.contains(r)))
        .map(|s| s.id)
        .collect();
    remove(host, &gone)?;
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(name: &str, rows: u64, sum: &str) -> TableStat {
        TableStat { name: name.into(), rows, checksum: sum.into() }
    }

    #[test]
    fn changes_name_added_removed_and_changed_tables() {
        let then = [stat("a", 1, "x"), stat("b", 2, "y"), stat("c", 3, "z")];
        let now = [stat("a", 1, "x"), stat("b", 1, "q"), stat("d", 5, "w")];
        let c = changes_between(&then, &now);
        let shown: Vec<String> = c.iter().map(describe_change).collect();
        assert_eq!(shown, ["`b` (2 → 1 rows)", "`c` (dropped since, had 3 rows)", "`d` (added since, 5 rows)"]);
        assert!(changes_between(&then, &then).is_empty());
    }

    #[test]
    fn ids_are_file_names() {
        assert!(valid_id("20261203T101500Z").is_ok());
        assert!(valid_id("before-import.2").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", "x;rm", &"x".repeat(101)] {
            assert!(valid_id(bad).is_err(), "{bad}");
        }
    }
}
