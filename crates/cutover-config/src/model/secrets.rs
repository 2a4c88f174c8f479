//! `[secrets]`: the provider secret values come from and how new values are generated.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use crate::HumanDuration;

/// `[secrets]`: where secret values come from and which ones `cutover secrets rotate` makes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    #[serde(default)]
    pub provider: ProviderKind,
    /// The age vault (provider `vault`); relative to the config file. By default
    /// `cutover.vault.age` beside it: outside `.cutover/`, so removing the local state (a broken
    /// `state.db`, the whole directory) never takes the secrets with it.
    #[serde(default = "default_vault")]
    pub vault: PathBuf,
    /// Where earlier versions kept the default vault (`.cutover/vault.age`), set only when
    /// `vault` is the default: a vault found there is moved to `vault` on first use.
    #[serde(skip)]
    pub legacy_vault: Option<PathBuf>,
    /// More `age1…` recipients the vault is encrypted to (teammates), besides your identity.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Provider `command`: run with `sh -c`, `{env}` and `{name}` replaced; stdout is the value.
    pub command: Option<String>,
    #[serde(default = "default_secrets_timeout")]
    pub timeout: HumanDuration,
    /// How `cutover secrets rotate` makes a new value: `app-key` (Laravel), `password` (32
    /// characters), `password:N`, `hex:N` (N random bytes).
    #[serde(default)]
    pub generate: BTreeMap<String, Generator>,
}

impl Default for Secrets {
    fn default() -> Self {
        Self {
            provider: ProviderKind::default(),
            vault: default_vault(),
            legacy_vault: None,
            recipients: Vec::new(),
            command: None,
            timeout: default_secrets_timeout(),
            generate: BTreeMap::new(),
        }
    }
}

impl Secrets {
    /// Whether `vault` is the default (written or not).
    pub(crate) fn vault_is_default(&self) -> bool {
        self.vault == default_vault()
    }
}

fn default_vault() -> PathBuf {
    PathBuf::from("cutover.vault.age")
}

fn default_secrets_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    #[default]
    Vault,
    Env,
    Command,
}

/// How a secret's new value is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// Laravel's `APP_KEY`: `base64:` and 32 random bytes.
    AppKey,
    /// Random letters and digits, this many.
    Password(usize),
    /// This many random bytes, hex-encoded.
    Hex(usize),
}

impl<'de> Deserialize<'de> for Generator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let count = |n: &str| n.parse::<usize>().ok().filter(|n| (16..=256).contains(n));
        let parsed = match text.split_once(':') {
            None if text == "app-key" => Some(Self::AppKey),
            None if text == "password" => Some(Self::Password(32)),
            Some(("password", n)) => count(n).map(Self::Password),
            Some(("hex", n)) => count(n).map(Self::Hex),
            _ => None,
        };
        parsed.ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a generator: use `app-key`, `password`, `password:N` or `hex:N` (N from 16 to 256)"
            ))
        })
    }
}
