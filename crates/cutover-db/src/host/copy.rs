//! One database copied into another: the source's dump streamed off its host, through the
//! rewriter in this process, into the target's load, with nothing written to disk between.
//! Three threads and a pipe: the dump writes into the pipe, the load's stdin is fed by the
//! rewriter reading from it. The load is told to commit only once the dump ended whole.

use std::io::{self, Read, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::Serialize;

use super::{Database, DbError, DbHost, DumpScope, Existing, Input, dump, load, refuse_unless_empty, replace_tables};
use crate::{Options, Report, Rewriter, Stats, rewrite_dump};

/// One side of a copy.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub db: &'a Database,
    pub host: DbHost<'a>,
}

#[derive(Debug)]
pub struct Copy<'a> {
    pub from: Side<'a>,
    pub to: Side<'a>,
    pub scope: DumpScope,
    pub existing: Existing,
    pub rewriter: &'a Rewriter,
    pub options: &'a Options,
}

/// What a copy did.
#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    #[serde(flatten)]
    pub stats: Stats,
    pub seconds: f64,
}

/// Copies `copy.from` into `copy.to` (with `Replace` and a scope of tables, just those tables
/// are replaced). `progress` hears the dump bytes read so far; `report`
/// each value left as it was. The target is as it was unless this returns `Ok`.
pub fn copy(
    copy: &Copy<'_>,
    progress: &(dyn Fn(u64) + Sync),
    report: &mut (dyn FnMut(Report) + Send),
) -> Result<Copied, DbError> {
    let Copy { from, to, scope, existing, rewriter, options } = copy;
    if from.db.engine != to.db.engine {
        return Err(DbError::Config {
            env: to.host.env.to_owned(),
            detail: format!(
                "cannot copy a {} database into a {} one: both environments must use the same engine",
                from.db.engine.as_str(),
                to.db.engine.as_str()
            ),
        });
    }
    // Said before the dump starts, so a refusal costs nothing on staging.
    if *existing == Existing::Refuse {
        refuse_unless_empty(to.db, &to.host)?;
    }
    let started = Instant::now();
    let (reader, writer) =
        io::pipe().map_err(|source| io_error(to, "opening the pipe between dump and load", source))?;
    let dumped: Mutex<Option<Result<(), DbError>>> = Mutex::new(None);
    let dumped = &dumped;
    let (loaded, stats, load_failed_first) = std::thread::scope(|s| {
        let dumper = std::thread::Builder::new()
            .name("dump".into())
            .spawn_scoped(s, move || {
                let mut writer = writer;
                let result = dump(from.db, &from.host, scope, &mut writer);
                *dumped.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                // Dropping the writer is the end of the load's input.
            })
            .map_err(|source| io_error(to, "starting the dump", source))?;
        // The rewriter runs inside the load's `feed`, on a thread with room for the deepest
        // nesting of values it accepts.
        let loader = std::thread::Builder::new()
            .name("rewrite".into())
            .stack_size(64 << 20)
            .spawn_scoped(s, move || {
                let mut reader = Some(Counting { inner: reader, read: 0, progress });
                let mut stats = None;
                let mut feed = |w: &mut dyn Write| -> io::Result<()> {
                    // Borrowed, not taken: the pipe stays open until the load has ended (below).
                    let input = reader.as_mut().expect("the load's input is there until the load ends");
                    let result = rewrite_dump(input, w, rewriter, options, &mut *report);
                    // The pipe ended, so the dump thread has said how the dump went.
                    let dump_ok = matches!(*dumped.lock().unwrap_or_else(PoisonError::into_inner), Some(Ok(())));
                    match result {
                        Ok(s) if dump_ok => {
                            stats = Some(s);
                            Ok(())
                        }
                        Ok(_) => Err(io::Error::other("the dump did not end whole; the load was abandoned")),
                        // Kept as it is: a broken pipe means the load stopped reading, and
                        // its own status and stderr then say why.
                        Err(crate::DumpError::Io(e)) => Err(e),
                        Err(e) => Err(io::Error::other(e.to_string())),
                    }
                };
                // Replacing some tables replaces those alone, not the whole database.
                let loaded = if existing.replaces() && !scope.tables.is_empty() {
                    replace_tables(to.db, &to.host, *existing, &scope.tables, &mut feed)
                } else {
                    load(to.db, &to.host, *existing, Input::Feed(&mut feed))
                };
                // A load that failed while the dump still ran (a statement refused, the target
                // unreachable) is what stops the dump, by closing the pipe just below, not the
                // other way round: the dump has not said how it went yet.
                let load_failed_first =
                    loaded.is_err() && dumped.lock().unwrap_or_else(PoisonError::into_inner).is_none();
                // Unread input is dropped here, so the dump's writes fail and it stops.
                drop(reader);
                (loaded, stats, load_failed_first)
            })
            .map_err(|source| io_error(to, "starting the rewriter", source))?;
        let result = loader.join().expect("the load does not panic");
        dumper.join().expect("the dump does not panic");
        Ok::<_, DbError>(result)
    })?;
    // The dump's own failure is the story when there is one: the load only saw its input end.
    // Unless the load failed first: the dump then only saw its output close.
    if let Some(Err(e)) = dumped.lock().unwrap_or_else(PoisonError::into_inner).take()
        && !load_failed_first
    {
        return Err(e);
    }
    loaded?;
    let stats = stats.ok_or_else(|| DbError::Refused {
        env: to.host.env.to_owned(),
        host: to.host.name().to_owned(),
        step: "loading".into(),
        detail: "the load ended without reading the dump".into(),
    })?;
    Ok(Copied { stats, seconds: started.elapsed().as_secs_f64() })
}

fn io_error(side: &Side<'_>, step: &str, source: io::Error) -> DbError {
    DbError::Refused {
        env: side.host.env.to_owned(),
        host: side.host.name().to_owned(),
        step: step.to_owned(),
        detail: source.to_string(),
    }
}

struct Counting<'a, R> {
    inner: R,
    read: u64,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}
