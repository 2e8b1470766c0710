//! Which pods and ControllerRevisions belong to a DaemonSet (Kubernetes:
//! `ControllerRefManager.ClaimObject`, used by `ClaimPods` and `ClaimControllerRevisions`).
//!
//! For each object of the DaemonSet's namespace:
//! - controller reference to another UID → not ours, ignored (overlapping DaemonSets never
//!   fight over owned pods);
//! - controller reference to us and the selector matches → ours;
//! - controller reference to us but the selector no longer matches → released (the executor
//!   removes the reference) and not ours;
//! - no controller reference, selector matches, object not being deleted → adopted (the
//!   executor adds our controller reference) and ours from now on;
//! - anything else → ignored.
//!
//! The planner never runs this for a DaemonSet that is being deleted (it plans nothing then), so
//! the "unless the controller is being deleted" rules of Kubernetes need no check here.

use crate::labels::Selector;
use crate::model::ObjectMeta;

/// What claiming decides for one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claim {
    /// Already ours.
    Owned,
    /// An orphan to adopt; ours once adopted.
    Adopt,
    /// Ours by reference but no longer selected: drop the reference.
    Release,
    /// Not ours.
    Ignore,
}

impl Claim {
    /// True when the object counts as the DaemonSet's in this pass.
    pub fn is_ours(self) -> bool {
        matches!(self, Claim::Owned | Claim::Adopt)
    }
}

/// Claims one object with metadata `meta` for the DaemonSet with UID `ds_uid` in `ds_namespace`.
pub(super) fn claim(
    ds_uid: &str,
    ds_namespace: &str,
    selector: &Selector,
    meta: Option<&ObjectMeta>,
) -> Claim {
    static EMPTY: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let namespace = meta.map_or("", |m| m.namespace.as_str());
    if namespace != ds_namespace {
        return Claim::Ignore;
    }
    let labels = meta.map_or(&EMPTY, |m| &m.labels);
    let matches = selector.matches(labels);
    match meta.and_then(ObjectMeta::controller_ref) {
        Some(owner) if owner.uid != ds_uid => Claim::Ignore,
        Some(_) if matches => Claim::Owned,
        Some(_) => Claim::Release,
        None if matches && !meta.is_some_and(ObjectMeta::is_being_deleted) => Claim::Adopt,
        None => Claim::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LabelSelector, OwnerReference, Timestamp};

    fn selector() -> Selector {
        Selector::from_label_selector(Some(&LabelSelector {
            match_labels: [("app".to_string(), "x".to_string())].into_iter().collect(),
            ..Default::default()
        }))
        .unwrap()
    }

    fn meta(app: &str, owner: Option<&str>, deleting: bool, namespace: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: namespace.into(),
            labels: [("app".to_string(), app.to_string())].into_iter().collect(),
            owner_references: owner
                .map(|uid| OwnerReference {
                    kind: "DaemonSet".into(),
                    uid: uid.into(),
                    controller: Some(true),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            deletion_timestamp: deleting.then(|| Timestamp::from_seconds(1)),
            ..Default::default()
        }
    }

    #[test]
    fn claim_rules_follow_the_controller_ref_manager() {
        let s = selector();
        let cases = [
            (
                "owned and matching",
                meta("x", Some("me"), false, "ns"),
                Claim::Owned,
            ),
            (
                "owned and being deleted",
                meta("x", Some("me"), true, "ns"),
                Claim::Owned,
            ),
            (
                "owned, labels changed",
                meta("y", Some("me"), false, "ns"),
                Claim::Release,
            ),
            (
                "owned by another",
                meta("x", Some("other"), false, "ns"),
                Claim::Ignore,
            ),
            (
                "matching orphan",
                meta("x", None, false, "ns"),
                Claim::Adopt,
            ),
            (
                "orphan being deleted",
                meta("x", None, true, "ns"),
                Claim::Ignore,
            ),
            (
                "non-matching orphan",
                meta("y", None, false, "ns"),
                Claim::Ignore,
            ),
            (
                "other namespace",
                meta("x", None, false, "other"),
                Claim::Ignore,
            ),
        ];
        for (name, m, want) in cases {
            assert_eq!(claim("me", "ns", &s, Some(&m)), want, "case {name:?}");
        }
    }

    #[test]
    fn non_controller_owner_references_do_not_make_an_owner() {
        let mut m = meta("x", Some("other"), false, "ns");
        m.owner_references[0].controller = Some(false);
        assert_eq!(claim("me", "ns", &selector(), Some(&m)), Claim::Adopt);
    }
}
