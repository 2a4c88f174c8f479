//! The built-in rule set. Each rule names the keywords that must appear near a match (the
//! pre-filter runs one automaton over all of them) and a pattern whose group `s` is the secret,
//! then a check that turns away examples, placeholders and values that are not random enough.

use regex::bytes::Captures;

use super::entropy::{classes, is_placeholder, looks_random, shannon};
use super::generic;

/// One kind of secret the scanner knows.
#[derive(Debug)]
pub struct Rule {
    /// Stable name, shown in findings (`aws-access-key-id`).
    pub id: &'static str,
    pub description: &'static str,
    /// At least one of these appears within the match: the pre-filter.
    pub(crate) keywords: &'static [&'static str],
    /// Keywords compared exactly (prefixes like `AKIA`); otherwise ASCII case is ignored.
    pub(crate) case_sensitive: bool,
    pub(crate) kind: Kind,
    /// Matches on a key's name rather than a format: not run on lock files, where names like
    /// `js-tokens` and long hashes are everywhere.
    pub(crate) generic: bool,
}

pub(crate) enum Kind {
    /// A regex (bytes, ASCII) with a group `s`, and a check of the captures.
    Pattern { pattern: &'static str, check: fn(&Captures<'_>) -> bool },
    /// A PEM or PGP armored private key block, spanning lines.
    PrivateKey,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pattern { pattern, .. } => f.debug_tuple("Pattern").field(pattern).finish(),
            Self::PrivateKey => f.write_str("PrivateKey"),
        }
    }
}

fn secret<'a>(caps: &Captures<'a>) -> &'a [u8] {
    caps.name("s").map_or(&[], |m| m.as_bytes())
}

/// The part after a fixed prefix of `n` bytes looks random.
fn tail_random(caps: &Captures<'_>, n: usize, bits: f64) -> bool {
    let value = secret(caps);
    value.len() > n && looks_random(&value[n..], bits) && !contains(value, b"EXAMPLE")
}

/// `artisan key:generate` encodes random bytes: a key that decodes to printable text
/// (`base64("old-key-old-key-…")`) was typed by a person, for a test.
fn random_bytes(encoded: &[u8]) -> bool {
    use base64::Engine as _;
    use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    lenient.decode(encoded).is_ok_and(|bytes| !bytes.iter().all(|b| (0x20..0x7f).contains(b)) && shannon(&bytes) >= 3.5)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

const fn pattern(
    id: &'static str,
    description: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
    check: fn(&Captures<'_>) -> bool,
) -> Rule {
    Rule { id, description, keywords, case_sensitive: true, kind: Kind::Pattern { pattern, check }, generic: false }
}

/// Every rule, most specific first: when two matches overlap, the earlier rule's is kept.
pub static RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        description: "private key (PEM or PGP armored block)",
        keywords: &["PRIVATE KEY"],
        case_sensitive: true,
        kind: Kind::PrivateKey,
        generic: false,
    },
    pattern(
        "aws-access-key-id",
        "AWS access key ID (or IAM unique ID)",
        &["AKIA", "ASIA", "ABIA", "ACCA", "A3T", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA"],
        r"(?:^|[^A-Za-z0-9])(?P<s>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9]|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16})(?:[^A-Za-z0-9]|$)",
        // 16 base32 characters: a placeholder (`AKIAXXXX…`) is far below 2 bits, random ones
        // almost never are.
        |c| tail_random(c, 4, 2.0),
    ),
    Rule {
        id: "aws-secret-access-key",
        description: "AWS secret access key assigned to an AWS key name",
        keywords: &[
            "secret_access_key",
            "secretaccesskey",
            "secret-access-key",
            "aws_secret",
            "aws-secret",
            "awssecret",
        ],
        case_sensitive: false,
        kind: Kind::Pattern {
            pattern: r#"(?i)(?:aws[_.-]?secret(?:[_.-]?access)?[_.-]?key|secret[_.-]?access[_.-]?key)["'`\]]?\s*(?:=>|:=|[:=,])\s*["'`]?(?P<s>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
            check: |c| looks_random(secret(c), 4.0) && !contains(secret(c), b"EXAMPLE"),
        },
        generic: false,
    },
    pattern(
        "stripe-live-secret-key",
        "Stripe live secret key",
        &["sk_live_"],
        r"(?P<s>sk_live_[0-9A-Za-z]{20,})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 8, 3.0),
    ),
    pattern(
        "stripe-live-restricted-key",
        "Stripe live restricted key",
        &["rk_live_"],
        r"(?P<s>rk_live_[0-9A-Za-z]{20,})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 8, 3.0),
    ),
    pattern(
        "stripe-webhook-secret",
        "Stripe webhook signing secret",
        &["whsec_"],
        r"(?P<s>whsec_[0-9A-Za-z+/]{32,})(?:[^0-9A-Za-z+/=]|$)",
        |c| tail_random(c, 6, 3.5),
    ),
    pattern(
        "laravel-app-key",
        "Laravel APP_KEY (base64: 16 or 32-byte key)",
        &["base64:"],
        r"(?:^|[^A-Za-z0-9+/])base64:(?P<s>[A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{22}==)(?:[^A-Za-z0-9+/=]|$)",
        |c| looks_random(secret(c), 3.5) && random_bytes(secret(c)),
    ),
    pattern(
        "github-token",
        "GitHub token (personal, OAuth, app, refresh)",
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"(?:^|[^0-9A-Za-z_])(?P<s>gh[pousr]_[0-9A-Za-z]{36,})(?:[^0-9A-Za-z_]|$)",
        |c| tail_random(c, 4, 3.0),
    ),
    pattern(
        "github-fine-grained-token",
        "GitHub fine-grained personal access token",
        &["github_pat_"],
        r"(?P<s>github_pat_[0-9A-Za-z_]{50,})(?:[^0-9A-Za-z_]|$)",
        |c| tail_random(c, 11, 3.0),
    ),
    pattern(
        "gitlab-token",
        "GitLab token (personal, deploy, runner, pipeline trigger)",
        &["glpat-", "gldt-", "glrt-", "glptt-", "GR1348941"],
        r"(?P<s>(?:glpat-|gldt-|glrt-|GR1348941)[0-9A-Za-z_-]{20,}|glptt-[0-9a-f]{40})(?:[^0-9A-Za-z_-]|$)",
        |c| looks_random(secret(c), 3.0),
    ),
    pattern(
        "slack-token",
        "Slack token (bot, user, app, workspace)",
        &["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe", "xapp-"],
        r"(?P<s>(?:xox[abposr]|xoxe\.xox[bp]|xoxe|xapp)-[0-9A-Za-z-]{10,})(?:[^0-9A-Za-z-]|$)",
        |c| tail_random(c, 5, 3.0),
    ),
    Rule {
        id: "slack-webhook",
        description: "Slack incoming webhook URL",
        keywords: &["hooks.slack.com"],
        case_sensitive: false,
        kind: Kind::Pattern {
            pattern: r"(?i)hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[0-9A-Za-z+/_-]{30,})",
            check: |c| looks_random(secret(c), 3.0),
        },
        generic: false,
    },
    Rule {
        id: "discord-webhook",
        description: "Discord webhook URL",
        keywords: &["discord.com/api", "discordapp.com/api"],
        case_sensitive: false,
        kind: Kind::Pattern {
            pattern: r"(?i)discord(?:app)?\.com/api/(?:v[0-9]+/)?webhooks/(?P<s>[0-9]{17,}/[0-9A-Za-z_-]{60,})",
            check: |c| looks_random(secret(c), 3.0),
        },
        generic: false,
    },
    pattern("google-api-key", "Google API key", &["AIza"], r"(?P<s>AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)", |c| {
        tail_random(c, 4, 3.0)
    }),
    pattern(
        "twilio-api-key",
        "Twilio API key SID",
        &["SK"],
        r"(?:^|[^0-9A-Za-z_])(?P<s>SK[0-9a-fA-F]{32})(?:[^0-9A-Za-z_]|$)",
        |c| tail_random(c, 2, 2.5),
    ),
    pattern(
        "sendgrid-api-key",
        "SendGrid API key",
        &["SG."],
        r"(?P<s>SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43})(?:[^0-9A-Za-z_-]|$)",
        |c| tail_random(c, 3, 3.5),
    ),
    pattern(
        "npm-token",
        "npm access token",
        &["npm_"],
        r"(?:^|[^0-9A-Za-z_])(?P<s>npm_[0-9A-Za-z]{36})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 4, 3.0),
    ),
    Rule {
        id: "npmrc-auth-token",
        description: "registry auth token in an .npmrc",
        keywords: &["_authtoken"],
        case_sensitive: false,
        kind: Kind::Pattern {
            pattern: r#"(?i)_authToken\s*=\s*["']?(?P<s>[^\s"']{8,})"#,
            check: |c| looks_random(secret(c), 3.0),
        },
        generic: false,
    },
    pattern(
        "pypi-token",
        "PyPI upload token",
        &["pypi-AgEIcHlwaS5vcmc"],
        r"(?P<s>pypi-AgEIcHlwaS5vcmc[0-9A-Za-z_-]{50,})",
        |c| tail_random(c, 5, 3.5),
    ),
    pattern(
        "shopify-token",
        "Shopify access token or shared secret",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"(?P<s>shp(?:at|ca|pa|ss)_[0-9A-Za-z]{32,})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 6, 2.5),
    ),
    pattern(
        "digitalocean-token",
        "DigitalOcean token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"(?P<s>do[opr]_v1_[0-9a-f]{64})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 7, 3.0),
    ),
    pattern(
        "openai-api-key",
        "OpenAI API key",
        &["T3BlbkFJ"],
        r"(?P<s>sk-(?:(?:proj|svcacct|admin)-)?[0-9A-Za-z_-]{20,}T3BlbkFJ[0-9A-Za-z_-]{20,})",
        |c| tail_random(c, 3, 3.5),
    ),
    pattern(
        "anthropic-api-key",
        "Anthropic API key",
        &["sk-ant-"],
        r"(?P<s>sk-ant-(?:api|admin)[0-9]{2}-[0-9A-Za-z_-]{80,})",
        |c| tail_random(c, 7, 3.5),
    ),
    pattern(
        "vault-token",
        "HashiCorp Vault token",
        &["hvs.", "hvb."],
        r"(?:^|[^0-9A-Za-z_])(?P<s>hv[sb]\.[0-9A-Za-z_-]{90,})",
        |c| tail_random(c, 4, 3.5),
    ),
    pattern(
        "age-secret-key",
        "age secret key",
        &["AGE-SECRET-KEY-1"],
        r"(?P<s>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        |c| tail_random(c, 16, 3.0),
    ),
    pattern(
        "telegram-bot-token",
        "Telegram bot token",
        &[":AA"],
        r"(?:^|[^0-9])(?P<s>[0-9]{8,10}:AA[0-9A-Za-z_-]{33})(?:[^0-9A-Za-z_-]|$)",
        |c| looks_random(secret(c), 3.5),
    ),
    pattern(
        "azure-storage-key",
        "Azure storage account key in a connection string",
        &["AccountKey="],
        r"AccountKey=(?P<s>[0-9A-Za-z+/]{86}==)",
        |c| looks_random(secret(c), 4.0),
    ),
    pattern(
        "mailgun-api-key",
        "Mailgun API key",
        &["key-"],
        r"(?:^|[^0-9A-Za-z_-])(?P<s>key-[0-9a-f]{32})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 4, 2.5),
    ),
    pattern(
        "mailchimp-api-key",
        "Mailchimp API key",
        &["-us"],
        r"(?:^|[^0-9A-Za-z])(?P<s>[0-9a-f]{32}-us[0-9]{1,2})(?:[^0-9A-Za-z]|$)",
        |c| looks_random(&secret(c)[..32], 2.5),
    ),
    pattern(
        "square-token",
        "Square access token or OAuth secret",
        &["sq0atp-", "sq0csp-"],
        r"(?P<s>sq0(?:atp|csp)-[0-9A-Za-z_-]{22,})",
        |c| tail_random(c, 7, 3.0),
    ),
    pattern(
        "jwt",
        "JSON Web Token",
        &["eyJ"],
        r"(?:^|[^0-9A-Za-z_-])(?P<s>eyJ[0-9A-Za-z_-]{10,}\.eyJ[0-9A-Za-z_-]{10,}\.[0-9A-Za-z_-]{16,})",
        |c| looks_random(secret(c), 4.0),
    ),
    pattern(
        "huggingface-token",
        "Hugging Face access token",
        &["hf_"],
        r"(?:^|[^0-9A-Za-z_])(?P<s>hf_[A-Za-z]{34})(?:[^A-Za-z]|$)",
        |c| tail_random(c, 3, 3.0),
    ),
    pattern(
        "grafana-token",
        "Grafana cloud or service account token",
        &["glc_", "glsa_"],
        r"(?P<s>glc_[0-9A-Za-z+/]{32,}={0,2}|glsa_[0-9A-Za-z]{32}_[0-9a-fA-F]{8})(?:[^0-9A-Za-z+/=]|$)",
        |c| tail_random(c, 4, 3.0),
    ),
    pattern(
        "linear-api-key",
        "Linear API key",
        &["lin_api_"],
        r"(?P<s>lin_api_[0-9A-Za-z_]{32,})(?:[^0-9A-Za-z_]|$)",
        |c| tail_random(c, 8, 3.0),
    ),
    pattern(
        "notion-token",
        "Notion integration token",
        &["ntn_"],
        r"(?P<s>ntn_[0-9]{11}[0-9A-Za-z]{35})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 4, 3.0),
    ),
    pattern("groq-api-key", "Groq API key", &["gsk_"], r"(?P<s>gsk_[0-9A-Za-z]{52})(?:[^0-9A-Za-z]|$)", |c| {
        tail_random(c, 4, 3.0)
    }),
    pattern(
        "databricks-token",
        "Databricks access token",
        &["dapi"],
        r"(?:^|[^0-9A-Za-z_])(?P<s>dapi[0-9a-fA-F]{32}(?:-[0-9])?)(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 4, 2.5),
    ),
    pattern(
        "figma-token",
        "Figma personal access token",
        &["figd_"],
        r"(?P<s>figd_[0-9A-Za-z_-]{40,})(?:[^0-9A-Za-z_-]|$)",
        |c| tail_random(c, 5, 3.0),
    ),
    pattern(
        "vercel-token",
        "Vercel token",
        &["vcp_", "vci_", "vca_", "vcr_", "vck_"],
        r"(?:^|[^0-9A-Za-z_])(?P<s>vc[piark]_[0-9A-Za-z]{20,})(?:[^0-9A-Za-z]|$)",
        |c| tail_random(c, 4, 3.0),
    ),
    pattern(
        "1password-service-token",
        "1Password service account token",
        &["ops_ey"],
        r"(?P<s>ops_ey[0-9A-Za-z+/=]{100,})",
        |c| tail_random(c, 4, 4.0),
    ),
    Rule {
        id: "url-credentials",
        description: "password in a URL (scheme://user:password@host)",
        keywords: &["://"],
        case_sensitive: true,
        kind: Kind::Pattern {
            pattern: r#"(?i)[a-z][a-z0-9+.-]+://(?P<user>[^\s:@/"'`<>]+):(?P<s>[^\s:@/"'`<>]{3,})@(?P<host>[a-z0-9.-]+)"#,
            check: url_credentials,
        },
        generic: false,
    },
    Rule {
        id: "generic-secret",
        description: "high-entropy value assigned to a password, secret, token or key name",
        keywords: generic::KEYWORDS,
        case_sensitive: false,
        kind: Kind::Pattern { pattern: generic::ASSIGNMENT, check: generic::check_assignment },
        generic: true,
    },
    Rule {
        id: "generic-secret",
        description: "high-entropy value assigned to a password, secret, token or key name",
        keywords: &["define"],
        case_sensitive: false,
        kind: Kind::Pattern { pattern: generic::DEFINE, check: generic::check_define },
        generic: true,
    },
];

/// Parts of the password in docs' and tests' URLs (`db_password`, `foo:bar`), in lower case as
/// they are written there: a random password holds one by chance far more rarely.
const URL_PLACEHOLDERS: &[&str] = &["pass", "secret", "pwd", "foo", "bar", "baz", "user", "test"];

fn url_credentials(caps: &Captures<'_>) -> bool {
    let value = secret(caps);
    let user = caps.name("user").map_or(&[][..], |m| m.as_bytes());
    let host = caps.name("host").map_or(&[][..], |m| m.as_bytes()).to_ascii_lowercase();
    value.len() >= 6
        && value != user
        && !URL_PLACEHOLDERS.iter().any(|w| contains(value, w.as_bytes()))
        && !is_placeholder(value)
        && !is_placeholder(user)
        && !contains(&host, b"example.")
        && (shannon(value) >= 2.5 || classes(value) >= 3)
}

/// The rules, for listing.
pub fn rules() -> &'static [Rule] {
    RULES
}
