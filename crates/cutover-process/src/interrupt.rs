//! Interruption: SIGINT (Ctrl-C) and SIGTERM ask a command to stop, not kill it. Only the
//! binary [`install`]s the handler, for the commands that change hosts or watch them (deploy,
//! rollback, monitor); the engines ask [`requested`] between steps, stop starting new work, and
//! finish or undo the step in flight. A second signal does what it would have done without the
//! handler (ends the process at once), for a user who will not wait.
//!
//! The children that do a step's work (ssh sessions, bounded local processes) run in process
//! groups of their own, so a Ctrl-C on the terminal reaches cutover alone and the step in
//! flight finishes; `[app] build`, a foreground job, is stopped with cutover as in a shell.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};

/// The signal that asked to stop, once one came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(usize);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 as i32 {
            SIGINT => f.write_str("SIGINT"),
            SIGTERM => f.write_str("SIGTERM"),
            other => write!(f, "signal {other}"),
        }
    }
}

struct Flags {
    /// Set by the first signal; a signal that finds it set ends the process.
    seen: Arc<AtomicBool>,
    /// The first signal's number.
    which: Arc<AtomicUsize>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Makes SIGINT and SIGTERM set the flag [`requested`] reads instead of ending the process (a
/// second one still ends it). Calling it again does nothing.
pub fn install() -> io::Result<()> {
    if FLAGS.get().is_some() {
        return Ok(());
    }
    let flags = Flags { seen: Arc::new(AtomicBool::new(false)), which: Arc::new(AtomicUsize::new(0)) };
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&flags.seen))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&flags.which), signal as usize)?;
        signal_hook::flag::register(signal, Arc::clone(&flags.seen))?;
    }
    let _ = FLAGS.set(flags);
    Ok(())
}

/// The signal that asked this process to stop, if one came since [`install`].
pub fn requested() -> Option<Interrupted> {
    let flags = FLAGS.get()?;
    if !flags.seen.load(Ordering::SeqCst) {
        return None;
    }
    Some(Interrupted(flags.which.load(Ordering::SeqCst)))
}

/// How often [`sleep`] looks at the flag.
const TICK: Duration = Duration::from_millis(50);

/// Sleeps for `duration`, or less when a signal asks to stop (then says which).
pub fn sleep(duration: Duration) -> Result<(), Interrupted> {
    let end = Instant::now() + duration;
    loop {
        if let Some(signal) = requested() {
            return Err(signal);
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(TICK));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sets_the_flag_instead_of_ending_the_process() {
        assert_eq!(requested(), None, "nothing asked before install");
        install().unwrap();
        install().unwrap();
        assert_eq!(requested(), None);
        assert_eq!(sleep(Duration::from_millis(10)), Ok(()));
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM).unwrap();
        let start = Instant::now();
        while requested().is_none() {
            assert!(start.elapsed() < Duration::from_secs(5), "the signal never arrived");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(requested().map(|s| s.to_string()).as_deref(), Some("SIGTERM"));
        let start = Instant::now();
        assert!(sleep(Duration::from_secs(30)).is_err());
        assert!(start.elapsed() < Duration::from_secs(1), "a sleep ends when asked to stop");
    }
}
