//! What every command needs: the global options, the output, the config and its hosts.

use std::net::IpAddr;
use std::path::PathBuf;

use cutover_config::{Config, HostSpec};
use cutover_release::Fleet;
use cutover_remote::SshOptions;

use crate::CliError;
use crate::cli::Global;
use crate::output::Output;

/// A host's name in the config and its addresses, or why they are unknown.
pub type HostAddresses = (String, Result<Vec<IpAddr>, String>);

#[derive(Debug)]
pub struct Ctx<'a> {
    pub global: &'a Global,
    pub out: &'a Output,
}

impl Ctx<'_> {
    pub fn config(&self) -> Result<Config, CliError> {
        Ok(Config::load(&self.global.config)?)
    }

    /// The directory holding the config file, where `.cutover/` lives.
    pub fn config_dir(&self) -> PathBuf {
        match self.global.config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// How to run ssh: the config's `[ssh]`, and `CUTOVER_SSH` for the client program.
    pub fn ssh_options(&self, config: &Config) -> SshOptions {
        SshOptions {
            config_file: config.ssh.config.clone(),
            connect_timeout: config.ssh.connect_timeout.0,
            program: std::env::var_os("CUTOVER_SSH").map_or_else(|| "ssh".into(), PathBuf::from),
            persist: config.ssh.persist.0,
        }
    }

    /// Each host of the environment and its addresses, as ssh reaches it (`ssh -G`'s
    /// `hostname`, resolved; `local` is 127.0.0.1), or why they cannot be known.
    pub fn host_addresses(&self, config: &Config) -> Result<Vec<HostAddresses>, CliError> {
        let env = config.env(&self.global.env)?;
        let options = self.ssh_options(config);
        Ok(env
            .hosts()
            .iter()
            .map(|spec| {
                let addrs = match spec {
                    HostSpec::Local => Ok(vec![IpAddr::from([127, 0, 0, 1])]),
                    HostSpec::Ssh(dest) => cutover_remote::addresses(dest, &options).map_err(|e| e.to_string()),
                };
                let addrs = addrs.and_then(|a| {
                    if a.is_empty() { Err("ssh resolves the host to no address".to_owned()) } else { Ok(a) }
                });
                (spec.to_string(), addrs)
            })
            .collect())
    }

    /// Connects to every host of the selected environment.
    pub fn fleet(&self, config: &Config) -> Result<Fleet, CliError> {
        let env = config.env(&self.global.env)?;
        let options = self.ssh_options(config);
        Ok(Fleet::connect(&self.global.env, env.hosts(), env.path.clone(), &options, self.out)?)
    }
}
