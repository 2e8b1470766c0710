//! The DaemonSet itself (Kubernetes: `ValidateDaemonSet`, `ValidateDaemonSetSpec`,
//! `ValidateDaemonSetUpdate`, `ValidateDaemonSetStatusUpdate` in `pkg/apis/apps/validation`, and
//! the REST strategy's selector-immutability rule).

use serde_json::Value;

use super::meta::{
    FIELD_IMMUTABLE_ERROR_MSG, label_selector_has_invalid_label_value, selector_value,
    validate_label_selector, validate_nonnegative, validate_object_meta,
    validate_object_meta_update,
};
use super::pod::validate_pod_template;
use super::{ApiVersion, FieldError, Path, go_label_selector, go_quote, go_string_map};
use crate::labels::{Selector, is_valid_percent};
use crate::model::{
    Container, DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, IntOrString,
    LabelSelector, ObjectMeta, PodSpec, PodTemplateSpec, RollingUpdateDaemonSet, Volume,
};

/// The annotation through which `apps/v1` carries the template generation.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// Validates a DaemonSet for creation and returns every error (Kubernetes: `ValidateDaemonSet`
/// with `ValidateObjectMeta` and `ValidateDaemonSetSpec`). Call it on the defaulted object.
pub fn validate_daemon_set(ds: &DaemonSet, api: ApiVersion) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_daemon_set_into(ds, api, false, &mut errs);
    errs
}

fn validate_daemon_set_into(
    ds: &DaemonSet,
    api: ApiVersion,
    allow_invalid_selector_values: bool,
    errs: &mut Vec<FieldError>,
) {
    let empty_meta = ObjectMeta::default();
    let meta = ds.metadata.as_ref().unwrap_or(&empty_meta);
    validate_object_meta(meta, &Path::new("metadata"), errs);
    let template_generation = template_generation(ds, errs);
    let empty_spec = DaemonSetSpec::default();
    let spec = ds.spec.as_ref().unwrap_or(&empty_spec);
    validate_spec(
        spec,
        template_generation,
        api,
        allow_invalid_selector_values,
        &Path::new("spec"),
        errs,
    );
}

/// The template generation: `spec.templateGeneration`, else the `apps/v1` annotation (an
/// unparsable annotation is an error), else `None`.
fn template_generation(ds: &DaemonSet, errs: &mut Vec<FieldError>) -> Option<i64> {
    if let Some(g) = ds.spec.as_ref().and_then(|s| s.template_generation) {
        return Some(g);
    }
    let value = ds
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.get(TEMPLATE_GENERATION_ANNOTATION))?;
    match value.parse::<i64>() {
        Ok(g) => Some(g),
        Err(_) => {
            errs.push(FieldError::invalid(
                &Path::new("metadata")
                    .child("annotations")
                    .key(TEMPLATE_GENERATION_ANNOTATION),
                go_quote(value),
                "must be an integer",
            ));
            None
        }
    }
}

fn template_labels(spec: &DaemonSetSpec) -> std::collections::BTreeMap<String, String> {
    spec.template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .map(|m| m.labels.clone())
        .unwrap_or_default()
}

/// Kubernetes' `ValidateDaemonSetSpec`.
fn validate_spec(
    spec: &DaemonSetSpec,
    template_generation: Option<i64>,
    api: ApiVersion,
    allow_invalid_selector_values: bool,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let selector = spec.selector.as_ref();
    validate_label_selector(
        selector,
        allow_invalid_selector_values,
        &path.child("selector"),
        errs,
    );
    let labels = template_labels(spec);
    if let Ok(sel) = Selector::from_label_selector(selector)
        && !sel.matches(&labels)
    {
        errs.push(FieldError::invalid(
            &path.child("template").child("metadata").child("labels"),
            go_string_map(&labels),
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(sel) = selector
        && sel.match_labels.is_empty()
        && sel.match_expressions.is_empty()
    {
        let detail = if api == ApiVersion::ExtensionsV1beta1 {
            "empty selector is not valid for daemonset."
        } else {
            "empty selector is invalid for daemonset"
        };
        errs.push(FieldError::invalid(
            &path.child("selector"),
            go_label_selector(Some(sel)),
            detail,
        ));
    }

    let template_path = path.child("template");
    validate_pod_template(spec.template.as_ref(), &template_path, errs);
    let empty_pod_spec = PodSpec::default();
    let pod_spec = spec
        .template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .unwrap_or(&empty_pod_spec);
    let pod_spec_path = template_path.child("spec");
    if pod_spec.restart_policy != "Always" {
        errs.push(FieldError::not_supported(
            &pod_spec_path.child("restartPolicy"),
            go_quote(&pod_spec.restart_policy),
            &["Always"],
        ));
    }
    if pod_spec.active_deadline_seconds.is_some() {
        errs.push(FieldError::forbidden(
            &pod_spec_path.child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    validate_nonnegative(
        i64::from(spec.min_ready_seconds),
        &path.child("minReadySeconds"),
        errs,
    );
    validate_nonnegative(
        template_generation.unwrap_or(0),
        &path.child("templateGeneration"),
        errs,
    );
    validate_update_strategy(
        spec.update_strategy.as_ref(),
        &path.child("updateStrategy"),
        errs,
    );
    if let Some(limit) = spec.revision_history_limit {
        validate_nonnegative(i64::from(limit), &path.child("revisionHistoryLimit"), errs);
    }
    if api == ApiVersion::ExtensionsV1beta1 {
        validate_read_only_persistent_disks(
            &pod_spec.volumes,
            &pod_spec_path.child("volumes"),
            errs,
        );
    }
}

/// The 1.3 rule: daemons run on many nodes, so a GCE PD must be mounted read-only.
fn validate_read_only_persistent_disks(
    volumes: &[Volume],
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    for (i, v) in volumes.iter().enumerate() {
        let Some(pd) = v.extra_fields.get("gcePersistentDisk") else {
            continue;
        };
        if pd.get("readOnly").and_then(Value::as_bool) != Some(true) {
            errs.push(FieldError::invalid(
                &path.index(i).child("gcePersistentDisk").child("readOnly"),
                "false",
                "must be true for replicated pods > 1; GCE PD can only be mounted on multiple machines if it is read-only",
            ));
        }
    }
}

/// Go's `%#v` of an internal `apps.DaemonSetUpdateStrategy` (a set `rollingUpdate` is shown by
/// content, where Go would show a pointer address).
fn go_update_strategy(strategy: &DaemonSetUpdateStrategy) -> String {
    let rolling = match &strategy.rolling_update {
        None => "(*apps.RollingUpdateDaemonSet)(nil)".to_string(),
        Some(ru) => format!(
            "&apps.RollingUpdateDaemonSet{{MaxUnavailable:{}, MaxSurge:{}}}",
            int_or_zero(ru.max_unavailable.as_ref()),
            int_or_zero(ru.max_surge.as_ref())
        ),
    };
    format!(
        "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{rolling}}}",
        go_quote(&strategy.type_)
    )
}

fn int_or_zero(v: Option<&IntOrString>) -> IntOrString {
    v.cloned().unwrap_or(IntOrString::Int(0))
}

/// Kubernetes' `ValidateDaemonSetUpdateStrategy`.
fn validate_update_strategy(
    strategy: Option<&DaemonSetUpdateStrategy>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let empty = DaemonSetUpdateStrategy::default();
    let strategy = strategy.unwrap_or(&empty);
    match strategy.type_.as_str() {
        "OnDelete" => {}
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldError::required(&path.child("rollingUpdate"), "")),
            Some(ru) => validate_rolling_update(ru, &path.child("rollingUpdate"), errs),
        },
        _ => errs.push(FieldError::not_supported(
            path,
            go_update_strategy(strategy),
            &["RollingUpdate", "OnDelete"],
        )),
    }
}

/// Go's `strconv.Atoi` as `IntValue()` uses it: 0 on a syntax error, clamped on overflow.
fn atoi(s: &str) -> i64 {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return 0;
    }
    match s.parse::<i64>() {
        Ok(v) => v,
        Err(_) if s.starts_with('-') => i64::MIN,
        Err(_) => i64::MAX,
    }
}

/// The number of a valid percent string (`"10%"` → 10), else `None`.
fn percent_value(v: &IntOrString) -> Option<i64> {
    match v {
        IntOrString::Str(s) if is_valid_percent(s).is_empty() => {
            Some(atoi(s.strip_suffix('%').unwrap_or(s)))
        }
        _ => None,
    }
}

/// Kubernetes' `getIntOrPercentValue`.
fn int_or_percent_value(v: &IntOrString) -> i64 {
    percent_value(v).unwrap_or(match v {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::Str(s) => atoi(s),
    })
}

/// Kubernetes' `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`.
fn validate_int_or_percent(v: &IntOrString, path: &Path, errs: &mut Vec<FieldError>) {
    match v {
        IntOrString::Str(s) => {
            for msg in is_valid_percent(s) {
                errs.push(FieldError::invalid(path, v.to_string(), msg));
            }
        }
        IntOrString::Int(n) => validate_nonnegative(i64::from(*n), path, errs),
    }
}

/// Kubernetes' `ValidateRollingUpdateDaemonSet`: absent values count as 0 (the internal type
/// has no pointers); exactly one of maxUnavailable and maxSurge is non-zero.
fn validate_rolling_update(ru: &RollingUpdateDaemonSet, path: &Path, errs: &mut Vec<FieldError>) {
    let max_unavailable = int_or_zero(ru.max_unavailable.as_ref());
    let max_surge = int_or_zero(ru.max_surge.as_ref());
    let unavailable_path = path.child("maxUnavailable");
    let surge_path = path.child("maxSurge");
    validate_int_or_percent(&max_unavailable, &unavailable_path, errs);
    validate_int_or_percent(&max_surge, &surge_path, errs);
    for (v, p) in [
        (&max_unavailable, &unavailable_path),
        (&max_surge, &surge_path),
    ] {
        if percent_value(v).is_some_and(|pct| pct > 100) {
            errs.push(FieldError::invalid(
                p,
                v.to_string(),
                "must not be greater than 100%",
            ));
        }
    }
    let has_unavailable = int_or_percent_value(&max_unavailable) != 0;
    let has_surge = int_or_percent_value(&max_surge) != 0;
    match (has_unavailable, has_surge) {
        (true, true) => errs.push(FieldError::invalid(
            &surge_path,
            max_surge.to_string(),
            "may not be set when maxUnavailable is non-zero",
        )),
        (false, false) => errs.push(FieldError::required(
            &unavailable_path,
            "cannot be 0 when maxSurge is 0",
        )),
        _ => {}
    }
}

/// Validates an update of a DaemonSet and returns every error: object-metadata immutability
/// (name, namespace, uid, creation and deletion times; resourceVersion required; generation
/// not decreasing), the template-generation bookkeeping, a full re-validation of the new object,
/// and, for `apps/v1` and `apps/v1beta2`, an immutable `spec.selector`.
///
/// The template-generation rule (`spec.templateGeneration` or the
/// `deprecated.daemonset.template.generation` annotation must grow by exactly the template
/// changes) applies only when either object carries a generation; Kubernetes' REST strategy
/// bumps it before validating, and so should the caller.
pub fn validate_daemon_set_update(
    new: &DaemonSet,
    old: &DaemonSet,
    api: ApiVersion,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty_meta = ObjectMeta::default();
    validate_object_meta_update(
        new.metadata.as_ref().unwrap_or(&empty_meta),
        old.metadata.as_ref().unwrap_or(&empty_meta),
        &Path::new("metadata"),
        &mut errs,
    );
    let mut ignored = Vec::new();
    let new_generation = template_generation(new, &mut ignored);
    let old_generation = template_generation(old, &mut ignored);
    if new_generation.is_some() || old_generation.is_some() {
        let (n, o) = (new_generation.unwrap_or(0), old_generation.unwrap_or(0));
        let at = Path::new("spec").child("templateGeneration");
        if n < o {
            errs.push(FieldError::invalid(
                &at,
                n.to_string(),
                "must not be decremented",
            ));
        }
        let changed = !templates_semantically_equal(
            new.spec.as_ref().and_then(|s| s.template.as_ref()),
            old.spec.as_ref().and_then(|s| s.template.as_ref()),
        );
        if n == o && changed {
            errs.push(FieldError::invalid(
                &at,
                n.to_string(),
                "must be incremented upon template update",
            ));
        } else if n > o && !changed {
            errs.push(FieldError::invalid(
                &at,
                n.to_string(),
                "must not be incremented without template update",
            ));
        }
    }
    let old_selector = old.spec.as_ref().and_then(|s| s.selector.as_ref());
    let new_selector = new.spec.as_ref().and_then(|s| s.selector.as_ref());
    validate_daemon_set_into(
        new,
        api,
        label_selector_has_invalid_label_value(old_selector),
        &mut errs,
    );
    if api.selector_is_immutable() && !selectors_semantically_equal(new_selector, old_selector) {
        errs.push(FieldError::invalid(
            &Path::new("spec").child("selector"),
            selector_value(new_selector),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    dedup(errs)
}

fn dedup(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut seen = std::collections::HashSet::new();
    errs.into_iter()
        .filter(|e| seen.insert(e.clone()))
        .collect()
}

/// Selectors compared as Kubernetes' semantic equality does: fields kept verbatim ignored.
fn selectors_semantically_equal(a: Option<&LabelSelector>, b: Option<&LabelSelector>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.match_labels == b.match_labels
                && a.match_expressions.len() == b.match_expressions.len()
                && a.match_expressions
                    .iter()
                    .zip(&b.match_expressions)
                    .all(|(x, y)| {
                        x.key == y.key && x.operator == y.operator && x.values == y.values
                    })
        }
        _ => false,
    }
}

/// Removes `null` members and empty lists from verbatim JSON, recursively: Kubernetes'
/// semantic equality treats a nil and an empty slice alike.
fn prune_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, child| {
                prune_json(child);
                !matches!(child, Value::Null) && !matches!(child, Value::Array(a) if a.is_empty())
            });
        }
        Value::Array(items) => items.iter_mut().for_each(prune_json),
        _ => {}
    }
}

fn prune_extra(extra: &mut crate::model::Extra) {
    extra.retain(|_, child| {
        prune_json(child);
        !matches!(child, Value::Null) && !matches!(child, Value::Array(a) if a.is_empty())
    });
}

fn normalize_container(c: &mut Container) {
    prune_extra(&mut c.extra_fields);
    if c.resources
        .as_ref()
        .is_some_and(|r| r.limits.is_empty() && r.requests.is_empty() && r.extra_fields.is_empty())
    {
        c.resources = None;
    }
}

/// Template equality as Kubernetes' `apiequality.Semantic.DeepEqual` sees it, approximately:
/// nil and empty lists in verbatim fields are equal, and so are an absent and an empty
/// `resources`.
pub(crate) fn templates_semantically_equal(
    a: Option<&PodTemplateSpec>,
    b: Option<&PodTemplateSpec>,
) -> bool {
    let normalize = |t: Option<&PodTemplateSpec>| {
        let mut t = t.cloned().unwrap_or_default();
        prune_extra(&mut t.extra_fields);
        if let Some(m) = t.metadata.as_mut() {
            prune_extra(&mut m.extra_fields);
        }
        if t.metadata
            .as_ref()
            .is_some_and(|m| *m == ObjectMeta::default())
        {
            t.metadata = None;
        }
        if let Some(s) = t.spec.as_mut() {
            prune_extra(&mut s.extra_fields);
            s.volumes
                .iter_mut()
                .for_each(|v| prune_extra(&mut v.extra_fields));
            s.containers.iter_mut().for_each(normalize_container);
            s.init_containers.iter_mut().for_each(normalize_container);
            s.ephemeral_containers
                .iter_mut()
                .for_each(normalize_container);
        }
        t
    };
    normalize(a) == normalize(b)
}

/// Validates a `/status` update (Kubernetes: `ValidateDaemonSetStatusUpdate`): every counter is
/// at least 0 and `collisionCount` never decreases. An absent status counts as all zeros.
pub fn validate_daemon_set_status_update(
    new: Option<&DaemonSetStatus>,
    old: Option<&DaemonSetStatus>,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty = DaemonSetStatus::default();
    let status = new.unwrap_or(&empty);
    let old = old.unwrap_or(&empty);
    let path = Path::new("status");
    let counters = [
        (
            "currentNumberScheduled",
            i64::from(status.current_number_scheduled),
        ),
        ("numberMisscheduled", i64::from(status.number_misscheduled)),
        (
            "desiredNumberScheduled",
            i64::from(status.desired_number_scheduled),
        ),
        ("numberReady", i64::from(status.number_ready)),
        ("observedGeneration", status.observed_generation),
        (
            "updatedNumberScheduled",
            i64::from(status.updated_number_scheduled),
        ),
        ("numberAvailable", i64::from(status.number_available)),
        ("numberUnavailable", i64::from(status.number_unavailable)),
    ];
    for (field, value) in counters {
        validate_nonnegative(value, &path.child(field), &mut errs);
    }
    if let Some(c) = status.collision_count {
        validate_nonnegative(i64::from(c), &path.child("collisionCount"), &mut errs);
    }
    let decremented = match (status.collision_count, old.collision_count) {
        (None, Some(_)) => true,
        (Some(n), Some(o)) => n < o,
        _ => false,
    };
    if decremented {
        errs.push(FieldError::invalid(
            &path.child("collisionCount"),
            status.collision_count.unwrap_or(0).to_string(),
            "cannot be decremented",
        ));
    }
    errs
}
