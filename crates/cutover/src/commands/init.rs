//! `cutover init`: write a commented cutover.toml for a preset, the preset's `.env` templates
//! (and WordPress's wp-config.php) beside it, never over a file that exists, and what the web
//! server needs.

use std::io::Write;

use clap::{Args, ValueEnum};
use cutover_config::{ConfigError, Preset};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(long, value_enum, default_value_t = PresetArg::Generic)]
    pub preset: PresetArg,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PresetArg {
    Generic,
    Laravel,
    Wordpress,
}

pub fn exec(ctx: &Ctx<'_>, args: &InitArgs) -> Result<(), CliError> {
    let force = args.force;
    let preset = match args.preset {
        PresetArg::Generic => Preset::Generic,
        PresetArg::Laravel => Preset::Laravel,
        PresetArg::Wordpress => Preset::Wordpress,
    };
    let path = &ctx.global.config;
    let dir = ctx.config_dir();
    let name = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(|n| {
            n.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "app".to_owned());
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true)
    } else {
        options.create_new(true)
    };
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => ConfigError::Exists { path: path.clone() },
        _ => ConfigError::Write { path: path.clone(), source },
    })?;
    file.write_all(preset.template(&name).as_bytes())
        .map_err(|source| ConfigError::Write { path: path.clone(), source })?;
    ctx.out.say(&format!(
        "wrote `{}` ({} preset); edit the hosts, then run `cutover config check`",
        path.display(),
        preset.name()
    ));
    // The preset's other files, beside the config; one that exists is kept as it is.
    for (name, text) in preset.files(&name) {
        let file = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&file) {
            Ok(mut f) => {
                f.write_all(text.as_bytes()).map_err(|source| ConfigError::Write { path: file.clone(), source })?;
                ctx.out.say(&format!("wrote `{}`", file.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                ctx.out.say(&format!(
                    "kept `{}`: it exists (compare it with the preset's, `cutover init` never overwrites it)",
                    file.display()
                ));
            }
            Err(source) => return Err(ConfigError::Write { path: file, source }.into()),
        }
    }
    if let Some(note) = preset.web_server_note() {
        ctx.out.say(&note);
    }
    Ok(())
}
