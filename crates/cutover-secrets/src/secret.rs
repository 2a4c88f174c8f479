//! A secret value. It prints as `[redacted]` in `Debug` and has no `Display`, so formatting a
//! struct that holds one, or an error that carries one, cannot leak it; the bytes are wiped on drop.

use zeroize::Zeroizing;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plaintext, for the few places that must have it: rendering a `.env`, writing the
    /// vault, comparing two values.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What may be shown of it: its length only.
    pub fn redacted(&self) -> String {
        format!("[redacted, {} chars]", self.0.chars().count())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-very-secret");
        let shown = format!("{s:?} {:?} {:#?}", Some(&s), vec![s.clone()]);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.redacted(), "[redacted, 19 chars]");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
