//! Defaulting of DaemonSets as the Kubernetes API server does it before validation
//! (`pkg/apis/apps/v1/defaults.go`, `pkg/apis/extensions/v1beta1/defaults.go`,
//! `pkg/apis/core/v1/defaults.go`).
//!
//! Invariants: defaulting only fills what is unset (empty string, `None`, absent JSON member)
//! and never changes a value the user gave; it is idempotent (`default(default(x)) ==
//! default(x)`). Like Kubernetes' value-typed `spec` and `template`, an absent spec, template or
//! pod spec is materialized so that its defaults apply.

use serde_json::{Map, Value};

use crate::model::{
    Container, DaemonSet, DaemonSetUpdateStrategy, IntOrString, LabelSelector, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, RollingUpdateDaemonSet, Volume,
};
use crate::validation::ApiVersion;

/// Namespace of a DaemonSet that names none.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Default `terminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// Default `schedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// Default container `terminationMessagePath`.
pub const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";
/// Default `revisionHistoryLimit`.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
/// Default file mode of configMap, secret, downwardAPI and projected volumes (0644).
pub const DEFAULT_VOLUME_MODE: i64 = 420;

/// Fills a DaemonSet's defaults for its API version.
///
/// - all versions: namespace `default`; the pod template's defaults ([`default_pod_spec`]);
///   `revisionHistoryLimit: 10`; a `RollingUpdate` strategy gets `maxUnavailable: 1` and
///   `maxSurge: 0` where unset;
/// - `apps/v1`, `apps/v1beta2`: strategy type `RollingUpdate` when unset;
/// - `extensions/v1beta1`: when the template has labels, an absent selector becomes
///   `matchLabels: <template labels>` and empty DaemonSet labels become the template labels;
///   strategy type `OnDelete` when unset.
pub fn default_daemon_set(ds: &mut DaemonSet, api: ApiVersion) {
    let meta = ds.metadata.get_or_insert_with(Default::default);
    if meta.namespace.is_empty() {
        meta.namespace = DEFAULT_NAMESPACE.to_string();
    }
    let spec = ds.spec.get_or_insert_with(Default::default);
    let template = spec.template.get_or_insert_with(Default::default);
    if api == ApiVersion::ExtensionsV1beta1 {
        let labels = template
            .metadata
            .as_ref()
            .map(|m| m.labels.clone())
            .unwrap_or_default();
        if !labels.is_empty() {
            if spec.selector.is_none() {
                spec.selector = Some(LabelSelector {
                    match_labels: labels.clone(),
                    ..Default::default()
                });
            }
            if meta.labels.is_empty() {
                meta.labels = labels;
            }
        }
    }
    default_pod_template(template);
    let strategy = spec
        .update_strategy
        .get_or_insert_with(DaemonSetUpdateStrategy::default);
    if strategy.type_.is_empty() {
        strategy.type_ = if api == ApiVersion::ExtensionsV1beta1 {
            "OnDelete".to_string()
        } else {
            "RollingUpdate".to_string()
        };
    }
    if strategy.type_ == "RollingUpdate" {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDaemonSet::default);
        if ru.max_unavailable.is_none() {
            ru.max_unavailable = Some(IntOrString::Int(1));
        }
        if ru.max_surge.is_none() {
            ru.max_surge = Some(IntOrString::Int(0));
        }
    }
    if spec.revision_history_limit.is_none() {
        spec.revision_history_limit = Some(DEFAULT_REVISION_HISTORY_LIMIT);
    }
}

/// Fills a pod template's defaults: its pod spec (materialized when absent).
pub fn default_pod_template(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(Default::default));
}

/// Kubernetes' `SetDefaults_PodSpec` and the defaults of everything in it: `dnsPolicy:
/// ClusterFirst`, `restartPolicy: Always`, `securityContext: {}`,
/// `terminationGracePeriodSeconds: 30`, `schedulerName: default-scheduler`, each container's
/// defaults ([`default_container`]) and each volume's ([`default_volume`]).
pub fn default_pod_spec(spec: &mut PodSpec) {
    if spec.dns_policy.is_empty() {
        spec.dns_policy = "ClusterFirst".to_string();
    }
    if spec.restart_policy.is_empty() {
        spec.restart_policy = "Always".to_string();
    }
    if spec.security_context.is_none() {
        spec.security_context = Some(PodSecurityContext::default());
    }
    if spec.termination_grace_period_seconds.is_none() {
        spec.termination_grace_period_seconds = Some(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    }
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME.to_string();
    }
    spec.volumes.iter_mut().for_each(default_volume);
    spec.containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut())
        .chain(spec.ephemeral_containers.iter_mut())
        .for_each(default_container);
}

/// Kubernetes' `SetDefaults_Container` and the defaults inside a container: `imagePullPolicy`
/// (`Always` for a `latest` or missing tag without digest, else `IfNotPresent`),
/// `terminationMessagePath: /dev/termination-log`, `terminationMessagePolicy: File`, port
/// `protocol: TCP`, env `fieldRef.apiVersion: v1`, probe timings (`timeoutSeconds: 1`,
/// `periodSeconds: 10`, `successThreshold: 1`, `failureThreshold: 3`), `httpGet` `path: /` and
/// `scheme: HTTP` (also in lifecycle handlers), `grpc.service: ""`.
pub fn default_container(c: &mut Container) {
    if c.image_pull_policy.is_empty() {
        c.image_pull_policy = default_pull_policy(&c.image).to_string();
    }
    if c.termination_message_path.is_empty() {
        c.termination_message_path = DEFAULT_TERMINATION_MESSAGE_PATH.to_string();
    }
    if c.termination_message_policy.is_empty() {
        c.termination_message_policy = "File".to_string();
    }
    for port in &mut c.ports {
        if port.protocol.is_empty() {
            port.protocol = "TCP".to_string();
        }
    }
    for ev in &mut c.env {
        if let Some(field_ref) = ev.value_from.as_mut().and_then(|v| v.field_ref.as_mut())
            && field_ref.api_version.is_empty()
        {
            field_ref.api_version = "v1".to_string();
        }
    }
    for probe in [
        c.liveness_probe.as_mut(),
        c.readiness_probe.as_mut(),
        c.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(Value::Object(lifecycle)) = c.extra_fields.get_mut("lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(Value::Object(handler)) = lifecycle.get_mut(hook)
                && let Some(Value::Object(http)) = handler.get_mut("httpGet")
            {
                set_if_empty_str(http, "path", "/");
                set_if_empty_str(http, "scheme", "HTTP");
            }
        }
    }
}

/// Kubernetes' `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`.
pub fn default_probe(p: &mut Probe) {
    if p.timeout_seconds == 0 {
        p.timeout_seconds = 1;
    }
    if p.period_seconds == 0 {
        p.period_seconds = 10;
    }
    if p.success_threshold == 0 {
        p.success_threshold = 1;
    }
    if p.failure_threshold == 0 {
        p.failure_threshold = 3;
    }
    if let Some(http) = &mut p.http_get {
        if http.path.is_empty() {
            http.path = "/".to_string();
        }
        if http.scheme.is_empty() {
            http.scheme = "HTTP".to_string();
        }
    }
    if let Some(grpc) = &mut p.grpc
        && grpc.service.is_none()
    {
        grpc.service = Some(String::new());
    }
}

/// The volume-source defaults visible on a Kubernetes object, in the verbatim source:
/// `defaultMode: 420` for `configMap`, `secret`, `downwardAPI` and `projected`; `fieldRef`
/// `apiVersion: v1` in downward API items; `expirationSeconds: 3600` for projected service
/// account tokens; `hostPath.type: ""`; `volumeMode: Filesystem` in an ephemeral volume's claim.
pub fn default_volume(v: &mut Volume) {
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(Value::Object(src)) = v.extra_fields.get_mut(source) {
            set_if_absent_in(src, "defaultMode", Value::from(DEFAULT_VOLUME_MODE));
        }
    }
    if let Some(Value::Object(src)) = v.extra_fields.get_mut("downwardAPI") {
        default_downward_api_items(src);
    }
    if let Some(Value::Object(src)) = v.extra_fields.get_mut("projected")
        && let Some(Value::Array(sources)) = src.get_mut("sources")
    {
        for s in sources.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::Object(token)) = s.get_mut("serviceAccountToken") {
                set_if_absent_in(token, "expirationSeconds", Value::from(3600));
            }
            if let Some(Value::Object(api)) = s.get_mut("downwardAPI") {
                default_downward_api_items(api);
            }
        }
    }
    if let Some(host_path) = v.host_path.as_mut()
        && host_path.type_.is_none()
    {
        host_path.type_ = Some(String::new());
    }
    if let Some(Value::Object(src)) = v.extra_fields.get_mut("ephemeral")
        && let Some(Value::Object(template)) = src.get_mut("volumeClaimTemplate")
        && let Some(Value::Object(claim)) = template.get_mut("spec")
    {
        set_if_absent_in(claim, "volumeMode", Value::from("Filesystem"));
    }
}

fn default_downward_api_items(src: &mut Map<String, Value>) {
    if let Some(Value::Array(items)) = src.get_mut("items") {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::Object(field_ref)) = item.get_mut("fieldRef") {
                set_if_empty_str(field_ref, "apiVersion", "v1");
            }
        }
    }
}

fn set_if_absent_in(obj: &mut Map<String, Value>, key: &str, value: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj.insert(key.to_string(), value);
    }
}

fn set_if_empty_str(obj: &mut Map<String, Value>, key: &str, value: &str) {
    let empty = match obj.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    };
    if empty {
        obj.insert(key.to_string(), Value::from(value));
    }
}

/// Kubernetes' image pull policy default: `Always` when the image's tag is `latest`, or when it
/// has neither tag nor digest (the tag then defaults to `latest`); `IfNotPresent` otherwise,
/// including for a reference that does not parse.
pub fn default_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if !is_valid_repository(repository)
        || tag.is_some_and(|t| !is_valid_tag(t))
        || digest.is_some_and(str::is_empty)
    {
        return "IfNotPresent";
    }
    match (tag, digest) {
        (Some("latest"), _) => "Always",
        (Some(_), _) | (None, Some(_)) => "IfNotPresent",
        (None, None) => "Always",
    }
}

/// A docker repository: an optional registry (first component with `.` or `:`, or
/// `localhost`, or with upper case), then lowercase path components.
fn is_valid_repository(repository: &str) -> bool {
    if repository.is_empty() {
        return false;
    }
    let path = match repository.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            rest
        }
        _ => repository,
    };
    path.split('/').all(|component| {
        let b = component.as_bytes();
        !b.is_empty()
            && b.first()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && b.last()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && b.iter().all(|&c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
            })
    })
}

/// A docker tag: `[\w][\w.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Kubernetes' `SetDefaults_Pod` rule that a container's absent request defaults to its limit.
/// Kubernetes applies it to Pods only, not to pod templates, so [`default_daemon_set`] does
/// not; call it on the pod spec of a pod being created.
pub fn default_pod_requests_from_limits(spec: &mut PodSpec) {
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut())
    {
        let Some(resources) = c.resources.as_mut() else {
            continue;
        };
        for (name, limit) in &resources.limits {
            resources
                .requests
                .entry(name.clone())
                .or_insert_with(|| limit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::model::{
        ContainerPort, DaemonSetSpec, EnvVar, EnvVarSource, GrpcAction, HostPathVolumeSource,
        HttpGetAction, ObjectFieldSelector, ObjectMeta, ResourceRequirements,
    };

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn container(image: &str) -> Container {
        Container {
            name: "c".into(),
            image: image.into(),
            ..Default::default()
        }
    }

    fn ds(selector: bool) -> DaemonSet {
        DaemonSet {
            metadata: Some(ObjectMeta {
                name: "abc".into(),
                ..Default::default()
            }),
            spec: Some(DaemonSetSpec {
                selector: selector.then(|| LabelSelector {
                    match_labels: labels(&[("a", "b")]),
                    ..Default::default()
                }),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: labels(&[("a", "b")]),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![container("img")],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn spec(ds: &DaemonSet) -> &DaemonSetSpec {
        ds.spec.as_ref().expect("spec")
    }

    fn pod_spec(ds: &DaemonSet) -> &PodSpec {
        spec(ds)
            .template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .expect("pod spec")
    }

    #[test]
    fn apps_v1_defaults_rolling_update_with_max_unavailable_1_and_max_surge_0() {
        let mut d = ds(true);
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        let strategy = spec(&d).update_strategy.as_ref().expect("strategy");
        assert_eq!(strategy.type_, "RollingUpdate");
        let ru = strategy.rolling_update.as_ref().expect("rolling update");
        assert_eq!(ru.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(ru.max_surge, Some(IntOrString::Int(0)));
        assert_eq!(spec(&d).revision_history_limit, Some(10));
        assert_eq!(d.namespace(), "default");
        assert_eq!(
            spec(&d).selector.as_ref().map(|s| s.match_labels.clone()),
            Some(labels(&[("a", "b")]))
        );
    }

    #[test]
    fn apps_v1beta2_defaults_like_apps_v1() {
        let mut a = ds(true);
        let mut b = ds(true);
        default_daemon_set(&mut a, ApiVersion::AppsV1);
        default_daemon_set(&mut b, ApiVersion::AppsV1beta2);
        assert_eq!(a, b);
    }

    #[test]
    fn apps_v1_does_not_default_the_selector() {
        let mut d = ds(false);
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        assert!(spec(&d).selector.is_none());
        assert!(d.metadata.as_ref().expect("meta").labels.is_empty());
    }

    #[test]
    fn on_delete_gets_no_rolling_update_block() {
        let mut d = ds(true);
        d.spec.as_mut().expect("spec").update_strategy = Some(DaemonSetUpdateStrategy {
            type_: "OnDelete".into(),
            ..Default::default()
        });
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        let strategy = spec(&d).update_strategy.as_ref().expect("strategy");
        assert_eq!(strategy.type_, "OnDelete");
        assert!(strategy.rolling_update.is_none());
    }

    #[test]
    fn user_set_rolling_update_values_are_kept() {
        let mut d = ds(true);
        d.spec.as_mut().expect("spec").update_strategy = Some(DaemonSetUpdateStrategy {
            type_: String::new(),
            rolling_update: Some(RollingUpdateDaemonSet {
                max_unavailable: Some(IntOrString::from("100%")),
                max_surge: None,
                ..Default::default()
            }),
            ..Default::default()
        });
        d.spec.as_mut().expect("spec").revision_history_limit = Some(0);
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        let strategy = spec(&d).update_strategy.as_ref().expect("strategy");
        assert_eq!(strategy.type_, "RollingUpdate");
        let ru = strategy.rolling_update.as_ref().expect("ru");
        assert_eq!(ru.max_unavailable, Some(IntOrString::from("100%")));
        assert_eq!(ru.max_surge, Some(IntOrString::Int(0)));
        assert_eq!(spec(&d).revision_history_limit, Some(0));
    }

    #[test]
    fn extensions_v1beta1_defaults_selector_and_labels_from_template_and_on_delete() {
        let mut d = ds(false);
        default_daemon_set(&mut d, ApiVersion::ExtensionsV1beta1);
        assert_eq!(
            spec(&d).selector.as_ref().map(|s| s.match_labels.clone()),
            Some(labels(&[("a", "b")]))
        );
        assert_eq!(
            d.metadata.as_ref().expect("meta").labels,
            labels(&[("a", "b")])
        );
        let strategy = spec(&d).update_strategy.as_ref().expect("strategy");
        assert_eq!(strategy.type_, "OnDelete");
        assert!(strategy.rolling_update.is_none());
        assert_eq!(spec(&d).revision_history_limit, Some(10));
    }

    #[test]
    fn extensions_v1beta1_keeps_given_selector_and_labels() {
        let mut d = ds(false);
        d.spec.as_mut().expect("spec").selector = Some(LabelSelector {
            match_labels: labels(&[("x", "y")]),
            ..Default::default()
        });
        d.metadata.as_mut().expect("meta").labels = labels(&[("own", "label")]);
        default_daemon_set(&mut d, ApiVersion::ExtensionsV1beta1);
        assert_eq!(
            spec(&d).selector.as_ref().map(|s| s.match_labels.clone()),
            Some(labels(&[("x", "y")]))
        );
        assert_eq!(
            d.metadata.as_ref().expect("meta").labels,
            labels(&[("own", "label")])
        );
    }

    #[test]
    fn extensions_v1beta1_without_template_labels_leaves_selector_absent() {
        let mut d = ds(false);
        d.spec
            .as_mut()
            .expect("spec")
            .template
            .as_mut()
            .expect("t")
            .metadata = None;
        default_daemon_set(&mut d, ApiVersion::ExtensionsV1beta1);
        assert!(spec(&d).selector.is_none());
    }

    #[test]
    fn extensions_v1beta1_rolling_update_gets_max_unavailable_1() {
        let mut d = ds(false);
        d.spec.as_mut().expect("spec").update_strategy = Some(DaemonSetUpdateStrategy {
            type_: "RollingUpdate".into(),
            ..Default::default()
        });
        default_daemon_set(&mut d, ApiVersion::ExtensionsV1beta1);
        let ru = spec(&d)
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .expect("ru");
        assert_eq!(ru.max_unavailable, Some(IntOrString::Int(1)));
    }

    #[test]
    fn pod_template_gets_kubernetes_pod_spec_defaults() {
        let mut d = ds(true);
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        let p = pod_spec(&d);
        assert_eq!(p.restart_policy, "Always");
        assert_eq!(p.dns_policy, "ClusterFirst");
        assert_eq!(p.termination_grace_period_seconds, Some(30));
        assert_eq!(p.scheduler_name, "default-scheduler");
        assert_eq!(p.security_context, Some(PodSecurityContext::default()));
        assert!(!p.extra_fields.contains_key("enableServiceLinks"));
        let c = &p.containers[0];
        assert_eq!(c.termination_message_path, "/dev/termination-log");
        assert_eq!(c.termination_message_policy, "File");
        assert_eq!(c.image_pull_policy, "Always");
    }

    #[test]
    fn user_set_pod_fields_are_not_touched() {
        let mut d = ds(true);
        {
            let p = d
                .spec
                .as_mut()
                .and_then(|s| s.template.as_mut())
                .and_then(|t| t.spec.as_mut())
                .expect("pod spec");
            p.restart_policy = "Never".into();
            p.dns_policy = "Default".into();
            p.termination_grace_period_seconds = Some(0);
            p.scheduler_name = "mine".into();
            p.security_context = Some(PodSecurityContext {
                run_as_user: Some(0),
                ..Default::default()
            });
            let c = &mut p.containers[0];
            c.image_pull_policy = "Never".into();
            c.termination_message_path = "/tmp/x".into();
            c.termination_message_policy = "FallbackToLogsOnError".into();
        }
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        let p = pod_spec(&d);
        assert_eq!(p.restart_policy, "Never");
        assert_eq!(p.dns_policy, "Default");
        assert_eq!(p.termination_grace_period_seconds, Some(0));
        assert_eq!(p.scheduler_name, "mine");
        assert_eq!(
            p.security_context.as_ref().and_then(|c| c.run_as_user),
            Some(0)
        );
        let c = &p.containers[0];
        assert_eq!(c.image_pull_policy, "Never");
        assert_eq!(c.termination_message_path, "/tmp/x");
        assert_eq!(c.termination_message_policy, "FallbackToLogsOnError");
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("registry.k8s.io/pause:3.9", "IfNotPresent"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("gcr.io/x/y@sha256:abcdef", "IfNotPresent"),
            ("gcr.io/x/y:latest@sha256:abcdef", "Always"),
            ("gcr.io/x/y:1@sha256:abcdef", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
            ("nginx:bad tag", "IfNotPresent"),
        ];
        for (image, want) in cases {
            assert_eq!(default_pull_policy(image), want, "{image:?}");
        }
    }

    #[test]
    fn container_parts_get_their_defaults() {
        let mut c = container("img:1");
        c.ports = vec![ContainerPort {
            container_port: 80,
            ..Default::default()
        }];
        c.env = vec![EnvVar {
            name: "N".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "spec.nodeName".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }];
        c.liveness_probe = Some(Probe {
            http_get: Some(HttpGetAction {
                port: Some(IntOrString::Int(80)),
                ..Default::default()
            }),
            ..Default::default()
        });
        c.readiness_probe = Some(Probe {
            grpc: Some(GrpcAction {
                port: 9000,
                ..Default::default()
            }),
            timeout_seconds: 5,
            ..Default::default()
        });
        c.extra_fields.insert(
            "lifecycle".into(),
            json!({"preStop": {"httpGet": {"port": 80}}, "postStart": {"exec": {"command": ["x"]}}}),
        );
        default_container(&mut c);
        assert_eq!(c.ports[0].protocol, "TCP");
        let field_ref = c.env[0]
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .expect("field ref");
        assert_eq!(field_ref.api_version, "v1");
        let live = c.liveness_probe.as_ref().expect("live");
        assert_eq!(
            (
                live.timeout_seconds,
                live.period_seconds,
                live.success_threshold,
                live.failure_threshold
            ),
            (1, 10, 1, 3)
        );
        let http = live.http_get.as_ref().expect("http");
        assert_eq!((http.path.as_str(), http.scheme.as_str()), ("/", "HTTP"));
        let ready = c.readiness_probe.as_ref().expect("ready");
        assert_eq!(ready.timeout_seconds, 5);
        assert_eq!(
            ready.grpc.as_ref().and_then(|g| g.service.clone()),
            Some(String::new())
        );
        assert_eq!(
            c.extra_fields.get("lifecycle"),
            Some(&json!({
                "preStop": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}},
                "postStart": {"exec": {"command": ["x"]}}
            }))
        );
        assert_eq!(c.image_pull_policy, "IfNotPresent");
    }

    #[test]
    fn volume_sources_get_default_modes_and_types() {
        let mut volumes: Vec<Volume> = [
            json!({"configMap": {"name": "cm"}}),
            json!({"secret": {"secretName": "s", "defaultMode": 256}}),
            json!({"downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}}),
            json!({"projected": {"sources": [{"serviceAccountToken": {"path": "t"}}, {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}),
            json!({"hostPath": {"path": "/var/log"}}),
            json!({"hostPath": {"path": "/dev", "type": "Directory"}}),
            json!({"emptyDir": {}}),
            json!({"ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}}),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, source)| Volume {
            name: format!("v{i}"),
            host_path: None,
            empty_dir: None,
            extra_fields: source
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
        .collect();
        volumes.push(Volume {
            name: "typed-host-path".into(),
            host_path: Some(HostPathVolumeSource {
                path: "/var/log".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        volumes.push(Volume {
            name: "typed-host-path-with-type".into(),
            host_path: Some(HostPathVolumeSource {
                path: "/dev".into(),
                type_: Some("Directory".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        volumes.iter_mut().for_each(default_volume);
        let typed = |i: usize| volumes[i].host_path.as_ref().and_then(|h| h.type_.clone());
        assert_eq!(typed(8), Some(String::new()));
        assert_eq!(typed(9), Some("Directory".to_owned()));
        let src = |i: usize| serde_json::to_value(&volumes[i].extra_fields).unwrap_or_default();
        assert_eq!(
            src(0),
            json!({"configMap": {"name": "cm", "defaultMode": 420}})
        );
        assert_eq!(
            src(1),
            json!({"secret": {"secretName": "s", "defaultMode": 256}})
        );
        assert_eq!(
            src(2),
            json!({"downwardAPI": {"defaultMode": 420, "items": [{"path": "l", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}]}})
        );
        assert_eq!(
            src(3),
            json!({"projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}},
                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}]}}
            ]}})
        );
        // Untyped here (a model built by hand): an extra `hostPath` is left alone; sources
        // decoded from a manifest are typed and get their default above.
        assert_eq!(src(4), json!({"hostPath": {"path": "/var/log"}}));
        assert_eq!(
            src(5),
            json!({"hostPath": {"path": "/dev", "type": "Directory"}})
        );
        assert_eq!(src(6), json!({"emptyDir": {}}));
        assert_eq!(
            src(7),
            json!({"ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}})
        );
    }

    #[test]
    fn absent_spec_and_template_are_materialized_and_defaulted() {
        let mut d = DaemonSet::default();
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        assert_eq!(d.namespace(), "default");
        assert_eq!(pod_spec(&d).restart_policy, "Always");
        assert!(spec(&d).selector.is_none());
    }

    #[test]
    fn defaulting_is_idempotent() {
        for api in [
            ApiVersion::AppsV1,
            ApiVersion::AppsV1beta2,
            ApiVersion::ExtensionsV1beta1,
        ] {
            for selector in [true, false] {
                let mut once = ds(selector);
                {
                    let p = once
                        .spec
                        .as_mut()
                        .and_then(|s| s.template.as_mut())
                        .and_then(|t| t.spec.as_mut())
                        .expect("pod spec");
                    p.volumes.push(Volume {
                        name: "cm".into(),
                        host_path: None,
                        empty_dir: None,
                        extra_fields: [("configMap".to_string(), json!({"name": "x"}))].into(),
                    });
                    p.containers[0].liveness_probe = Some(Probe {
                        tcp_socket: Some(Default::default()),
                        ..Default::default()
                    });
                }
                default_daemon_set(&mut once, api);
                let mut twice = once.clone();
                default_daemon_set(&mut twice, api);
                assert_eq!(once, twice, "{api}");
            }
        }
    }

    #[test]
    fn requests_default_to_limits_only_for_pods() {
        let mut d = ds(true);
        d.spec
            .as_mut()
            .and_then(|s| s.template.as_mut())
            .and_then(|t| t.spec.as_mut())
            .expect("pod spec")
            .containers[0]
            .resources = Some(ResourceRequirements {
            limits: labels(&[("cpu", "500m"), ("memory", "1Gi")]),
            requests: labels(&[("cpu", "100m")]),
            ..Default::default()
        });
        default_daemon_set(&mut d, ApiVersion::AppsV1);
        let r = pod_spec(&d).containers[0]
            .resources
            .clone()
            .expect("resources");
        assert_eq!(
            r.requests,
            labels(&[("cpu", "100m")]),
            "templates are not defaulted"
        );
        let mut pod = pod_spec(&d).clone();
        default_pod_requests_from_limits(&mut pod);
        let r = pod.containers[0].resources.clone().expect("resources");
        assert_eq!(r.requests, labels(&[("cpu", "100m"), ("memory", "1Gi")]));
    }
}
