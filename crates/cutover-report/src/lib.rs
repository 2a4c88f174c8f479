//! The launch report (`cutover report`): which stages passed when and on what evidence, what
//! was deployed and rolled back on each host, how the monitored release behaved, the secrets'
//! audit and rotations (names, never values), the database's seeding and snapshots.
//!
//! [`build`] reads what was recorded: `state.db` and the hosts' journals (and the snapshot
//! records on the db host), never a live service. The same [`Report`] is a terminal summary
//! ([`summary`]), `--json` (it serializes), or one self-contained HTML page ([`html`]): inline
//! CSS and SVG charts drawn by plotters, no script, no fetch; [`write_atomically`] puts it in
//! place by rename.

mod chart;
mod collect;
mod error;
mod html;
mod model;
mod summary;
mod write;

pub use collect::{Sources, build, parse_since};
pub use error::ReportError;
pub use html::html;
pub use model::*;
pub use summary::summary;
pub use write::write_atomically;
