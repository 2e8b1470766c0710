//! What the process runtime reads from `/proc`, and the pid records it keeps in the data dir.
//!
//! A process is identified by its pid *and* its start time (`/proc/<pid>/stat` field 22, clock
//! ticks since boot) on one boot (`/proc/sys/kernel/random/boot_id`): pids are reused, the
//! triple is not. Every container process the agent starts gets a record
//! `<data-dir>/state/<uid>/<container>.pid` (out of the pod's reach), written atomically (temp
//! file + rename) right after the spawn; after an agent restart a record whose process is still
//! alive is re-attached instead of started again.
//!
//! Zombies count as gone: a re-attached process is not the agent's child, so nobody here can
//! reap it (its new parent, usually init, does).

use std::fs;
use std::io;
use std::path::Path;

use everynode_core::model::Timestamp;

/// The fields of `/proc/<pid>/stat` the runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Process state: `R`, `S`, `D`, `Z` (zombie), `X` (dead), …
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Start time in clock ticks after boot.
    pub start_time: u64,
}

impl ProcStat {
    /// Whether the process still runs (is neither a zombie nor dead).
    pub fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted after the *last* `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `fields[0]` is field 3 (state); field N is `fields[N - 3]`.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The stat of `pid`, or `None` if there is no such process.
pub fn read_stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether the process `pid` that started at `start_time` still runs.
pub fn is_running(pid: i32, start_time: u64) -> bool {
    read_stat(pid).is_some_and(|stat| stat.start_time == start_time && stat.is_live())
}

/// The live (non-zombie) processes of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| read_stat(pid).is_some_and(|s| s.pgrp == pgid && s.is_live()))
        .collect()
}

/// This boot's id, or `""` where the kernel does not tell.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_owned())
        .unwrap_or_default()
}

/// A started container process, as recorded in the data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidRecord {
    /// The process id, which is also its process group id.
    pub pid: i32,
    /// Its start time in clock ticks after boot.
    pub start_time: u64,
    /// The boot it was started in.
    pub boot_id: String,
    /// When it was started (for the container's `state.running.startedAt`).
    pub started_at: Timestamp,
}

impl PidRecord {
    /// The record of `pid`, just started, read from `/proc`; `None` if it is already gone.
    pub fn of_running(pid: i32, boot_id: &str, started_at: Timestamp) -> Option<Self> {
        let stat = read_stat(pid)?;
        Some(Self {
            pid,
            start_time: stat.start_time,
            boot_id: boot_id.to_owned(),
            started_at,
        })
    }

    /// Whether the recorded process still runs (same boot, same pid and start time).
    pub fn is_running(&self, boot_id: &str) -> bool {
        self.boot_id == boot_id && is_running(self.pid, self.start_time)
    }

    fn render(&self) -> String {
        format!(
            "pid={} start_time={} boot_id={} started_at={}\n",
            self.pid, self.start_time, self.boot_id, self.started_at.seconds
        )
    }

    fn parse(text: &str) -> Option<Self> {
        let mut pid = None;
        let mut start_time = None;
        let mut boot_id = None;
        let mut started_at = None;
        for pair in text.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            match key {
                "pid" => pid = value.parse().ok(),
                "start_time" => start_time = value.parse().ok(),
                "boot_id" => boot_id = Some(value.to_owned()),
                "started_at" => started_at = value.parse().ok().map(Timestamp::from_seconds),
                _ => {}
            }
        }
        Some(Self {
            pid: pid?,
            start_time: start_time?,
            boot_id: boot_id.unwrap_or_default(),
            started_at: started_at.unwrap_or_default(),
        })
    }

    /// Writes the record to `path` atomically.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let temporary = path.with_extension("pid.tmp");
        fs::write(&temporary, self.render())?;
        fs::rename(&temporary, path)
    }

    /// Reads the record at `path`; `None` if there is none or it is unreadable.
    pub fn read(path: &Path) -> Option<Self> {
        Self::parse(&fs::read_to_string(path).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let text = "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 200 18446744073709551615";
        let stat = parse_stat(text).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                start_time: 987_654
            }
        );
        assert!(stat.is_live());
        assert!(parse_stat("12 (x) S 1").is_none());
    }

    #[test]
    fn zombies_are_not_live() {
        let text = "7 (sh) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
        assert!(!parse_stat(text).unwrap().is_live());
    }

    #[test]
    fn the_own_process_is_running_and_a_wrong_start_time_is_not() {
        let pid = i32::try_from(std::process::id()).unwrap();
        let stat = read_stat(pid).unwrap();
        assert!(is_running(pid, stat.start_time));
        assert!(!is_running(pid, stat.start_time + 1));
        let record = PidRecord::of_running(pid, &boot_id(), Timestamp::from_seconds(5)).unwrap();
        assert!(record.is_running(&boot_id()));
        assert!(!record.is_running("another-boot"));
    }

    #[test]
    fn records_round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        let record = PidRecord {
            pid: 123,
            start_time: 456,
            boot_id: "b-1".to_owned(),
            started_at: Timestamp::from_seconds(789),
        };
        record.write(&path).unwrap();
        assert_eq!(PidRecord::read(&path), Some(record));
        assert_eq!(PidRecord::read(&dir.path().join("missing.pid")), None);
    }

    #[test]
    fn group_members_finds_the_own_group() {
        let pid = i32::try_from(std::process::id()).unwrap();
        let pgrp = read_stat(pid).unwrap().pgrp;
        assert!(group_members(pgrp).contains(&pid));
    }
}
