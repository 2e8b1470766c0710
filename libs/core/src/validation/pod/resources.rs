//! Container resources (Kubernetes: `ValidateResourceRequirements` and
//! `validateContainerResourceName`): resource names, quantities, and requests within limits.

use std::collections::BTreeMap;

use crate::labels::is_qualified_name;
use crate::model::ResourceRequirements;
use crate::quantity::Quantity;
use crate::validation::{FieldError, Path, go_quote};

const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_huge_page(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name)
        && !name.starts_with("requests.")
        && is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_huge_page(name)
}

/// Kubernetes' `validateContainerResourceName` (values print unquoted: `ResourceName` is a
/// `fmt.Stringer`).
fn validate_container_resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    let msgs = is_qualified_name(name);
    if !msgs.is_empty() {
        for msg in msgs {
            errs.push(FieldError::invalid(path, name, msg));
        }
    } else if !name.contains('/')
        && !STANDARD_RESOURCES.contains(&name)
        && !is_huge_page(name)
        && !name.starts_with("requests.hugepages-")
    {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !is_huge_page(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

fn validate_quantity_value(name: &str, q: &Quantity, path: &Path, errs: &mut Vec<FieldError>) {
    if q.is_negative() {
        errs.push(FieldError::invalid(
            path,
            go_quote(&q.canonical()),
            "must be greater than or equal to 0",
        ));
    }
    if is_extended_resource(name) && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(
            path,
            q.canonical(),
            "must be an integer",
        ));
    }
}

/// Kubernetes' `ValidateContainerResourceRequirements`: names, quantities, requests ≤ limits.
pub(super) fn validate_resources(
    r: &ResourceRequirements,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let (mut lim_cpu_mem, mut req_cpu_mem, mut huge) = (false, false, false);
    for (name, raw) in &r.limits {
        let p = lim_path.key(name);
        validate_container_resource_name(name, &p, errs);
        match Quantity::parse(raw) {
            Ok(q) => {
                validate_quantity_value(name, &q, &p, errs);
                limits.insert(name, q);
            }
            Err(e) => errs.push(FieldError::invalid(&p, go_quote(raw), e.to_string())),
        }
        huge |= is_huge_page(name);
        lim_cpu_mem |= matches!(name.as_str(), "cpu" | "memory");
    }
    for (name, raw) in &r.requests {
        let p = req_path.key(name);
        validate_container_resource_name(name, &p, errs);
        let q = match Quantity::parse(raw) {
            Ok(q) => q,
            Err(e) => {
                errs.push(FieldError::invalid(&p, go_quote(raw), e.to_string()));
                continue;
            }
        };
        validate_quantity_value(name, &q, &p, errs);
        if let Some(limit) = limits.get(name.as_str()) {
            if q != *limit && !is_overcommit_allowed(name) {
                errs.push(FieldError::invalid(
                    &req_path,
                    go_quote(&q.canonical()),
                    format!("must be equal to {name} limit of {limit}"),
                ));
            } else if q > *limit {
                errs.push(FieldError::invalid(
                    &req_path,
                    go_quote(&q.canonical()),
                    format!("must be less than or equal to {name} limit of {limit}"),
                ));
            }
        } else if !r.limits.contains_key(name) && !is_overcommit_allowed(name) {
            errs.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        huge |= is_huge_page(name);
        req_cpu_mem |= matches!(name.as_str(), "cpu" | "memory");
    }
    if huge && !lim_cpu_mem && !req_cpu_mem {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
}
