//! A deploy: build, hash, lock every host, prepare the release everywhere, and only when every
//! host is prepared switch them all; undo the switch if any host fails it, roll back if an
//! `after_switch` hook fails, then clean up old releases.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

use cutover_config::{App, Hooks};
use cutover_process::{ProcessError, interrupt};
use cutover_remote::journal::{Cause, Event, Kind};
use cutover_remote::lock::LockInfo;
use cutover_remote::shell::NO_SPACE;
use cutover_remote::{HostState, Identity, RemoteError, Reporter, Stdin, Target};

use crate::error::{hosts_of as hosts, list, quoted};
use crate::fleet::{Switch, split};
use crate::upload::{Delta, write_tar};
use crate::{DeployReport, Excludes, Fleet, History, HostUpload, Manifest, Outcome, ReleaseError, retention, scripts};

#[derive(Debug, Clone, Copy)]
pub struct DeployRequest<'a> {
    pub app: &'a App,
    pub hooks: &'a Hooks,
    /// How the command was invoked, for the lock (`cutover deploy`).
    pub command: &'a str,
    /// Manifests of earlier releases by hash (`.cutover/manifests` next to the config), so the
    /// base of a delta need not be fetched from the host; `None` fetches it every time.
    pub cache: Option<&'a Path>,
    /// The rendered `.env` (secret: sent on stdin only), written to each host as
    /// `shared/.env.<id>` (0600) and linked as the release's `.env`, so a rollback brings back
    /// the `.env` that release ran with. `.env` in `[app] shared` is then served by it.
    pub env_file: Option<&'a [u8]>,
    /// Run once every host is live on the new release and `after_switch` passed (the smoke
    /// checks); an `Err` with the reason rolls every host back, marks the release failed, and
    /// the deploy ends with [`ReleaseError::VerifyFailed`].
    pub verify: Option<&'a dyn Verify>,
    /// Why this deploy went ahead past gates that had not passed (`--force --reason`): kept in
    /// every host's journal with the release's `prepare` event.
    pub forced: Option<&'a str>,
    /// Asked once every host is locked and the release's delta to each is known, before any
    /// file is sent; `false` stops the deploy with nothing changed ([`ReleaseError::NotConfirmed`]).
    pub confirm: Option<&'a dyn Confirm>,
    /// Run once every host is prepared, before any switches (the database seeded or migrated);
    /// an `Err` with the reason marks the release failed on every host and stops the deploy
    /// with nothing switched ([`ReleaseError::BeforeSwitch`]).
    pub before_switch: Option<&'a dyn BeforeSwitch>,
}

/// Work done once per deploy on the prepared release, before the switch: every host holds the
/// release whole and is locked; nothing is live yet.
pub trait BeforeSwitch: Sync + std::fmt::Debug {
    fn before_switch(&self, fleet: &Fleet, release: &str, previous: Option<&str>) -> Result<(), String>;
}

/// Asks whether a deploy may go ahead, once its [`Preview`] is known (a prompt on a terminal).
pub trait Confirm: Sync + std::fmt::Debug {
    fn confirm(&self, preview: &Preview) -> bool;
}

/// What a deploy will send and switch: the release, and for each host what is live there now,
/// the base its delta is made from, and how much goes over the wire.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preview {
    pub env: String,
    pub release: String,
    pub files: usize,
    pub bytes: u64,
    pub hosts: Vec<HostPreview>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HostPreview {
    pub host: String,
    /// Live now: `current` moves from it to the new release.
    pub current: Option<String>,
    /// The release unchanged files are linked from.
    pub base: Option<String>,
    pub send_files: usize,
    pub send_bytes: u64,
    pub linked_files: usize,
}

/// `cutover deploy --dry-run`: what a deploy would send and switch, read from every host
/// without taking the lock or writing anything there. `[app] build` does not run: the source
/// is hashed as it is.
pub fn preview(fleet: &Fleet, req: &DeployRequest<'_>, reporter: &dyn Reporter) -> Result<Preview, ReleaseError> {
    let manifest = scan_source(req.app, reporter)?;
    let states = fleet.read_states()?;
    let lock = LockInfo::new(req.command);
    let text = manifest.to_text();
    let deploy = Deploy {
        fleet,
        req,
        manifest: &manifest,
        text: &text,
        states: &states,
        lock: &lock,
        who: &lock.holder,
        reporter,
    };
    let id = new_release_id(&states);
    Ok(deploy.preview(&id, &deploy.bases()))
}

/// A check of a release once it is live (see [`DeployRequest::verify`]).
pub trait Verify: Sync + std::fmt::Debug {
    fn verify(&self, release: &str) -> Verdict;
}

/// What a [`Verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The release must not stay live: why.
    Fail(String),
    /// Nothing could be checked (this machine's network, not the site): the release stays live
    /// and the deploy says so.
    Unverified(String),
}

/// A deploy stopped by SIGINT or SIGTERM ([`interrupt`]) stops starting new work: before the
/// switch, no host switches and the release is journaled `interrupted`; once the switch has
/// started, it and `after_switch` finish, the checks stop, and the live release is journaled
/// `interrupted` (live, not verified). The lock is given back either way.
pub fn deploy(fleet: &Fleet, req: &DeployRequest<'_>, reporter: &dyn Reporter) -> Result<DeployReport, ReleaseError> {
    stop_if_interrupted("before any host was touched")?;
    let built = build(req.app, reporter);
    stop_if_interrupted("before any host was touched")?;
    built?;
    let manifest = scan_source(req.app, reporter)?;
    stop_if_interrupted("before any host was touched")?;
    let lock = LockInfo::new(req.command);
    let states = fleet.lock(&lock)?;
    let text = manifest.to_text();
    let result = Deploy {
        fleet,
        req,
        manifest: &manifest,
        text: &text,
        states: &states,
        lock: &lock,
        who: &lock.holder,
        reporter,
    }
    .run();
    fleet.release(&lock);
    result
}

/// The app's manifest: every file under `[app] source` but the excluded ones, hashed.
fn scan_source(app: &App, reporter: &dyn Reporter) -> Result<Manifest, ReleaseError> {
    reporter.step(None, &format!("hashing `{}`", app.source.display()));
    let excludes = Excludes::new(app.exclude.iter().map(|e| e.as_str()));
    Manifest::scan(&app.source, &excludes)
}

/// [`ReleaseError::Interrupted`] with `detail` when a signal asked to stop.
pub(crate) fn stop_if_interrupted(detail: &str) -> Result<(), ReleaseError> {
    match interrupt::requested() {
        Some(signal) => Err(ReleaseError::Interrupted { signal: signal.to_string(), detail: detail.to_owned() }),
        None => Ok(()),
    }
}

/// Runs `[app] build` in the source directory, as a foreground job (it may ask on the terminal,
/// and Ctrl-C stops it with cutover). Its output goes to the reporter, line by line as it comes,
/// never to stdout (which belongs to `--json`).
fn build(app: &App, reporter: &dyn Reporter) -> Result<(), ReleaseError> {
    let Some(command) = &app.build else { return Ok(()) };
    reporter.step(None, &format!("building: {command}"));
    let mut cmd = cutover_process::command("sh");
    cmd.arg("-c").arg(command).current_dir(&app.source);
    let mut on_line = |_, line: &str| reporter.hook_line("build", line);
    let status = cutover_process::run_foreground(cmd, &mut on_line).map_err(|e| match e {
        ProcessError::Start { source, .. } | ProcessError::Wait { source, .. } => {
            ReleaseError::Source { path: app.source.display().to_string(), source }
        }
        other => ReleaseError::Build { command: command.clone(), status: other.to_string() },
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(ReleaseError::Build { command: command.clone(), status: status.to_string() })
    }
}

struct Deploy<'a> {
    fleet: &'a Fleet,
    req: &'a DeployRequest<'a>,
    manifest: &'a Manifest,
    /// The manifest's text form, as stored on hosts and in the cache.
    text: &'a str,
    states: &'a [HostState],
    /// This deploy's lock: every switch checks the host still holds it.
    lock: &'a LockInfo,
    who: &'a Identity,
    reporter: &'a dyn Reporter,
}

impl Deploy<'_> {
    fn run(&self) -> Result<DeployReport, ReleaseError> {
        let id = new_release_id(self.states);
        let hash = self.manifest.hash();
        let previous: Vec<Option<&str>> = self.states.iter().map(|s| s.current.as_deref()).collect();
        let distinct: BTreeSet<_> = previous.iter().collect();
        if distinct.len() > 1 {
            let on =
                self.states.iter().map(|s| format!("`{}` on {}", s.host, s.current.as_deref().unwrap_or("nothing")));
            self.reporter.warn(
                None,
                &format!(
                    "hosts were on different releases ({}); this deploy puts them all on {id}",
                    on.collect::<Vec<_>>().join(", ")
                ),
            );
        }
        self.reporter.step(
            None,
            &format!("release {id}: {} files, {} bytes", self.manifest.files().count(), self.manifest.total_bytes()),
        );

        // Phase 1: prepare everywhere; nothing is live yet.
        if let Some(signal) = interrupt::requested() {
            let reason = format!("cutover deploy interrupted by {signal} before preparing {id}; nothing changed");
            self.fleet.each(|_, t| {
                self.fleet.record(t, &[Event::new(Kind::Interrupted, None, self.who).reason(&reason)]).ok()
            });
            return Err(ReleaseError::Interrupted {
                signal: signal.to_string(),
                detail: format!("stopped before preparing {id}; nothing changed on any host"),
            });
        }
        let bases = self.bases();
        if let Some(confirm) = self.req.confirm
            && !confirm.confirm(&self.preview(&id, &bases))
        {
            return Err(ReleaseError::NotConfirmed { env: self.fleet.env_name.clone(), release: id });
        }
        let prepared = self.fleet.each(|i, t| self.prepare(t, bases[i].as_ref(), &id, &hash));
        let (uploads, errors) = split(prepared);
        // Stopped before the switch: no host moves, whether or not each finished preparing.
        if let Some(signal) = interrupt::requested() {
            return Err(self.interrupted_before_switch(&id, &previous, signal, &errors));
        }
        let uploads: Vec<HostUpload> = uploads.into_iter().flatten().collect();
        if errors.is_empty() {
            self.remember(&hash, self.text);
        } else {
            let reason = format!("preparation failed on {}", hosts(&errors));
            self.fleet.each(|_, t| self.fleet.record(t, &[self.event(Kind::Failed, &id).reason(&reason)]).ok());
            return Err(ReleaseError::Hosts {
                step: format!("preparing release {id}"),
                errors,
                outcome: Outcome::Unchanged,
            });
        }

        // Phase 1b: the once-per-deploy work on the prepared release (seed, migrate).
        if let Some(before) = self.req.before_switch {
            if let Err(detail) = before.before_switch(self.fleet, &id, previous[0]) {
                let reason = format!("before the switch: {detail}");
                self.fleet.each(|_, t| self.fleet.record(t, &[self.event(Kind::Failed, &id).reason(&reason)]).ok());
                return Err(ReleaseError::BeforeSwitch { release: id, detail });
            }
            if let Some(signal) = interrupt::requested() {
                return Err(self.interrupted_before_switch(&id, &previous, signal, &[]));
            }
        }

        // Phase 2: every host is prepared; switch them all.
        self.reporter.step(None, &format!("switching {} host(s) to {id}", self.fleet.targets.len()));
        let switched = self.fleet.each(|i, t| {
            let before = [self.event(Kind::Switch, &id).from(previous[i]).cause(Cause::Deploy)];
            let after = self.event(Kind::Switched, &id).from(previous[i]).cause(Cause::Deploy);
            self.fleet.switch(t, Some(&id), (&before, &after), Some(self.lock), "")
        });
        // A host whose lock is no longer ours (`cutover unlock` ran meanwhile) did not switch,
        // and another command may be at work there: it is left alone but for marking our release.
        let lost: Vec<bool> = switched.iter().map(|r| matches!(r, Ok(Switch::LockLost))).collect();
        if lost.contains(&true) {
            return Err(self.lock_lost(&id, &previous, &lost, switched));
        }
        let (_, errors) = split(switched);
        if !errors.is_empty() {
            // Some host did not switch: put every host back where it was. A host whose switch
            // failed is put back too, since the failure may have come after the rename.
            self.reporter.warn(None, &format!("switch failed on {}; putting every host back", hosts(&errors)));
            let reason = format!("switch failed on {}", hosts(&errors));
            self.back(&id, &previous, Cause::Revert, &reason, &errors, &[])?;
            return Err(ReleaseError::Hosts {
                step: format!("switching to {id}"),
                errors,
                outcome: Outcome::Unchanged,
            });
        }

        // Phase 3: after_switch hooks; a failure rolls every host back. They belong to the
        // switch: a signal now lets them finish.
        let hooks = self.fleet.each(|i, t| {
            self.hooks(t, "after_switch", &self.req.hooks.after_switch, &id, previous[i], false).map(drop)
        });
        let (_, errors) = split(hooks);
        if !errors.is_empty() {
            self.reporter.warn(None, &format!("after_switch failed on {}; rolling every host back", hosts(&errors)));
            let reason = format!("after_switch hook failed on {}", hosts(&errors));
            self.back(&id, &previous, Cause::Rollback, &reason, &errors, &[])?;
            let to = previous[0].map_or("no release (the first deploy was undone)".to_owned(), |p| format!("`{p}`"));
            return Err(ReleaseError::RolledBack { release: id, to, errors });
        }

        // Phase 4: the live release is checked; a failure rolls every host back. A signal stops
        // the checks (a verdict they reached before it still counts when it is a failure).
        if let Some(signal) = interrupt::requested() {
            return Err(self.interrupted_live(&id, signal, "before they started"));
        }
        let mut unverified = None;
        if let Some(verify) = self.req.verify {
            self.reporter.step(None, &format!("checking release {id}"));
            let verdict = verify.verify(&id);
            // Checks cut short leave the release live, not verified; checks that ended before
            // the signal keep their verdict (a failure still rolls back).
            if let Some(signal) = interrupt::requested() {
                match verdict {
                    Verdict::Unverified(_) => return Err(self.interrupted_live(&id, signal, "before they ended")),
                    Verdict::Pass => return Err(self.interrupted_verified(&id, signal)),
                    Verdict::Fail(_) => {}
                }
            }
            match verdict {
                Verdict::Pass => {}
                Verdict::Unverified(why) => unverified = Some(why),
                Verdict::Fail(detail) => {
                    self.reporter.warn(None, &format!("checks failed on {id}; rolling every host back"));
                    let reason = format!("checks failed after the switch: {detail}");
                    self.back(&id, &previous, Cause::Rollback, &reason, &[], &[])?;
                    let to =
                        previous[0].map_or("no release (the first deploy was undone)".to_owned(), |p| format!("`{p}`"));
                    return Err(ReleaseError::VerifyFailed { release: id, to, detail });
                }
            }
        }

        // Phase 5: retention; a failure here is only a warning.
        let keep = self.req.app.keep_releases.0 as usize;
        let removed = self.fleet.each(|_, t| match retention::clean(self.fleet, t, keep, self.who) {
            Ok(removed) => removed,
            Err(e) => {
                self.reporter.warn(Some(t.name()), &format!("cleanup of old releases failed: {e}"));
                Vec::new()
            }
        });
        let hosts = uploads.into_iter().zip(removed).map(|(mut u, r)| {
            u.removed = r;
            u
        });
        Ok(DeployReport {
            env: self.fleet.env_name.clone(),
            release: id,
            previous: previous[0].map(str::to_owned),
            manifest: hash,
            files: self.manifest.files().count(),
            app_bytes: self.manifest.total_bytes(),
            hosts: hosts.collect(),
            unverified,
        })
    }

    fn event(&self, kind: Kind, id: &str) -> Event {
        Event::new(kind, Some(id), self.who)
    }

    /// A signal came before the switch: nothing switches; `id` is journaled `interrupted` on
    /// every host (unfinished where its preparation was cut short, complete but never live
    /// where it was not), so every host stays on the release it was on.
    fn interrupted_before_switch(
        &self,
        id: &str,
        previous: &[Option<&str>],
        signal: interrupt::Interrupted,
        errors: &[RemoteError],
    ) -> ReleaseError {
        let reason = format!("cutover deploy interrupted by {signal} while preparing {id}; no host switched");
        self.reporter.warn(None, &format!("interrupted by {signal}: stopping before the switch"));
        self.fleet.each(|_, t| self.fleet.record(t, &[self.event(Kind::Interrupted, id).reason(&reason)]).ok());
        let on: BTreeSet<_> = previous.iter().map(|p| p.unwrap_or("no release")).collect();
        let mut detail = format!(
            "stopped while preparing {id}, before any host switched: every host is still on {}",
            on.into_iter().collect::<Vec<_>>().join(", ")
        );
        if !errors.is_empty() {
            detail += &format!("; preparing had also failed on {}:\n{}", hosts(errors), list(errors));
        }
        ReleaseError::Interrupted { signal: signal.to_string(), detail }
    }

    /// A signal came once `id` was live everywhere and had passed its checks: only the cleanup
    /// of old releases is left undone.
    fn interrupted_verified(&self, id: &str, signal: interrupt::Interrupted) -> ReleaseError {
        let reason =
            format!("cutover deploy interrupted by {signal} after {id} passed its checks; old releases not cleaned up");
        self.fleet
            .each(|_, t| self.fleet.record(t, &[Event::new(Kind::Interrupted, None, self.who).reason(&reason)]).ok());
        ReleaseError::Interrupted {
            signal: signal.to_string(),
            detail: format!("{id} is live on every host and passed its checks; the next deploy cleans up old releases"),
        }
    }

    /// A signal came once every host was live on `id` and `after_switch` had run: it stays
    /// live, journaled `interrupted` (not verified) when it has checks that did not run to the
    /// end, so `status` and `releases` show it as `live (interrupted)`.
    fn interrupted_live(&self, id: &str, signal: interrupt::Interrupted, when: &str) -> ReleaseError {
        self.reporter.warn(None, &format!("interrupted by {signal}: {id} is live; its checks stopped {when}"));
        let (release, reason, next) = match self.req.verify {
            Some(_) => (
                Some(id),
                format!("cutover deploy interrupted by {signal}; its checks stopped {when}: live, not verified"),
                "check it with `cutover smoke`, or go back with `cutover rollback`".to_owned(),
            ),
            None => (
                None,
                format!("cutover deploy interrupted by {signal} after {id} went live; old releases not cleaned up"),
                "the next deploy cleans up old releases".to_owned(),
            ),
        };
        self.fleet.each(|_, t| {
            self.fleet.record(t, &[Event::new(Kind::Interrupted, release, self.who).reason(&reason)]).ok()
        });
        let checks = if release.is_some() { format!(", but its checks were stopped {when}") } else { String::new() };
        ReleaseError::Interrupted {
            signal: signal.to_string(),
            detail: format!("{id} is live on every host and its after_switch hooks ran{checks}; {next}"),
        }
    }

    fn preview(&self, id: &str, bases: &[Option<(String, Manifest)>]) -> Preview {
        let hosts = self
            .states
            .iter()
            .zip(bases)
            .map(|(state, base)| {
                let delta = Delta::between(self.manifest, base.as_ref().map(|(_, m)| m));
                let send_bytes = delta
                    .send
                    .iter()
                    .map(|e| match &e.kind {
                        crate::EntryKind::File { size, .. } => *size,
                        _ => 0,
                    })
                    .sum();
                HostPreview {
                    host: state.host.clone(),
                    current: state.current.clone(),
                    base: base.as_ref().map(|(b, _)| b.clone()),
                    send_files: delta.send.iter().filter(|e| matches!(e.kind, crate::EntryKind::File { .. })).count(),
                    send_bytes,
                    linked_files: delta.link.len(),
                }
            })
            .collect();
        Preview {
            env: self.fleet.env_name.clone(),
            release: id.to_owned(),
            files: self.manifest.files().count(),
            bytes: self.manifest.total_bytes(),
            hosts,
        }
    }

    /// Each host's base for the delta: its current release and that release's manifest, from the
    /// local cache or else fetched from the host (once per distinct manifest) and checked against
    /// the hash its journal recorded. A host without a usable base gets every file.
    fn bases(&self) -> Vec<Option<(String, Manifest)>> {
        let mut known: HashMap<String, Option<Manifest>> = HashMap::new();
        let mut bases = Vec::new();
        for (state, target) in self.states.iter().zip(&self.fleet.targets) {
            let history = History::from_events(&state.journal);
            let current = state.current.as_deref().filter(|c| state.on_disk.iter().any(|d| d == c));
            let base = current.and_then(|id| {
                let hash = history.manifest(id)?;
                let manifest = known
                    .entry(hash.to_owned())
                    .or_insert_with(|| self.recall(hash).or_else(|| self.fetch(target.as_ref(), id, hash)))
                    .clone()?;
                Some((id.to_owned(), manifest))
            });
            bases.push(base);
        }
        bases
    }

    fn cached(&self, hash: &str) -> Option<PathBuf> {
        self.req.cache.map(|dir| dir.join(format!("{hash}.tsv")))
    }

    fn recall(&self, hash: &str) -> Option<Manifest> {
        let text = std::fs::read_to_string(self.cached(hash)?).ok()?;
        (blake3::hash(text.as_bytes()).to_hex().as_str() == hash).then(|| Manifest::from_text(&text)).flatten()
    }

    fn remember(&self, hash: &str, text: &str) {
        if let Some(path) = self.cached(hash)
            && let Some(dir) = path.parent()
        {
            let _ = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text));
        }
    }

    fn fetch(&self, t: &dyn Target, id: &str, hash: &str) -> Option<Manifest> {
        self.reporter.step(Some(t.name()), &format!("fetching the manifest of {id}"));
        let script = scripts::read_manifest(&self.fleet.root, id);
        let out = t.run("reading the current manifest", &script, Stdin::Null).ok()?;
        if blake3::hash(out.stdout.as_bytes()).to_hex().as_str() != hash {
            self.reporter
                .warn(Some(t.name()), &format!("the manifest of {id} does not match its journal; sending every file"));
            return None;
        }
        self.remember(hash, &out.stdout);
        Manifest::from_text(&out.stdout)
    }

    /// Uploads the release to one host and makes it complete there, without touching `current`.
    /// A release whose files did not all arrive is removed again ([`Self::discard`]); one whose
    /// `before_switch` hook failed is whole, and stays, marked failed, until retention. `None`
    /// when a signal asked to stop: the step in flight finished, the next did not start.
    fn prepare(
        &self,
        t: &dyn Target,
        base: Option<&(String, Manifest)>,
        id: &str,
        hash: &str,
    ) -> Result<Option<HostUpload>, RemoteError> {
        let Some(upload) = self.upload(t, base, id, hash).map_err(|e| self.discard(t, id, e))? else {
            // Stopped before its files were all there: undone, as a failed upload is.
            self.remove_partial(t, id);
            return Ok(None);
        };
        if !self.hooks(t, "before_switch", &self.req.hooks.before_switch, id, upload.base.as_deref(), true)? {
            return Ok(None);
        }
        self.fleet.record(t, &[self.event(Kind::Prepared, id).manifest(hash)])?;
        Ok(Some(upload))
    }

    /// The files of the release on one host: linked from the base, the rest sent, the manifest,
    /// the shared paths, the `.env`; `None` when a signal asked to stop between these steps.
    fn upload(
        &self,
        t: &dyn Target,
        base: Option<&(String, Manifest)>,
        id: &str,
        hash: &str,
    ) -> Result<Option<HostUpload>, RemoteError> {
        let stop = || interrupt::requested().is_some();
        let host = t.name();
        let root = &self.fleet.root;
        let mut base_id = base.map(|(b, _)| b.as_str());
        let mut delta = Delta::between(self.manifest, base.map(|(_, m)| m));
        let mut prepare = self.event(Kind::Prepare, id).from(base_id).manifest(hash);
        if let Some(forced) = self.req.forced {
            prepare = prepare.reason(forced);
        }
        self.reporter.step(
            Some(host),
            &format!("linking {} unchanged file(s) from {}", delta.link.len(), base_id.unwrap_or("nothing")),
        );
        let script = scripts::link(root, id, base_id, delta.link.len(), self.req.app.unchanged, &prepare);
        match t.run("linking unchanged files", &script, Stdin::Bytes(delta.drop.as_bytes())) {
            Ok(_) => {}
            // The base on the host is not what its manifest says (a file deleted or edited by
            // hand): start the release over and send every file. Nothing else is read so: a
            // full disk is reported as it is.
            Err(RemoteError::Failed { detail, .. })
                if base_id.is_some() && detail.contains(scripts::BASE_DIFFERS) && !no_space(&detail) =>
            {
                self.reporter.warn(
                    Some(host),
                    &format!("cannot link from {}: {detail}; sending every file", base_id.unwrap_or("")),
                );
                base_id = None;
                delta = Delta::between(self.manifest, None);
                t.run("starting the release over", &scripts::restart(root, id), Stdin::Null)?;
            }
            Err(e) => return Err(e),
        }
        if stop() {
            return Ok(None);
        }

        self.reporter.upload_start(host, delta.send_files(), delta.send_bytes());
        let mut sent = 0;
        let mut write = |pipe: &mut dyn Write| {
            sent = write_tar(&self.req.app.source, &delta.send, pipe, &mut |n| self.reporter.upload_progress(host, n))?;
            Ok(())
        };
        t.run("uploading", &scripts::unpack(root, id), Stdin::Writer(&mut write))?;
        self.reporter.upload_done(host);
        if stop() {
            return Ok(None);
        }

        let sha256 = hex(&sha2::Sha256::digest(self.text.as_bytes()));
        let shared: Vec<_> = self
            .req
            .app
            .shared()
            .iter()
            .filter(|s| self.req.env_file.is_none() || s.is_dir || s.path != scripts::ENV_FILE)
            .cloned()
            .collect();
        let script = scripts::finish(root, id, base_id, &sha256, &shared);
        let out = t.run("linking shared paths", &script, Stdin::Bytes(delta.add.as_bytes()))?;
        if out.stdout.contains("@@manifest-mismatch") {
            self.reporter.warn(Some(host), "the manifest rebuilt on the host did not match; sending it whole");
            t.run("storing the manifest", &scripts::store_manifest(root, id), Stdin::Bytes(self.text.as_bytes()))?;
        }
        if let Some(env) = self.req.env_file {
            self.reporter.step(Some(host), "writing the release's .env");
            t.run("writing the .env", &scripts::env_file(root, id), Stdin::Bytes(env))?;
        }
        Ok(Some(HostUpload {
            host: host.to_owned(),
            base: base_id.map(str::to_owned),
            linked_files: delta.link.len(),
            sent_files: delta.send_files(),
            sent_bytes: sent,
            removed: Vec::new(),
        }))
    }

    /// A host whose upload failed removes what it made of the release (journaled), so a full
    /// disk gets its space back. When the disk was (nearly) full, the error says so, whatever
    /// the step's tool said (tar says only "wrote only N of M bytes").
    fn discard(&self, t: &dyn Target, id: &str, error: RemoteError) -> RemoteError {
        match (error, self.remove_partial(t, id)) {
            (RemoteError::Failed { host, step, status, detail }, Some(full)) if !no_space(&detail) => {
                RemoteError::Failed { host, step, status, detail: format!("{full}; {detail}") }
            }
            (other, _) => other,
        }
    }

    /// Removes what one host has of release `id` (journaled); whether the disk was full, as the
    /// host said it (`No space left on device (N KiB free …)`). A failure to remove it is a
    /// warning: retention removes it later.
    fn remove_partial(&self, t: &dyn Target, id: &str) -> Option<String> {
        let script =
            scripts::discard(&self.fleet.root, id, &self.event(Kind::Remove, id), &self.event(Kind::Removed, id));
        match t.run("removing the partial release", &script, Stdin::Null) {
            Ok(out) => out.stdout.lines().find(|l| l.starts_with(NO_SPACE)).map(str::to_owned),
            Err(e) => {
                self.reporter.warn(Some(t.name()), &format!("the partial release {id} stays on the host: {e}"));
                None
            }
        }
    }

    fn hooks(
        &self,
        t: &dyn Target,
        phase: &str,
        hooks: &[String],
        id: &str,
        previous: Option<&str>,
        interruptible: bool,
    ) -> Result<bool, RemoteError> {
        let hooks = (hooks, self.req.hooks.timeout.0);
        run_hooks(self.fleet, t, phase, hooks, id, previous, interruptible, self.reporter)
    }

    /// The deploy's lock was broken on the hosts marked in `lost`, whose switch refused: hosts
    /// that did switch (or may have) go back, `id` is marked failed everywhere, and the error
    /// says the deploy stopped.
    fn lock_lost(
        &self,
        id: &str,
        previous: &[Option<&str>],
        lost: &[bool],
        switched: Vec<Result<Switch, RemoteError>>,
    ) -> ReleaseError {
        let names = |pick: bool| -> Vec<String> {
            self.fleet.targets.iter().zip(lost).filter(|(_, l)| **l == pick).map(|(t, _)| t.name().to_owned()).collect()
        };
        let (lost_on, moved) = (names(true), names(false));
        let reason = "the deploy lock was broken while this deploy ran; it stopped before switching";
        self.reporter
            .warn(None, &format!("the deploy lock on {} is no longer this deploy's; stopping", quoted(&lost_on)));
        let (_, errors) = split(switched);
        if let Err(e) = self.back(id, previous, Cause::Revert, reason, &errors, lost) {
            return e;
        }
        ReleaseError::LockLost { release: id.to_owned(), hosts: lost_on, reverted: moved }
    }

    /// Puts every host back on its previous release and marks `id` failed; a host marked in
    /// `stay` is not switched (its `current` may be another command's by now), only marked.
    /// `why` are the errors that made it necessary; they are kept in the message if undoing fails.
    fn back(
        &self,
        id: &str,
        previous: &[Option<&str>],
        cause: Cause,
        reason: &str,
        why: &[RemoteError],
        stay: &[bool],
    ) -> Result<(), ReleaseError> {
        let results = self.fleet.each(|i, t| {
            if stay.get(i) == Some(&true) {
                return self.fleet.record(t, &[self.event(Kind::Failed, id).reason(reason)]);
            }
            let before = [
                self.event(Kind::Failed, id).reason(reason),
                Event::new(Kind::Switch, previous[i], self.who).from(Some(id)).cause(cause),
            ];
            let after = Event::new(Kind::Switched, previous[i], self.who).from(Some(id)).cause(cause);
            t.run(
                "switching back",
                &scripts::switch(&self.fleet.root, previous[i], &before, &after, None),
                Stdin::Null,
            )?;
            if let (Cause::Rollback, Some(prev)) = (cause, previous[i])
                && let Err(e) = self.hooks(t, "after_rollback", &self.req.hooks.after_rollback, prev, Some(id), false)
            {
                self.reporter.warn(Some(t.name()), &e.to_string());
            }
            Ok::<_, RemoteError>(())
        });
        let (_, errors) = split(results);
        if errors.is_empty() {
            return Ok(());
        }
        Err(ReleaseError::Partial {
            detail: format!(
                "release {id} failed ({reason}):\n{}\nand could not be undone on {}:\n{}",
                list(why),
                hosts(&errors),
                list(&errors)
            ),
        })
    }
}

/// Runs `hooks` one after another in release `id` on one host, each for at most `timeout`,
/// streaming their output. With `interruptible`, no hook starts once a signal asked to stop
/// (the one running finishes): `false` then.
/// Runs `commands` on one host in release `id`'s directory, as hooks run (its `.env`, `[hooks]
/// timeout`, output line by line to the reporter); for a [`BeforeSwitch`] on the db host.
pub fn run_in_release(
    fleet: &Fleet,
    t: &dyn Target,
    phase: &str,
    (commands, timeout): (&[String], Duration),
    id: &str,
    previous: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<(), RemoteError> {
    run_hooks(fleet, t, phase, (commands, timeout), id, previous, false, reporter).map(drop)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run_hooks(
    fleet: &Fleet,
    t: &dyn Target,
    phase: &str,
    (hooks, timeout): (&[String], Duration),
    id: &str,
    previous: Option<&str>,
    interruptible: bool,
    reporter: &dyn Reporter,
) -> Result<bool, RemoteError> {
    let host = t.name();
    for hook in hooks {
        if interruptible && interrupt::requested().is_some() {
            return Ok(false);
        }
        reporter.step(Some(host), &format!("{phase}: {hook}"));
        let script = scripts::hook(&fleet.root, id, &fleet.env_name, previous, hook, timeout);
        t.run_streaming(&format!("{phase} hook `{hook}`"), &script, &|_, line| reporter.hook_line(host, line))?;
    }
    Ok(true)
}

/// Whether a host's error text already says the disk or the quota is full.
fn no_space(detail: &str) -> bool {
    detail.contains(NO_SPACE) || detail.contains("Disk quota exceeded")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One id per deploy, the same on every host: the UTC time, made unique against every release
/// any host has heard of.
fn new_release_id(states: &[HostState]) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let base = time::OffsetDateTime::now_utc().format(&format).expect("time formats");
    let taken: BTreeSet<&str> = states
        .iter()
        .flat_map(|s| s.on_disk.iter().map(String::as_str).chain(s.journal.iter().filter_map(|e| e.release.as_deref())))
        .collect();
    std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base}-{n}")))
        .find(|id| !taken.contains(id.as_str()))
        .expect("an unused id exists")
}
