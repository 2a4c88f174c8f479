//! Arbitrary bytes through `serialized::rewrite` and `json::rewrite` with a replacing closure
//! whose replacement holds quotes, `";}`, a backslash, a slash, NUL, a newline and non-ASCII.
//!
//! Checked: no panic; what a rewrite writes is accepted again by the same parser (with an
//! identity closure), so serialized lengths are right and JSON is well formed; and JSON that
//! serde_json accepts stays JSON that serde_json accepts.

#![no_main]

use cutover_db::{json, serialized};
use libfuzzer_sys::fuzz_target;

const OLD: &[u8] = b"o.t";
const NEW: &[u8] = "n\"e;}\\w/\0é\n".as_bytes();

fn replace(s: &[u8]) -> Option<Vec<u8>> {
    let at = s.windows(OLD.len()).position(|w| w == OLD)?;
    Some([&s[..at], NEW, &replace(&s[at + OLD.len()..]).unwrap_or_else(|| s[at + OLD.len()..].to_vec())].concat())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(out)) = serialized::rewrite(data, &mut replace)
        && let Err(e) = serialized::rewrite(&out, &mut |_| None)
    {
        panic!("serialized output does not parse again ({e}): {:?}", String::from_utf8_lossy(&out));
    }
    if let Ok(Some(out)) = json::rewrite(data, &mut replace) {
        if let Err(e) = json::rewrite(&out, &mut |_| None) {
            panic!("JSON output does not parse again ({e}): {:?}", String::from_utf8_lossy(&out));
        }
        if serde_json::from_slice::<serde_json::Value>(data).is_ok()
            && let Err(e) = serde_json::from_slice::<serde_json::Value>(&out)
        {
            panic!("valid JSON became invalid ({e}): {:?}", String::from_utf8_lossy(&out));
        }
    }
});
