//! Where secret values come from: the age vault, environment variables, or any password
//! manager's CLI. Secrets are per environment: the same name has one value for staging and
//! another for production.

use std::path::PathBuf;
use std::time::Duration;

use cutover_process::ProcessError;
use zeroize::Zeroizing;

use crate::{Secret, SecretsError, Vault};

#[derive(Debug)]
pub enum Provider {
    Vault(Vault),
    /// `CUTOVER_<ENV>_<NAME>` (the environment's name upper-cased, `-` as `_`).
    Env,
    /// `sh -c COMMAND` with `{env}` and `{name}` replaced (and `CUTOVER_SECRET_ENV`,
    /// `CUTOVER_SECRET_NAME` set); its stdout, minus one trailing newline, is the value.
    Command {
        command: String,
        timeout: Duration,
        workdir: PathBuf,
    },
}

/// Whether `name` can be a secret's name (and an environment variable's).
pub fn check_name(name: &str) -> Result<(), SecretsError> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(()) } else { Err(SecretsError::BadName(name.to_owned())) }
}

/// The environment variable the `env` provider reads for `name` in `env`.
pub fn env_var(env: &str, name: &str) -> String {
    format!("CUTOVER_{}_{name}", env.to_ascii_uppercase().replace('-', "_"))
}

impl Provider {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Vault(_) => "vault",
            Self::Env => "env",
            Self::Command { .. } => "command",
        }
    }

    /// The value of `name` in `env`, or an error naming the secret (never showing a value).
    pub fn get(&self, env: &str, name: &str) -> Result<Secret, SecretsError> {
        check_name(name)?;
        let missing = |hint: String| SecretsError::Missing { env: env.to_owned(), name: name.to_owned(), hint };
        match self {
            Self::Vault(vault) => vault.get(env, name).cloned().ok_or_else(|| {
                missing(format!("set it with `cutover --env {env} secrets set {name}` (reads the value from stdin)"))
            }),
            Self::Env => {
                let var = env_var(env, name);
                match std::env::var(&var) {
                    Ok(v) => Ok(Secret::new(v)),
                    Err(_) => Err(missing(format!("the env provider reads it from `{var}`"))),
                }
            }
            Self::Command { command, timeout, workdir } => run(command, env, name, *timeout, workdir),
        }
    }

    /// Stores `value` (the vault only; the others are read from where the user keeps them).
    pub fn set(&mut self, env: &str, name: &str, value: Secret) -> Result<(), SecretsError> {
        check_name(name)?;
        match self {
            Self::Vault(vault) => {
                vault.set(env, name, value);
                vault.save()
            }
            Self::Env => Err(SecretsError::ReadOnly {
                provider: "env",
                hint: format!("export `{}` where cutover runs", env_var(env, name)),
            }),
            Self::Command { .. } => Err(SecretsError::ReadOnly {
                provider: "command",
                hint: "store it in your password manager; cutover reads it with the configured command".into(),
            }),
        }
    }
}

fn run(template: &str, env: &str, name: &str, timeout: Duration, workdir: &PathBuf) -> Result<Secret, SecretsError> {
    let command = template.replace("{env}", env).replace("{name}", name);
    let fail = |reason: String| SecretsError::Command {
        env: env.to_owned(),
        name: name.to_owned(),
        command: command.clone(),
        reason,
    };
    let mut cmd = cutover_process::command("sh");
    cmd.arg("-c").arg(&command).env("CUTOVER_SECRET_ENV", env).env("CUTOVER_SECRET_NAME", name).current_dir(workdir);
    // Its own process group, ended at the timeout and once it exits: whatever it left running
    // in the background (`cmd &`) neither stretches the timeout nor outlives the command.
    let output = cutover_process::run_with_timeout(cmd, timeout).map_err(|e| match e {
        ProcessError::Start { source, .. } => fail(format!("could not start: {source}")),
        ProcessError::Wait { source, .. } => fail(format!("could not wait for it: {source}")),
        ProcessError::Timeout { .. } => fail(format!("did not finish within {timeout:?} and was stopped")),
    })?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let last = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        let code =
            output.status.code().map_or_else(|| "was killed by a signal".to_owned(), |c| format!("exited with {c}"));
        return Err(fail(if last.is_empty() { code } else { format!("{code}: {last}") }));
    }
    let text = std::str::from_utf8(&stdout).map_err(|_| fail("printed a value that is not UTF-8".into()))?;
    let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
    if value.is_empty() {
        return Err(fail("printed nothing".into()));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn command(cmd: &str, timeout_ms: u64) -> Provider {
        Provider::Command {
            command: cmd.into(),
            timeout: Duration::from_millis(timeout_ms),
            workdir: std::env::temp_dir(),
        }
    }

    #[test]
    fn a_password_manager_command_gives_the_value_per_environment() {
        let p = command("printf 'value-of-%s-in-%s\\n' {name} \"$CUTOVER_SECRET_ENV\"", 5_000);
        assert_eq!(p.get("production", "DB_PASSWORD").unwrap().expose(), "value-of-DB_PASSWORD-in-production");
        assert_eq!(p.get("staging", "DB_PASSWORD").unwrap().expose(), "value-of-DB_PASSWORD-in-staging");
    }

    #[test]
    fn a_failing_hanging_or_silent_command_is_an_error_naming_the_secret_not_the_value() {
        let err = command("echo 'item not found' >&2; exit 3", 5_000).get("production", "API_KEY").unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret `API_KEY` (production): provider command `echo 'item not found' >&2; exit 3` exited with 3: item not found"
        );
        let start = Instant::now();
        let err = command("sleep 30", 300).get("production", "API_KEY").unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("did not finish within 300ms"), "{err}");
        assert!(command("true", 5_000).get("production", "X").unwrap_err().to_string().contains("printed nothing"));
        // A background child holding stdout open does not stretch the timeout.
        let start = Instant::now();
        assert_eq!(command("sleep 30 & echo v-{name}", 1_000).get("production", "X").unwrap().expose(), "v-X");
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        assert!(matches!(command("true", 5_000).get("production", "1X; rm"), Err(SecretsError::BadName(_))));
    }

    #[test]
    #[allow(unsafe_code)] // set_var: the env provider reads the process environment
    fn the_env_provider_reads_one_variable_per_environment_and_cannot_store() {
        // SAFETY: only this test reads or writes this variable.
        unsafe { std::env::set_var("CUTOVER_PROD_EU_SMTP_PASS", "from-env") };
        assert_eq!(Provider::Env.get("prod-eu", "SMTP_PASS").unwrap().expose(), "from-env");
        let err = Provider::Env.get("staging", "SMTP_PASS").unwrap_err().to_string();
        assert!(err.contains("CUTOVER_STAGING_SMTP_PASS"), "{err}");
        assert!(matches!(Provider::Env.set("staging", "X", Secret::new("v")), Err(SecretsError::ReadOnly { .. })));
    }
}
