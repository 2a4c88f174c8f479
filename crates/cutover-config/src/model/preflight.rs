//! `[preflight]`: what stage 1 checks before any deploy step runs (DESIGN, "Pre-flight items"),
//! which of its items are the core ones the fast and iterative paths require before go-live,
//! and the extra items an operator attests by hand.

use serde::{Deserialize, Deserializer};

use crate::HumanDuration;

/// DESIGN's pre-flight items, by number: 1 staging, 2 superadmin setup, 3 server setup,
/// 4 production database, 5 secrets, 6 TLS, 7 attestations.
pub const ITEMS: u8 = 7;

/// The attestations every environment has; `[preflight] attest` adds more.
pub const BUILTIN_ATTESTATIONS: [&str; 3] = ["rollback-plan", "contacts", "stakeholders"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preflight {
    /// The items the fast and iterative paths require before go-live; the others are recorded
    /// as deferred. Default: 3, 5, 6, 7.
    #[serde(default = "default_core")]
    pub core: Vec<PreflightItem>,
    /// The staging monitor window that must have passed on the release current on staging.
    #[serde(default = "default_staging_window")]
    pub staging_window: HumanDuration,
    /// How staging's schema is verified: a command run on the staging host (exit 0 passes), or
    /// `{ sql = "…" }` run against staging's database.
    pub schema_check: Option<SchemaCheck>,
    /// Programs every production host must have, with a lowest version where one is given:
    /// `"php>=8.1"`, `"composer"`.
    #[serde(default)]
    pub require: Vec<Requirement>,
    /// The web server's own config test, run on every production host (`nginx -t`).
    pub web_test: Option<String>,
    /// More items to attest by hand, besides rollback-plan, contacts and stakeholders.
    #[serde(default)]
    pub attest: Vec<AttestItem>,
    /// `[[preflight.check]]`: item 2's checks of staging's superadmin setup (branding, mail,
    /// legal pages, a login that renders): HTTP ones written like `[[check]]`, relative to
    /// staging's URL; `sql = "…"` ones against staging's database; `command = "…"` ones on
    /// staging's first host in its current release.
    #[serde(default, rename = "check")]
    pub checks: Vec<PreflightCheck>,
}

impl Default for Preflight {
    fn default() -> Self {
        Self {
            core: default_core(),
            staging_window: default_staging_window(),
            schema_check: None,
            require: Vec::new(),
            web_test: None,
            attest: Vec::new(),
            checks: Vec::new(),
        }
    }
}

impl Preflight {
    /// Every item to attest: the built-in ones, then the config's, in order.
    pub fn attestations(&self) -> Vec<&str> {
        BUILTIN_ATTESTATIONS.iter().copied().chain(self.attest.iter().map(AttestItem::as_str)).collect()
    }
}

fn default_core() -> Vec<PreflightItem> {
    [3, 5, 6, 7].into_iter().map(PreflightItem).collect()
}

fn default_staging_window() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(24 * 3600))
}

/// One `[[preflight.check]]`.
#[derive(Debug, Clone)]
pub enum PreflightCheck {
    Http(crate::CheckSpec),
    /// Passes when the query returns at least one row and no error.
    Sql {
        name: String,
        sql: String,
    },
    /// Passes when the command exits 0 in staging's current release.
    Command {
        name: String,
        command: String,
    },
}

impl PreflightCheck {
    pub fn name(&self) -> &str {
        match self {
            Self::Http(spec) => &spec.name,
            Self::Sql { name, .. } | Self::Command { name, .. } => name,
        }
    }
}

impl<'de> Deserialize<'de> for PreflightCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Sql {
            name: String,
            sql: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Command {
            name: String,
            command: String,
        }
        let table = toml::Table::deserialize(d)?;
        let kinds = ["sql", "command", "url"].into_iter().filter(|k| table.contains_key(*k)).count();
        if kinds != 1 {
            return Err(serde::de::Error::custom(
                "a [[preflight.check]] has one of `url` (an HTTP check), `sql` (a query of staging's database) or                  `command` (run in staging's current release)",
            ));
        }
        let value = toml::Value::Table(table);
        let check = if value.get("sql").is_some() {
            let Sql { name, sql } = value.try_into().map_err(serde::de::Error::custom)?;
            Self::Sql { name, sql }
        } else if value.get("command").is_some() {
            let Command { name, command } = value.try_into().map_err(serde::de::Error::custom)?;
            Self::Command { name, command }
        } else {
            Self::Http(value.try_into().map_err(serde::de::Error::custom)?)
        };
        match &check {
            Self::Sql { sql: text, .. } | Self::Command { command: text, .. } if text.trim().is_empty() => {
                Err(serde::de::Error::custom(format!("[[preflight.check]] `{}` is empty", check.name())))
            }
            _ => Ok(check),
        }
    }
}

/// A pre-flight item's number, 1 to 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PreflightItem(u8);

impl PreflightItem {
    pub fn number(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for PreflightItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u8::try_from(n) {
            Ok(n) if (1..=ITEMS).contains(&n) => Ok(Self(n)),
            _ => Err(serde::de::Error::custom(format!("pre-flight items are numbered 1 to {ITEMS}, not {n}"))),
        }
    }
}

/// `[preflight] schema_check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaCheck {
    /// Run on the staging host in its current release; exit 0 passes.
    Command(String),
    /// Run against staging's database; at least one row and no error passes.
    Sql(String),
}

impl<'de> Deserialize<'de> for SchemaCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Table(Table),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            sql: Option<String>,
            command: Option<String>,
        }
        let bad = || serde::de::Error::custom("schema_check is a command, `{ command = \"…\" }` or `{ sql = \"…\" }`");
        let check = match Raw::deserialize(d).map_err(|_| bad())? {
            Raw::Text(command) | Raw::Table(Table { sql: None, command: Some(command) }) => Self::Command(command),
            Raw::Table(Table { sql: Some(sql), command: None }) => Self::Sql(sql),
            Raw::Table(_) => return Err(bad()),
        };
        match &check {
            Self::Command(t) | Self::Sql(t) if t.trim().is_empty() => {
                Err(serde::de::Error::custom("schema_check is empty"))
            }
            _ => Ok(check),
        }
    }
}

/// A program a production host must have: `php>=8.1`, `composer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub program: String,
    /// The lowest version accepted, as numbers (`8.1` → `[8, 1]`).
    pub min_version: Option<Vec<u64>>,
    text: String,
}

impl Requirement {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let (program, version) = match text.split_once(">=") {
            Some((p, v)) => (p.trim(), Some(v.trim())),
            None => (text.trim(), None),
        };
        let program_ok = !program.is_empty()
            && program.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
            && !program.starts_with('-');
        if !program_ok {
            return Err(format!("`{text}` is not a program name, optionally with a lowest version (`php>=8.1`)"));
        }
        let min_version = match version {
            None => None,
            Some(v) => {
                let parts: Option<Vec<u64>> = v.split('.').map(|p| p.parse().ok()).collect();
                match parts {
                    Some(parts) if !parts.is_empty() => Some(parts),
                    _ => return Err(format!("`{text}`: `{v}` is not a version like 8.1 or 2.7.0")),
                }
            }
        };
        Ok(Self { program: program.to_owned(), min_version, text: text.to_owned() })
    }
}

impl<'de> Deserialize<'de> for Requirement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

validated_string!(
    /// The name of an item to attest: lowercase letters, digits and dashes (`payments-live`).
    AttestItem,
    |s| {
        let ok = s.len() <= 40
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(format!("`{s}` is not an attestation name (lowercase letters, digits and dashes, at most 40)"));
        }
        if BUILTIN_ATTESTATIONS.contains(&s) {
            return Err(format!("`{s}` is attested already without being listed"));
        }
        Ok(())
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_parse_names_and_lowest_versions() {
        let r = Requirement::parse("php>=8.1").unwrap();
        assert_eq!((r.program.as_str(), r.min_version.as_deref()), ("php", Some(&[8, 1][..])));
        assert_eq!(Requirement::parse("composer").unwrap().min_version, None);
        assert_eq!(Requirement::parse("mariadb >= 10.6.2").unwrap().min_version, Some(vec![10, 6, 2]));
        assert!(Requirement::parse("php>=eight").unwrap_err().contains("not a version"));
        assert!(Requirement::parse("rm -rf").is_err());
        assert!(Requirement::parse("").is_err());
    }

    #[test]
    fn preflight_checks_are_http_sql_or_command_and_one_of_them_only() {
        let parse = |text: &str| toml::from_str::<Preflight>(text);
        let p = parse(
            "[[check]]\nname = \"a\"\nurl = \"/up\"\n[[check]]\nname = \"b\"\nsql = \"SELECT 1\"\n\
             [[check]]\nname = \"c\"\ncommand = \"true\"\n",
        )
        .unwrap();
        assert!(matches!(&p.checks[0], PreflightCheck::Http(spec) if spec.name == "a"));
        assert!(matches!(&p.checks[1], PreflightCheck::Sql { sql, .. } if sql == "SELECT 1"));
        assert!(matches!(&p.checks[2], PreflightCheck::Command { command, .. } if command == "true"));
        assert_eq!(p.checks.iter().map(PreflightCheck::name).collect::<Vec<_>>(), ["a", "b", "c"]);
        for (bad, says) in [
            ("[[check]]\nname = \"x\"\nsql = \"SELECT 1\"\nurl = \"/\"\n", "one of `url`"),
            ("[[check]]\nname = \"x\"\n", "one of `url`"),
            ("[[check]]\nname = \"x\"\nsql = \" \"\n", "is empty"),
            ("[[check]]\nname = \"x\"\nsql = \"SELECT 1\"\nexpect_status = \"200\"\n", "unknown field"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
