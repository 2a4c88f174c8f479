//! The committed `.env` template: a dotenv file whose values are literal text or placeholders,
//! `${secret:NAME}` (from the provider) and `${env:url}`, `${env:host}`, `${env:name}`,
//! `${env:app}` (from the config). Any other `${…}` (dotenv's own variable expansion, as in
//! `VITE_APP_NAME="${APP_NAME}"`) is left as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dotenv::{Quoting, encode, quoting_at};
use crate::provider::check_name;
use crate::{Secret, SecretsError};

/// The values `${env:KEY}` can take.
pub const ENV_KEYS: [&str; 4] = ["url", "host", "name", "app"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// `${secret:NAME}`; `${secret:NAME?}` is optional (empty when the provider has no value).
    Secret {
        name: String,
        quoting: Quoting,
        optional: bool,
    },
    Env(String),
}

/// One `KEY=value` line of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// The value as written (placeholders unexpanded), quotes included.
    pub raw: String,
    pub line: usize,
    /// The secrets it uses.
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Template {
    path: PathBuf,
    parts: Vec<Part>,
    entries: Vec<Entry>,
}

/// A rendered `.env`: the whole text is a secret.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: Secret,
    /// The same text with every secret replaced by `[redacted:NAME]`, for showing.
    pub redacted: String,
    /// The values used, by name, for checks such as "differs from staging".
    pub secrets: BTreeMap<String, Secret>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
            what: "cannot read the env template",
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, SecretsError> {
        let mut parts = Vec::new();
        let mut entries = Vec::new();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let line_no = i + 1;
            let err = |col: usize, message: String| SecretsError::Template {
                location: format!("{}:{line_no}:{}", path.display(), col + 1),
                message,
            };
            let mut secrets = Vec::new();
            let trimmed = line.trim();
            if trimmed.starts_with('#') {
                // A comment: copied as it is, placeholders and all; nothing in it is rendered.
                parts.push(Part::Text(line.to_owned()));
                continue;
            }
            let mut rest = line;
            let mut offset = 0;
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let kind = if after.starts_with("secret:") {
                    Some("secret")
                } else if after.starts_with("env:") {
                    Some("env")
                } else {
                    None
                };
                let Some(kind) = kind else {
                    // Not ours: dotenv expansion, copied as text.
                    parts.push(Part::Text(rest[..start + 2].to_owned()));
                    offset += start + 2;
                    rest = after;
                    continue;
                };
                let col = offset + start;
                let end = after.find('}').ok_or_else(|| err(col, format!("`${{{kind}:` is not closed with `}}`")))?;
                let key = &after[kind.len() + 1..end];
                parts.push(Part::Text(rest[..start].to_owned()));
                if kind == "secret" {
                    let (name, optional) = match key.strip_suffix('?') {
                        Some(name) => (name, true),
                        None => (key, false),
                    };
                    check_name(name).map_err(|e| err(col, e.to_string()))?;
                    secrets.push(name.to_owned());
                    parts.push(Part::Secret { name: name.to_owned(), quoting: quoting_at(line, col), optional });
                } else {
                    if !ENV_KEYS.contains(&key) {
                        return Err(err(col, format!("unknown `${{env:{key}}}`; use one of {}", ENV_KEYS.join(", "))));
                    }
                    parts.push(Part::Env(key.to_owned()));
                }
                offset += start + 2 + end + 1;
                rest = &after[end + 1..];
            }
            parts.push(Part::Text(rest.to_owned()));
            if trimmed.is_empty() {
                continue;
            }
            let body = trimmed.strip_prefix("export ").unwrap_or(trimmed);
            match body.split_once('=') {
                Some((key, raw)) if !key.trim().is_empty() && !key.contains(char::is_whitespace) => {
                    entries.push(Entry { key: key.to_owned(), raw: raw.trim().to_owned(), line: line_no, secrets });
                }
                _ => return Err(err(0, "expected `KEY=value`".into())),
            }
        }
        Ok(Self { path: path.to_owned(), parts, entries })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every secret the template uses, once, in order of first use.
    pub fn secret_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for part in &self.parts {
            if let Part::Secret { name, .. } = part
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
        names
    }

    /// Whether every use of `name` is optional (`${secret:NAME?}`).
    pub fn is_optional(&self, name: &str) -> bool {
        self.parts.iter().all(|p| !matches!(p, Part::Secret { name: n, optional: false, .. } if n == name))
    }

    /// Renders with `env` for `${env:…}` and `secret` for each secret (asked once per name).
    /// Any secret that cannot be had fails the whole render: nothing half-rendered comes out.
    pub fn render(
        &self,
        env: &BTreeMap<&str, String>,
        mut secret: impl FnMut(&str) -> Result<Secret, SecretsError>,
    ) -> Result<Rendered, SecretsError> {
        let mut secrets = BTreeMap::new();
        let mut errors = Vec::new();
        for name in self.secret_names() {
            match secret(&name) {
                Ok(value) => {
                    secrets.insert(name, value);
                }
                Err(SecretsError::Missing { .. }) if self.is_optional(&name) => {
                    secrets.insert(name, Secret::new(""));
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        let mut text = zeroize::Zeroizing::new(String::new());
        let mut redacted = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => {
                    text.push_str(t);
                    redacted.push_str(t);
                }
                Part::Secret { name, quoting, .. } => {
                    let Some(value) = secrets.get(name) else { continue };
                    match encode(name, value.expose(), *quoting) {
                        Ok(encoded) => text.push_str(&zeroize::Zeroizing::new(encoded)),
                        Err(e) if !errors.contains(&e) => errors.push(e),
                        Err(_) => {}
                    }
                    redacted.push_str(&format!("[redacted:{name}]"));
                }
                Part::Env(k) => {
                    let v = env.get(k.as_str()).map_or("", String::as_str);
                    text.push_str(v);
                    redacted.push_str(v);
                }
            }
        }
        if !errors.is_empty() {
            return Err(SecretsError::Template {
                location: self.path.display().to_string(),
                message: format!("cannot render:\n  {}", errors.join("\n  ")),
            });
        }
        Ok(Rendered { text: Secret::new(text.as_str()), redacted, secrets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "# production\nAPP_NAME=Shop\nAPP_URL=${env:url}\nAPP_KEY=${secret:APP_KEY}\n\
                     DB_PASSWORD=\"${secret:DB_PASSWORD}\"\nVITE_APP_NAME=\"${APP_NAME}\"\nMIX=${secret:APP_KEY}-x\n";

    fn env() -> BTreeMap<&'static str, String> {
        BTreeMap::from([("url", "https://shop.example".to_owned())])
    }

    #[test]
    fn renders_secrets_and_env_values_and_leaves_dotenv_expansion_alone() {
        let t = Template::parse(Path::new(".env.production.template"), T).unwrap();
        assert_eq!(t.secret_names(), ["APP_KEY", "DB_PASSWORD"]);
        assert_eq!(t.entries().iter().map(|e| e.key.as_str()).collect::<Vec<_>>().len(), 6);
        let mut asked = Vec::new();
        let r = t
            .render(&env(), |n| {
                asked.push(n.to_owned());
                Ok(Secret::new(format!("v-{n}")))
            })
            .unwrap();
        assert_eq!(asked, ["APP_KEY", "DB_PASSWORD"], "each secret is asked once");
        assert_eq!(
            r.text.expose(),
            "# production\nAPP_NAME=Shop\nAPP_URL=https://shop.example\nAPP_KEY=v-APP_KEY\n\
             DB_PASSWORD=\"v-DB_PASSWORD\"\nVITE_APP_NAME=\"${APP_NAME}\"\nMIX=v-APP_KEY-x\n"
        );
        assert!(r.redacted.contains("APP_KEY=[redacted:APP_KEY]") && !r.redacted.contains("v-APP_KEY"));
        assert_eq!(crate::dotenv::values(r.text.expose())["DB_PASSWORD"], "v-DB_PASSWORD");
    }

    #[test]
    fn syntax_errors_point_at_file_line_and_column() {
        let err = |text: &str| Template::parse(Path::new("t.env"), text).unwrap_err().to_string();
        assert_eq!(err("A=1\nB=${secret:X\n"), "t.env:2:3: `${secret:` is not closed with `}`");
        assert!(err("A=${env:domain}\n").starts_with("t.env:1:3: unknown `${env:domain}`"));
        assert!(err("A=${secret:bad-name}\n").contains("may use only letters"));
        assert_eq!(err("just text\n"), "t.env:1:1: expected `KEY=value`");
    }

    #[test]
    fn a_secret_that_cannot_be_had_fails_the_render_naming_every_one() {
        let t = Template::parse(Path::new("t.env"), T).unwrap();
        let err = t
            .render(&env(), |n| {
                Err(SecretsError::Missing { env: "production".into(), name: n.into(), hint: String::new() })
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("`APP_KEY` (production) is not set") && err.contains("`DB_PASSWORD`"), "{err}");
        let err = t.render(&env(), |_| Ok(Secret::new("a\nb"))).unwrap_err().to_string();
        assert!(err.contains("line break"), "{err}");
    }

    #[test]
    fn values_are_written_for_their_quoting_and_comments_and_optional_secrets_render_nothing() {
        let text = "# OLD=${secret:GONE}\nA=\"${secret:X}\"\nB='${secret:Y}'\nC=${secret:Z}\nP=${secret:PREV?}\n";
        let t = Template::parse(Path::new("t.env"), text).unwrap();
        assert_eq!(t.secret_names(), ["X", "Y", "Z", "PREV"], "a comment's placeholder is not asked for");
        let value = |n: &str| match n {
            "X" => Ok(Secret::new("p\"a$s\\w")),
            "Y" => Ok(Secret::new("no quote")),
            "Z" => Ok(Secret::new("plain-Token_1")),
            _ => Err(SecretsError::Missing { env: "production".into(), name: n.into(), hint: String::new() }),
        };
        let r = t.render(&env(), value).unwrap();
        assert_eq!(r.text.expose(), "# OLD=${secret:GONE}\nA=\"p\\\"a\\$s\\\\w\"\nB='no quote'\nC=plain-Token_1\nP=\n");
        // What a value cannot carry where it sits is refused, naming the secret only.
        let bad = |text: &str, v: &str| {
            let t = Template::parse(Path::new("t.env"), text).unwrap();
            t.render(&env(), |_| Ok(Secret::new(v))).unwrap_err().to_string()
        };
        assert!(bad("C=${secret:Z}\n", "two words").contains("double quotes"));
        assert!(bad("C=${secret:Z}\n", "a#b").contains("`Z`"));
        assert!(bad("B='${secret:Y}'\n", "it's").contains("single quotes"));
        assert!(!bad("C=${secret:Z}\n", "two words").contains("two words"));
    }
}
