//! Admission against the 40 real-world DaemonSet manifests of
//! `tests/fixtures/manifests/valid/`: each one, decoded, converted to the domain model,
//! defaulted for its apiVersion and validated, has no error (Kubernetes accepts them all), and
//! defaulting it twice changes nothing.

use everynode_api::manifest::{self, Object};
use everynode_core::defaults::default_daemon_set;
use everynode_core::model;
use everynode_core::validation::{ApiVersion, validate_daemon_set};

/// Every DaemonSet of every manifest, as (file name, domain DaemonSet).
fn daemon_sets() -> Vec<(String, model::DaemonSet)> {
    let mut out = Vec::new();
    for (name, text) in everynode_testkit::fixtures::valid_manifests() {
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
