//! A throwaway project (an app and its cutover.toml) and a runner for the real `cutover` binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub struct Project {
    pub dir: tempfile::TempDir,
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            code: output.status.code().unwrap_or_else(|| 128 + output.status.signal().unwrap_or(0)),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(self.code, expected, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        self.code(0)
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Self {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{}", self.stderr);
        self
    }
}

impl Project {
    /// An app of `files` small files plus `index.html` saying `v1`, and a config deploying it
    /// to `hosts` at `path`. `extra` is appended to the config (hooks, ssh, …). Its production
    /// is not gated (`gated = false`): the gates' own tests take that line out.
    pub fn new(hosts: &[String], path: &str, extra: &str, files: usize) -> Self {
        let dir = tempfile::Builder::new().prefix("cutover-it-").tempdir().expect("tempdir");
        let project = Self { dir };
        project.write("app/index.html", "v1\n");
        for i in 0..files {
            project.write(&format!("app/lib/part{}/file{i}.txt", i % 10), &format!("content of file {i}\n"));
        }
        let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        project.write(
            "cutover.toml",
            &format!(
                "version = 1\n[app]\nname = \"it\"\nsource = \"app\"\nkeep_releases = 3\n{extra}\n\
                 [env.production]\ngated = false\nhosts = [{}]\npath = \"{path}\"\n",
                hosts.join(", ")
            ),
        );
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
        cmd.args(args).current_dir(self.dir.path()).env_remove("CUTOVER_CONFIG").env_remove("CUTOVER_ENV");
        cmd
    }

    pub fn cutover(&self, args: &[&str]) -> Run {
        self.cutover_with(args, &[])
    }

    /// Runs the binary with extra environment variables.
    pub fn cutover_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        Run::from(cmd.stdin(Stdio::null()).output().expect("run cutover"))
    }

    /// Runs the binary with extra environment variables and `input` on stdin.
    pub fn cutover_input(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Run {
        run_with_input(self.command(args).envs(env.iter().copied()), input)
    }

    /// Runs `cutover ARGS` (a shell line) on a terminal (`script` gives it a pty, which also
    /// carries what it writes to stderr on its stdout), with extra environment variables,
    /// typing `input`.
    pub fn on_a_terminal(&self, args: &str, env: &[(&str, &str)], input: &str) -> Run {
        let mut script = Command::new("script");
        script
            .args(["-qec", &format!("{} {args}", bin().display()), "/dev/null"])
            .current_dir(self.path())
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .envs(env.iter().copied());
        run_with_input(&mut script, input)
    }

    /// Starts the binary without waiting; stdout and stderr go to files in the project dir.
    pub fn spawn(&self, args: &[&str], log: &str) -> Child {
        let out = std::fs::File::create(self.dir.path().join(format!("{log}.out"))).expect("log");
        let err = std::fs::File::create(self.dir.path().join(format!("{log}.err"))).expect("log");
        self.command(args).stdin(Stdio::null()).stdout(out).stderr(err).spawn().expect("spawn cutover")
    }

    pub fn log(&self, log: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{log}.err"))).unwrap_or_default()
    }
}

/// Where `current` points under a deploy directory, as a release id.
pub fn current(deploy_dir: &Path) -> Option<String> {
    std::fs::read_link(deploy_dir.join("current")).ok().map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
}

/// Asserts that `current` under `deploy_dir` points at a release whose files match the app's
/// manifest stored beside it: a complete release, never a half-written one.
#[track_caller]
pub fn assert_complete(deploy_dir: &Path) -> String {
    let id = current(deploy_dir).unwrap_or_else(|| panic!("no current in {}", deploy_dir.display()));
    let manifest =
        std::fs::read_to_string(deploy_dir.join(format!(".cutover/manifests/{id}.tsv"))).expect("manifest of current");
    let release = deploy_dir.join("releases").join(&id);
    for line in manifest.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields[1] == "f" {
            let path = release.join(fields[0]);
            let meta =
                std::fs::symlink_metadata(&path).unwrap_or_else(|_| panic!("{} missing in {id}", path.display()));
            if meta.file_type().is_file() {
                assert_eq!(meta.len(), fields[3].parse::<u64>().unwrap(), "{} has the wrong size", path.display());
            }
        }
    }
    id
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cutover"))
}

/// Runs `cmd` with `input` on its stdin (through [`super::db::run`]), its output kept.
pub fn run_with_input(cmd: &mut Command, input: &str) -> Run {
    let ran = super::db::run(cmd, input.as_bytes());
    Run { code: ran.code, stdout: String::from_utf8_lossy(&ran.stdout).into_owned(), stderr: ran.stderr }
}
