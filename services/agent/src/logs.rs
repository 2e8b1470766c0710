//! Container log files and their rotation, as the kubelet's `containerLogMaxSize` and
//! `containerLogMaxFiles`.
//!
//! A container's stdout and stderr go straight to `<state-dir>/<container>.log` (opened in
//! append mode, so the process keeps writing at the end whatever happens to the file; no agent
//! sits in the path, so a container outlives an agent restart). While the container runs, the
//! runtime looks at the file's size every poll interval; once it is over `max_size` the file is
//! rotated "copy and truncate": `<name>.log.<k>` becomes `<name>.log.<k+1>` (the oldest beyond
//! `max_files - 1` is removed), the current file is copied to `<name>.log.1` and truncated to
//! zero. The current file keeps its name, so whatever reads it keeps working. Costs, said
//! plainly: a line written between the copy and the truncation is lost, and a file can grow
//! past `max_size` by what the container writes in one poll interval.
//!
//! Files are opened without following symbolic links (`O_NOFOLLOW`), so a link planted at a
//! log's path is never written through.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How container logs are bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Largest size of the current file before it is rotated, in bytes.
    pub max_size: u64,
    /// Most files per container, the current one included (at least 2).
    pub max_files: usize,
}

impl Default for LogLimits {
    /// The kubelet's defaults: 10 MiB, 5 files.
    fn default() -> Self {
        Self {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// The `n`-th rotated file of `log` (`app.log` → `app.log.1`).
pub fn rotated(log: &Path, n: usize) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// What one rotation does with the rotated files: the index removed first (the oldest kept
/// one), then the renames `from → to`, in order. The current file is then copied to index 1.
pub fn rotation_steps(max_files: usize) -> (Option<usize>, Vec<(usize, usize)>) {
    let kept = max_files.max(2) - 1;
    let renames = (1..kept).rev().map(|k| (k, k + 1)).collect();
    (Some(kept), renames)
}

/// Opens (creating) a log for appending, never through a symbolic link, mode 0600.
pub fn open_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Rotates `log` if it is larger than `limits.max_size`; returns whether it did.
pub fn rotate_if_needed(log: &Path, limits: LogLimits) -> io::Result<bool> {
    let size = match fs::symlink_metadata(log) {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", log.display()),
            ));
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err),
    };
    if size <= limits.max_size {
        return Ok(false);
    }
    let (remove, renames) = rotation_steps(limits.max_files);
    if let Some(oldest) = remove {
        remove_if_present(&rotated(log, oldest))?;
    }
    for (from, to) in renames {
        match fs::rename(rotated(log, from), rotated(log, to)) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    let first = rotated(log, 1);
    remove_if_present(&first)?;
    let mut source = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(log)?;
    let mut copy = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&first)?;
    io::copy(&mut source, &mut copy)?;
    OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(log)?
        .set_len(0)?;
    Ok(true)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn steps_keep_max_files_minus_one_rotated_files() {
        assert_eq!(rotation_steps(2), (Some(1), vec![]));
        assert_eq!(rotation_steps(3), (Some(2), vec![(1, 2)]));
        assert_eq!(rotation_steps(5), (Some(4), vec![(3, 4), (2, 3), (1, 2)]));
        // Fewer than two files cannot rotate; treated as two.
        assert_eq!(rotation_steps(1), rotation_steps(2));
        assert_eq!(
            rotated(Path::new("/s/app.log"), 3),
            PathBuf::from("/s/app.log.3")
        );
        assert_eq!(LogLimits::default().max_size, 10_485_760);
        assert_eq!(LogLimits::default().max_files, 5);
    }

    #[test]
    fn rotation_bounds_files_and_keeps_the_newest_content() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let limits = LogLimits {
            max_size: 10,
            max_files: 3,
        };
        let mut writer = open_for_append(&log).unwrap();
        assert!(
            !rotate_if_needed(&log, limits).unwrap(),
            "small: left alone"
        );
        for round in 0..6 {
            writer
                .write_all(format!("round-{round}-data\n").as_bytes())
                .unwrap();
            assert!(rotate_if_needed(&log, limits).unwrap(), "round {round}");
            // The writer appends at the new end after the truncation.
            assert_eq!(fs::metadata(&log).unwrap().len(), 0);
        }
        writer.write_all(b"now\n").unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "now\n");
        assert_eq!(
            fs::read_to_string(rotated(&log, 1)).unwrap(),
            "round-5-data\n"
        );
        assert_eq!(
            fs::read_to_string(rotated(&log, 2)).unwrap(),
            "round-4-data\n"
        );
        assert!(!rotated(&log, 3).exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn logs_are_never_opened_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"precious").unwrap();
        let log = dir.path().join("app.log");
        std::os::unix::fs::symlink(&target, &log).unwrap();
        assert!(open_for_append(&log).is_err());
        assert!(rotate_if_needed(&log, LogLimits::default()).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"precious");
    }
}
