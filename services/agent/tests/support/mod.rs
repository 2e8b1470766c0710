//! What several agent test files share: the agent binary as a child process.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `everynode-agent` run with `args`, its output appended to `log`; killed (SIGKILL: no
/// drain) and reaped on drop.
pub struct AgentBinary(pub Child);

impl AgentBinary {
    /// Starts the binary; nothing of this process's environment names its node.
    pub fn start(args: &[&str], log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
        let stdout = log
            .try_clone()
            .unwrap_or_else(|e| panic!("sharing the agent log: {e}"));
        let child = Command::new(env!("CARGO_BIN_EXE_everynode-agent"))
            .args(args)
            .env_remove("EVERYNODE_NODE_NAME")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting everynode-agent: {e}"));
        Self(child)
    }
}

impl Drop for AgentBinary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
