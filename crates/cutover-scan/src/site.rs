//! Where a match sits, for the checks a value's shape cannot make: inside a comment, and whether
//! that comment shows an example (a doc block's `define('AUTH_KEY', '…')`, `e.g. token=…`), and
//! whether the file is source code, where a value must be quoted to be a literal (so a bare
//! right-hand side is an identifier or an expression, not a secret).

use std::ops::Range;

use memchr::{memchr, memmem, memrchr};

/// How far a block comment's ends are looked for on either side of a match.
const BLOCK_REACH: usize = 16 * 1024;
/// How many lines of a run of line comments are read on either side of a match's line.
const LINE_REACH: usize = 50;

/// Block comments, by their opening and closing marks.
const BLOCKS: &[(&[u8], &[u8])] = &[(b"/*", b"*/"), (b"<!--", b"-->")];

/// Marks that start a comment running to the end of its line, at the line's start. Not `;` (INI),
/// which also starts lines of minified JavaScript.
const LINE_LEADERS: &[&[u8]] = &[b"//", b"#", b"-- "];

/// Words of a comment that says what follows is an example, compared in lower case.
const EXAMPLE_MARKERS: &[&str] = &["example", "e.g.", "for instance", "sample", "something like", "looks like"];

/// Extensions of languages whose string literals are quoted: a value written bare there is a
/// name or an expression (`= ReactSharedInternals$1;`, `= Sodium::CRYPTO_BOX_SECRETKEYBYTES;`).
/// Not shell, `.env`, YAML, INI, TOML or Makefiles, where bare values are literals.
const CODE_EXTENSIONS: &[&str] = &[
    "js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "vue", "svelte", "php", "phtml", "py", "rb", "go", "rs",
    "java", "kt", "kts", "scala", "groovy", "cs", "swift", "c", "h", "cc", "cpp", "hpp", "m", "dart", "lua", "ex",
    "exs",
];

/// Whether `path` is a source file of a language with quoted string literals.
pub fn is_code_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && CODE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The text of the comment holding `offset`: the `/* … */` (or `<!-- … -->`) block around it, or
/// the line comment it is in, with the run of same-kind comment lines above and below it (a
/// `#`-commented block of a config file). `None` outside any comment.
pub fn comment_around(text: &[u8], offset: usize) -> Option<Range<usize>> {
    block_comment_around(text, offset)
        .or_else(|| docstring_around(text, offset))
        .or_else(|| line_comment_around(text, offset))
}

/// Whether `offset` is inside a comment that says it shows an example.
pub fn in_example_comment(text: &[u8], offset: usize) -> bool {
    comment_around(text, offset).is_some_and(|span| shows_example(&text[span]))
}

/// Whether a comment's text says it holds an example: `example` (not `example.com`), `e.g.`,
/// `for instance`, `sample`, `something like`, `looks like`.
pub fn shows_example(comment: &[u8]) -> bool {
    let lower = comment.to_ascii_lowercase();
    EXAMPLE_MARKERS.iter().any(|marker| {
        memmem::find_iter(&lower, marker.as_bytes()).any(|at| {
            let before = at.checked_sub(1).map(|i| lower[i]);
            let after = &lower[at + marker.len()..];
            let word_start = before.is_none_or(|b| !b.is_ascii_alphanumeric());
            // `example.com`, `sample.org`: a domain, not an example's announcement.
            let domain = after.first() == Some(&b'.') && after.get(1).is_some_and(u8::is_ascii_alphabetic);
            word_start && !domain
        })
    })
}

fn block_comment_around(text: &[u8], offset: usize) -> Option<Range<usize>> {
    let from = offset.saturating_sub(BLOCK_REACH);
    let to = (offset + BLOCK_REACH).min(text.len());
    BLOCKS.iter().find_map(|&(open, close)| {
        // Comments do not nest: one starts at the first opening mark after the last close.
        let closed = memmem::rfind(&text[from..offset], close).map_or(from, |i| from + i + close.len());
        let start = closed + memmem::find(&text[closed..offset], open)?;
        // Inside a string (`"*/*"`, `'/*'`, `"src/*"`), not a comment.
        let before = start.checked_sub(1).map(|i| text[i]);
        let after = text.get(start + open.len()).copied();
        if before.is_some_and(|b| b"\"'`*/".contains(&b)) || after.is_some_and(|b| b"\"'`".contains(&b)) {
            return None;
        }
        let end = offset + memmem::find(&text[offset..to], close)? + close.len();
        Some(start..end)
    })
}

/// A Python docstring (`"""…"""`, `'''…'''`) around `offset`: an odd number of its marks
/// before it.
fn docstring_around(text: &[u8], offset: usize) -> Option<Range<usize>> {
    [&b"\"\"\""[..], b"'''"].iter().find_map(|mark| {
        let before: Vec<usize> = memmem::find_iter(&text[..offset], mark).collect();
        if before.len().is_multiple_of(2) {
            return None;
        }
        let start = *before.last()?;
        let end = offset + memmem::find(&text[offset..], mark)? + mark.len();
        Some(start..end)
    })
}

fn line_comment_around(text: &[u8], offset: usize) -> Option<Range<usize>> {
    let line = line_at(text, offset);
    let before = &text[line.start..offset];
    if let Some(leader) = line_leader(&text[line.clone()]) {
        let (mut start, mut end) = (line.start, line.end);
        for _ in 0..LINE_REACH {
            let Some(previous) = start.checked_sub(1).map(|i| line_at(text, i)) else { break };
            if line_leader(&text[previous.clone()]) != Some(leader) {
                break;
            }
            start = previous.start;
        }
        for _ in 0..LINE_REACH {
            if end >= text.len() {
                break;
            }
            let next = line_at(text, end + 1);
            if line_leader(&text[next.clone()]) != Some(leader) {
                break;
            }
            end = next.end;
        }
        return Some(start..end);
    }
    // A comment after code on the same line: `f(); // e.g. token=…`, `x: 1  # like this`.
    let trailing = memmem::find_iter(before, b"//")
        .find(|&at| at == 0 || before[at - 1].is_ascii_whitespace())
        .or_else(|| memmem::find_iter(before, b" # ").next().map(|at| at + 1));
    trailing.map(|at| line.start + at..line.end)
}

/// The comment mark a line starts with, blanks aside.
fn line_leader(line: &[u8]) -> Option<&'static [u8]> {
    let trimmed = line.trim_ascii_start();
    LINE_LEADERS.iter().copied().find(|leader| trimmed.starts_with(leader))
}

/// The line holding `offset`, without its newline.
fn line_at(text: &[u8], offset: usize) -> Range<usize> {
    let start = memrchr(b'\n', &text[..offset]).map_or(0, |i| i + 1);
    let end = memchr(b'\n', &text[offset..]).map_or(text.len(), |i| offset + i);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(text: &'a str, needle: &str) -> (&'a [u8], usize) {
        (text.as_bytes(), text.find(needle).unwrap())
    }

    #[test]
    fn a_doc_block_that_announces_an_example_holds_examples() {
        let text = "<?php\n/**\n * Below is an example of how the keys are defined.\n *\n *     define('AUTH_KEY', 'VALUE');\n */\ndefine('AUTH_KEY', 'REAL');\n";
        let (bytes, value) = at(text, "VALUE");
        assert!(in_example_comment(bytes, value));
        // The line after the block is code, not the comment.
        let (bytes, real) = at(text, "REAL");
        assert_eq!(comment_around(bytes, real), None);
    }

    #[test]
    fn a_comment_without_an_example_word_is_only_a_comment() {
        let text = "/*\n * Keys of the old account, kept until the migration ends:\n * KEY VALUE\n */\n";
        let (bytes, value) = at(text, "VALUE");
        assert!(comment_around(bytes, value).is_some());
        assert!(!in_example_comment(bytes, value));
    }

    #[test]
    fn a_docstring_is_a_comment() {
        let text = "def parse():\n    \"\"\"For example::\n\n        {\"access_token\": \"VALUE\"}\n    \"\"\"\n    token = \"REAL\"\n";
        let (bytes, value) = at(text, "VALUE");
        assert!(in_example_comment(bytes, value));
        let (bytes, real) = at(text, "REAL");
        assert_eq!(comment_around(bytes, real), None);
    }

    #[test]
    fn runs_of_line_comments_are_one_comment() {
        let text = "# For instance:\n#\n#   API_TOKEN=VALUE\nAPI_TOKEN=REAL\n";
        let (bytes, value) = at(text, "VALUE");
        assert!(in_example_comment(bytes, value));
        let (bytes, real) = at(text, "REAL");
        assert!(!in_example_comment(bytes, real));
        // A blank line ends the run.
        let text = "// e.g. a token\n\n// token = VALUE\n";
        let (bytes, value) = at(text, "VALUE");
        assert!(comment_around(bytes, value).is_some() && !in_example_comment(bytes, value));
    }

    #[test]
    fn a_trailing_comment_starts_where_its_mark_is() {
        let text = "call(); // e.g. token=VALUE\n";
        let (bytes, value) = at(text, "VALUE");
        assert!(in_example_comment(bytes, value));
        // A URL's `//` is no comment.
        let text = "url = https://host/?e.g.=VALUE\n";
        let (bytes, value) = at(text, "VALUE");
        assert_eq!(comment_around(bytes, value), None);
    }

    #[test]
    fn example_words_are_words_and_not_domains() {
        assert!(shows_example(b"For example:"));
        assert!(shows_example(b"@example"));
        assert!(shows_example(b"like this, e.g. the staging one"));
        assert!(!shows_example(b"mail ops@example.com for the key"));
        assert!(!shows_example(b"counterexamples"));
        assert!(!shows_example(b"see https://sample.org/docs"));
    }

    #[test]
    fn code_files_are_known_by_their_extension() {
        for path in ["src/app.js", "wp-includes/pluggable.php", "lib/a.min.js", "main.rs", "App.TSX"] {
            assert!(is_code_file(path), "{path}");
        }
        for path in [".env", "config/app.yml", "deploy.sh", "Makefile", "app.ini", "cutover.toml", "notes.txt", ".js"] {
            assert!(!is_code_file(path), "{path}");
        }
    }
}
