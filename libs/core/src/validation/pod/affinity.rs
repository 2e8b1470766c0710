//! Node selectors of `spec.affinity.nodeAffinity` with the current rules (Kubernetes:
//! `ValidateNodeSelector`, `ValidateNodeSelectorRequirement`,
//! `ValidateNodeFieldSelectorRequirement`).

use crate::labels::{is_label_value, name_is_dns_subdomain};
use crate::model::{NodeSelector, NodeSelectorRequirement};
use crate::validation::meta::validate_label_name;
use crate::validation::{FieldError, Path, go_quote};

pub(super) fn validate_node_selector(
    selector: &NodeSelector,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let terms_path = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        errs.push(FieldError::required(
            &terms_path,
            "must have at least one node selector term",
        ));
        return;
    }
    for (i, term) in selector.node_selector_terms.iter().enumerate() {
        let tp = terms_path.index(i);
        for (j, req) in term.match_expressions.iter().enumerate() {
            validate_node_selector_requirement(
                req,
                true,
                &tp.child("matchExpressions").index(j),
                errs,
            );
        }
        for (j, req) in term.match_fields.iter().enumerate() {
            validate_node_field_selector_requirement(req, &tp.child("matchFields").index(j), errs);
        }
    }
}

/// Kubernetes' `ValidateNodeSelectorRequirement`; `check_values` adds the current rule that
/// each value is a label value (the 1.5 rules for the annotation did not have it).
pub(super) fn validate_node_selector_requirement(
    req: &NodeSelectorRequirement,
    check_values: bool,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if req.values.is_empty() {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !req.values.is_empty() {
                errs.push(FieldError::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if req.values.len() != 1 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            go_quote(other),
            "not a valid selector operator",
        )),
    }
    validate_label_name(&req.key, &path.child("key"), errs);
    if check_values {
        for (i, v) in req.values.iter().enumerate() {
            for msg in is_label_value(v) {
                errs.push(FieldError::invalid(
                    &path.child("values").index(i),
                    go_quote(v),
                    msg,
                ));
            }
        }
    }
}

fn validate_node_field_selector_requirement(
    req: &NodeSelectorRequirement,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if req.values.len() != 1 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            go_quote(other),
            "not a valid selector operator",
        )),
    }
    if req.key == "metadata.name" {
        for (i, v) in req.values.iter().enumerate() {
            for msg in name_is_dns_subdomain(v, false) {
                errs.push(FieldError::invalid(
                    &path.child("values").index(i),
                    go_quote(v),
                    msg,
                ));
            }
        }
    } else {
        errs.push(FieldError::invalid(
            &path.child("key"),
            go_quote(&req.key),
            "not a valid field selector key",
        ));
    }
}
