//! POSIX shell quoting: every value that reaches a remote shell goes through [`quote`].

use cutover_config::DeployPath;

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
            let out = crate::Target::command(&crate::LocalTarget, &script).output().unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
        }
    }

    #[test]
    fn home_paths_expand_on_the_host() {
        let path = DeployPath::parse("~/my app").unwrap();
        assert_eq!(path_expr(&path), "\"$HOME\"/'my app'");
        assert_eq!(path_expr(&DeployPath::parse("/srv/app").unwrap()), "/srv/app");
    }
}
