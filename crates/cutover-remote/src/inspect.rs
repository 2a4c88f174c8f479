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
    /// The lock path is not a regular file: what it is (`a directory`, `a symlink`, `a fifo`…).
    /// Nothing cutover made; it is never linked into, opened or removed.
    NotAFile(String),
}

/// What `current` is when it is not a symlink to a release on the host: cutover never makes
/// such a thing, so deploy and rollback refuse to guess which release is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurrentProblem {
    Directory,
    /// A regular file, a fifo, …: anything but a directory or a symlink.
    NotASymlink,
    /// A symlink whose target (as written) is not a directory inside `releases/`.
    Outside(String),
    /// A symlink to `releases/…` where no release directory is.
    Missing(String),
}

impl std::fmt::Display for CurrentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Directory => f.write_str("current is a directory, not a symlink"),
            Self::NotASymlink => f.write_str("current is not a symlink"),
            Self::Outside(target) => write!(f, "current points outside releases/: {target}"),
            Self::Missing(target) => write!(f, "current points at {target}, which is not a release on this host"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HostState {
    pub host: String,
    /// False when the deploy path does not exist yet (nothing deployed).
    pub exists: bool,
    pub lock: LockState,
    /// The release `current` points at (`None` when there is no `current`, or it is not a
    /// symlink to a release: then `current_problem` says what it is).
    pub current: Option<String>,
    pub current_problem: Option<CurrentProblem>,
    pub on_disk: Vec<String>,
    pub journal: Vec<Event>,
}

#[derive(Debug, Clone, Copy)]
pub struct Inspect<'a> {
    pub root: &'a DeployPath,
    /// Take the lock with this holder (creating the deploy path if needed).
    pub acquire: Option<&'a LockInfo>,
}

/// Prints the release `current` points at: a symlink that resolves to a directory right inside
/// `releases/` (`cd -P`, so `releases/ID`, `/abs/path/releases/ID` and `./releases/ID` are all
/// that release), or else a section saying what `current` is.
const CURRENT_SCRIPT: &str = r#"echo '@@current'
if [ -L current ]; then
  t=$(readlink current)
  r=$(cd -P current 2>/dev/null && pwd -P) || r=''
  b=$(cd -P releases 2>/dev/null && pwd -P) || b=''
  id=${r#"$b"/}
  if [ -n "$r" ] && [ -n "$b" ] && [ "$id" != "$r" ] && case "$id" in */*|'') false;; *) true;; esac; then
    printf '%s
' "$id"
  elif [ -z "$r" ] && case "$t" in releases/*) true;; *) false;; esac; then
    echo '@@current missing'; printf '%s
' "$t"
  else
    echo '@@current outside'; printf '%s
' "$t"
  fi
elif [ -d current ]; then echo '@@current directory'
elif [ -e current ]; then echo '@@current not a symlink'
fi
"#;

pub fn inspect(target: &dyn Target, req: Inspect<'_>) -> Result<HostState, RemoteError> {
    let root = shell::path_expr(req.root);
    let mut script = String::from("set -e\n");
    if let Some(info) = req.acquire {
        script += &format!("mkdir -p {root}/.cutover/manifests {root}/releases {root}/shared\ncd {root}\n");
        script += &info.acquire_script();
    } else {
        script += &format!("cd {root} 2>/dev/null || {{ echo '@@absent'; exit 0; }}\n");
        script += &lock::show_script("lock", "lock");
    }
    script += CURRENT_SCRIPT;
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
        current_problem: None,
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
            "lock bad" => state.lock = LockState::NotAFile(body.to_owned()),
            // Given back between the failed link and the look: taken by nobody now.
            "lock gone" => state.lock = LockState::Unreadable("(given back while cutover looked: try again)".into()),
            // An empty lock file: hand-made, or left by a cutover from before locks were whole.
            "lock held" if body.is_empty() => state.lock = LockState::Unreadable("(empty lock file)".into()),
            "lock" if body.is_empty() => {}
            "lock held" | "lock" => {
                state.lock = serde_json::from_str(body)
                    .map(LockState::Held)
                    .unwrap_or_else(|_| LockState::Unreadable(body.to_owned()));
            }
            "current" => state.current = (!body.is_empty()).then(|| body.to_owned()),
            "current directory" => state.current_problem = Some(CurrentProblem::Directory),
            "current not a symlink" => state.current_problem = Some(CurrentProblem::NotASymlink),
            "current outside" => state.current_problem = Some(CurrentProblem::Outside(body.to_owned())),
            "current missing" => state.current_problem = Some(CurrentProblem::Missing(body.to_owned())),
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
    fn a_lock_path_that_is_not_a_regular_file_is_never_linked_into_or_opened() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeployPath::parse(&format!("{}/app", dir.path().display())).unwrap();
        let lock = dir.path().join("app/.cutover/lock");
        std::fs::create_dir_all(dir.path().join("app/.cutover")).unwrap();
        let target = LocalTarget::new();
        let make: [(&str, &dyn Fn()); 3] = [
            ("a directory", &|| std::fs::create_dir(&lock).unwrap()),
            ("a symlink", &|| std::os::unix::fs::symlink(dir.path(), &lock).unwrap()),
            ("a fifo", &|| {
                rustix::fs::mknodat(rustix::fs::CWD, &lock, rustix::fs::FileType::Fifo, 0o600.into(), 0).unwrap()
            }),
        ];
        for (what, make) in make {
            make();
            let before = std::fs::read_dir(dir.path()).unwrap().count();
            for acquire in [None, Some(&LockInfo::new("cutover deploy"))] {
                let state = inspect(&target, Inspect { root: &root, acquire }).unwrap();
                assert_eq!(state.lock, LockState::NotAFile(what.to_owned()), "{what}, acquire: {}", acquire.is_some());
            }
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                before,
                "{what}: nothing linked where it points"
            );
            if what == "a directory" {
                assert_eq!(std::fs::read_dir(&lock).unwrap().count(), 0, "nothing linked into it");
            }
            std::fs::remove_dir(&lock).or_else(|_| std::fs::remove_file(&lock)).unwrap();
        }
    }

    #[test]
    fn breaking_a_stale_lock_removes_only_that_lock_and_journals_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeployPath::parse(&format!("{}/app", dir.path().display())).unwrap();
        let target = LocalTarget::new();
        let stale = LockInfo::new("cutover deploy");
        inspect(&target, Inspect { root: &root, acquire: Some(&stale) }).unwrap();
        let other = LockInfo { token: "another".into(), ..stale.clone() };
        let event = Event::new(journal::Kind::Unlock, None, &stale.holder).reason("stale");
        let run = |info: &LockInfo| {
            let script = format!("cd {}\n{}", shell::path_expr(&root), info.break_script(&event));
            target.run("breaking", &script, Stdin::Null).unwrap().stdout
        };
        assert!(!run(&other).contains("@@broken"), "a lock with another token is not the stale one");
        let state = inspect(&target, Inspect { root: &root, acquire: None }).unwrap();
        assert_eq!(state.lock, LockState::Held(stale.clone()), "and is put back");
        assert!(state.journal.is_empty());
        assert!(run(&stale).contains("@@broken"));
        let state = inspect(&target, Inspect { root: &root, acquire: None }).unwrap();
        assert_eq!(state.lock, LockState::Free);
        assert_eq!(state.journal, std::slice::from_ref(&event));
        let mut left: Vec<_> =
            std::fs::read_dir(dir.path().join("app/.cutover")).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["journal.jsonl", "manifests"], "nothing left aside");
    }

    #[test]
    fn current_is_a_release_only_when_it_resolves_right_inside_releases() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        let root = DeployPath::parse(&app.display().to_string()).unwrap();
        std::fs::create_dir_all(app.join("releases/r1/sub")).unwrap();
        std::fs::create_dir_all(app.join("shared")).unwrap();
        let current = app.join("current");
        let symlink = |to: &str| std::os::unix::fs::symlink(to, &current).unwrap();
        let abs = format!("{}/releases/r1", app.display());
        type Case<'a> = (&'a str, &'a dyn Fn(), Option<&'a str>, Option<CurrentProblem>);
        let cases: [Case; 8] = [
            ("nothing", &|| {}, None, None),
            ("releases/r1", &|| symlink("releases/r1"), Some("r1"), None),
            ("an absolute link to it", &|| symlink(&abs), Some("r1"), None),
            ("a directory", &|| std::fs::create_dir(&current).unwrap(), None, Some(CurrentProblem::Directory)),
            ("a file", &|| std::fs::write(&current, "").unwrap(), None, Some(CurrentProblem::NotASymlink)),
            ("shared", &|| symlink("shared"), None, Some(CurrentProblem::Outside("shared".into()))),
            (
                "a directory inside a release",
                &|| symlink("releases/r1/sub"),
                None,
                Some(CurrentProblem::Outside("releases/r1/sub".into())),
            ),
            (
                "a missing release",
                &|| symlink("releases/r9"),
                None,
                Some(CurrentProblem::Missing("releases/r9".into())),
            ),
        ];
        for (what, make, release, problem) in cases {
            make();
            let state = inspect(&LocalTarget::new(), Inspect { root: &root, acquire: None }).unwrap();
            assert_eq!((state.current.as_deref(), &state.current_problem), (release, &problem), "{what}");
            let _ = std::fs::remove_dir(&current).or_else(|_| std::fs::remove_file(&current));
        }
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
