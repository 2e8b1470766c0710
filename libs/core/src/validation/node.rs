//! Node taints and taint effects (Kubernetes: `validateNodeTaints` and `validateTaintEffect` in
//! `pkg/apis/core/validation/validation.go`). The registry validates the taints of a node and
//! of a `kubectl taint`-like update with them; pod tolerations share [`validate_taint_effect`].

use super::meta::validate_label_name;
use super::{FieldError, Path, go_quote};
use crate::labels::is_label_value;
use crate::model::Taint;
use crate::scheduling::{EFFECT_NO_EXECUTE, EFFECT_NO_SCHEDULE, EFFECT_PREFER_NO_SCHEDULE};

/// The taint effects Kubernetes accepts, in its order.
pub const TAINT_EFFECTS: [&str; 3] = [
    EFFECT_NO_SCHEDULE,
    EFFECT_PREFER_NO_SCHEDULE,
    EFFECT_NO_EXECUTE,
];

/// Kubernetes' `validateTaintEffect`: `Required` when empty unless `allow_empty` (an empty
/// toleration effect, or a taint removal without effect, means every effect), else one of
/// [`TAINT_EFFECTS`].
pub fn validate_taint_effect(
    effect: &str,
    allow_empty: bool,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if effect.is_empty() {
        if !allow_empty {
            errs.push(FieldError::required(path, ""));
        }
        return;
    }
    if !TAINT_EFFECTS.contains(&effect) {
        errs.push(FieldError::not_supported(
            path,
            go_quote(effect),
            &TAINT_EFFECTS,
        ));
    }
}

/// Kubernetes' `validateNodeTaints`: each key a qualified name, each value a label value (one
/// error joining the messages with `;`), each effect supported, and no two taints with the same
/// key and effect (`Duplicate` at the later one).
pub fn validate_node_taints(taints: &[Taint], path: &Path, errs: &mut Vec<FieldError>) {
    let mut seen: Vec<(&str, &str)> = Vec::with_capacity(taints.len());
    for (i, taint) in taints.iter().enumerate() {
        let at = path.index(i);
        validate_label_name(&taint.key, &at.child("key"), errs);
        let value_errors = is_label_value(&taint.value);
        if !value_errors.is_empty() {
            errs.push(FieldError::invalid(
                &at.child("value"),
                go_quote(&taint.value),
                value_errors.join(";"),
            ));
        }
        validate_taint_effect(&taint.effect, false, &at.child("effect"), errs);
        let pair = (taint.key.as_str(), taint.effect.as_str());
        if seen.contains(&pair) {
            errs.push(FieldError {
                detail: "taints must be unique by key and effect pair".to_owned(),
                ..FieldError::duplicate(&at, go_taint(taint))
            });
        } else {
            seen.push(pair);
        }
    }
}

/// A taint as Go prints a `core.Taint` in a `Duplicate` error.
fn go_taint(taint: &Taint) -> String {
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}}}",
        go_quote(&taint.key),
        go_quote(&taint.value),
        go_quote(&taint.effect)
    )
}
