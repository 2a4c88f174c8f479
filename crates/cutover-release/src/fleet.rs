//! The hosts of one environment, connected, and worked in parallel.

use cutover_config::{DeployPath, HostSpec};
use cutover_remote::lock::LockInfo;
use cutover_remote::{HostState, Inspect, LockState, RemoteError, Reporter, SshOptions, Target};

use crate::{Outcome, ReleaseError, scripts};

#[derive(Debug)]
pub struct Fleet {
    pub env_name: String,
    pub root: DeployPath,
    pub targets: Vec<Box<dyn Target>>,
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
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = hosts.iter().map(|h| s.spawn(move || cutover_remote::connect(h, options))).collect();
            handles.into_iter().map(|h| h.join().expect("connect thread")).collect()
        });
        let (targets, errors) = split(results);
        if !errors.is_empty() {
            return Err(ReleaseError::Hosts { step: "connecting".into(), errors, outcome: Outcome::Unchanged });
        }
        Ok(Self { env_name: env_name.to_owned(), root, targets })
    }

    /// Runs `f` on every host in parallel; results in host order.
    pub fn each<T: Send>(&self, f: impl Fn(usize, &dyn Target) -> T + Sync) -> Vec<T> {
        if self.targets.len() == 1 {
            return vec![f(0, self.targets[0].as_ref())];
        }
        std::thread::scope(|s| {
            let f = &f;
            let handles: Vec<_> =
                self.targets.iter().enumerate().map(|(i, t)| s.spawn(move || f(i, t.as_ref()))).collect();
            handles.into_iter().map(|h| h.join().expect("host thread")).collect()
        })
    }

    /// Reads every host's state without changing anything.
    pub fn inspect(&self) -> Vec<Result<HostState, RemoteError>> {
        self.each(|_, t| cutover_remote::inspect(t, Inspect { root: &self.root, acquire: None }))
    }

    /// Takes the deploy lock on every host and reads their state in the same round trip. If any
    /// host refuses, the locks taken are given back and nothing else happened.
    pub fn lock(&self, lock: &LockInfo) -> Result<Vec<HostState>, ReleaseError> {
        let results = self.each(|_, t| cutover_remote::inspect(t, Inspect { root: &self.root, acquire: Some(lock) }));
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
                        LockState::Acquired | LockState::Free => {}
                    }
                    states.push(state);
                }
                Err(e) => errors.push(e),
            }
        }
        if holders.is_empty() && errors.is_empty() {
            return Ok(states);
        }
        // Release is token-checked, so asking every host is safe, including one that took the
        // lock and then failed (say, on a malformed journal).
        self.release(lock);
        if !holders.is_empty() {
            return Err(ReleaseError::Locked { holders, any_stale });
        }
        Err(ReleaseError::Hosts { step: "taking the deploy lock".into(), errors, outcome: Outcome::Unchanged })
    }

    /// Gives the lock back on every host (best effort: a host that is gone keeps a stale lock).
    pub fn release(&self, lock: &LockInfo) {
        let script =
            format!("cd {} || exit 0\n{}", cutover_remote::shell::path_expr(&self.root), lock.release_script());
        self.each(|_, t| t.run("releasing the deploy lock", &script, cutover_remote::Stdin::Null).ok());
    }

    pub fn record(&self, target: &dyn Target, events: &[cutover_remote::journal::Event]) -> Result<(), RemoteError> {
        target.run("writing the journal", &scripts::record(&self.root, events), cutover_remote::Stdin::Null).map(drop)
    }
}

impl Drop for Fleet {
    /// Closes the SSH master connections of all hosts at once rather than one after another.
    fn drop(&mut self) {
        let targets = std::mem::take(&mut self.targets);
        std::thread::scope(|s| {
            for target in targets {
                s.spawn(move || drop(target));
            }
        });
    }
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
