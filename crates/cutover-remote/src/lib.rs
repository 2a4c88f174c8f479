//! Hosts: the `Target` trait (local and SSH), the deploy lock and the release journal on each.
//!
//! A host, as the release engine sees it, is something that runs a POSIX `sh` script, with the
//! deploy lock and the release journal that live on every host.
//!
//! The engine talks to hosts only through [`Target`]; a host is this machine ([`LocalTarget`])
//! or a destination reached with the system OpenSSH client over one multiplexed connection
//! ([`SshTarget`]), so the user's ssh config, agent, ProxyJump and known_hosts apply.

mod error;
mod exec;
mod identity;
mod inspect;
pub mod journal;
mod local;
pub mod lock;
mod reporter;
pub mod shell;
mod ssh;
mod target;

pub use error::RemoteError;
pub use exec::{Output, Sink, Stdin, Stream};
pub use identity::{Identity, hostname, process_exists};
pub use inspect::{CurrentProblem, HostState, Inspect, LockState, inspect};
pub use local::LocalTarget;
pub use reporter::{NullReporter, Reporter};
pub use ssh::{SshOptions, SshTarget, addresses};
pub use target::{Target, connect};
