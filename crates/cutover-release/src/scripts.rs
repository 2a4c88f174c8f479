//! Every shell script the engine runs on a host, in one place. Each starts in the deploy root,
//! quotes every value with `shell::quote`, and writes the journal before and after its change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cutover_config::{DeployPath, SharedPath, Unchanged, human};
use cutover_remote::journal::{self, Event};
use cutover_remote::lock::LockInfo;
use cutover_remote::shell::{path_expr, quote};

/// A shell command that prints `parts` joined to stderr and exits 3. Every part is quoted, so a
/// value (a path from the config, an id from a host) is never read by the shell.
fn fail(parts: &[&str]) -> String {
    format!("{{ printf '%s\\n' {} >&2; exit 3; }}", quote(&parts.concat()))
}

fn enter(root: &DeployPath) -> String {
    format!("set -e\ncd {}\n", path_expr(root))
}

/// Where a release's manifest lives on a host.
pub fn manifest_path(id: &str) -> String {
    format!(".cutover/manifests/{id}.tsv")
}

/// Starts release `id`: journals it, then hard-links from the base release every file its
/// manifest lists except the dropped paths (stdin, one per line), so only changed files travel.
/// The count of links made must be `expect`, or the host's base differs from ours. The linked
/// files' directories are made first, writable: `cp --parents` would make them with the base's
/// modes, and a read-only one (a vendor directory shipped 555) would stop it; [`finish`] gives
/// them their modes last.
pub fn link(
    root: &DeployPath,
    id: &str,
    base: Option<&str>,
    expect: usize,
    unchanged: Unchanged,
    prepare: &Event,
) -> String {
    let mut s = enter(root) + &journal::append_script(std::slice::from_ref(prepare));
    let work = quote(&format!(".cutover/work/{id}"));
    s += &format!("mkdir -p releases/{id} .cutover/work\ncat > {work}.drop\n", id = quote(id));
    if let Some(base) = base {
        let base_manifest = quote(&manifest_path(base));
        s += &format!(
            "test -f {base_manifest} || {missing}\n\
             awk -F '\\t' 'FILENAME == ARGV[1] {{ drop[$0] = 1; next }} $2 == \"f\" && !($1 in drop) {{ print $1 }}' \
             {work}.drop {base_manifest} > {work}.link\n\
             n=$(wc -l < {work}.link)\n\
             [ \"$n\" -eq {expect} ] || {count}\n\
             awk '{{ n = split($0, p, \"/\"); d = p[1]; for (i = 2; i <= n; i++) {{ if (!(d in seen)) {{ seen[d] = 1; print d }}; d = d \"/\" p[i] }} }}' \
             {work}.link | tr '\\n' '\\0' | (cd releases/{id} && xargs -0 -r mkdir -p --)\n\
             tr '\\n' '\\0' < {work}.link | (cd releases/{base_q} && xargs -0 -r cp {mode} --parents -t ../{id} --) \
             || {unlinkable}\n",
            base_q = quote(base),
            id = quote(id),
            mode = match unchanged {
                Unchanged::Link => "-l",
                Unchanged::Copy => "-p --reflink=auto",
            },
            missing = fail(&[BASE_DIFFERS, ": the manifest of ", base, " is missing"]),
            count =
                fail(&[BASE_DIFFERS, ": the manifest of ", base, " does not list the unchanged files cutover expects"]),
            unlinkable = fail(&[BASE_DIFFERS, ": a file the manifest of ", base, " lists cannot be linked"]),
        );
    }
    s
}

/// What [`link`] says when the base release on the host is not what its manifest lists (edited
/// by hand): the release starts over and every file is sent. Any other failure of the step (a
/// full disk) is reported as it is.
pub const BASE_DIFFERS: &str = "the base release on this host differs from its manifest";

/// Empties a release that was being linked, to fill it from scratch.
pub fn restart(root: &DeployPath, id: &str) -> String {
    let release = format!("releases/{}", quote(id));
    enter(root) + &writable(&release) + &format!("rm -rf {release}\nmkdir -p {release}\n")
}

/// Makes every directory under `dir` (a quoted path) writable and searchable by its owner, so
/// `rm -rf` can empty it: a read-only directory of the app (555) would stop it. Symlinks are not
/// followed (shared paths stay as they are). A directory that cannot be read or entered is fixed
/// as it is reached, before `find` goes in; the rest in batches.
fn writable(dir: &str) -> String {
    format!(
        "[ ! -d {dir} ] || find {dir} -type d \\( ! -perm -u=rx -exec chmod u+rwx {{}} \\; \
         -o ! -perm -u=w -exec chmod u+w {{}} + \\)\n"
    )
}

/// Gives release `id`'s directories the modes its manifest lists, as the last step of preparing
/// it (until then every directory is writable: see [`link`]). Only the release's own directories:
/// a shared path is a symlink by now, and what it points at is left alone. Modes that keep the
/// owner's search permission go first, in batches; any others after them, children first, so
/// every path stays reachable until its own mode is set.
fn set_modes(id: &str) -> String {
    let work = quote(&format!(".cutover/work/{id}"));
    format!(
        "(cd releases/{id_q} && find . -mindepth 1 -type d) > {work}.dirs\n\
         awk -F '\\t' 'FILENAME == ARGV[1] {{ real[substr($0, 3)] = 1; next }} $2 == \"d\" && ($1 in real) {{ print $3 \"\\t\" $1 }}' \
         {work}.dirs {manifest} > {work}.modes\n\
         for mode in $(awk -F '\\t' 'substr($1, length($1) - 2, 1) % 2 {{ print $1 }}' {work}.modes | sort -u); do\n\
         \x20 awk -F '\\t' -v m=\"$mode\" '$1 == m {{ print $2 }}' {work}.modes | tr '\\n' '\\0' | \
         (cd releases/{id_q} && xargs -0 -r chmod \"$mode\" --)\n\
         done\n\
         tab=$(printf '\\t')\n\
         awk -F '\\t' '!(substr($1, length($1) - 2, 1) % 2) {{ l[n++] = $0 }} END {{ while (n--) print l[n] }}' {work}.modes | \
         while IFS=\"$tab\" read -r mode path; do chmod \"$mode\" -- releases/{id_q}/\"$path\"; done\n\
         rm -f {work}.dirs {work}.modes\n",
        id_q = quote(id),
        manifest = quote(&manifest_path(id)),
    )
}

/// Unpacks the tar stream on stdin into the release. (tar says only "wrote only N of M bytes"
/// when the disk fills up: [`discard`] tells a full disk by the space left.)
pub fn unpack(root: &DeployPath, id: &str) -> String {
    enter(root) + &format!("cd releases/{}\ntar -xf - --no-same-owner\n", quote(id))
}

/// Rebuilds the new manifest on the host from the base's, the dropped paths and the added lines
/// (stdin), keeps it only if its SHA-256 is `sha256` (else prints `@@manifest-mismatch`), then
/// links the shared paths into the release. A shared path that does not exist yet is seeded from
/// the release (first deploy), or made empty for a directory. Last, the release's directories
/// get their modes (`set_modes`).
pub fn finish(root: &DeployPath, id: &str, base: Option<&str>, sha256: &str, shared: &[SharedPath]) -> String {
    let work = quote(&format!(".cutover/work/{id}"));
    let mut s = enter(root) + &format!("cat > {work}.add\n");
    match base {
        Some(base) => {
            s += &format!(
                "awk -F '\\t' 'FILENAME == ARGV[1] {{ drop[$0] = 1; next }} !($1 in drop)' {work}.drop {} > {work}.keep\n",
                quote(&manifest_path(base))
            )
        }
        None => s += &format!(": > {work}.keep\n"),
    }
    s += &format!(
        "cat {work}.keep {work}.add | LC_ALL=C sort > {work}.tsv\n\
         if printf '%s  %s\\n' {sha256} {work}.tsv | sha256sum -c --status 2>/dev/null; then mv {work}.tsv {manifest}; \
         else echo '@@manifest-mismatch'; fi\n\
         rm -f {work}.drop {work}.link {work}.add {work}.keep {work}.tsv\n",
        manifest = quote(&manifest_path(id)),
    );
    for item in shared {
        let in_release = quote(&format!("releases/{id}/{}", item.path));
        let in_shared = quote(&format!("shared/{}", item.path));
        let depth = item.path.matches('/').count() + 2;
        let link_target = quote(&format!("{}shared/{}", "../".repeat(depth), item.path));
        // A shared directory is seeded from the release's copy on the first deploy (or made
        // empty); a shared file never is: a developer's `.env` must not become production's.
        let missing = if item.is_dir {
            format!("if [ -e {in_release} ]; then mv {in_release} {in_shared}; else mkdir -p {in_shared}; fi")
        } else {
            fail(&[
                "shared file `",
                &item.path,
                "` does not exist on this host: create shared/",
                &item.path,
                " in the deploy path",
            ])
        };
        // Replacing the release's copy must stay inside the release: a parent that is a symlink
        // (the app ships one) would lead `rm -rf` elsewhere.
        let outside = fail(&[
            "shared path `",
            &item.path,
            "`: a parent directory in the release is a symlink; refusing to replace it",
        ]);
        s += &format!(
            "mkdir -p \"$(dirname {in_release})\"\n\
             case \"$(cd \"$(dirname {in_release})\" && pwd -P)/\" in \"$(cd releases/{id_q} && pwd -P)\"/*) ;; *) {outside};; esac\n\
             if [ ! -e {in_shared} ] && [ ! -L {in_shared} ]; then\n\
             \x20 mkdir -p \"$(dirname {in_shared})\"\n\
             \x20 {missing}\n\
             fi\n\
             rm -rf {in_release}\nln -s {link_target} {in_release}\n",
            id_q = quote(id),
        );
    }
    // Without the manifest (it did not match), the modes are set once it is sent whole.
    s + &format!("if [ -f {} ]; then\n{}fi\n", quote(&manifest_path(id)), set_modes(id))
}

/// The release's env file, when cutover renders it.
pub const ENV_FILE: &str = ".env";

/// Writes the rendered env (stdin) to `shared/.env.<id>`, created 0600 and put in place by
/// rename, and links it as the release's `.env`.
pub fn env_file(root: &DeployPath, id: &str) -> String {
    let file = quote(&format!("shared/{ENV_FILE}.{id}"));
    let tmp = quote(&format!("shared/{ENV_FILE}.{id}.cutover-tmp"));
    enter(root)
        + &format!(
            "mkdir -p shared
( umask 077; rm -f {tmp}; set -C; cat > {tmp} )
mv -f {tmp} {file}
             rm -rf {in_release}
ln -s {target} {in_release}
",
            in_release = quote(&format!("releases/{id}/{ENV_FILE}")),
            target = quote(&format!("../../shared/{ENV_FILE}.{id}")),
        )
}

/// Stores a manifest sent whole (stdin): the fallback when the host's rebuild did not match;
/// then gives the release's directories their modes, which [`finish`] could not.
pub fn store_manifest(root: &DeployPath, id: &str) -> String {
    enter(root) + &format!("cat > {}\n", quote(&manifest_path(id))) + &set_modes(id)
}

/// Prints a release's manifest.
pub fn read_manifest(root: &DeployPath, id: &str) -> String {
    enter(root) + &format!("cat {}\n", quote(&manifest_path(id)))
}

/// Runs one hook in the release directory with the release's facts in the environment, for at
/// most `timeout`: past it, GNU `timeout` stops the hook and everything it started (its own
/// process group: TERM, then KILL 5 s later) and the script fails saying so.
///
/// The hook's output does not go to the session directly: a background child it leaves (`cmd &`,
/// `nohup worker &`) would keep the session's stdout open, and ssh would wait for it. Each stream
/// goes through a pipe to a relay (`sed -u`, line by line as it comes) that stops at an end
/// marker written once the hook's own process has ended; what a background child writes after
/// that is read and dropped (`cat >/dev/null`), so it neither holds the session nor dies of a
/// closed pipe.
pub fn hook(
    root: &DeployPath,
    id: &str,
    env_name: &str,
    previous: Option<&str>,
    command: &str,
    timeout: Duration,
) -> String {
    let end = end_marker();
    // Prints what came before the marker on its line (output without a final newline), then
    // stops relaying; the rest of the pipe is drained into /dev/null in the background.
    let relay = format!(
        "{{ LC_ALL=C sed -u -e '/{end}$/{{' -e 's/{end}$//' -e '/^$/!p' -e Q -e '}}'; cat >/dev/null 2>&1 & }}"
    );
    let secs = timeout.as_secs_f64();
    // Exit 124 (137 after KILL) is `timeout`'s, unless the hook said it sooner itself. A zero
    // timeout is GNU `timeout`'s "no limit".
    let judge = if timeout.is_zero() {
        String::new()
    } else {
        let stopped = format!(
            "cutover: the hook did not finish within {} ([hooks] timeout) and was stopped",
            human::duration(timeout)
        );
        format!(
            "case $rc in 124|137) if [ $(( $(date +%s) - started )) -ge {} ]; then echo {} >&2; fi;; esac\n",
            timeout.as_secs(),
            quote(&stopped)
        )
    };
    enter(root)
        + &format!(
            "export CUTOVER_ROOT=\"$PWD\" CUTOVER_RELEASE={id} CUTOVER_ENV={env} CUTOVER_PREVIOUS_RELEASE={prev}\n\
             cd releases/{id}\nexport CUTOVER_RELEASE_DIR=\"$PWD\"\n\
             set +e\n\
             mkdir -p \"$CUTOVER_ROOT/.cutover/work\"\n\
             rc_file=$(mktemp \"$CUTOVER_ROOT/.cutover/work/hook.XXXXXX\") || exit 1\n\
             started=$(date +%s)\n\
             {{ {{ timeout -k 5 {secs:.3} sh -c {cmd} </dev/null; echo $? > \"$rc_file\"; echo {end}; echo {end} >&2; }} \
             2>&1 1>&3 3>&- | {relay} >&2 3>&-; }} 3>&1 | {relay}\n\
             rc=$(cat \"$rc_file\"); rm -f \"$rc_file\"\n\
             [ -n \"$rc\" ] || rc=1\n\
             {judge}exit $rc\n",
            id = quote(id),
            env = quote(env_name),
            prev = quote(previous.unwrap_or("")),
            cmd = quote(command),
        )
}

/// A line no hook prints by chance, made fresh for each run: where a hook's output ends.
fn end_marker() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let seed = format!("{}:{nanos}:{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
    format!("@@cutover-hook-end-{}", &blake3::hash(seed.as_bytes()).to_hex()[..24])
}

/// Appends events to the journal.
pub fn record(root: &DeployPath, events: &[Event]) -> String {
    enter(root) + &journal::append_script(events)
}

/// What [`switch`] prints, having changed nothing, when its guard's lock is no longer held.
pub const LOCK_LOST: &str = "@@lock-lost";

/// Points `current` at `to` by renaming a fresh symlink over it (atomic); `None` removes it.
/// With `guard`, first checks that the host's lock is still that holder's; if not, prints
/// [`LOCK_LOST`] and changes nothing (not even the journal).
pub fn switch(
    root: &DeployPath,
    to: Option<&str>,
    before: &[Event],
    after: &Event,
    guard: Option<&LockInfo>,
) -> String {
    let mut s = enter(root);
    if let Some(lock) = guard {
        s += &format!("if ! {}; then echo '{LOCK_LOST}'; exit 0; fi\n", lock.held_condition());
    }
    if let Some(to) = to {
        s += &format!(
            "test -d releases/{to_q} || {}\n",
            fail(&["release ", to, " is not on this host"]),
            to_q = quote(to)
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

/// Deletes releases, their manifests and their env files.
pub fn remove(root: &DeployPath, ids: &[String], before: &[Event], after: &[Event]) -> String {
    let mut s = enter(root) + &journal::append_script(before);
    for id in ids {
        s += &delete(id);
    }
    s + &journal::append_script(after)
}

/// Removes what a failed prepare made of release `id` on this host, after saying whether the
/// disk is full (`shell::say_if_full`, on stdout). On a full disk the `remove` event may not fit
/// (a line cut short is no event); `removed` does, once the release gave its space back.
pub fn discard(root: &DeployPath, id: &str, before: &Event, after: &Event) -> String {
    enter(root)
        + &cutover_remote::shell::say_if_full()
        + "\n"
        + &format!("{{ {}}} 2>/dev/null || :\n", journal::append_script(std::slice::from_ref(before)))
        + &delete(id)
        + &journal::append_script(std::slice::from_ref(after))
}

/// Deletes release `id` (its directories made writable first), its work files, manifest and
/// env file.
fn delete(id: &str) -> String {
    let release = format!("releases/{}", quote(id));
    writable(&release)
        + &format!(
            "rm -rf {release} {}.* {} {}\n",
            quote(&format!(".cutover/work/{id}")),
            quote(&manifest_path(id)),
            quote(&format!("shared/{ENV_FILE}.{id}"))
        )
}

/// Breaks the lock, whoever holds it, after journaling why; prints the old lock.
pub fn unlock(root: &DeployPath, event: &Event) -> String {
    // A host that was never deployed to has no lock to break.
    format!("set -e\ncd {} 2>/dev/null || exit 0\n", path_expr(root))
        + &format!(
            "if [ -f {lock} ] && [ ! -L {lock} ]; then\necho '@@held'; cat {lock}; echo\n{journal}rm -f {lock}\n\
             elif [ -e {lock} ] || [ -L {lock} ]; then {refuse}\nfi\n",
            refuse = fail(&[
                "`",
                &root.to_string(),
                "/",
                cutover_remote::lock::PATH,
                "` is not a regular file: cutover never makes one; look at what made it, then remove it by hand"
            ]),
            lock = cutover_remote::lock::PATH,
            journal = journal::append_script(std::slice::from_ref(event)),
        )
}
