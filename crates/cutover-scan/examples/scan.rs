//! The scanner without the CLI, for the benchmark: `scan [--no-history] [--no-work-tree] PATH`
//! prints the report as JSON (findings are redacted) and exits 1 when anything is found.

// An example is a program of its own.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

use std::path::PathBuf;

use cutover_scan::{ScanOptions, scan};

fn main() {
    let mut options = ScanOptions::default();
    let mut path = PathBuf::from(".");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-history" => options.history = false,
            "--no-work-tree" => options.work_tree = false,
            _ => path = PathBuf::from(arg),
        }
    }
    match scan(&path, &options) {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
            std::process::exit(i32::from(!report.is_clean()));
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
