//! What every command needs: the global options, the output, the config and its hosts.

use std::net::IpAddr;
use std::path::PathBuf;

use cutover_config::{Config, HostSpec};
use cutover_gates::Plan;
use cutover_http::{Trust, Via};
use cutover_release::Fleet;
use cutover_remote::SshOptions;
use cutover_state::State;

use crate::CliError;
use crate::cli::Global;
use crate::output::Output;

/// A host of the environment, where ssh reaches it.
#[derive(Debug)]
pub struct HostAddresses {
    /// The host as written in the config.
    pub label: String,
    /// The name ssh connects to (`ssh -G`'s `hostname`), when known.
    pub hostname: Option<String>,
    /// Its addresses, or why they are unknown.
    pub addrs: Result<Vec<IpAddr>, String>,
}

#[derive(Debug)]
pub struct Ctx<'a> {
    pub global: &'a Global,
    pub out: &'a Output,
    /// The process's one connection to `.cutover/state.db`, opened on first use. Nothing else
    /// opens the file: a second open (and its close) in one process drops that process's POSIX
    /// locks on it, and another process may then delete the WAL under a running monitor.
    state: std::cell::OnceCell<State>,
}

impl<'a> Ctx<'a> {
    pub fn new(global: &'a Global, out: &'a Output) -> Self {
        Ctx { global, out, state: std::cell::OnceCell::new() }
    }

    /// The local state, opened (and its schema brought up to date) the first time it is asked for.
    pub fn state(&self) -> Result<&State, CliError> {
        if let Some(state) = self.state.get() {
            return Ok(state);
        }
        let state = State::open(&self.config_dir())?;
        Ok(self.state.get_or_init(|| state))
    }

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
            timeout: config.ssh.timeout.0,
            program: std::env::var_os("CUTOVER_SSH").map_or_else(|| "ssh".into(), PathBuf::from),
            persist: config.ssh.persist.0,
            max_parallel: config.ssh.max_parallel.get(),
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
                let resolved = match spec {
                    HostSpec::Local => Ok(("localhost".to_owned(), vec![IpAddr::from([127, 0, 0, 1])])),
                    HostSpec::Ssh(dest) => cutover_remote::addresses(dest, &options).map_err(|e| e.to_string()),
                };
                let hostname = resolved.as_ref().ok().map(|(h, _)| h.clone());
                let addrs = resolved.and_then(|(_, a)| {
                    if a.is_empty() { Err("ssh resolves the host to no address".to_owned()) } else { Ok(a) }
                });
                HostAddresses { label: spec.to_string(), hostname, addrs }
            })
            .collect())
    }

    /// The roots certificates are judged against: the system's and `[tls] extra_ca`.
    pub fn trust(&self, config: &Config) -> Result<Trust, CliError> {
        Trust::load(config.tls.extra_ca.as_deref()).map_err(|e| CliError::Usage(format!("[tls] extra_ca: {e}")))
    }

    /// The environment's `[[check]]`s and where they go, or `None` when the config has none.
    pub fn check_plan(&self, config: &Config) -> Result<Option<Plan>, CliError> {
        if config.checks.is_empty() {
            return Ok(None);
        }
        let trust = self.trust(config)?;
        let mut hosts = Vec::new();
        if Plan::wants_hosts(config) {
            for host in self.host_addresses(config)? {
                let addrs = host.addrs.map_err(|e| CliError::Check(format!("host `{}`: {e}", host.label)))?;
                hosts.push(Via::host(host.label, addrs[0]));
            }
        }
        Ok(Some(Plan::new(config, &self.global.env, trust, hosts)?))
    }

    /// Connects to every host of the selected environment.
    pub fn fleet(&self, config: &Config) -> Result<Fleet, CliError> {
        let env = config.env(&self.global.env)?;
        let options = self.ssh_options(config);
        Ok(Fleet::connect(&self.global.env, env.hosts(), env.path.clone(), &options, self.out)?)
    }
}
