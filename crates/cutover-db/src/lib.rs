//! The streaming dump rewriter that turns staging's database dump into production's.
//!
//! Database dumps for the first release. URLs are replaced safely inside PHP-serialized, JSON and URL-encoded values, and
//! values encrypted with staging's Laravel APP_KEY are re-encrypted with production's.

mod dialect;
mod dump;
mod error;
mod head;
pub mod host;
mod input;
pub mod json;
pub mod laravel;
mod rules;
pub mod serialized;
mod value;

pub use dialect::Dialect;
pub use dump::{Fixed, Options, Report, Server, Stats, rewrite_dump};
pub use error::DumpError;
pub use rules::Rules;
pub use value::{Change, Reencrypt, Rewriter};
