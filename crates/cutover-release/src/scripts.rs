//! Every shell script the engine runs on a host, in one place. Each starts in the deploy root,
//! quotes every value with `shell::quote`, and writes the journal before and after its change.

use cutover_config::{DeployPath, SharedPath};
use cutover_remote::journal::{self, Event};
use cutover_remote::shell::{path_expr, quote};

fn enter(root: &DeployPath) -> String {
    format!("set -e\ncd {}\n", path_expr(root))
}

/// Starts release `id`: journals it, then hard-links the unchanged files (a NUL-separated list
/// on stdin) from the base release, so only changed files need to travel.
pub fn link(root: &DeployPath, id: &str, base: Option<&str>, prepare: &Event) -> String {
    let mut s = enter(root) + &journal::append_script(std::slice::from_ref(prepare));
    s += &format!("mkdir -p releases/{id}\n", id = quote(id));
    if let Some(base) = base {
        // GNU cp: `--parents` recreates the directories, `-l` links instead of copying.
        s += &format!(
            "cd releases/{base}\nxargs -0 -r cp -l --parents -t ../{id} --\n",
            base = quote(base),
            id = quote(id)
        );
    } else {
        s += "cat >/dev/null\n";
    }
    s
}

/// Unpacks the tar stream on stdin into the release. tar says only "wrote only N of M bytes"
/// when the disk fills up, so a failure also reports the free space.
pub fn unpack(root: &DeployPath, id: &str) -> String {
    enter(root)
        + &format!(
            "cd releases/{}\ntar -xf - --no-same-owner || {{ rc=$?; \
             df -Pk . | awk 'NR==2 {{ print \"free space on the host: \" $4 \" KiB\" }}' >&2; exit $rc; }}\n",
            quote(id)
        )
}

/// Stores the manifest (stdin) and links the shared paths into the release. A shared path that
/// does not exist yet is seeded from the release (first deploy), or made empty for a directory.
pub fn finish(root: &DeployPath, id: &str, shared: &[SharedPath]) -> String {
    let mut s = enter(root) + &format!("cat > .cutover/manifests/{}.json\n", quote(id));
    for item in shared {
        let in_release = quote(&format!("releases/{id}/{}", item.path));
        let in_shared = quote(&format!("shared/{}", item.path));
        let depth = item.path.matches('/').count() + 2;
        let link_target = quote(&format!("{}shared/{}", "../".repeat(depth), item.path));
        let missing = if item.is_dir {
            format!("mkdir -p {in_shared}")
        } else {
            format!(
                "echo \"shared file \\`{}\\` does not exist on this host: create shared/{} in the deploy path\" >&2; exit 3",
                item.path, item.path
            )
        };
        s += &format!(
            "if [ ! -e {in_shared} ] && [ ! -L {in_shared} ]; then\n\
             \x20 mkdir -p \"$(dirname {in_shared})\"\n\
             \x20 if [ -e {in_release} ]; then mv {in_release} {in_shared}; else {missing}; fi\n\
             fi\n\
             rm -rf {in_release}\nmkdir -p \"$(dirname {in_release})\"\nln -s {link_target} {in_release}\n"
        );
    }
    s
}

/// Runs one hook in the release directory with the release's facts in the environment.
pub fn hook(root: &DeployPath, id: &str, env_name: &str, previous: Option<&str>, command: &str) -> String {
    enter(root)
        + &format!(
            "export CUTOVER_ROOT=\"$PWD\" CUTOVER_RELEASE={id} CUTOVER_ENV={env} CUTOVER_PREVIOUS_RELEASE={prev}\n\
             cd releases/{id}\nexport CUTOVER_RELEASE_DIR=\"$PWD\"\nexec sh -c {cmd}\n",
            id = quote(id),
            env = quote(env_name),
            prev = quote(previous.unwrap_or("")),
            cmd = quote(command),
        )
}

/// Appends events to the journal.
pub fn record(root: &DeployPath, events: &[Event]) -> String {
    enter(root) + &journal::append_script(events)
}

/// Points `current` at `to` by renaming a fresh symlink over it (atomic); `None` removes it.
pub fn switch(root: &DeployPath, to: Option<&str>, before: &[Event], after: &Event) -> String {
    let mut s = enter(root);
    if let Some(to) = to {
        s += &format!(
            "test -d releases/{to} || {{ echo \"release {to} is not on this host\" >&2; exit 3; }}\n",
            to = quote(to)
        );
    }
    s += &journal::append_script(before);
    match to {
        Some(to) => {
            s += &format!(
                "ln -sfn releases/{to} current.cutover-tmp\nmv -Tf current.cutover-tmp current\n",
                to = quote(to)
            )
        }
        None => s += "rm -f current\n",
    }
    s + &journal::append_script(std::slice::from_ref(after))
}

/// Deletes releases and their manifests.
pub fn remove(root: &DeployPath, ids: &[String], before: &[Event], after: &[Event]) -> String {
    let mut s = enter(root) + &journal::append_script(before);
    for id in ids {
        s += &format!("rm -rf releases/{id} .cutover/manifests/{id}.json\n", id = quote(id));
    }
    s + &journal::append_script(after)
}

/// Breaks the lock, whoever holds it, after journaling why; prints the old lock.
pub fn unlock(root: &DeployPath, event: &Event) -> String {
    enter(root)
        + &format!(
            "if [ -e {lock} ]; then\necho '@@held'; cat {lock}; echo\n{journal}rm -f {lock}\nfi\n",
            lock = cutover_remote::lock::PATH,
            journal = journal::append_script(std::slice::from_ref(event)),
        )
}
