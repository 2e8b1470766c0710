//! A controller in its own OS process, to be killed with SIGKILL (no lease release, no drain).
//!
//! The process gets the same configuration as a controller in this process: every field of
//! `everynode_controller::Config` is passed as its flag (see [`controller_args`]).

use std::ffi::OsStr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use everynode_service::LogFormat;

/// A controller process, killed (SIGKILL) and reaped on drop.
pub struct ControllerProcess {
    child: Child,
}

impl ControllerProcess {
    /// Runs `binary` (`env!("CARGO_BIN_EXE_everynode-controller")`) with `config`; its log goes
    /// to this process's stderr.
    pub(super) fn spawn(binary: &OsStr, config: &everynode_controller::Config) -> Self {
        let mut command = Command::new(binary);
        command
            .args(controller_args(config))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if config.common.otlp_endpoint.is_none() {
            // Flags without a value to pass: the environment must not supply them either.
            command.env_remove("EVERYNODE_OTLP_ENDPOINT");
        }
        command.env_remove("EVERYNODE_CREDENTIALS");
        command.env_remove("EVERYNODE_INSECURE");
        if config.common.security.insecure {
            command.arg("--insecure");
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "starting the controller process {}: {e}",
                binary.to_string_lossy()
            )
        });
        Self { child }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL and reaps it: no lease release, no drain.
    pub fn kill(&mut self) {
        // Errors mean it is already gone, which is what is wanted.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `everynode-controller`'s command line for `config`: every field as its flag.
pub(crate) fn controller_args(config: &everynode_controller::Config) -> Vec<String> {
    let duration = |d: Duration| format!("{}ns", d.as_nanos());
    let common = &config.common;
    let log_format = match common.log_format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    };
    let mut args: Vec<(&str, String)> = vec![
        ("--nats", common.nats.clone()),
        ("--log-level", common.log_level.clone()),
        ("--log-format", log_format.to_string()),
        ("--shutdown-grace", duration(common.shutdown_grace)),
        ("--listen", config.server.listen.to_string()),
        ("--request-timeout", duration(config.server.request_timeout)),
        (
            "--concurrency-limit",
            config.server.concurrency_limit.to_string(),
        ),
        ("--admission", config.admission.clone()),
        ("--registry", config.registry.clone()),
        ("--replicas", config.replicas.to_string()),
        ("--workers", config.workers.to_string()),
        ("--resync", duration(config.resync)),
        ("--command-timeout", duration(config.command_timeout)),
        ("--command-attempts", config.command_attempts.to_string()),
        (
            "--command-concurrency",
            config.command_concurrency.to_string(),
        ),
        ("--lease-name", config.lease_name.clone()),
        ("--lease-duration", duration(config.lease_duration)),
        ("--lease-renew", duration(config.lease_renew)),
        (
            "--expectations-timeout",
            duration(config.expectations_timeout),
        ),
        ("--retry-base", duration(config.retry_base)),
        ("--retry-max", duration(config.retry_max)),
        ("--watch-history", config.watch_history.to_string()),
    ];
    if let Some(endpoint) = &common.otlp_endpoint {
        args.push(("--otlp-endpoint", endpoint.clone()));
    }
    if let Some(identity) = &config.identity {
        args.push(("--identity", identity.clone()));
    }
    if let Some(dir) = &common.security.credentials {
        args.push(("--credentials", dir.display().to_string()));
    }
    args.into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect()
}

#[cfg(test)]
mod tests {
    use std::num::{NonZeroU32, NonZeroUsize};

    use clap::Parser;

    use super::*;

    #[test]
    fn the_command_line_carries_every_setting() {
        let mut config =
            everynode_controller::Config::for_nats("nats://127.0.0.1:4999", "http://127.0.0.1:1");
        config.common.log_level = "warn".into();
        config.common.log_format = LogFormat::Json;
        config.common.otlp_endpoint = Some("http://127.0.0.1:4317".into());
        config.common.shutdown_grace = Duration::from_millis(1234);
        config.server.request_timeout = Duration::from_secs(7);
        config.server.concurrency_limit = NonZeroUsize::new(9).unwrap();
        config.registry = "http://127.0.0.1:2".into();
        config.replicas = 3;
        config.workers = NonZeroUsize::new(2).unwrap();
        config.resync = Duration::from_millis(2500);
        config.command_timeout = Duration::from_millis(1500);
        config.command_attempts = NonZeroU32::new(5).unwrap();
        config.command_concurrency = NonZeroUsize::new(8).unwrap();
        config.lease_name = "other".into();
        config.lease_duration = Duration::from_millis(1500);
        config.lease_renew = Duration::from_millis(300);
        config.identity = Some("me".into());
        config.expectations_timeout = Duration::from_secs(42);
        config.retry_base = Duration::from_micros(1500);
        config.retry_max = Duration::from_millis(500);
        config.watch_history = 17;

        let args = controller_args(&config);
        let parsed = everynode_controller::Config::try_parse_from(
            std::iter::once("everynode-controller".to_string()).chain(args),
        )
        .unwrap();
        assert_eq!(format!("{parsed:?}"), format!("{config:?}"));
    }
}
