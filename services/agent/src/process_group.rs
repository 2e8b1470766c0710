//! Process groups: every container and every `exec` probe runs in a group of its own
//! (`setpgid`), so that it is signalled — and killed — as a whole, children included.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Sends `signal` to process group `pgid` (never to group 0 or 1, which would be this agent's
/// own group or every process).
pub fn signal_group(pgid: i32, signal: Signal) {
    if pgid > 1 {
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}
