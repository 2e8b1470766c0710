//! What the agent accepts from a pod command before any of it touches the filesystem (pure
//! checks, plus one that asks the real filesystem):
//! - a pod uid becomes a directory name under the data dir, so it must be one plain path
//!   component: 1 to [`MAX_UID_LENGTH`] characters of `[A-Za-z0-9._-]`, starting with a letter
//!   or digit, without `..` (Kubernetes' uids are UUIDs, which always pass);
//! - a container name becomes a file name (`<name>.log`, `<name>.pid`) and a cgroup name, so it
//!   must be a DNS-1123 label, as Kubernetes requires;
//! - a directory the agent creates for a pod must be a real directory directly inside its
//!   parent: [`checked_dir`] refuses a symbolic link (or anything else that is not a directory)
//!   at that path, so nothing is ever followed out of the data dir.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use everynode_core::labels::is_dns1123_label;

/// Longest pod uid accepted (a UUID has 36 characters).
pub const MAX_UID_LENGTH: usize = 128;

/// Why a name from a command cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The pod uid is not a safe path component.
    #[error(
        "metadata.uid {0:?} is not accepted: it must be 1 to {MAX_UID_LENGTH} characters of \
         [A-Za-z0-9._-], start with a letter or digit and not contain \"..\""
    )]
    Uid(String),
    /// A container name is not a DNS-1123 label.
    #[error("container name {name:?} is not accepted: {reason}")]
    Container {
        /// The name given.
        name: String,
        /// Why, as Kubernetes says it.
        reason: String,
    },
}

/// Checks a pod uid (see the module documentation).
pub fn check_pod_uid(uid: &str) -> Result<(), NameError> {
    let safe_chars = uid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let starts_well = uid
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if uid.len() <= MAX_UID_LENGTH && safe_chars && starts_well && !uid.contains("..") {
        Ok(())
    } else {
        Err(NameError::Uid(uid.to_owned()))
    }
}

/// Checks a container name: a DNS-1123 label.
pub fn check_container_name(name: &str) -> Result<(), NameError> {
    let errors = is_dns1123_label(name);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(NameError::Container {
            name: name.to_owned(),
            reason: errors.join("; "),
        })
    }
}

/// `parent/name`, created if missing (with mode `mode`, not changed when it exists), after
/// checking with the real filesystem that it is a directory and not a symbolic link. `name`
/// must be one plain component (checked: no separator, not `.` or `..`).
pub fn checked_dir(parent: &Path, name: &str, mode: u32) -> io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single path component"),
        ));
    }
    let path = parent.join(name);
    match fs::DirBuilder::new().mode(mode).create(&path) {
        Ok(()) => {
            // The umask may have taken bits away.
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    ensure_real_dir(&path)?;
    Ok(path)
}

/// Fails unless `path` itself (not what a link points to) is a directory.
pub fn ensure_real_dir(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; refusing to follow it",
                path.display()
            ),
        ));
    }
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a directory", path.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_single_safe_path_components() {
        for good in [
            "0b3c7a4e-9d1f-4c2a-8e5b-6f7a8b9c0d1e",
            "uid-web",
            "a",
            "A.b_c-9",
            &"x".repeat(MAX_UID_LENGTH),
        ] {
            assert_eq!(check_pod_uid(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "..",
            ".",
            "../../x",
            "a/b",
            "/etc",
            "a..b",
            ".hidden",
            "-flag",
            "sp ace",
            "new\nline",
            "ümlaut",
            &"x".repeat(MAX_UID_LENGTH + 1),
        ] {
            assert!(check_pod_uid(bad).is_err(), "{bad:?} accepted");
        }
        let message = check_pod_uid("../../x").unwrap_err().to_string();
        assert!(
            message.contains("\"../../x\"") && message.contains("[A-Za-z0-9._-]"),
            "{message}"
        );
    }

    #[test]
    fn container_names_are_dns_labels() {
        assert_eq!(check_container_name("app-1"), Ok(()));
        for bad in ["", "a/b", "..", "App", "x.log", &"a".repeat(64)] {
            assert!(check_container_name(bad).is_err(), "{bad:?} accepted");
        }
        let message = check_container_name("a/b").unwrap_err().to_string();
        assert!(message.contains("RFC 1123"), "{message}");
    }

    #[test]
    fn checked_dirs_refuse_links_and_odd_names() {
        let root = tempfile::tempdir().unwrap();
        let made = checked_dir(root.path(), "pod", 0o711).unwrap();
        assert!(made.is_dir());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&made).unwrap().permissions().mode() & 0o7777,
            0o711
        );
        // Existing: fine, and left alone.
        assert_eq!(checked_dir(root.path(), "pod", 0o700).unwrap(), made);

        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let err = checked_dir(root.path(), "link", 0o700).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        fs::write(root.path().join("file"), b"x").unwrap();
        assert!(checked_dir(root.path(), "file", 0o700).is_err());
        for bad in ["", ".", "..", "a/b"] {
            assert!(checked_dir(root.path(), bad, 0o700).is_err(), "{bad:?}");
        }
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
