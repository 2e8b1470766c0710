//! Revision history: the current ControllerRevision of a DaemonSet's template, its hash, and
//! which old revisions to delete (Kubernetes: `constructHistory`, `snapshot`,
//! `dedupCurHistories`, `cleanupHistory` of `pkg/controller/daemon/update.go`).
//!
//! - A revision is *current* when its `data` equals [`revision_data`] of the template (compared
//!   as JSON values, see [`json_equal`]).
//! - When none is current, one is created: name `<ds>-<hash>` with [`template_hash`], revision
//!   `max(old) + 1`, labels = template labels + `controller-revision-hash`, annotations = the
//!   DaemonSet's, and the DaemonSet's controller reference. If that name is taken by a revision
//!   with other data, `status.collisionCount` is bumped and the hash recomputed (in the same
//!   pass; Kubernetes needs one failed sync per bump).
//! - When several are current, the one with the highest revision is kept and the others are
//!   deleted; pods carrying a deleted duplicate's hash are relabelled to the kept hash. (Kubernetes
//!   relabels every pod of the DaemonSet whose hash differs from the kept one, which also marks
//!   genuinely old pods as updated; everynode only relabels the duplicates' pods.)
//! - A current revision whose number is below `max(old) + 1` is bumped (a rollback reuses the
//!   old revision, so its pods are up to date at once and are not restarted).
//! - Revisions without the hash label get `controller-revision-hash: <name>`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::claim::{Claim, claim};
use super::json::{canonical_bytes, json_equal, template_to_json};
use super::pods::{NAME_ALPHABET, controller_ref};
use super::{CONTROLLER_REVISION_HASH_LABEL, RevisionRef, fnv1a_32};
use crate::labels::Selector;
use crate::model::{ControllerRevision, DaemonSet, ObjectMeta, PodTemplateSpec};

/// Collision-count bumps tried in one pass before giving up on a free revision name.
const MAX_COLLISION_BUMPS: i32 = 1000;

/// The hash of a template, as used in revision names and the `controller-revision-hash` label
/// (Kubernetes: `controller.ComputeHash`): FNV-32a over the template's canonical JSON
/// ([`canonical_bytes`] of [`template_to_json`]) followed, when `collision_count` is set, by its
/// four little-endian bytes; the 32-bit value is printed in decimal and each digit mapped
/// through Kubernetes' `SafeEncodeString` alphabet `bcdfghjklmnpqrstvwxz2456789` (digit `d` →
/// `alphabet[(ord(d)) % 27]`), e.g. `"6b4d8c5f7"`. Kubernetes hashes a Go-specific dump of the
/// object instead, so the values differ from a real cluster's, but the scheme and alphabet are
/// the same and the value is stable across builds and platforms.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = Vec::new();
    canonical_bytes(&template_to_json(template), &mut bytes);
    if let Some(count) = collision_count {
        bytes.extend_from_slice(&count.to_le_bytes());
    }
    safe_encode(&fnv1a_32(&bytes).to_string())
}

/// Kubernetes' `rand.SafeEncodeString`.
fn safe_encode(s: &str) -> String {
    s.chars()
        .map(|c| char::from(NAME_ALPHABET[(c as usize) % NAME_ALPHABET.len()]))
        .collect()
}

/// The `data` of the revision of `template`: `{"spec":{"template":{…,"$patch":"replace"}}}`
/// (Kubernetes: `getPatch`).
pub fn revision_data(template: &PodTemplateSpec) -> Map<String, Value> {
    let mut template_json = match template_to_json(template) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    template_json.insert("$patch".to_string(), Value::String("replace".to_string()));
    let mut spec = Map::new();
    spec.insert("template".to_string(), Value::Object(template_json));
    let mut data = Map::new();
    data.insert("spec".to_string(), Value::Object(spec));
    data
}

/// The hash a revision stands for: its `controller-revision-hash` label, else its name
/// (Kubernetes adds that label, set to the name, when it is missing).
pub(super) fn revision_hash(revision: &ControllerRevision) -> String {
    revision
        .metadata
        .as_ref()
        .and_then(|m| m.labels.get(CONTROLLER_REVISION_HASH_LABEL))
        .cloned()
        .unwrap_or_else(|| revision.name().to_string())
}

/// An old (not current) revision owned by the DaemonSet.
#[derive(Debug, Clone)]
pub(super) struct OldRevision {
    pub reference: RevisionRef,
    pub revision: i64,
    pub hash: String,
}

/// The outcome of [`construct`].
#[derive(Debug, Default)]
pub(super) struct History {
    /// Hash of the current revision.
    pub hash: String,
    /// Name of the current revision.
    pub current: String,
    pub create: Option<ControllerRevision>,
    pub update: Vec<ControllerRevision>,
    pub delete: Vec<RevisionRef>,
    pub adopt: Vec<RevisionRef>,
    pub release: Vec<RevisionRef>,
    /// Hashes of deleted duplicates of the current revision: pods with them get relabelled.
    pub relabel_from: BTreeSet<String>,
    /// Old revisions, candidates for [`cleanup`].
    pub old: Vec<OldRevision>,
    /// `status.collisionCount` after this pass.
    pub collision_count: Option<i32>,
}

fn reference(r: &ControllerRevision) -> RevisionRef {
    let meta = r.metadata.as_ref();
    RevisionRef {
        namespace: meta.map_or_else(String::new, |m| m.namespace.clone()),
        name: r.name().to_string(),
        uid: meta.map_or_else(String::new, |m| m.uid.clone()),
    }
}

fn matches(revision: &ControllerRevision, expected: &Map<String, Value>) -> bool {
    revision
        .data
        .as_ref()
        .is_some_and(|d| json_equal_maps(d, expected))
}

fn json_equal_maps(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| json_equal(v, w)))
}

/// Finds or plans the current revision of `ds`'s `template` among `revisions` (all revisions of
/// the namespace), claiming them with `selector` on the way.
pub(super) fn construct(
    ds: &DaemonSet,
    template: &PodTemplateSpec,
    selector: &Selector,
    revisions: &[ControllerRevision],
) -> History {
    let ds_meta = ds.metadata.clone().unwrap_or_default();
    let mut out = History {
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        ..Default::default()
    };
    let expected = revision_data(template);

    let mut owned: Vec<&ControllerRevision> = Vec::new();
    for r in revisions {
        match claim(
            &ds_meta.uid,
            &ds_meta.namespace,
            selector,
            r.metadata.as_ref(),
        ) {
            Claim::Owned => owned.push(r),
            Claim::Adopt => {
                out.adopt.push(reference(r));
                owned.push(r);
            }
            Claim::Release => out.release.push(reference(r)),
            Claim::Ignore => {}
        }
    }

    // Updates by revision name, so a label fix and a revision bump become one write.
    let mut updates: BTreeMap<String, ControllerRevision> = BTreeMap::new();
    let mut current: Vec<&ControllerRevision> = Vec::new();
    for r in owned {
        let has_label = r
            .metadata
            .as_ref()
            .is_some_and(|m| m.labels.contains_key(CONTROLLER_REVISION_HASH_LABEL));
        if !has_label {
            let mut fixed = r.clone();
            let meta = fixed.metadata.get_or_insert_with(ObjectMeta::default);
            meta.labels.insert(
                CONTROLLER_REVISION_HASH_LABEL.to_string(),
                meta.name.clone(),
            );
            updates.insert(r.name().to_string(), fixed);
        }
        if matches(r, &expected) {
            current.push(r);
        } else {
            out.old.push(OldRevision {
                reference: reference(r),
                revision: r.revision,
                hash: revision_hash(r),
            });
        }
    }
    let next_revision = out.old.iter().map(|o| o.revision).max().unwrap_or(0).max(0) + 1;

    if current.is_empty() {
        snapshot(
            ds,
            &ds_meta,
            template,
            revisions,
            &expected,
            next_revision,
            &mut out,
        );
    } else {
        current.sort_by(|a, b| {
            a.revision
                .cmp(&b.revision)
                .then_with(|| a.name().cmp(b.name()))
        });
        let Some((keep, duplicates)) = current.split_last() else {
            return out;
        };
        out.hash = revision_hash(keep);
        out.current = keep.name().to_string();
        for dup in duplicates {
            updates.remove(dup.name());
            out.delete.push(reference(dup));
            let dup_hash = revision_hash(dup);
            if dup_hash != out.hash {
                out.relabel_from.insert(dup_hash);
            }
        }
        if keep.revision < next_revision {
            let bumped = updates
                .entry(keep.name().to_string())
                .or_insert_with(|| (*keep).clone());
            bumped.revision = next_revision;
        }
    }
    out.update = updates.into_values().collect();
    out
}

/// Plans the creation of the current revision (Kubernetes: `snapshot`), resolving name
/// collisions by bumping the collision count.
fn snapshot(
    ds: &DaemonSet,
    ds_meta: &ObjectMeta,
    template: &PodTemplateSpec,
    revisions: &[ControllerRevision],
    expected: &Map<String, Value>,
    revision: i64,
    out: &mut History,
) {
    let mut collision_count = out.collision_count;
    for _ in 0..=MAX_COLLISION_BUMPS {
        let hash = template_hash(template, collision_count);
        let name = format!("{}-{hash}", ds_meta.name);
        let existing = revisions.iter().find(|r| {
            r.name() == name
                && r.metadata
                    .as_ref()
                    .is_some_and(|m| m.namespace == ds_meta.namespace)
        });
        match existing {
            Some(r) if matches(r, expected) => {
                // Created earlier (e.g. before a restart) but not ours by claim: use it.
                out.hash = r
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.get(CONTROLLER_REVISION_HASH_LABEL))
                    .cloned()
                    .unwrap_or(hash);
                out.current = name;
                out.collision_count = collision_count;
                return;
            }
            Some(_) => {
                collision_count = Some(collision_count.unwrap_or(0).saturating_add(1));
            }
            None => {
                let mut labels = template
                    .metadata
                    .as_ref()
                    .map(|m| m.labels.clone())
                    .unwrap_or_default();
                labels.insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), hash.clone());
                out.create = Some(ControllerRevision {
                    api_version: "apps/v1".to_string(),
                    kind: "ControllerRevision".to_string(),
                    metadata: Some(ObjectMeta {
                        name: name.clone(),
                        namespace: ds_meta.namespace.clone(),
                        labels,
                        annotations: ds_meta.annotations.clone(),
                        owner_references: vec![controller_ref(ds)],
                        ..Default::default()
                    }),
                    data: Some(expected.clone()),
                    revision,
                    extra_fields: Default::default(),
                });
                out.hash = hash;
                out.current = name;
                out.collision_count = collision_count;
                return;
            }
        }
    }
}

/// The old revisions to delete so that at most `limit` remain (Kubernetes: `cleanupHistory`):
/// oldest revision first, never one whose hash a pod of the DaemonSet still carries (pods that
/// are terminal and being deleted included).
pub(super) fn cleanup(
    old: &[OldRevision],
    limit: i32,
    live_hashes: &BTreeSet<String>,
) -> Vec<RevisionRef> {
    let keep = usize::try_from(limit.max(0)).unwrap_or(0);
    let mut to_kill = old.len().saturating_sub(keep);
    if to_kill == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<&OldRevision> = old.iter().collect();
    sorted.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.reference.name.cmp(&b.reference.name))
    });
    let mut out = Vec::new();
    for r in sorted {
        if to_kill == 0 {
            break;
        }
        if live_hashes.contains(&r.hash) {
            continue;
        }
        out.push(r.reference.clone());
        to_kill -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: [("app".to_string(), "x".to_string())].into_iter().collect(),
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
        }
    }

    #[test]
    fn template_hash_is_stable_and_uses_the_safe_alphabet() {
        let a = template_hash(&template("img:1"), None);
        assert_eq!(a, template_hash(&template("img:1"), None));
        assert!(!a.is_empty() && a.len() <= 10);
        assert!(a.bytes().all(|b| NAME_ALPHABET.contains(&b)), "{a}");
        assert_ne!(a, template_hash(&template("img:2"), None));
        assert_ne!(a, template_hash(&template("img:1"), Some(0)));
        assert_ne!(
            template_hash(&template("img:1"), Some(0)),
            template_hash(&template("img:1"), Some(1))
        );
    }

    #[test]
    fn safe_encode_maps_digits_like_kubernetes() {
        // '0' is 48, 48 % 27 = 21 → '4'; '9' is 57, 57 % 27 = 3 → 'f'.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn fnv32a_matches_reference_vectors() {
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn revision_data_wraps_the_template_in_a_replace_patch() {
        let data = revision_data(&template("img"));
        let v = Value::Object(data);
        assert_eq!(v["spec"]["template"]["$patch"], "replace");
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0]["image"],
            "img"
        );
    }

    fn old(name: &str, revision: i64, hash: &str) -> OldRevision {
        OldRevision {
            reference: RevisionRef {
                namespace: "ns".into(),
                name: name.into(),
                uid: String::new(),
            },
            revision,
            hash: hash.into(),
        }
    }

    #[test]
    fn cleanup_deletes_oldest_first_and_skips_live_hashes() {
        let olds = [
            old("r3", 3, "h3"),
            old("r1", 1, "h1"),
            old("r2", 2, "h2"),
            old("r4", 4, "h4"),
        ];
        let live: BTreeSet<String> = ["h1".to_string()].into_iter().collect();
        let deleted: Vec<String> = cleanup(&olds, 2, &live)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(deleted, ["r2", "r3"]);
        assert!(cleanup(&olds, 4, &live).is_empty());
        let all: Vec<String> = cleanup(&olds, 0, &BTreeSet::new())
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(all, ["r1", "r2", "r3", "r4"]);
    }
}
