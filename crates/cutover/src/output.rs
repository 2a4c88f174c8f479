//! Everything the user sees: messages on stderr, data on stdout, an upload bar per host on a
//! terminal and plain lines elsewhere. It is also the engine's [`Reporter`].

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use cutover_remote::Reporter;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::CliError;
use crate::cli::Global;

#[derive(Debug)]
pub struct Output {
    pub json: bool,
    quiet: bool,
    verbose: bool,
    /// Present when stderr is a terminal: progress bars are drawn there.
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Output {
    pub fn new(global: &Global) -> Self {
        let tty = std::io::stderr().is_terminal() && !global.quiet;
        Self {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            multi: tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// A message for the user (stderr); suppressed by `-q`.
    pub fn say(&self, text: &str) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// Detail shown with `-v` only.
    pub fn detail(&self, text: &str) {
        if self.verbose {
            self.line(text);
        }
    }

    fn line(&self, text: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// A message that `-q` does not silence (a `--json` summary on stderr).
    pub fn say_always(&self, text: &str) {
        self.line(text);
    }

    /// A function that prints a warning line on stderr, for threads that outlive a borrow.
    pub fn warnings(&self) -> impl Fn(&str) + Send + 'static {
        |text: &str| {
            let _ = writeln!(std::io::stderr().lock(), "warning: {text}");
        }
    }

    /// A warning line on stderr.
    pub fn warn_line(&self, text: &str) {
        self.line(&format!("warning: {text}"));
    }

    /// A byte counter with throughput on a terminal, for long streams; `None` elsewhere.
    pub fn byte_progress(&self, label: &str) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let bar = multi.add(ProgressBar::no_length());
        bar.set_style(
            ProgressStyle::with_template("  {prefix} {bytes} read, {bytes_per_sec}, {elapsed}")
                .expect("template parses"),
        );
        bar.set_prefix(label.to_owned());
        Some(bar)
    }

    /// A line that is rewritten in place on a terminal (a spinner with the latest status), or
    /// printed as plain lines elsewhere; `-q` silences it.
    pub fn status_line(&self) -> StatusLine<'_> {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("template parses"));
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
            bar
        });
        StatusLine { out: self, bar }
    }

    /// Data for scripts and pipes (stdout).
    pub fn data(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// Rows under a header, each column as wide as its widest cell (stdout). The last column is
    /// not padded.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let render = |cells: &mut dyn Iterator<Item = &str>| {
            let mut line = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                if i + 1 == widths.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  "));
                }
            }
            line.trim_end().to_owned()
        };
        let mut text = render(&mut header.iter().copied());
        for row in rows {
            text.push('\n');
            text.push_str(&render(&mut row.iter().map(String::as_str)));
        }
        self.data(&text);
    }

    pub fn json(&self, value: &impl Serialize) {
        self.data(&serde_json::to_string_pretty(value).expect("output serializes"));
    }

    pub fn error(&self, err: &CliError) {
        let mut text = format!("error: {err}");
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            text += &format!("\n  caused by: {cause}");
            source = cause.source();
        }
        if let Some(snippet) = err.snippet() {
            for line in snippet.lines() {
                text += &format!("\n   | {line}");
            }
        }
        if let Some(hint) = err.hint() {
            text += &format!("\nhint: {hint}");
        }
        self.line(&text);
    }
}

/// See [`Output::status_line`].
#[derive(Debug)]
pub struct StatusLine<'a> {
    out: &'a Output,
    bar: Option<ProgressBar>,
}

impl StatusLine<'_> {
    pub fn update(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.to_owned()),
            None => self.out.say(text),
        }
    }

    /// A line above the status (kept in the scrollback).
    pub fn println(&self, text: &str) {
        self.out.say_always(text);
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for StatusLine<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

fn prefix(host: Option<&str>) -> String {
    host.map_or_else(String::new, |h| format!("[{h}] "))
}

impl Reporter for Output {
    fn step(&self, host: Option<&str>, message: &str) {
        if host.is_some() {
            self.detail(&format!("  {}{message}", prefix(host)));
        } else {
            self.say(&format!("==> {message}"));
        }
    }

    fn hook_line(&self, host: &str, line: &str) {
        self.say(&format!("  [{host}] {line}"));
    }

    fn warn(&self, host: Option<&str>, message: &str) {
        self.line(&format!("warning: {}{message}", prefix(host)));
    }

    fn upload_start(&self, host: &str, files: usize, bytes: u64) {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(bytes.max(1)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {prefix:<20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                    )
                    .expect("template parses")
                    .progress_chars("=> "),
                );
                bar.set_prefix(host.to_owned());
                bar.set_message(format!("{files} file(s)"));
                self.bars.lock().expect("bars lock").insert(host.to_owned(), bar);
            }
            None => self.say(&format!("  [{host}] uploading {files} changed file(s), {bytes} bytes")),
        }
    }

    fn upload_progress(&self, host: &str, bytes: u64) {
        if let Some(bar) = self.bars.lock().expect("bars lock").get(host) {
            bar.set_position(bytes.min(bar.length().unwrap_or(bytes)));
        }
    }

    fn upload_done(&self, host: &str) {
        match self.bars.lock().expect("bars lock").remove(host) {
            Some(bar) => bar.finish(),
            None => self.detail(&format!("  [{host}] upload complete")),
        }
    }
}
