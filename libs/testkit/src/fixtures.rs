//! Test data kept in the repository: the 40 real-world DaemonSet manifests under
//! `tests/fixtures/manifests/valid/` (their provenance is in `tests/fixtures/manifests/SOURCES.md`).

use std::path::PathBuf;

/// The folder of the real-world manifests that Kubernetes accepts.
pub fn valid_manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/manifests/valid")
}

/// Every `*.yaml` file of [`valid_manifests_dir`] as (file name, text), sorted by name.
///
/// # Panics
/// When the folder or a file cannot be read (the checkout is incomplete).
pub fn valid_manifests() -> Vec<(String, String)> {
    let dir = valid_manifests_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, text)
        })
        .collect()
}
