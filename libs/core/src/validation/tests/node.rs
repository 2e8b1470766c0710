//! Tests of the node checks the registry shares with admission (Kubernetes: the taint cases of
//! `TestValidateNode` in `pkg/apis/core/validation/validation_test.go`): taint keys, values,
//! effects and uniqueness, and the effect rule tolerations share.

use super::*;
use crate::model::Taint;

fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: value.into(),
        effect: effect.into(),
        time_added: None,
    }
}

#[test]
fn node_taints_need_a_key_a_label_value_a_supported_effect_and_uniqueness() {
    let mut errs = Vec::new();
    validate_node_taints(
        &[
            taint("dedicated", "infra", "NoSchedule"),
            taint("", "v", "NoExecute"),
            taint("k", "bad value", ""),
            taint("dedicated", "other", "NoSchedule"),
            taint("k2", "", "Sometimes"),
        ],
        &Path::new("spec.taints"),
        &mut errs,
    );
    let messages: Vec<String> = errs.iter().map(ToString::to_string).collect();
    // An empty key gets both of `IsQualifiedName`'s messages, as in Kubernetes.
    assert_eq!(messages.len(), 6, "{messages:#?}");
    assert!(
        messages[0]
            .starts_with("spec.taints[1].key: Invalid value: \"\": name part must be non-empty")
    );
    assert!(
        messages[1]
            .starts_with("spec.taints[1].key: Invalid value: \"\": name part must consist of")
    );
    assert!(messages[2].starts_with("spec.taints[2].value: Invalid value: \"bad value\": "));
    assert_eq!(messages[3], "spec.taints[2].effect: Required value");
    assert_eq!(
        messages[4],
        "spec.taints[3]: Duplicate value: core.Taint{Key:\"dedicated\", Value:\"other\", Effect:\"NoSchedule\"}: taints must be unique by key and effect pair"
    );
    assert_eq!(
        messages[5],
        "spec.taints[4].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""
    );
}

#[test]
fn an_empty_effect_is_allowed_only_where_it_means_every_effect() {
    let at = Path::new("remove_taints").index(0).child("effect");
    let mut errs = Vec::new();
    validate_taint_effect("", true, &at, &mut errs);
    assert!(errs.is_empty());
    validate_taint_effect("", false, &at, &mut errs);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].to_string(),
        "remove_taints[0].effect: Required value"
    );
}
