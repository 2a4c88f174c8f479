//! `[env.X] database` and `db_host`: where an environment's database is, and `[seed]`: how the
//! first release fills production's.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::SharedPath;

/// An environment's database, as written in `database = "…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseSpec {
    Url(DatabaseUrl),
    /// `"env"`: read from the environment's rendered `.env` (Laravel's `DB_*`, WordPress's
    /// `DB_NAME`/`DB_USER`/`DB_PASSWORD`/`DB_HOST`).
    FromEnvFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// MySQL or MariaDB: their client tools speak to either.
    Mysql,
    Postgres,
    Sqlite,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mysql => "mysql",
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// `mysql://USER:${secret:NAME}@HOST:PORT/DB`, `postgres://…` or `sqlite:///path/on/host.db`. A
/// password is only ever a `${secret:NAME}` reference: a password written out would be a secret
/// in cutover.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub engine: Engine,
    pub user: Option<String>,
    /// The name of the secret that holds the password.
    pub password_secret: Option<String>,
    /// Empty for SQLite; for MySQL/PostgreSQL the default is `localhost`.
    pub host: String,
    pub port: Option<u16>,
    /// The database's name, or for SQLite the file's path on the db host.
    pub name: String,
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("`{text}` is not a database URL (mysql://, postgres:// or sqlite://), nor \"env\"")
        })?;
        let engine = match scheme {
            "mysql" | "mariadb" => Engine::Mysql,
            "postgres" | "postgresql" => Engine::Postgres,
            "sqlite" => Engine::Sqlite,
            other => {
                return Err(format!("database scheme `{other}://` is not supported; use mysql, postgres or sqlite"));
            }
        };
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("database URL contains {c:?}"));
        }
        if engine == Engine::Sqlite {
            // `sqlite:///abs/path.db` or `sqlite://relative/to/the/deploy/path.db`
            if rest.is_empty() || rest.contains("${") {
                return Err(format!("`{text}`: write sqlite:///path/on/host.db"));
            }
            return Ok(Self {
                engine,
                user: None,
                password_secret: None,
                host: String::new(),
                port: None,
                name: rest.into(),
            });
        }
        let (authority, name) = rest.split_once('/').unwrap_or((rest, ""));
        let name = name.split(['?', '#']).next().unwrap_or_default();
        if name.is_empty() {
            return Err(format!("`{text}` names no database: add /DBNAME"));
        }
        if name.contains("${") || name.contains('/') {
            return Err(format!("`{text}`: the database name `{name}` may not hold `/` or a reference"));
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host_port.contains("${") {
            return Err("a `${secret:NAME}` reference is allowed in the password part only".into());
        }
        let (user, password_secret) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, password) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                if user.contains("${") {
                    return Err("a `${secret:NAME}` reference is allowed in the password part only".into());
                }
                let secret = match password {
                    None | Some("") => None,
                    Some(p) => Some(
                        p.strip_prefix("${secret:")
                            .and_then(|r| r.strip_suffix('}'))
                            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                            .ok_or_else(|| {
                                "the password must be a `${secret:NAME}` reference (store it with `cutover secrets set \
                                 NAME`): a password written in cutover.toml would be committed"
                                    .to_owned()
                            })?
                            .to_owned(),
                    ),
                };
                (Some(percent_decode(user)).filter(|u| !u.is_empty()), secret)
            }
        };
        let (host, port) = match host_port.strip_prefix('[') {
            Some(v6) => {
                let (h, rest) = v6.split_once(']').ok_or_else(|| format!("`{text}`: unclosed `[`"))?;
                (h.to_owned(), rest.strip_prefix(':'))
            }
            None => match host_port.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (host_port.to_owned(), None),
            },
        };
        let port = port
            .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("`{text}`: invalid port `{p}`")))
            .transpose()?;
        let host = if host.is_empty() { "localhost".to_owned() } else { host };
        Ok(Self { engine, user, password_secret, host, port, name: percent_decode(name) })
    }
}

/// `%40` → `@`, as in any URL's user and path; a `%` not followed by two hex digits stays.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<'de> Deserialize<'de> for DatabaseSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "env" {
            return Ok(Self::FromEnvFile);
        }
        DatabaseUrl::parse(&text).map(Self::Url).map_err(serde::de::Error::custom)
    }
}

/// How the first release fills production's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeedStrategy {
    /// `[seed] installer` against the empty database.
    #[default]
    Fresh,
    /// A copy of staging's database, rewritten for production.
    CopyStaging,
    /// The installer, then `[seed] import_tables` copied from staging.
    Hybrid,
}

impl SeedStrategy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fresh" => Some(Self::Fresh),
            "copy-staging" => Some(Self::CopyStaging),
            "hybrid" => Some(Self::Hybrid),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::CopyStaging => "copy-staging",
            Self::Hybrid => "hybrid",
        }
    }
}

/// `[seed]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub strategy: SeedStrategy,
    /// The environment a copy comes from.
    #[serde(default = "default_from")]
    pub from: String,
    /// Run in the new release on the db host to install into the empty database
    /// (`php artisan migrate --seed --force`).
    pub installer: Option<String>,
    /// Under `hybrid`: the tables copied from staging after the installer ran.
    #[serde(default)]
    pub import_tables: Vec<String>,
    /// More replacements on top of staging's URLs → production's.
    #[serde(default)]
    pub replace: BTreeMap<String, String>,
    #[serde(default)]
    pub skip_tables: Vec<String>,
    /// `TABLE.COLUMN` values copied as they are (`wp_posts.guid`).
    #[serde(default)]
    pub skip_columns: Vec<TableColumn>,
    /// Re-encrypt Laravel values from staging's APP_KEY to production's.
    #[serde(default = "yes")]
    pub reencrypt: bool,
    /// Shared directories copied from staging's hosts along with the database
    /// (`wp-content/uploads/`).
    #[serde(default)]
    pub copy_shared: Vec<SharedPath>,
}

impl Default for Seed {
    fn default() -> Self {
        Self {
            strategy: SeedStrategy::default(),
            from: default_from(),
            installer: None,
            import_tables: Vec::new(),
            replace: BTreeMap::new(),
            skip_tables: Vec::new(),
            skip_columns: Vec::new(),
            reencrypt: true,
            copy_shared: Vec::new(),
        }
    }
}

fn default_from() -> String {
    "staging".into()
}

fn yes() -> bool {
    true
}

/// `TABLE.COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumn {
    pub table: String,
    pub column: String,
}

impl TableColumn {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once('.') {
            Some((t, c)) if !t.is_empty() && !c.is_empty() => Ok(Self { table: t.into(), column: c.into() }),
            _ => Err(format!("`{text}`: write TABLE.COLUMN")),
        }
    }
}

impl<'de> Deserialize<'de> for TableColumn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_the_password_only_as_a_secret_reference() {
        let u = DatabaseUrl::parse("mysql://shop:${secret:DB_PASSWORD}@db.internal:3307/shop_prod").unwrap();
        assert_eq!(u.engine, Engine::Mysql);
        assert_eq!(u.user.as_deref(), Some("shop"));
        assert_eq!(u.password_secret.as_deref(), Some("DB_PASSWORD"));
        assert_eq!((u.host.as_str(), u.port, u.name.as_str()), ("db.internal", Some(3307), "shop_prod"));
        let p = DatabaseUrl::parse("postgres://app@/app_db").unwrap();
        assert_eq!((p.engine, p.host.as_str(), p.port, p.password_secret), (Engine::Postgres, "localhost", None, None));
        let s = DatabaseUrl::parse("sqlite:///srv/app/shared/db.sqlite").unwrap();
        assert_eq!((s.engine, s.name.as_str()), (Engine::Sqlite, "/srv/app/shared/db.sqlite"));
        let v6 = DatabaseUrl::parse("postgres://u@[::1]:5433/d").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", Some(5433)));
        assert_eq!(DatabaseUrl::parse("mysql://a%40b@h/x%2Dy").unwrap().user.as_deref(), Some("a@b"));

        for (bad, says) in [
            ("mysql://shop:hunter2@h/db", "must be a `${secret:NAME}`"),
            ("mysql://${secret:U}:${secret:P}@h/db", "password part only"),
            ("mysql://u:${secret:P}@${secret:H}/db", "password part only"),
            ("mysql://u@h", "names no database"),
            ("mysql://u@h:0/db", "invalid port"),
            ("oracle://u@h/db", "not supported"),
            ("shop_prod", "not a database URL"),
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
