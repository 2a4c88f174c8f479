//! The release engine: deploy, rollback and retention on every host of an environment.
//!
//! What a deploy, a rollback and the cleanup after them do on a set of hosts, and in which order, so that `current` always points at a complete release and a
//! rollback is always one command away.
//!
//! It reaches hosts only through `cutover_remote::Target` and reports progress only through
//! [`Reporter`](cutover_remote::Reporter); it never prints.

pub mod artifact;
mod deploy;
mod error;
mod exclude;
mod fleet;
mod history;
mod manifest;
mod report;
mod retention;
mod rollback;
mod scripts;
mod sparse;
mod status;
mod upload;

pub use deploy::{
    BeforeSwitch, Confirm, DeployRequest, HostPreview, Preview, Verdict, Verify, deploy, preview, run_in_release,
};
pub use error::{Outcome, ReleaseError};
pub use exclude::Excludes;
pub use fleet::{Fleet, Switch, bounded};
pub use history::{History, ReleaseState};
pub use manifest::{Entry, EntryKind, Manifest};
pub use report::{DeployReport, HostUpload, RollbackReport};
pub use rollback::{Mark, RollbackRequest, rollback};
pub use status::{HostStatus, Live, ReleaseRow, UnlockReport, live, live_of, releases, status, unlock};
