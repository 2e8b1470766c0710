//! Putting a new process where it belongs before it runs anything: into its container's
//! cgroups, under its container's user and groups, with `no_new_privs` when the container
//! disallows privilege escalation.
//!
//! Everything is done in the child between `fork` and `exec` (a `pre_exec` hook), in this
//! order: write `0` to each `cgroup.procs` file (opened by the agent before the fork, so the
//! child needs no path lookup and no privilege for it), drop `capabilities.drop` from the
//! bounding set (`PR_CAPBSET_DROP`, which needs `CAP_SETPCAP`), `setgroups`, `setgid`, `setuid`,
//! `PR_SET_NO_NEW_PRIVS`, and only then `chdir` to the working directory, so that a
//! `workingDir` is reached with the container's rights, not the agent's. No process of a container ever runs outside its cgroup or with the
//! agent's credentials, not even for an instant, and a failure of any step fails the spawn.
//!
//! This module holds the agent's only `unsafe` code: registering the hook. The hook itself
//! only makes async-signal-safe system calls on data prepared before the fork (no allocation,
//! no locks), as `fork` in a multi-threaded process requires.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

use crate::cgroup::open_procs;
use crate::security::Identity;

/// How the processes of one container are confined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confinement {
    /// The `cgroup.procs` files of the container's cgroups (empty when cgroups are off).
    pub cgroup_procs: Vec<PathBuf>,
    /// Credentials.
    pub identity: Identity,
    /// Set `no_new_privs` (`allowPrivilegeEscalation: false`).
    pub no_new_privs: bool,
    /// Capabilities to drop from the bounding set.
    pub drop_capabilities: Vec<u8>,
}

impl Confinement {
    /// Installs the hook on `command`, which is to start in `cwd` (do not also give the
    /// command a working directory); opens the cgroup files now (an error if one cannot be
    /// opened, so that nothing runs unconfined).
    pub fn apply(&self, command: &mut tokio::process::Command, cwd: &Path) -> io::Result<()> {
        let cwd = CString::new(cwd.as_os_str().as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a NUL in the working directory",
            )
        })?;
        let procs = open_procs(&self.cgroup_procs)?;
        let groups: Vec<Gid> = self
            .identity
            .groups
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        let hook = Hook {
            procs,
            set_groups: self.identity.changes_credentials().then_some(groups),
            gid: self.identity.gid.map(Gid::from_raw),
            uid: self.identity.uid.map(Uid::from_raw),
            no_new_privs: self.no_new_privs,
            cwd,
            drop_capabilities: self.drop_capabilities.clone(),
        };
        install(command, hook);
        Ok(())
    }
}

/// What the child does before `exec`; everything allocated before the fork.
struct Hook {
    procs: Vec<File>,
    set_groups: Option<Vec<Gid>>,
    gid: Option<Gid>,
    uid: Option<Uid>,
    no_new_privs: bool,
    cwd: CString,
    drop_capabilities: Vec<u8>,
}

impl Hook {
    /// Runs in the child after `fork`: only async-signal-safe system calls.
    fn run(&self) -> io::Result<()> {
        for file in &self.procs {
            nix::unistd::write(file, b"0")?;
        }
        for capability in &self.drop_capabilities {
            drop_from_bounding_set(*capability)?;
        }
        if let Some(groups) = &self.set_groups {
            setgroups(groups)?;
        }
        if let Some(gid) = self.gid {
            setgid(gid)?;
        }
        if let Some(uid) = self.uid {
            setuid(uid)?;
        }
        if self.no_new_privs {
            nix::sys::prctl::set_no_new_privs()?;
        }
        nix::unistd::chdir(self.cwd.as_c_str())?;
        Ok(())
    }
}

/// `prctl(PR_CAPBSET_DROP, capability)`; async-signal-safe.
#[allow(unsafe_code)]
fn drop_from_bounding_set(capability: u8) -> io::Result<()> {
    // SAFETY: prctl(2) with PR_CAPBSET_DROP takes plain integers and touches no memory of this
    // process; nix has no wrapper for it.
    let result = unsafe {
        nix::libc::prctl(
            nix::libc::PR_CAPBSET_DROP,
            nix::libc::c_ulong::from(capability),
            0 as nix::libc::c_ulong,
            0 as nix::libc::c_ulong,
            0 as nix::libc::c_ulong,
        )
    };
    nix::errno::Errno::result(result)
        .map(drop)
        .map_err(io::Error::from)
}

#[allow(unsafe_code)]
fn install(command: &mut tokio::process::Command, hook: Hook) {
    // SAFETY: `pre_exec` runs the closure in the forked child of a multi-threaded process,
    // where only async-signal-safe operations are allowed. `Hook::run` only calls write(2),
    // prctl(2) (PR_CAPBSET_DROP, directly), setgroups(2), setgid(2), setuid(2), prctl(2) and
    // chdir(2) through nix's thin wrappers,
    // on file descriptors, id lists and a C string prepared before the fork; it allocates nothing, takes no lock
    // and touches no shared state. Errors are plain errnos (`io::Error::from_raw_os_error`),
    // which do not allocate either.
    unsafe {
        command.pre_exec(move || hook.run());
    }
}
