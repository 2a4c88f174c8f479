//! How the engine tells the binary what is happening; only the binary prints.

pub trait Reporter: Sync {
    /// A step of the work, for one host or for all (`host` is `None`).
    fn step(&self, host: Option<&str>, message: &str);
    /// A line of a hook's output on `host`.
    fn hook_line(&self, host: &str, line: &str);
    /// Something went wrong that does not stop the command.
    fn warn(&self, host: Option<&str>, message: &str);
    fn upload_start(&self, host: &str, files: usize, bytes: u64);
    /// `bytes` is the running total sent to `host`.
    fn upload_progress(&self, host: &str, bytes: u64);
    fn upload_done(&self, host: &str);
}

/// Discards everything: for callers that only want the result.
#[derive(Debug, Default)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn step(&self, _: Option<&str>, _: &str) {}
    fn hook_line(&self, _: &str, _: &str) {}
    fn warn(&self, _: Option<&str>, _: &str) {}
    fn upload_start(&self, _: &str, _: usize, _: u64) {}
    fn upload_progress(&self, _: &str, _: u64) {}
    fn upload_done(&self, _: &str) {}
}
