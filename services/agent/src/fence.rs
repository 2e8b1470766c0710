//! Fencing stale controllers: every pod command carries its sender's lease term; the agent
//! remembers the highest term it has seen — in commands and in the announcements a new leader
//! publishes before its first command — and refuses commands of older terms. A controller that
//! lost its lease while paused (GC, SIGSTOP, a slow disk) and wakes up with commands still in
//! flight can therefore not act after its successor has.
//!
//! The highest term is kept in `<data-dir>/controller-term`, so a restarted agent still refuses
//! what it refused before. Terms only grow; they are written rarely (once per change of leader).

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file, in the data directory, holding the highest term seen.
pub const TERM_FILE: &str = "controller-term";

/// The highest controller term seen, and where it is kept.
#[derive(Debug)]
pub struct Fence {
    highest: AtomicU64,
    path: Option<PathBuf>,
    /// Serializes the (rare) writes of the file, so a lower term never overwrites a higher one.
    writing: Mutex<()>,
}

impl Fence {
    /// A fence starting at the term kept in `path` (0 when there is none or it cannot be
    /// read); `None` keeps nothing on disk.
    pub fn load(path: Option<PathBuf>) -> Self {
        let highest = path
            .as_ref()
            .and_then(|path| match std::fs::read_to_string(path) {
                Ok(text) => match text.trim().parse() {
                    Ok(term) => Some(term),
                    Err(_) => {
                        tracing::warn!(path = %path.display(), "ignoring an unreadable controller term file");
                        None
                    }
                },
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "cannot read the controller term file");
                    None
                }
            })
            .unwrap_or(0);
        Self {
            highest: AtomicU64::new(highest),
            path,
            writing: Mutex::new(()),
        }
    }

    /// The highest term seen.
    pub fn highest(&self) -> u64 {
        self.highest.load(Ordering::Acquire)
    }

    /// Admits a command of `term`: `Ok` (raising the highest term) unless it is older than the
    /// highest seen, which `Err` returns.
    pub fn admit(&self, term: u64) -> Result<(), u64> {
        let before = self.highest.fetch_max(term, Ordering::AcqRel);
        if term < before {
            return Err(before);
        }
        if term > before {
            self.keep(term);
        }
        Ok(())
    }

    /// Raises the highest term to `term` (an announcement); returns whether it rose.
    pub fn raise(&self, term: u64) -> bool {
        let before = self.highest.fetch_max(term, Ordering::AcqRel);
        if term > before {
            self.keep(term);
            true
        } else {
            false
        }
    }

    /// Writes the highest term (at least `term`) to the file: a temporary file renamed over
    /// it, so the file is always whole.
    fn keep(&self, term: u64) {
        let Some(path) = &self.path else {
            return;
        };
        let _guard = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let highest = self.highest().max(term);
        let temporary = path.with_extension("tmp");
        let written = std::fs::write(&temporary, format!("{highest}\n"))
            .and_then(|()| std::fs::rename(&temporary, path));
        if let Err(err) = written {
            tracing::warn!(path = %path.display(), error = %err, "cannot keep the controller term; a restart forgets it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_terms_are_refused_and_newer_ones_raise_the_fence() {
        let fence = Fence::load(None);
        assert_eq!(fence.admit(0), Ok(()), "no term seen yet");
        assert_eq!(fence.admit(5), Ok(()));
        assert_eq!(fence.admit(5), Ok(()), "the same term again");
        assert_eq!(fence.admit(4), Err(5));
        assert_eq!(fence.admit(0), Err(5), "a command without term is older");
        assert!(fence.raise(9));
        assert!(!fence.raise(7));
        assert_eq!(fence.admit(5), Err(9));
        assert_eq!(fence.highest(), 9);
    }

    #[test]
    fn the_highest_term_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TERM_FILE);
        let fence = Fence::load(Some(path.clone()));
        assert_eq!(fence.highest(), 0);
        fence.admit(12).unwrap();
        fence.raise(40);
        fence.admit(30).unwrap_err();
        let again = Fence::load(Some(path.clone()));
        assert_eq!(again.highest(), 40);
        assert_eq!(again.admit(39), Err(40));
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(
            Fence::load(Some(path)).highest(),
            0,
            "unreadable: start over"
        );
    }
}
