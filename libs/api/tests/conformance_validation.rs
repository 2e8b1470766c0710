//! Admission against the 40 real-world DaemonSet manifests of
//! `../shared/conformance/manifests/valid/`: each one, decoded, converted to the domain model,
//! defaulted for its apiVersion and validated, has no error (Kubernetes accepts them all), and
//! defaulting it twice changes nothing.

use std::path::PathBuf;

use everynode_api::manifest::{self, Object};
use everynode_core::defaults::default_daemon_set;
use everynode_core::model;
use everynode_core::validation::{ApiVersion, validate_daemon_set};

fn conformance_dir() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared/conformance/manifests/valid");
        if candidate.is_dir() {
            return candidate;
        }
        assert!(
            dir.pop(),
            "shared/conformance/manifests/valid not found above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

/// Every DaemonSet of every manifest, as (file name, domain DaemonSet).
fn daemon_sets() -> Vec<(String, model::DaemonSet)> {
    let dir = conformance_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let docs = manifest::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for doc in docs {
            if let Object::DaemonSet(ds) = doc.object {
                out.push((name.clone(), model::DaemonSet::from(*ds)));
            }
        }
    }
    out
}

#[test]
fn every_conformance_manifest_is_accepted_after_defaulting() {
    let all = daemon_sets();
    assert_eq!(all.len(), 40, "expected the 40 conformance DaemonSets");
    let mut failures = Vec::new();
    for (name, mut ds) in all {
        let api: ApiVersion = match ds.api_version.parse() {
            Ok(api) => api,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        default_daemon_set(&mut ds, api);
        for error in validate_daemon_set(&ds, api) {
            failures.push(format!("{name} ({api}): {error}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} validation errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn defaulting_a_conformance_manifest_twice_changes_nothing() {
    for (name, mut ds) in daemon_sets() {
        let api: ApiVersion = ds.api_version.parse().unwrap();
        default_daemon_set(&mut ds, api);
        let once = ds.clone();
        default_daemon_set(&mut ds, api);
        assert_eq!(ds, once, "{name}: defaulting is not idempotent");
    }
}

#[test]
fn old_manifests_without_a_selector_get_one_from_their_template_labels() {
    for (name, mut ds) in daemon_sets() {
        let api: ApiVersion = ds.api_version.parse().unwrap();
        if api != ApiVersion::ExtensionsV1beta1 {
            continue;
        }
        default_daemon_set(&mut ds, api);
        let spec = ds.spec.as_ref().unwrap();
        let template_labels = &spec
            .template
            .as_ref()
            .and_then(|t| t.metadata.as_ref())
            .unwrap()
            .labels;
        let selector = spec.selector.as_ref().unwrap();
        assert!(
            selector
                .match_labels
                .iter()
                .all(|(k, v)| template_labels.get(k) == Some(v)),
            "{name}: selector {selector:?} does not select the template labels"
        );
    }
}
