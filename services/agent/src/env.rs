//! A container's environment and command line, resolved as the kubelet resolves them (pure).
//!
//! - `value` may refer to variables defined *earlier* in the list as `$(NAME)`; an undefined
//!   reference stays as written, `$$` is a literal `$` (Kubernetes'
//!   `third_party/forked/golang/expansion`);
//! - `valueFrom.fieldRef` reads `metadata.name`, `metadata.namespace`, `metadata.uid`,
//!   `metadata.labels['k']`, `metadata.annotations['k']`, `spec.nodeName`,
//!   `spec.serviceAccountName`, `status.hostIP`, `status.hostIPs`, `status.podIP`,
//!   `status.podIPs` (never expanded);
//! - `valueFrom.resourceFieldRef` reads a container's `limits.*` / `requests.*` for `cpu`,
//!   `memory` and `ephemeral-storage`, divided by `divisor` and rounded up; an unset limit is
//!   the node's allocatable amount, an unset request is the limit (as Kubernetes defaults it);
//! - ConfigMaps and Secrets do not exist in everynode: such a reference is an error unless it is
//!   `optional`, in which case the variable is left out;
//! - a later definition of a name replaces an earlier one;
//! - `command` and `args` are expanded with the container's environment;
//! - sizes are capped, because expansion can grow a value exponentially (`B=$(A)$(A)`,
//!   `C=$(B)$(B)`, …): one variable (`NAME=value`) or argument may have at most
//!   [`MAX_STRING_BYTES`] (the kernel's own limit per string, `MAX_ARG_STRLEN`, minus its
//!   terminating NUL), and the environment and command line together at most
//!   [`MAX_TOTAL_BYTES`]. Expansion stops as soon as a value grows past the cap; the container
//!   does not start (`CreateContainerConfigError`).

use std::collections::BTreeMap;

use everynode_core::model::{Container, EnvVarSource, Pod};
use everynode_core::quantity::{Quantity, QuantityError};

/// Most bytes of one variable (`NAME=value`) or one argument after expansion.
pub const MAX_STRING_BYTES: usize = 128 * 1024 - 1;
/// Most bytes of a container's environment and command line together after expansion (each
/// string counted with its terminating NUL).
pub const MAX_TOTAL_BYTES: usize = 1024 * 1024;

/// What a container's environment is resolved against, besides the pod.
#[derive(Debug, Clone, Default)]
pub struct EnvContext {
    /// The node's name (`spec.nodeName` if the pod lacks it).
    pub node_name: String,
    /// The node's primary address.
    pub host_ip: String,
    /// The pod's address.
    pub pod_ip: String,
    /// The node's allocatable resources, for `resourceFieldRef`s of unset limits.
    pub allocatable: BTreeMap<String, String>,
}

/// A variable that cannot be resolved; the container cannot start (Kubernetes:
/// `CreateContainerConfigError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("couldn't resolve environment variable {name:?}: {reason}")]
pub struct EnvError {
    /// The variable.
    pub name: String,
    /// Why.
    #[source]
    pub reason: Unresolvable,
}

/// Why a variable's `valueFrom` cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolvable {
    /// `resourceFieldRef.containerName` names no container of the pod.
    #[error("no container named {0:?}")]
    NoContainer(String),
    /// A ConfigMap or Secret reference that is not optional.
    #[error("{kind} {name:?} (key {key:?}) does not exist: everynode has no {kind}s")]
    NoSuchObject {
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// The object's name.
        name: String,
        /// The key.
        key: String,
    },
    /// `valueFrom` without any source.
    #[error("valueFrom names no source")]
    NoSource,
    /// A `fieldRef` path the kubelet does not resolve.
    #[error("unsupported fieldRef path {0:?}")]
    FieldPath(String),
    /// A `resourceFieldRef` resource the kubelet does not resolve.
    #[error("unsupported resource {0:?}")]
    Resource(String),
    /// A resource amount or divisor that is not a quantity.
    #[error("{what} {text:?}: {source}")]
    Quantity {
        /// The resource, or `divisor`.
        what: String,
        /// The text given.
        text: String,
        /// Why.
        #[source]
        source: QuantityError,
    },
    /// A divisor of zero or less.
    #[error("divisor {0:?} must be positive")]
    Divisor(String),
    /// The expanded value is too long.
    #[error(
        "`NAME=value` is longer than {MAX_STRING_BYTES} bytes once $(VAR) references are expanded"
    )]
    TooLong,
}

/// A container's command line, or its environment and command line together, are too long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is longer than {limit} bytes once $(VAR) references are expanded")]
pub struct TooLong {
    /// What is too long.
    pub what: String,
    /// The cap.
    pub limit: usize,
}

/// The container's environment, in definition order (a redefined name keeps its first
/// position and takes the later value).
pub fn container_env(
    pod: &Pod,
    container: &Container,
    ctx: &EnvContext,
) -> Result<Vec<(String, String)>, EnvError> {
    let mut env: Vec<(String, String)> = Vec::with_capacity(container.env.len());
    for var in &container.env {
        let value = match &var.value_from {
            Some(source) => match from_source(pod, container, ctx, source) {
                Ok(Some(value)) => value,
                Ok(None) => continue,
                Err(reason) => {
                    return Err(EnvError {
                        name: var.name.clone(),
                        reason,
                    });
                }
            },
            None => {
                let limit = MAX_STRING_BYTES.saturating_sub(var.name.len() + 1);
                match expand_bounded(&var.value, |name| lookup(&env, name), limit) {
                    Some(value) => value,
                    None => {
                        return Err(EnvError {
                            name: var.name.clone(),
                            reason: Unresolvable::TooLong,
                        });
                    }
                }
            }
        };
        if var.name.len() + 1 + value.len() > MAX_STRING_BYTES {
            return Err(EnvError {
                name: var.name.clone(),
                reason: Unresolvable::TooLong,
            });
        }
        match env.iter_mut().find(|(name, _)| *name == var.name) {
            Some(slot) => slot.1 = value,
            None => env.push((var.name.clone(), value)),
        }
    }
    Ok(env)
}

fn lookup<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

/// `command` followed by `args`, each expanded with `env`; refused when an argument, or the
/// command line and `env` together, are over the caps.
pub fn command_line(
    container: &Container,
    env: &[(String, String)],
) -> Result<Vec<String>, TooLong> {
    let mut total: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut argv = Vec::with_capacity(container.command.len() + container.args.len());
    for (i, arg) in container.command.iter().chain(&container.args).enumerate() {
        let expanded =
            expand_bounded(arg, |name| lookup(env, name), MAX_STRING_BYTES).ok_or_else(|| {
                TooLong {
                    what: format!("argument {i} of the command line"),
                    limit: MAX_STRING_BYTES,
                }
            })?;
        total += expanded.len() + 1;
        if total > MAX_TOTAL_BYTES {
            return Err(TooLong {
                what: "the environment and command line together".to_owned(),
                limit: MAX_TOTAL_BYTES,
            });
        }
        argv.push(expanded);
    }
    Ok(argv)
}

/// Expands `$(NAME)` references in `input` with `mapping`; an unknown name stays `$(NAME)`,
/// `$$` becomes `$`, an unterminated `$(` stays as written.
pub fn expand<'a>(input: &str, mapping: impl Fn(&str) -> Option<&'a str>) -> String {
    expand_bounded(input, mapping, usize::MAX).unwrap_or_default()
}

/// [`expand`], giving up (`None`) as soon as the result would be longer than `limit` bytes.
pub fn expand_bounded<'a>(
    input: &str,
    mapping: impl Fn(&str) -> Option<&'a str>,
    limit: usize,
) -> Option<String> {
    let mut out = String::with_capacity(input.len().min(limit));
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        if out.len() > limit {
            return None;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            match tail.find(')') {
                Some(close) => {
                    let name = &tail[..close];
                    match mapping(name) {
                        Some(value) if out.len() + value.len() > limit => return None,
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &tail[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = tail;
                }
            }
        } else {
            // A `$` that starts no reference (also a trailing one) is kept.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    (out.len() <= limit).then_some(out)
}

fn from_source(
    pod: &Pod,
    container: &Container,
    ctx: &EnvContext,
    source: &EnvVarSource,
) -> Result<Option<String>, Unresolvable> {
    if let Some(field) = &source.field_ref {
        return field_value(pod, ctx, &field.field_path).map(Some);
    }
    if let Some(resource) = &source.resource_field_ref {
        let target = if resource.container_name.is_empty() {
            Some(container)
        } else {
            pod.spec.as_ref().and_then(|spec| {
                spec.containers
                    .iter()
                    .chain(&spec.init_containers)
                    .find(|c| c.name == resource.container_name)
            })
        };
        let target =
            target.ok_or_else(|| Unresolvable::NoContainer(resource.container_name.clone()))?;
        return resource_value(target, ctx, &resource.resource, &resource.divisor).map(Some);
    }
    for (kind, selector) in [
        ("ConfigMap", &source.config_map_key_ref),
        ("Secret", &source.secret_key_ref),
    ] {
        if let Some(selector) = selector {
            return if selector.optional == Some(true) {
                Ok(None)
            } else {
                Err(Unresolvable::NoSuchObject {
                    kind,
                    name: selector.name.clone(),
                    key: selector.key.clone(),
                })
            };
        }
    }
    Err(Unresolvable::NoSource)
}

/// The value of a `fieldRef` path.
fn field_value(pod: &Pod, ctx: &EnvContext, path: &str) -> Result<String, Unresolvable> {
    let meta = pod.metadata.clone().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let bracketed = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("['"))
            .and_then(|rest| rest.strip_suffix("']"))
            .map(str::to_owned)
    };
    if let Some(key) = bracketed("metadata.labels") {
        return Ok(meta.labels.get(&key).cloned().unwrap_or_default());
    }
    if let Some(key) = bracketed("metadata.annotations") {
        return Ok(meta.annotations.get(&key).cloned().unwrap_or_default());
    }
    Ok(match path {
        "metadata.name" => meta.name,
        "metadata.namespace" => meta.namespace,
        "metadata.uid" => meta.uid,
        "spec.nodeName" => spec
            .map(|s| s.node_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| ctx.node_name.clone()),
        "spec.serviceAccountName" => spec
            .map(|s| {
                if s.service_account_name.is_empty() {
                    s.service_account.clone()
                } else {
                    s.service_account_name.clone()
                }
            })
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => ctx.host_ip.clone(),
        "status.podIP" | "status.podIPs" => ctx.pod_ip.clone(),
        other => return Err(Unresolvable::FieldPath(other.to_owned())),
    })
}

/// The value of a `resourceFieldRef`, as Kubernetes' `ExtractContainerResourceValue` gives it.
fn resource_value(
    container: &Container,
    ctx: &EnvContext,
    resource: &str,
    divisor: &str,
) -> Result<String, Unresolvable> {
    let unsupported = || Unresolvable::Resource(resource.to_owned());
    let (kind, name) = resource.split_once('.').ok_or_else(unsupported)?;
    if !matches!(name, "cpu" | "memory" | "ephemeral-storage") {
        return Err(unsupported());
    }
    let resources = container.resources.clone().unwrap_or_default();
    let limit = resources
        .limits
        .get(name)
        .or_else(|| ctx.allocatable.get(name));
    let text = match kind {
        "limits" => limit,
        "requests" => resources.requests.get(name).or(limit),
        _ => return Err(unsupported()),
    };
    let parse = |what: &str, text: &str| {
        Quantity::parse(text).map_err(|source| Unresolvable::Quantity {
            what: what.to_owned(),
            text: text.to_owned(),
            source,
        })
    };
    let quantity = match text {
        Some(text) => parse(resource, text)?,
        None => return Ok("0".to_owned()),
    };
    let divisor = if divisor.is_empty() { "1" } else { divisor };
    let (value, per) = (
        quantity.milli_value(),
        parse("divisor", divisor)?.milli_value(),
    );
    if per <= 0 {
        return Err(Unresolvable::Divisor(divisor.to_owned()));
    }
    // Ceiling division of non-negative values; negative quantities are rejected by validation.
    let result = if value <= 0 {
        0
    } else {
        (value + per - 1) / per
    };
    Ok(result.to_string())
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{
        EnvVar, KeySelector, ObjectFieldSelector, ObjectMeta, PodSpec, ResourceFieldSelector,
        ResourceRequirements,
    };

    use super::*;

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.to_owned(),
            value: value.to_owned(),
            ..EnvVar::default()
        }
    }

    fn field(name: &str, path: &str) -> EnvVar {
        EnvVar {
            name: name.to_owned(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: path.to_owned(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        }
    }

    fn pod() -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: "agent-x1".to_owned(),
                namespace: "kube-system".to_owned(),
                uid: "u-1".to_owned(),
                labels: [("app".to_owned(), "agent".to_owned())].into(),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                node_name: "n1".to_owned(),
                service_account_name: "sa".to_owned(),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    fn ctx() -> EnvContext {
        EnvContext {
            node_name: "n1".to_owned(),
            host_ip: "10.1.2.3".to_owned(),
            pod_ip: "10.1.2.3".to_owned(),
            allocatable: [
                ("cpu".to_owned(), "4".to_owned()),
                ("memory".to_owned(), "8Gi".to_owned()),
            ]
            .into(),
        }
    }

    fn resolve(env: Vec<EnvVar>) -> Result<Vec<(String, String)>, EnvError> {
        let container = Container {
            name: "c".to_owned(),
            env,
            ..Container::default()
        };
        container_env(&pod(), &container, &ctx())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn references_expand_only_to_earlier_variables() {
        let env = resolve(vec![
            var("A", "a"),
            var("B", "$(A)-b-$(C)"),
            var("C", "c"),
            var("D", "$$(A) $$ $ $(A"),
        ])
        .unwrap();
        assert_eq!(
            env,
            pairs(&[
                ("A", "a"),
                ("B", "a-b-$(C)"),
                ("C", "c"),
                ("D", "$(A) $ $ $(A")
            ])
        );
    }

    #[test]
    fn expansion_follows_kubernetes_edge_cases() {
        let map = |name: &str| (name == "VAR").then_some("value");
        assert_eq!(expand("$(VAR)", map), "value");
        assert_eq!(expand("x$(VAR)y$(VAR)", map), "xvalueyvalue");
        assert_eq!(expand("$(UNKNOWN)", map), "$(UNKNOWN)");
        assert_eq!(expand("$$(VAR)", map), "$(VAR)");
        assert_eq!(expand("$$$(VAR)", map), "$value");
        assert_eq!(expand("$VAR", map), "$VAR");
        assert_eq!(expand("trailing $", map), "trailing $");
        assert_eq!(expand("$(VAR", map), "$(VAR");
        assert_eq!(expand("$()", map), "$()");
        assert_eq!(expand("é$(VAR)ü", map), "évalueü");
    }

    #[test]
    fn field_refs_resolve_pod_and_node_fields() {
        let env = resolve(vec![
            field("NODE", "spec.nodeName"),
            field("NAME", "metadata.name"),
            field("NS", "metadata.namespace"),
            field("UID", "metadata.uid"),
            field("HOST_IP", "status.hostIP"),
            field("POD_IP", "status.podIP"),
            field("APP", "metadata.labels['app']"),
            field("SA", "spec.serviceAccountName"),
            var("GREETING", "hello $(NAME) on $(NODE)"),
        ])
        .unwrap();
        assert_eq!(
            env,
            pairs(&[
                ("NODE", "n1"),
                ("NAME", "agent-x1"),
                ("NS", "kube-system"),
                ("UID", "u-1"),
                ("HOST_IP", "10.1.2.3"),
                ("POD_IP", "10.1.2.3"),
                ("APP", "agent"),
                ("SA", "sa"),
                ("GREETING", "hello agent-x1 on n1"),
            ])
        );
    }

    #[test]
    fn an_unknown_field_path_is_an_error() {
        let err = resolve(vec![field("X", "spec.nothing")]).unwrap_err();
        assert_eq!(err.name, "X");
        assert_eq!(
            err.reason,
            Unresolvable::FieldPath("spec.nothing".to_owned())
        );
        assert_eq!(
            err.to_string(),
            "couldn't resolve environment variable \"X\": unsupported fieldRef path \"spec.nothing\""
        );
    }

    #[test]
    fn a_later_definition_replaces_an_earlier_one() {
        let env = resolve(vec![var("A", "1"), var("B", "2"), var("A", "3")]).unwrap();
        assert_eq!(env, pairs(&[("A", "3"), ("B", "2")]));
    }

    #[test]
    fn config_map_refs_fail_unless_optional() {
        let from = |optional| EnvVar {
            name: "CM".to_owned(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(KeySelector {
                    name: "cfg".to_owned(),
                    key: "k".to_owned(),
                    optional,
                    ..KeySelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        };
        assert!(resolve(vec![from(None)]).is_err());
        assert_eq!(resolve(vec![from(Some(true))]).unwrap(), vec![]);
    }

    #[test]
    fn resource_field_refs_divide_and_round_up_with_node_allocatable_as_default_limit() {
        let resource = |name: &str, resource: &str, divisor: &str| EnvVar {
            name: name.to_owned(),
            value_from: Some(EnvVarSource {
                resource_field_ref: Some(ResourceFieldSelector {
                    resource: resource.to_owned(),
                    divisor: divisor.to_owned(),
                    ..ResourceFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        };
        let container = Container {
            name: "c".to_owned(),
            resources: Some(ResourceRequirements {
                limits: [("cpu".to_owned(), "1500m".to_owned())].into(),
                requests: [("memory".to_owned(), "64Mi".to_owned())].into(),
                ..ResourceRequirements::default()
            }),
            env: vec![
                resource("CPU_LIMIT", "limits.cpu", ""),
                resource("CPU_MILLIS", "limits.cpu", "1m"),
                resource("CPU_REQUEST", "requests.cpu", ""),
                resource("MEM_LIMIT_MI", "limits.memory", "1Mi"),
                resource("MEM_REQUEST_MI", "requests.memory", "1Mi"),
            ],
            ..Container::default()
        };
        let env = container_env(&pod(), &container, &ctx()).unwrap();
        assert_eq!(
            env,
            pairs(&[
                ("CPU_LIMIT", "2"),
                ("CPU_MILLIS", "1500"),
                ("CPU_REQUEST", "2"),
                ("MEM_LIMIT_MI", "8192"),
                ("MEM_REQUEST_MI", "64"),
            ])
        );
        // Errors name what was given, never an internal representation.
        for (divisor, reason) in [
            ("0", Unresolvable::Divisor("0".to_owned())),
            (
                "lots",
                Unresolvable::Quantity {
                    what: "divisor".to_owned(),
                    text: "lots".to_owned(),
                    source: Quantity::parse("lots").unwrap_err(),
                },
            ),
        ] {
            let bad = Container {
                env: vec![resource("X", "limits.cpu", divisor)],
                ..container.clone()
            };
            let err = container_env(&pod(), &bad, &ctx()).unwrap_err();
            assert_eq!(err.reason, reason);
        }
        let bad = Container {
            env: vec![resource("X", "limits.cpu", "0")],
            ..container
        };
        let err = container_env(&pod(), &bad, &ctx()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "couldn't resolve environment variable \"X\": divisor \"0\" must be positive"
        );
    }

    #[test]
    fn command_and_args_are_expanded_with_the_environment() {
        let container = Container {
            command: vec!["/bin/echo".to_owned(), "$(GREETING)".to_owned()],
            args: vec!["$(MISSING)".to_owned(), "$$(GREETING)".to_owned()],
            ..Container::default()
        };
        let env = pairs(&[("GREETING", "hi")]);
        assert_eq!(
            command_line(&container, &env).unwrap(),
            vec!["/bin/echo", "hi", "$(MISSING)", "$(GREETING)"]
        );
    }

    #[test]
    fn exponential_expansion_is_cut_off_at_the_caps() {
        // Each variable doubles the previous one: 2^30 bytes if nothing stopped it.
        let mut env = vec![var("V0", &"x".repeat(64))];
        for i in 1..=24 {
            env.push(var(
                &format!("V{i}"),
                &format!("$(V{})$(V{})", i - 1, i - 1),
            ));
        }
        let err = resolve(env).unwrap_err();
        assert_eq!(err.reason, Unresolvable::TooLong);
        // 64 * 2^11 = 128 KiB is the first value over the cap.
        assert_eq!(err.name, "V11");
        assert!(err.to_string().contains("131071 bytes"), "{err}");

        let fits = resolve(vec![var("A", &"a".repeat(MAX_STRING_BYTES - 2))]).unwrap();
        assert_eq!(fits[0].1.len(), MAX_STRING_BYTES - 2);
        assert!(resolve(vec![var("A", &"a".repeat(MAX_STRING_BYTES - 1))]).is_err());

        // Arguments: each capped, and everything together.
        let big = pairs(&[("BIG", &"b".repeat(100_000))]);
        let one_too_long = Container {
            command: vec!["$(BIG)$(BIG)".to_owned()],
            ..Container::default()
        };
        let err = command_line(&one_too_long, &big).unwrap_err();
        assert_eq!(err.limit, MAX_STRING_BYTES);
        let many = Container {
            command: vec!["$(BIG)".to_owned(); 11],
            ..Container::default()
        };
        let err = command_line(&many, &big).unwrap_err();
        assert_eq!(err.limit, MAX_TOTAL_BYTES);
        assert_eq!(
            err.to_string(),
            "the environment and command line together is longer than 1048576 bytes once $(VAR) references are expanded"
        );
        assert_eq!(expand_bounded("$(A)", |_| Some("12345"), 4), None);
        assert_eq!(expand_bounded("ab", |_| None, 1), None);
        assert_eq!(
            expand_bounded("$(A)", |_| Some("1234"), 4).as_deref(),
            Some("1234")
        );
    }
}
