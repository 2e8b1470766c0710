//! What admission does to an object before it is stored — Kubernetes' REST strategy for
//! DaemonSets, as pure functions: server-set metadata, defaulting, validation, generation and
//! template-generation bookkeeping, and status-only updates.
//!
//! Invariants: a stored DaemonSet is always defaulted and valid; its `apiVersion` is `apps/v1`;
//! `metadata.generation` grows exactly when the spec changes; the template-generation
//! annotation grows exactly when the template changes; an update never changes the status and
//! a status update never changes anything else.

use everynode_core::defaults::default_daemon_set;
use everynode_core::model::{DaemonSet, ObjectMeta, Timestamp};
use everynode_core::validation::{
    ApiVersion, FieldError, validate_daemon_set, validate_daemon_set_status_update,
    validate_daemon_set_update,
};

/// The annotation carrying the template generation in `apps/v1` (Kubernetes'
/// `spec.templateGeneration` of the older API versions).
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// The API version everything is stored as.
pub const STORED_API_VERSION: &str = "apps/v1";

/// Which API version's rules apply to a request: the object's `apiVersion`, `apps/v1` when empty.
pub fn request_api_version(ds: &DaemonSet) -> Result<ApiVersion, Vec<FieldError>> {
    if ds.api_version.is_empty() {
        return Ok(ApiVersion::AppsV1);
    }
    ds.api_version.parse().map_err(|_| {
        vec![FieldError::not_supported(
            "apiVersion",
            &ds.api_version,
            &["apps/v1", "apps/v1beta2", "extensions/v1beta1"],
        )]
    })
}

fn kind_errors(ds: &DaemonSet) -> Vec<FieldError> {
    if ds.kind.is_empty() || ds.kind == "DaemonSet" {
        Vec::new()
    } else {
        vec![FieldError::not_supported("kind", &ds.kind, &["DaemonSet"])]
    }
}

/// Prepares a new DaemonSet for storage: clears what only the server sets, defaults, validates,
/// and sets uid, creation time, generation 1 and the template generation.
pub fn prepare_create(
    mut ds: DaemonSet,
    now: Timestamp,
    uid: String,
) -> Result<DaemonSet, Vec<FieldError>> {
    let api = request_api_version(&ds)?;
    let mut errors = kind_errors(&ds);
    ds.status = None;
    let given_generation = template_generation_of(&ds);
    {
        let meta = ds.metadata.get_or_insert_with(ObjectMeta::default);
        meta.uid.clear();
        meta.resource_version.clear();
        meta.generation = 0;
        meta.creation_timestamp = None;
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
    }
    default_daemon_set(&mut ds, api);
    errors.extend(validate_daemon_set(&ds, api));
    if !errors.is_empty() {
        return Err(errors);
    }
    let meta = ds.metadata.get_or_insert_with(ObjectMeta::default);
    meta.uid = uid;
    meta.creation_timestamp = Some(now);
    meta.generation = 1;
    set_template_generation(&mut ds, given_generation.filter(|g| *g >= 1).unwrap_or(1));
    ds.api_version = STORED_API_VERSION.to_string();
    ds.kind = "DaemonSet".to_string();
    Ok(ds)
}

/// The outcome of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// Store this object.
    Store(DaemonSet),
    /// The object was being deleted and its last finalizer is gone: remove it from the store.
    Remove(DaemonSet),
}

/// Prepares an update of `old` to `new`: keeps the server-set metadata and the status, defaults
/// and validates `new` under the request's API version, and bumps generation and template
/// generation when the spec or template changed.
pub fn prepare_update(mut new: DaemonSet, old: &DaemonSet) -> Result<Updated, Vec<FieldError>> {
    let api = request_api_version(&new)?;
    let mut errors = kind_errors(&new);
    let old_meta = old.metadata.clone().unwrap_or_default();
    new.status = old.status.clone();
    {
        // What only the server sets is carried over; a client that sends it must send it
        // unchanged (validation reports any difference as immutable).
        let meta = new.metadata.get_or_insert_with(ObjectMeta::default);
        if meta.uid.is_empty() {
            meta.uid = old_meta.uid.clone();
        }
        if meta.creation_timestamp.is_none() {
            meta.creation_timestamp = old_meta.creation_timestamp;
        }
        meta.resource_version = old_meta.resource_version.clone();
        meta.generation = old_meta.generation;
        meta.deletion_timestamp = old_meta.deletion_timestamp;
        meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
    }
    default_daemon_set(&mut new, api);
    let without_generation = |ds: &DaemonSet| {
        ds.spec.clone().map(|mut s| {
            s.template_generation = None;
            s
        })
    };
    let template_changed = template_of(&new) != template_of(old);
    let spec_changed = without_generation(&new) != without_generation(old);
    let old_generation = template_generation_of(old).unwrap_or(1);
    set_template_generation(&mut new, old_generation + i64::from(template_changed));
    if spec_changed {
        new.metadata
            .get_or_insert_with(ObjectMeta::default)
            .generation += 1;
    }
    errors.extend(validate_daemon_set_update(&new, old, api));
    if !errors.is_empty() {
        return Err(errors);
    }
    new.api_version = STORED_API_VERSION.to_string();
    new.kind = "DaemonSet".to_string();
    let meta = new.metadata.as_ref();
    if meta.is_some_and(|m| m.deletion_timestamp.is_some() && m.finalizers.is_empty()) {
        return Ok(Updated::Remove(new));
    }
    Ok(Updated::Store(new))
}

/// Prepares a status update: everything but the status is taken from `old`.
pub fn prepare_status_update(
    new: &DaemonSet,
    old: &DaemonSet,
) -> Result<DaemonSet, Vec<FieldError>> {
    let status = new.status.clone().unwrap_or_default();
    let errors = validate_daemon_set_status_update(Some(&status), old.status.as_ref());
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut stored = old.clone();
    stored.status = Some(status);
    Ok(stored)
}

fn template_of(ds: &DaemonSet) -> Option<&everynode_core::model::PodTemplateSpec> {
    ds.spec.as_ref().and_then(|s| s.template.as_ref())
}

/// The template generation of an object: the `apps/v1` annotation, else the old API versions'
/// `spec.templateGeneration`.
pub fn template_generation_of(ds: &DaemonSet) -> Option<i64> {
    ds.metadata
        .as_ref()
        .and_then(|m| m.annotations.get(TEMPLATE_GENERATION_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .or_else(|| ds.spec.as_ref().and_then(|s| s.template_generation))
}

fn set_template_generation(ds: &mut DaemonSet, generation: i64) {
    if let Some(spec) = ds.spec.as_mut() {
        spec.template_generation = None;
    }
    ds.metadata
        .get_or_insert_with(ObjectMeta::default)
        .annotations
        .insert(
            TEMPLATE_GENERATION_ANNOTATION.to_string(),
            generation.to_string(),
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use everynode_core::model::{
        Container, DaemonSetSpec, DaemonSetStatus, LabelSelector, PodSpec, PodTemplateSpec,
    };
    use std::collections::BTreeMap;

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), "a".to_string())])
    }

    fn ds(image: &str) -> DaemonSet {
        DaemonSet {
            api_version: "apps/v1".into(),
            kind: "DaemonSet".into(),
            metadata: Some(ObjectMeta {
                name: "d".into(),
                ..Default::default()
            }),
            spec: Some(DaemonSetSpec {
                selector: Some(LabelSelector {
                    match_labels: labels(),
                    ..Default::default()
                }),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: labels(),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            image: image.into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A fixed "now" for the tests.
    const NOW: Timestamp = Timestamp::from_seconds(1_700_000_000);

    fn created() -> DaemonSet {
        let mut ds = prepare_create(ds("img:1"), NOW, "uid-1".into()).unwrap();
        ds.metadata.as_mut().unwrap().resource_version = "7".into();
        ds
    }

    fn meta(ds: &DaemonSet) -> &ObjectMeta {
        ds.metadata.as_ref().unwrap()
    }

    fn stored(u: Updated) -> DaemonSet {
        match u {
            Updated::Store(ds) => ds,
            Updated::Remove(ds) => panic!("unexpected removal of {ds:?}"),
        }
    }

    #[test]
    fn create_sets_server_fields_defaults_and_generation_one() {
        let mut input = ds("img:1");
        input.status = Some(DaemonSetStatus {
            number_ready: 5,
            ..Default::default()
        });
        input.metadata.as_mut().unwrap().uid = "client-chosen".into();
        let out = prepare_create(input, NOW, "uid-1".into()).unwrap();
        let m = meta(&out);
        assert_eq!(
            (m.uid.as_str(), m.generation, m.namespace.as_str()),
            ("uid-1", 1, "default")
        );
        assert_eq!(m.creation_timestamp, Some(NOW));
        assert_eq!(m.annotations[TEMPLATE_GENERATION_ANNOTATION], "1");
        assert_eq!(out.status, None, "status is cleared on create");
        let strategy = out.spec.as_ref().unwrap().update_strategy.as_ref().unwrap();
        assert_eq!(strategy.type_, "RollingUpdate");
    }

    #[test]
    fn create_of_an_invalid_object_returns_every_error() {
        let mut input = ds("");
        input.metadata.as_mut().unwrap().name = "Bad_Name".into();
        let errors = prepare_create(input, NOW, "u".into()).unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"metadata.name"), "{paths:?}");
        assert!(
            paths.contains(&"spec.template.spec.containers[0].image"),
            "{paths:?}"
        );
    }

    #[test]
    fn create_under_an_unknown_api_version_is_refused() {
        let mut input = ds("img");
        input.api_version = "apps/v9".into();
        let errors = prepare_create(input, NOW, "u".into()).unwrap_err();
        assert_eq!(errors[0].path, "apiVersion");
    }

    #[test]
    fn extensions_v1beta1_is_defaulted_by_its_rules_and_stored_as_apps_v1() {
        let mut input = ds("img");
        input.api_version = "extensions/v1beta1".into();
        input.spec.as_mut().unwrap().selector = None;
        let out = prepare_create(input, NOW, "u".into()).unwrap();
        assert_eq!(out.api_version, "apps/v1");
        let spec = out.spec.as_ref().unwrap();
        assert_eq!(spec.selector.as_ref().unwrap().match_labels, labels());
        assert_eq!(spec.update_strategy.as_ref().unwrap().type_, "OnDelete");
        assert_eq!(
            meta(&out).labels,
            labels(),
            "DaemonSet labels default to the template's"
        );
    }

    #[test]
    fn template_change_bumps_generation_and_template_generation() {
        let old = created();
        let out = stored(prepare_update(ds("img:2"), &old).unwrap());
        assert_eq!(meta(&out).generation, 2);
        assert_eq!(meta(&out).annotations[TEMPLATE_GENERATION_ANNOTATION], "2");
        assert_eq!(meta(&out).uid, "uid-1");
    }

    #[test]
    fn non_template_spec_change_bumps_generation_only() {
        let old = created();
        let mut new = ds("img:1");
        new.spec.as_mut().unwrap().min_ready_seconds = 5;
        let out = stored(prepare_update(new, &old).unwrap());
        assert_eq!(meta(&out).generation, 2);
        assert_eq!(meta(&out).annotations[TEMPLATE_GENERATION_ANNOTATION], "1");
    }

    #[test]
    fn metadata_only_change_keeps_generation() {
        let old = created();
        let mut new = ds("img:1");
        new.metadata
            .as_mut()
            .unwrap()
            .labels
            .insert("team".into(), "x".into());
        let out = stored(prepare_update(new, &old).unwrap());
        assert_eq!(meta(&out).generation, 1);
        assert_eq!(meta(&out).labels["team"], "x");
    }

    #[test]
    fn update_cannot_change_status_or_the_template_generation_annotation() {
        let mut old = created();
        old.status = Some(DaemonSetStatus {
            number_ready: 3,
            ..Default::default()
        });
        let mut new = ds("img:1");
        new.status = Some(DaemonSetStatus {
            number_ready: 99,
            ..Default::default()
        });
        new.metadata
            .as_mut()
            .unwrap()
            .annotations
            .insert(TEMPLATE_GENERATION_ANNOTATION.into(), "50".into());
        let out = stored(prepare_update(new, &old).unwrap());
        assert_eq!(out.status.as_ref().unwrap().number_ready, 3);
        assert_eq!(meta(&out).annotations[TEMPLATE_GENERATION_ANNOTATION], "1");
    }

    #[test]
    fn selector_is_immutable_in_apps_v1_but_not_in_extensions_v1beta1() {
        let old = created();
        let mut new = ds("img:1");
        let both = BTreeMap::from([("app".into(), "a".into()), ("tier".into(), "x".into())]);
        new.spec
            .as_mut()
            .unwrap()
            .selector
            .as_mut()
            .unwrap()
            .match_labels = both.clone();
        let tpl = new.spec.as_mut().unwrap().template.as_mut().unwrap();
        tpl.metadata.as_mut().unwrap().labels = both;
        let errors = prepare_update(new.clone(), &old).unwrap_err();
        assert_eq!(errors[0].path, "spec.selector");
        new.api_version = "extensions/v1beta1".into();
        assert!(prepare_update(new, &old).is_ok());
    }

    #[test]
    fn removing_the_last_finalizer_of_a_deleted_object_removes_it() {
        let mut old = created();
        let m = old.metadata.as_mut().unwrap();
        m.deletion_timestamp = Some(NOW);
        m.finalizers = vec!["orphan".into()];
        let mut new = old.clone();
        new.metadata.as_mut().unwrap().finalizers.clear();
        assert!(matches!(
            prepare_update(new, &old).unwrap(),
            Updated::Remove(_)
        ));
    }

    #[test]
    fn status_update_changes_only_the_status_and_keeps_counters_sane() {
        let old = created();
        let mut new = ds("other-image");
        new.status = Some(DaemonSetStatus {
            number_ready: 2,
            ..Default::default()
        });
        let out = prepare_status_update(&new, &old).unwrap();
        assert_eq!(out.spec, old.spec);
        assert_eq!(out.status.as_ref().unwrap().number_ready, 2);
        new.status = Some(DaemonSetStatus {
            number_ready: -1,
            ..Default::default()
        });
        let errors = prepare_status_update(&new, &old).unwrap_err();
        assert_eq!(errors[0].path, "status.numberReady");
    }
}
