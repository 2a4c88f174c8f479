//! The validated sections of `cutover.toml`. Every field's type checks its own value.
//!
//! One file a section: `app.rs`, `hooks.rs`, `env.rs` (environments), `database.rs` (`database`, `db_host`, `[seed]`), `gates.rs`, `secrets.rs`, `checks.rs`
//! (`[[check]]` and `[smoke]`), `monitor.rs`, `preflight.rs`, `report.rs`, `smtp.rs`, `dns.rs`, `tls.rs`, `ssh.rs`.

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                let check: fn(&str) -> Result<(), String> = $check;
                check(&text).map_err(serde::de::Error::custom)?;
                Ok(Self(text))
            }
        }
    };
}

mod app;
mod checks;
mod database;
mod dns;
mod env;
mod gates;
mod hooks;
mod monitor;
mod preflight;
mod report;
mod secrets;
mod smtp;
mod ssh;
mod tls;

pub use app::{App, AppName, Exclude, KeepReleases, SharedPath, Unchanged};
pub use checks::{BodyRegex, CheckSpec, CheckUrl, Method, Needles, Smoke, StatusRanges};
pub use database::{DatabaseSpec, DatabaseUrl, Engine, Seed, SeedStrategy, TableColumn};
pub use dns::{Dns, Resolver};
pub(crate) use env::Environments;
pub use env::{AppUrl, DnsName, Environment, Proxy};
pub use gates::Gates;
pub use hooks::Hooks;
pub use monitor::{Monitor, OnFail};
pub use preflight::{
    AttestItem, BUILTIN_ATTESTATIONS, Preflight, PreflightCheck, PreflightItem, Requirement, SchemaCheck,
};
pub use report::{Report, ReportUrl};
pub use secrets::{Generator, ProviderKind, Secrets};
pub use smtp::{Smtp, SmtpTls};
pub use ssh::Ssh;
pub use tls::Tls;
