//! Secrets for production: providers, `.env` templates and their reader, rotation, the audit.
//!
//! Stage 1, "rotate + audit": where values come from (providers), how a `.env` is rendered from a committed template, rotation and the audit (which also runs the
//! secret scanner's rules, `cutover-scan`, over the template). A value is a [`Secret`] from the
//! moment it is read: it has no plaintext `Debug` or `Display`, so it cannot reach a log line by
//! accident.

pub mod audit;
pub mod dotenv;
mod error;
pub mod provider;
pub mod rotate;
mod secret;
pub mod template;
pub mod vault;

pub use error::SecretsError;
pub use provider::Provider;
pub use secret::Secret;
pub use template::{Rendered, Template};
pub use vault::Vault;
