//! Arbitrary bytes through `rewrite_dump`, in each dialect, with no rules and with a rule.
//!
//! Checked: no panic; with no rules an accepted input is copied exactly; a rule does not change
//! whether an input is accepted; what a rule writes is accepted in turn, copied exactly by a
//! run with no rules, and unchanged by a second run with the rule (NEW does not overlap OLD);
//! reading the input a few bytes at a time changes nothing.

#![no_main]

use std::io::Read;
use std::sync::LazyLock;

use cutover_db::{Dialect, Options, Rewriter, Rules, rewrite_dump};
use libfuzzer_sys::fuzz_target;

const OLD: &str = "http://o.t";
const NEW: &str = "https://n.example";

static NONE: LazyLock<Rewriter> = LazyLock::new(|| Rewriter::new(Rules::new(&[]).expect("no rules"), None));
static RULE: LazyLock<Rewriter> =
    LazyLock::new(|| Rewriter::new(Rules::new(&[(OLD.into(), NEW.into())]).expect("a rule"), None));


fn run(input: &[u8], rewriter: &Rewriter, dialect: Dialect) -> (bool, Vec<u8>) {
    run_from(input, rewriter, dialect)
}

fn run_from(input: impl Read, rewriter: &Rewriter, dialect: Dialect) -> (bool, Vec<u8>) {
    let options = Options { dialect: Some(dialect), ..Options::default() };
    let mut out = Vec::new();
    let ok = rewrite_dump(input, &mut out, rewriter, &options, &mut |_| {}).is_ok();
    (ok, out)
}

/// Hands out at most `n` bytes a read, as a pipe or an SSH channel may.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.1.min(buf.len()).min(self.0.len());
        buf[..k].copy_from_slice(&self.0[..k]);
        self.0 = &self.0[k..];
        Ok(k)
    }
}

fuzz_target!(|data: &[u8]| {
    let (none, rule) = (&*NONE, &*RULE);
    for dialect in [Dialect::Mysql, Dialect::Postgres, Dialect::Sqlite] {
        let (valid, copy) = run(data, none, dialect);
        if valid {
            assert!(copy == data, "{dialect:?}: a run with no rules changed an accepted input");
        }
        let (ok, out) = run(data, rule, dialect);
        assert_eq!(ok, valid, "{dialect:?}: the rule changed whether the input is accepted");
        let piece = 1 + data.len() % 7;
        let (pieces_ok, pieces) = run_from(Trickle(data, piece), rule, dialect);
        assert_eq!(pieces_ok, ok, "{dialect:?}: reading {piece} bytes at a time changed whether the input is accepted");
        if ok {
            assert!(pieces == out, "{dialect:?}: reading {piece} bytes at a time changed the output");
            let (again_ok, again) = run(&out, none, dialect);
            assert!(again_ok && again == out, "{dialect:?}: the rewritten dump is not accepted as it is");
            let (_, twice) = run(&out, rule, dialect);
            assert!(twice == out, "{dialect:?}: rewriting twice differs from once");
        }
    }
});
