//! `cutover.toml`: the schema, its validation and the presets `cutover init` writes.
//!
//! Parsing goes straight from TOML into validated types: every newtype checks its value inside
//! `Deserialize`, so a bad value fails with the span of that value, and the caller gets
//! `cutover.toml:LINE:COL: message`. Nothing here touches the network or a host.

mod duration;
mod error;
mod host;
pub mod human;
mod load;
mod model;
mod preset;

pub use duration::HumanDuration;
pub use error::ConfigError;
pub use host::{DeployPath, HostSpec};
pub use load::{Config, DEFAULT_FILE};
pub use model::{
    App, AppName, AppUrl, AttestItem, BUILTIN_ATTESTATIONS, BodyRegex, CheckSpec, CheckUrl, DatabaseSpec, DatabaseUrl,
    Dns, DnsName, Engine, Environment, Exclude, Gates, Generator, Hooks, KeepReleases, Method, Monitor, Needles,
    OnFail, Preflight, PreflightCheck, PreflightItem, ProviderKind, Proxy, Report, ReportUrl, Requirement, Resolver,
    SchemaCheck, Secrets, Seed, SeedStrategy, SharedPath, Smoke, Smtp, SmtpTls, Ssh, StatusRanges, TableColumn, Tls,
    Unchanged,
};
pub use preset::{OPCACHE_RESET, Preset};
