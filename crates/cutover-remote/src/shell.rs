//! POSIX shell quoting: every value that reaches a remote shell goes through [`quote`]; and the
//! bootstrap every script is run by, on every target.

use std::io::{self, Write};

use cutover_config::DeployPath;

/// The program every target runs with `sh -c BOOTSTRAP cutover MARKER`: it reads the script from
/// stdin up to the line `MARKER`, says `MARKER` on stdout and stderr (what a login shell printed
/// before it is dropped), and runs the script with the rest of stdin as its input. A script cut
/// short never runs. A script's own exit 255 becomes 254, so it is never taken for ssh's
/// "connection failed". One line, no `'`, `\`, `!` or newline, so any login shell (sh, bash,
/// csh, tcsh, fish) passes it to `sh` unchanged inside single quotes; one process (for the
/// newline), the rest builtins.
pub const BOOTSTRAP: &str = concat!(
    "n=$(echo; echo _); n=${n%_}; s=; ok=; ",
    "while IFS= read -r l; do if [ \"$l\" = \"$1\" ]; then ok=1; break; fi; s=\"$s$l$n\"; done; ",
    "if [ -z \"$ok\" ]; then echo \"cutover: the script did not arrive whole\" >&2; exit 254; fi; ",
    "echo \"$1\"; echo \"$1\" >&2; ",
    "(set --; eval \"$s\"); r=$?; [ $r -ne 255 ] || r=254; exit $r",
);

/// How a full disk is said, whatever the tool that hit it said (tar: "wrote only N of M bytes";
/// dash's `printf`: "I/O error").
pub const NO_SPACE: &str = "No space left on device";

/// A shell command, run from the deploy root after a step failed, that prints [`NO_SPACE`] and
/// the KiB free when the deploy path has less than 1 MiB free: then the step failed on a full
/// disk. Prints nothing otherwise.
pub fn say_if_full() -> String {
    format!(
        "df -Pk . 2>/dev/null | awk 'NR == 2 && $4 < 1024 {{ print \"{NO_SPACE} (\" $4 \" KiB free in the deploy path)\" }}'"
    )
}

/// Writes `script` and its end marker: what [`BOOTSTRAP`] reads before the script's own input.
pub(crate) fn framed(script: &str, marker: &str, out: &mut impl Write) -> io::Result<()> {
    out.write_all(script.as_bytes())?;
    out.write_all(format!("\n{marker}\n").as_bytes())
}

/// Quotes `text` as one word for any POSIX shell.
pub fn quote(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b)) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The deploy path as a shell word; `~/app` becomes `"$HOME"/app`.
pub fn path_expr(path: &DeployPath) -> String {
    match path {
        DeployPath::Absolute(p) => quote(p),
        DeployPath::Home(rest) => format!("\"$HOME\"/{}", quote(rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("releases/20261126T101010Z"), "releases/20261126T101010Z");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's $HOME `x`"), r"'it'\''s $HOME `x`'");
    }

    #[test]
    fn quoted_words_survive_a_real_shell() {
        for text in ["plain", "a b", "it's", "$(rm -rf /)", "`x`", "\\n", "ünï\tcode", "--", "*"] {
            let script = format!("printf %s {}", quote(text));
            let out = crate::Target::run(&crate::LocalTarget, "printing", &script, crate::Stdin::Null).unwrap();
            assert_eq!(out.stdout, text);
        }
    }

    #[test]
    fn home_paths_expand_on_the_host() {
        let path = DeployPath::parse("~/my app").unwrap();
        assert_eq!(path_expr(&path), "\"$HOME\"/'my app'");
        assert_eq!(path_expr(&DeployPath::parse("/srv/app").unwrap()), "/srv/app");
    }
}
