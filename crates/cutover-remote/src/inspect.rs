//! One round trip that reads everything the engine needs from a host (and takes the deploy lock
//! when asked): the lock, `current`, the releases on disk and the journal.

use cutover_config::DeployPath;

use crate::journal::{self, Event};
use crate::lock::{self, LockInfo};
use crate::{RemoteError, Stdin, Target, shell};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    Free,
    /// This command took it.
    Acquired,
    Held(LockInfo),
    /// A lock file exists but does not parse (written by hand, or cut short).
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct HostState {
    pub host: String,
    /// False when the deploy path does not exist yet (nothing deployed).
    pub exists: bool,
    pub lock: LockState,
    /// The release `current` points at.
    pub current: Option<String>,
    pub on_disk: Vec<String>,
    pub journal: Vec<Event>,
}

#[derive(Debug, Clone, Copy)]
pub struct Inspect<'a> {
    pub root: &'a DeployPath,
    /// Take the lock with this holder (creating the deploy path if needed).
    pub acquire: Option<&'a LockInfo>,
}

pub fn inspect(target: &dyn Target, req: Inspect<'_>) -> Result<HostState, RemoteError> {
    let root = shell::path_expr(req.root);
    let mut script = String::from("set -e\n");
    if let Some(info) = req.acquire {
        script += &format!("mkdir -p {root}/.cutover/manifests {root}/releases {root}/shared\ncd {root}\n");
        script += &info.acquire_script();
    } else {
        script += &format!("cd {root} 2>/dev/null || {{ echo '@@absent'; exit 0; }}\n");
        script += &format!("echo '@@lock'; cat {} 2>/dev/null || true; echo\n", lock::PATH);
    }
    script += "echo '@@current'; readlink current 2>/dev/null || true\n";
    // Shell builtins only: every process spared counts when ten hosts share two CPUs.
    script += "echo '@@releases'; for d in releases/*; do [ -d \"$d\" ] && echo \"${d#releases/}\"; done; true\n";
    script += &format!("echo '@@journal'; cat {} 2>/dev/null || true\n", journal::PATH);
    let step = if req.acquire.is_some() { "taking the deploy lock" } else { "reading the host's state" };
    let out = target.run(step, &script, Stdin::Null)?;
    parse(target.name(), step, &out.stdout)
}

fn parse(host: &str, step: &str, stdout: &str) -> Result<HostState, RemoteError> {
    let protocol = |detail: &str| RemoteError::Protocol {
        host: host.to_owned(),
        step: step.to_owned(),
        detail: detail.to_owned(),
    };
    let mut state = HostState {
        host: host.to_owned(),
        exists: true,
        lock: LockState::Free,
        current: None,
        on_disk: Vec::new(),
        journal: Vec::new(),
    };
    // Login scripts on some hosts print banners: everything before the first marker is ignored.
    let Some(start) = stdout.find("@@") else { return Err(protocol("no output")) };
    let stdout = &stdout[start..];
    if stdout.starts_with("@@absent") {
        state.exists = false;
        return Ok(state);
    }
    let (head, journal_text) =
        stdout.split_once("@@journal\n").ok_or_else(|| protocol("the journal section is missing"))?;
    state.journal = journal::parse(host, journal_text)?;
    for section in head.split("\n@@").map(|s| s.trim_start_matches("@@")) {
        let (name, body) = section.split_once('\n').unwrap_or((section, ""));
        let body = body.trim();
        match name.trim() {
            "lock acquired" => state.lock = LockState::Acquired,
            // An empty lock file: hand-made, or left by a cutover from before locks were whole.
            "lock held" if body.is_empty() => state.lock = LockState::Unreadable("(empty lock file)".into()),
            "lock" if body.is_empty() => {}
            "lock held" | "lock" => {
                state.lock = serde_json::from_str(body)
                    .map(LockState::Held)
                    .unwrap_or_else(|_| LockState::Unreadable(body.to_owned()));
            }
            "current" => state.current = (!body.is_empty()).then(|| body.rsplit('/').next().unwrap_or(body).to_owned()),
            "releases" => state.on_disk = body.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect(),
            other => return Err(protocol(&format!("unknown section `{other}`"))),
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalTarget;

    #[test]
    fn second_holder_is_refused_and_sees_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeployPath::parse(&format!("{}/app", dir.path().display())).unwrap();
        let target = LocalTarget::new();
        let first = LockInfo::new("cutover deploy");
        let state = inspect(&target, Inspect { root: &root, acquire: Some(&first) }).unwrap();
        assert_eq!(state.lock, LockState::Acquired);
        assert_eq!(state.current, None);
        let second = LockInfo::new("cutover rollback");
        let state = inspect(&target, Inspect { root: &root, acquire: Some(&second) }).unwrap();
        assert_eq!(state.lock, LockState::Held(first.clone()));
        // Releasing with the wrong token leaves the lock; the holder's own token removes it.
        let release = |info: &LockInfo| {
            target
                .run("release", &format!("cd {}\n{}", shell::path_expr(&root), info.release_script()), Stdin::Null)
                .unwrap()
        };
        release(&second);
        assert!(dir.path().join("app/.cutover/lock").exists());
        release(&first);
        assert!(!dir.path().join("app/.cutover/lock").exists());
    }

    #[test]
    fn absent_deploy_path_is_reported_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeployPath::parse(&format!("{}/none", dir.path().display())).unwrap();
        let state = inspect(&LocalTarget::new(), Inspect { root: &root, acquire: None }).unwrap();
        assert!(!state.exists);
        assert!(!dir.path().join("none").exists());
    }
}
