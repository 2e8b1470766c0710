//! The positional arguments kubectl users type, parsed and checked before anything is sent:
//! resource targets (`ds x y`, `ds/x`, `daemonset.apps/x`), label changes (`k=v`, `k-`) and
//! taint changes (`k=v:Effect`, `k:Effect`, `k:Effect-`, `k-`). Keys and values are checked with
//! Kubernetes' own rules so mistakes are reported locally, as kubectl does.

use std::collections::BTreeMap;

use everynode_core::labels::{is_label_value, is_qualified_name};

use crate::print::names::{KIND_WORDS, Kind};

/// A usage error: what was typed and why it cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Parses a resource word.
pub fn kind(word: &str) -> Result<Kind, UsageError> {
    Kind::parse(word).ok_or_else(|| {
        usage(format!(
            "the server doesn't have a resource type {word:?} (everynode has {KIND_WORDS})"
        ))
    })
}

/// Parses `TYPE [NAME...]` or `TYPE/NAME...` into one kind and its names (possibly none).
pub fn targets(args: &[String]) -> Result<(Kind, Vec<String>), UsageError> {
    let Some(first) = args.first() else {
        return Err(usage(format!(
            "you must specify the type of resource to get. Use one of: {KIND_WORDS}"
        )));
    };
    if first.contains('/') {
        let mut kind_seen = None;
        let mut names = Vec::new();
        for arg in args {
            let Some((word, name)) = arg.split_once('/') else {
                return Err(usage(format!(
                    "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'enctl get ds/x' instead of 'enctl get ds ds/x'): {arg:?}"
                )));
            };
            let k = kind(word)?;
            if name.is_empty() {
                return Err(usage(format!("{arg:?}: a resource name is required")));
            }
            match kind_seen {
                None => kind_seen = Some(k),
                Some(seen) if seen != k => {
                    return Err(usage(format!(
                        "{arg:?}: all resources must be of one type ({seen} given first)"
                    )));
                }
                Some(_) => {}
            }
            names.push(name.to_string());
        }
        let k = kind_seen.ok_or_else(|| usage("no resource given"))?;
        return Ok((k, names));
    }
    let k = kind(first)?;
    let names = args[1..].to_vec();
    if let Some(bad) = names.iter().find(|n| n.contains('/')) {
        return Err(usage(format!(
            "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form: {bad:?}"
        )));
    }
    Ok((k, names))
}

/// Parses one target that must be of `want`: `ds/NAME`, or `ds NAME` split over two args.
pub fn single_target(args: &[String], want: Kind) -> Result<String, UsageError> {
    let (k, names) = targets(args)?;
    if k != want {
        return Err(usage(format!(
            "{} is not supported here; expected {}",
            k.plural(),
            want.plural()
        )));
    }
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(usage(format!(
            "a {} name is required (e.g. {}/NAME)",
            want.resource(),
            want.short()
        ))),
        _ => Err(usage("exactly one resource name is expected")),
    }
}

/// Splits `TYPE NAME REST...` or `TYPE/NAME REST...` (as `enctl label node n1 k=v` takes
/// them) into the name and the rest; the type must be `want`.
pub fn target_then(args: &[String], want: Kind) -> Result<(String, Vec<String>), UsageError> {
    let Some(first) = args.first() else {
        return Err(usage(format!(
            "a {} and its name are required",
            want.resource()
        )));
    };
    let (target, rest) = if first.contains('/') {
        (&args[..1], &args[1..])
    } else if args.len() >= 2 {
        (&args[..2], &args[2..])
    } else {
        return Err(usage(format!(
            "a {} name is required (e.g. {} NAME)",
            want.resource(),
            want.short()
        )));
    };
    let name = single_target(target, want)?;
    Ok((name, rest.to_vec()))
}

/// A node name given as `NAME` or `node/NAME`.
pub fn node_name(arg: &str) -> Result<String, UsageError> {
    match arg.split_once('/') {
        None if !arg.is_empty() => Ok(arg.to_string()),
        None => Err(usage("a node name is required")),
        Some(_) => single_target(&[arg.to_string()], Kind::Node),
    }
}

/// Label changes: labels to set and keys to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelChanges {
    /// `k=v` arguments.
    pub set: BTreeMap<String, String>,
    /// `k-` arguments.
    pub remove: Vec<String>,
}

fn check_key(key: &str, what: &str) -> Result<(), UsageError> {
    let errors = is_qualified_name(key);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(usage(format!(
            "invalid {what} key {key:?}: {}",
            errors.join("; ")
        )))
    }
}

fn check_value(value: &str, what: &str) -> Result<(), UsageError> {
    let errors = is_label_value(value);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(usage(format!(
            "invalid {what} value {value:?}: {}",
            errors.join("; ")
        )))
    }
}

/// Parses `k=v` and `k-` arguments as `kubectl label` does.
pub fn label_changes(args: &[String]) -> Result<LabelChanges, UsageError> {
    let mut changes = LabelChanges::default();
    for arg in args {
        if let Some((k, v)) = arg.split_once('=') {
            check_key(k, "label")?;
            check_value(v, "label")?;
            if changes.set.insert(k.to_string(), v.to_string()).is_some() {
                return Err(usage(format!("label {k:?} is given more than once")));
            }
        } else if let Some(k) = arg.strip_suffix('-') {
            check_key(k, "label")?;
            changes.remove.push(k.to_string());
        } else {
            return Err(usage(format!(
                "invalid label spec {arg:?}: expected KEY=VALUE to set or KEY- to remove"
            )));
        }
    }
    if let Some(k) = changes.remove.iter().find(|k| changes.set.contains_key(*k)) {
        return Err(usage(format!(
            "can not both modify and remove a label in the same command: {k:?}"
        )));
    }
    if changes.set.is_empty() && changes.remove.is_empty() {
        return Err(usage("at least one label update is required"));
    }
    Ok(changes)
}

/// The taint effects Kubernetes knows.
pub const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// A taint to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintSpec {
    /// Key.
    pub key: String,
    /// Value; may be empty.
    pub value: String,
    /// Effect.
    pub effect: String,
}

/// A taint to remove: every taint with the key, or only the one with the effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintRemoval {
    /// Key.
    pub key: String,
    /// Effect; empty for any.
    pub effect: String,
}

/// Taint changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaintChanges {
    /// `k=v:Effect` and `k:Effect` arguments.
    pub add: Vec<TaintSpec>,
    /// `k:Effect-` and `k-` arguments.
    pub remove: Vec<TaintRemoval>,
}

fn check_effect(effect: &str) -> Result<(), UsageError> {
    if EFFECTS.contains(&effect) {
        Ok(())
    } else {
        Err(usage(format!(
            "invalid taint effect: {effect}, unsupported taint effect (supported: {})",
            EFFECTS.join(", ")
        )))
    }
}

/// Parses taint arguments as `kubectl taint` does.
pub fn taint_changes(args: &[String]) -> Result<TaintChanges, UsageError> {
    let mut changes = TaintChanges::default();
    for arg in args {
        if let Some(spec) = arg.strip_suffix('-') {
            let (key, effect) = match spec.split_once(':') {
                Some((k, e)) => {
                    check_effect(e)?;
                    (k, e)
                }
                None => (spec, ""),
            };
            let key = key.split_once('=').map_or(key, |(k, _)| k);
            check_key(key, "taint")?;
            changes.remove.push(TaintRemoval {
                key: key.to_string(),
                effect: effect.to_string(),
            });
            continue;
        }
        let Some((key_value, effect)) = arg.split_once(':') else {
            return Err(usage(format!(
                "invalid taint spec: {arg}, expected KEY[=VALUE]:EFFECT to add or KEY[:EFFECT]- to remove"
            )));
        };
        if effect.is_empty() {
            return Err(usage(format!(
                "invalid taint spec: {arg}, the effect is required (one of {})",
                EFFECTS.join(", ")
            )));
        }
        check_effect(effect)?;
        let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
        check_key(key, "taint")?;
        check_value(value, "taint")?;
        if changes
            .add
            .iter()
            .any(|t| t.key == key && t.effect == effect)
        {
            return Err(usage(format!(
                "can not add the taint {key}:{effect} more than once"
            )));
        }
        changes.add.push(TaintSpec {
            key: key.to_string(),
            value: value.to_string(),
            effect: effect.to_string(),
        });
    }
    for r in &changes.remove {
        if changes
            .add
            .iter()
            .any(|a| a.key == r.key && (r.effect.is_empty() || r.effect == a.effect))
        {
            return Err(usage(format!(
                "can not both modify and remove the taint {:?} in the same command",
                r.key
            )));
        }
    }
    if changes.add.is_empty() && changes.remove.is_empty() {
        return Err(usage("at least one taint update is required"));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn targets_accept_type_and_names() {
        assert_eq!(
            targets(&args(&["ds", "a", "b"])).unwrap(),
            (Kind::DaemonSet, vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(targets(&args(&["no"])).unwrap(), (Kind::Node, vec![]));
    }

    #[test]
    fn targets_accept_type_slash_name() {
        assert_eq!(
            targets(&args(&["daemonset.apps/a", "ds/b"])).unwrap(),
            (Kind::DaemonSet, vec!["a".to_string(), "b".to_string()])
        );
        assert!(targets(&args(&["ds/a", "pod/b"])).is_err());
        assert!(targets(&args(&["ds/a", "b"])).is_err());
        assert!(targets(&args(&["ds", "ds/b"])).is_err());
        assert!(targets(&args(&["ds/"])).is_err());
    }

    #[test]
    fn unknown_types_name_the_known_ones() {
        let err = targets(&args(&["deploy"])).unwrap_err();
        assert!(err.0.contains("\"deploy\""), "{err}");
        assert!(err.0.contains("ds|daemonset|daemonsets"), "{err}");
        assert!(targets(&[]).is_err());
    }

    #[test]
    fn single_target_takes_slash_or_two_words() {
        assert_eq!(
            single_target(&args(&["ds/agent"]), Kind::DaemonSet).unwrap(),
            "agent"
        );
        assert_eq!(
            single_target(&args(&["daemonset", "agent"]), Kind::DaemonSet).unwrap(),
            "agent"
        );
        assert!(single_target(&args(&["pod/agent"]), Kind::DaemonSet).is_err());
        assert!(single_target(&args(&["ds"]), Kind::DaemonSet).is_err());
        assert!(single_target(&args(&["ds", "a", "b"]), Kind::DaemonSet).is_err());
    }

    #[test]
    fn target_then_splits_name_and_changes() {
        assert_eq!(
            target_then(&args(&["node", "n1", "a=b", "c-"]), Kind::Node).unwrap(),
            ("n1".to_string(), args(&["a=b", "c-"]))
        );
        assert_eq!(
            target_then(&args(&["nodes/n1", "a=b"]), Kind::Node).unwrap(),
            ("n1".to_string(), args(&["a=b"]))
        );
        assert!(target_then(&args(&["ds", "x", "a=b"]), Kind::Node).is_err());
        assert!(target_then(&args(&["node"]), Kind::Node).is_err());
        assert_eq!(node_name("node/n1").unwrap(), "n1");
        assert_eq!(node_name("n1").unwrap(), "n1");
        assert!(node_name("pod/p").is_err());
    }

    #[test]
    fn label_args_set_and_remove() {
        let c = label_changes(&args(&["zone=a", "example.com/tier=edge", "old-", "gpu="])).unwrap();
        assert_eq!(c.set["zone"], "a");
        assert_eq!(c.set["example.com/tier"], "edge");
        assert_eq!(c.set["gpu"], "");
        assert_eq!(c.remove, vec!["old".to_string()]);
    }

    #[test]
    fn label_args_are_checked_like_kubectl() {
        assert!(label_changes(&args(&["zone"])).is_err());
        assert!(label_changes(&args(&["-bad=x"])).is_err());
        assert!(label_changes(&args(&["zone=not valid"])).is_err());
        let err = label_changes(&args(&["zone=a", "zone-"])).unwrap_err();
        assert!(err.0.contains("can not both modify and remove"), "{err}");
        assert!(label_changes(&args(&["a=1", "a=2"])).is_err());
        assert!(label_changes(&[]).is_err());
    }

    #[test]
    fn taint_args_add_with_and_without_value() {
        let c = taint_changes(&args(&[
            "dedicated=gpu:NoSchedule",
            "maintenance:NoExecute",
        ]))
        .unwrap();
        assert_eq!(
            c.add,
            vec![
                TaintSpec {
                    key: "dedicated".into(),
                    value: "gpu".into(),
                    effect: "NoSchedule".into()
                },
                TaintSpec {
                    key: "maintenance".into(),
                    value: String::new(),
                    effect: "NoExecute".into()
                },
            ]
        );
    }

    #[test]
    fn taint_args_remove_by_key_or_key_and_effect() {
        let c = taint_changes(&args(&[
            "dedicated:NoSchedule-",
            "maintenance-",
            "x=y:NoExecute-",
        ]))
        .unwrap();
        assert_eq!(
            c.remove,
            vec![
                TaintRemoval {
                    key: "dedicated".into(),
                    effect: "NoSchedule".into()
                },
                TaintRemoval {
                    key: "maintenance".into(),
                    effect: String::new()
                },
                TaintRemoval {
                    key: "x".into(),
                    effect: "NoExecute".into()
                },
            ]
        );
    }

    #[test]
    fn taint_args_are_checked_like_kubectl() {
        let err = taint_changes(&args(&["k=v:Sometimes"])).unwrap_err();
        assert!(err.0.contains("unsupported taint effect"), "{err}");
        assert!(taint_changes(&args(&["k=v"])).is_err());
        assert!(taint_changes(&args(&["k=v:"])).is_err());
        assert!(taint_changes(&args(&["bad key:NoSchedule"])).is_err());
        assert!(taint_changes(&args(&["k:NoSchedule", "k-"])).is_err());
        assert!(taint_changes(&args(&["k:NoSchedule", "k:NoSchedule"])).is_err());
        assert!(taint_changes(&[]).is_err());
    }
}
