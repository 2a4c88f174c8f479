//! The hosts of one environment, connected, and worked in parallel.

use cutover_config::{DeployPath, HostSpec};
use cutover_remote::journal::{Event, Kind};
use cutover_remote::lock::LockInfo;
use cutover_remote::{HostState, Inspect, LockState, RemoteError, Reporter, SshOptions, Stdin, Target, shell};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::{Outcome, ReleaseError, scripts};

#[derive(Debug)]
pub struct Fleet {
    pub env_name: String,
    pub root: DeployPath,
    pub targets: Vec<Box<dyn Target>>,
    /// How many hosts are worked at once (`[ssh] max_parallel`).
    pub max_parallel: usize,
}

impl Fleet {
    /// Connects to every host at once; fails naming every host that could not be reached.
    pub fn connect(
        env_name: &str,
        hosts: &[HostSpec],
        root: DeployPath,
        options: &SshOptions,
        reporter: &dyn Reporter,
    ) -> Result<Self, ReleaseError> {
        reporter.step(None, &format!("connecting to {} host(s)", hosts.len()));
        let results = bounded(hosts.len(), options.max_parallel, |i| cutover_remote::connect(&hosts[i], options));
        let (targets, errors) = split(results);
        if !errors.is_empty() {
            return Err(ReleaseError::Hosts { step: "connecting".into(), errors, outcome: Outcome::Unchanged });
        }
        Ok(Self { env_name: env_name.to_owned(), root, targets, max_parallel: options.max_parallel })
    }

    /// Runs `f` on every host in parallel, at most `max_parallel` at once; results in host order.
    pub fn each<T: Send>(&self, f: impl Fn(usize, &dyn Target) -> T + Sync) -> Vec<T> {
        bounded(self.targets.len(), self.max_parallel, |i| f(i, self.targets[i].as_ref()))
    }

    /// Reads every host's state without changing anything.
    pub fn inspect(&self) -> Vec<Result<HostState, RemoteError>> {
        self.each(|_, t| cutover_remote::inspect(t, Inspect { root: &self.root, acquire: None }))
    }

    /// Every host's state, or an error naming each host that could not be read.
    pub fn read_states(&self) -> Result<Vec<HostState>, ReleaseError> {
        let (states, errors) = split(self.inspect());
        if errors.is_empty() {
            Ok(states)
        } else {
            Err(ReleaseError::Hosts { step: "reading status".into(), errors, outcome: Outcome::Unchanged })
        }
    }

    /// Takes the deploy lock on every host and reads their state in the same round trip. If any
    /// host refuses, the locks taken are given back and nothing else happened.
    pub fn lock(&self, lock: &LockInfo) -> Result<Vec<HostState>, ReleaseError> {
        let results = self.each(|_, t| self.acquire(t, lock));
        self.judge(lock, results)
    }

    /// [`Fleet::lock`] for a rollback (DESIGN: no stale lock of this machine may block it): when
    /// every lock in the way is held by a process of this machine that is gone, those locks are
    /// broken (journaled with who broke them and why) and taken. Any other holder (alive, of
    /// another machine, unreadable) still refuses, and then nothing is broken.
    pub fn lock_breaking_stale(
        &self,
        lock: &LockInfo,
        reporter: &dyn Reporter,
    ) -> Result<Vec<HostState>, ReleaseError> {
        let mut results = self.each(|_, t| self.acquire(t, lock));
        let stale = |r: &Result<HostState, RemoteError>| match r {
            Ok(HostState { lock: LockState::Held(info), .. }) => info.stale() == Some(true),
            _ => false,
        };
        let in_the_way =
            |r: &Result<HostState, RemoteError>| !matches!(r, Ok(HostState { lock: LockState::Acquired, .. }));
        // A `current` that is not a release's is refused first: nothing is broken for it.
        let bad_current = results.iter().any(|r| matches!(r, Ok(HostState { current_problem: Some(_), .. })));
        if !bad_current && results.iter().any(stale) && results.iter().filter(|r| in_the_way(r)).all(stale) {
            let who = &lock.holder;
            let again = self.each(|i, t| {
                let Ok(HostState { lock: LockState::Held(old), .. }) = &results[i] else { return None };
                let reason = format!(
                    "stale lock of {}: its process is gone; broken by {}@{} for `{}`",
                    old.describe(),
                    who.user,
                    who.machine,
                    lock.command
                );
                let event = Event::new(Kind::Unlock, None, who).reason(&reason);
                let script = format!("cd {}\n{}", shell::path_expr(&self.root), old.break_script(&event));
                Some(t.run("breaking the stale deploy lock", &script, Stdin::Null).and_then(|out| {
                    if out.stdout.contains("@@broken") {
                        reporter.warn(Some(t.name()), &format!("broke the stale deploy lock of {}", old.describe()));
                    }
                    self.acquire(t, lock)
                }))
            });
            for (slot, result) in results.iter_mut().zip(again) {
                if let Some(result) = result {
                    *slot = result;
                }
            }
        }
        self.judge(lock, results)
    }

    fn acquire(&self, t: &dyn Target, lock: &LockInfo) -> Result<HostState, RemoteError> {
        cutover_remote::inspect(t, Inspect { root: &self.root, acquire: Some(lock) })
    }

    /// The states, when every host gave this command the lock and every `current` is a release's;
    /// else the locks taken are given back and the error names each host whose `current` is
    /// something else (cutover does not guess which release is live there), or else each holder.
    fn judge(
        &self,
        lock: &LockInfo,
        results: Vec<Result<HostState, RemoteError>>,
    ) -> Result<Vec<HostState>, ReleaseError> {
        let mut states = Vec::new();
        let mut holders = Vec::new();
        let mut any_stale = false;
        let mut errors = Vec::new();
        for (target, result) in self.targets.iter().zip(results) {
            match result {
                Ok(state) => {
                    match &state.lock {
                        LockState::Held(info) => {
                            let stale = info.stale() == Some(true);
                            any_stale |= stale;
                            let note = if stale { " (stale: that process is gone)" } else { "" };
                            holders.push(format!("  `{}`: held by {}{note}", target.name(), info.describe()));
                        }
                        LockState::Unreadable(text) => {
                            holders.push(format!("  `{}`: held, lock file unreadable: {}", target.name(), text.trim()));
                        }
                        LockState::NotAFile(what) => holders.push(format!(
                            "  `{}`: `{}/{}` is {what}, not a lock file: cutover never makes one; \
                             look at what made it, then remove it by hand",
                            target.name(),
                            self.root,
                            cutover_remote::lock::PATH
                        )),
                        LockState::Acquired | LockState::Free => {}
                    }
                    states.push(state);
                }
                Err(e) => errors.push(e),
            }
        }
        let bad_current: Vec<_> =
            states.iter().filter_map(|s| Some((s.host.as_str(), s.current_problem.as_ref()?))).collect();
        if holders.is_empty() && errors.is_empty() && bad_current.is_empty() {
            return Ok(states);
        }
        // Release is token-checked, so asking every host is safe, including one that took the
        // lock and then failed (say, on a malformed journal).
        self.release(lock);
        if !bad_current.is_empty() {
            return Err(ReleaseError::bad_current(&self.root, bad_current));
        }
        if !holders.is_empty() {
            return Err(ReleaseError::Locked { holders, any_stale });
        }
        Err(ReleaseError::Hosts { step: "taking the deploy lock".into(), errors, outcome: Outcome::Unchanged })
    }

    /// Gives the lock back on every host (best effort: a host that is gone keeps a stale lock).
    pub fn release(&self, lock: &LockInfo) {
        let script = format!("cd {} || exit 0\n{}", shell::path_expr(&self.root), lock.release_script());
        self.each(|_, t| t.run("releasing the deploy lock", &script, Stdin::Null).ok());
    }

    pub fn record(&self, target: &dyn Target, events: &[Event]) -> Result<(), RemoteError> {
        target.run("writing the journal", &scripts::record(&self.root, events), Stdin::Null).map(drop)
    }

    /// Points `current` on one host at `to` ([`scripts::switch`]), journaling `before` and
    /// `after`; with `guard`, only while the host's lock is still that holder's, checked in the
    /// same script: a command whose lock was broken (`cutover unlock`) never switches.
    /// `extra` runs after the switch in the same session (giving the lock back).
    pub fn switch(
        &self,
        target: &dyn Target,
        to: Option<&str>,
        events: (&[Event], &Event),
        guard: Option<&LockInfo>,
        extra: &str,
    ) -> Result<Switch, RemoteError> {
        let script = scripts::switch(&self.root, to, events.0, events.1, guard) + extra;
        let out = target.run("switching `current`", &script, Stdin::Null)?;
        Ok(if out.stdout.contains(scripts::LOCK_LOST) { Switch::LockLost } else { Switch::Done })
    }
}

/// What [`Fleet::switch`] did on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Done,
    /// Refused before changing anything: the host's lock is no longer this command's.
    LockLost,
}

impl Drop for Fleet {
    /// Closes the SSH master connections of all hosts at once rather than one after another.
    fn drop(&mut self) {
        let targets: Vec<_> = std::mem::take(&mut self.targets).into_iter().map(|t| Mutex::new(Some(t))).collect();
        bounded(targets.len(), self.max_parallel, |i| {
            drop(targets[i].lock().unwrap_or_else(PoisonError::into_inner).take())
        });
    }
}

/// `f(0)`, …, `f(n - 1)` on at most `limit` threads at once (each taking the next index as it
/// ends one), results in index order: a fleet of any size works its hosts in parallel without
/// a thread and an ssh process per host at the same moment.
pub fn bounded<T: Send>(n: usize, limit: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if n <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..limit.clamp(1, n) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let out = f(i);
                    *results[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(out);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.into_inner().unwrap_or_else(PoisonError::into_inner).expect("every index ran"))
        .collect()
}

/// Splits per-host results into the successes and the errors.
pub(crate) fn split<T>(results: Vec<Result<T, RemoteError>>) -> (Vec<T>, Vec<RemoteError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::bounded;

    /// Each call waits (10 s at most) until a whole wave has started, so as many run at once as
    /// may: exactly `limit`, never more, and the results come back in index order.
    #[test]
    fn bounded_runs_at_most_limit_at_once_and_keeps_the_order() {
        for (n, limit) in [(10, 3), (5, 128), (1, 1), (0, 4)] {
            let (started, running, most) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
            let wave = limit.min(n);
            let out = bounded(n, limit, |i| {
                started.fetch_add(1, Ordering::SeqCst);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(10);
                while started.load(Ordering::SeqCst) < wave && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            });
            assert_eq!(out, (0..n).map(|i| i * 2).collect::<Vec<_>>(), "n {n}, limit {limit}");
            assert_eq!(most.load(Ordering::SeqCst), wave, "n {n}, limit {limit}");
        }
    }
}
