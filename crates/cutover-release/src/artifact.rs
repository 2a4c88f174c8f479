//! An artifact fetched back from a host: exactly the files a release's manifest names, copied
//! from one host of an environment into a local directory and checked against the manifest
//! hash its journal recorded, so `cutover promote` deploys to production what staging ran,
//! byte for byte, without rebuilding from the working tree.

use std::path::Path;

use base64::Engine;
use cutover_remote::{Reporter, Stdin, Target, shell};

use crate::{Excludes, Fleet, Manifest, Outcome, ReleaseError, scripts};

/// Copies release `id` from the first host of `fleet` into `dest` (an empty directory) and
/// returns its manifest, which hashes to `hash`. Files the host's hooks changed or added after
/// the upload make it differ: an error saying so, never a different artifact.
pub fn fetch(
    fleet: &Fleet,
    id: &str,
    hash: &str,
    dest: &Path,
    reporter: &dyn Reporter,
) -> Result<Manifest, ReleaseError> {
    let target = fleet.targets.first().ok_or_else(|| ReleaseError::Refused { detail: "no host".into() })?;
    let failed = |detail: String| ReleaseError::Refused {
        detail: format!("cannot take release {id} from `{}` of {}: {detail}", target.name(), fleet.env_name),
    };
    reporter.step(Some(target.name()), &format!("reading the manifest of {id}"));
    let text = run(target.as_ref(), "reading the release's manifest", &scripts::read_manifest(&fleet.root, id))?;
    if blake3::hash(text.as_bytes()).to_hex().as_str() != hash {
        return Err(failed("its manifest on the host does not match the hash its journal recorded".into()));
    }
    let manifest =
        Manifest::from_text(&text).ok_or_else(|| failed("its manifest on the host does not parse".into()))?;
    reporter.step(
        Some(target.name()),
        &format!("copying {id}: {} file(s), {} bytes", manifest.files().count(), manifest.total_bytes()),
    );
    // Exactly the manifest's paths, in its order (parents first), as one tar stream in base64
    // (the session's answer is text); `--verbatim-files-from`: a name starting with `-` is a name.
    let names: String = text.lines().filter_map(|l| l.split('\t').next()).map(|p| format!("{p}\n")).collect();
    let script = format!(
        "set -e\ncd {}/releases/{}\ntar -cf - --no-recursion --verbatim-files-from -T - | base64 -w 0\n",
        shell::path_expr(&fleet.root),
        shell::quote(id)
    );
    let out = target.run("copying the release", &script, Stdin::Bytes(names.as_bytes())).map_err(|e| {
        ReleaseError::Hosts { step: "copying the release".into(), errors: vec![e], outcome: Outcome::Unchanged }
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(out.stdout.trim())
        .map_err(|e| failed(format!("its tar stream did not arrive whole ({e})")))?;
    let mut archive = tar::Archive::new(bytes.as_slice());
    archive.set_preserve_permissions(true);
    archive.set_overwrite(false);
    archive.unpack(dest).map_err(|source| ReleaseError::Source { path: dest.display().to_string(), source })?;
    let copied = Manifest::scan(dest, &Excludes::new([]))?;
    if copied.hash() != hash {
        let changed: Vec<String> = copied
            .to_text()
            .lines()
            .filter(|l| !text.lines().any(|t| t == *l))
            .filter_map(|l| l.split('\t').next())
            .take(5)
            .map(str::to_owned)
            .collect();
        return Err(failed(format!(
            "what is on the host is not what was uploaded (changed after the upload, by a hook?): {}",
            if changed.is_empty() { "files are missing".to_owned() } else { changed.join(", ") }
        )));
    }
    Ok(copied)
}

fn run(target: &dyn Target, step: &str, script: &str) -> Result<String, ReleaseError> {
    target.run(step, script, Stdin::Null).map(|o| o.stdout).map_err(|e| ReleaseError::Hosts {
        step: step.into(),
        errors: vec![e],
        outcome: Outcome::Unchanged,
    })
}
