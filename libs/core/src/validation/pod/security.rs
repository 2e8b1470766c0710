//! Security contexts and the typed volume sources (Kubernetes: `ValidatePodSecurityContext`,
//! `ValidateSecurityContext`, `validateHostPathVolumeSource` and the `emptyDir` rules of
//! `validateVolumeSource` in `pkg/apis/core/validation/validation.go`).

use crate::labels::inclusive_range_error;
use crate::model::{
    EmptyDirVolumeSource, HostPathVolumeSource, PodSecurityContext, SecurityContext, Volume,
};
use crate::quantity::Quantity;
use crate::validation::{FieldError, Path, go_quote};

/// Largest valid UID and GID (Kubernetes: `maxUserID`, `maxGroupID`).
pub const MAX_ID: i64 = 2_147_483_647;

/// The `hostPath.type` values Kubernetes knows.
const HOST_PATH_TYPES: [&str; 8] = [
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
];

fn validate_id(id: Option<i64>, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(id) = id
        && !(0..=MAX_ID).contains(&id)
    {
        errs.push(FieldError::invalid(
            path,
            id.to_string(),
            inclusive_range_error(0, MAX_ID),
        ));
    }
}

/// Kubernetes' `ValidatePodSecurityContext` for the typed fields.
pub(super) fn validate_pod_security_context(
    sc: &PodSecurityContext,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    validate_id(sc.run_as_user, &path.child("runAsUser"), errs);
    validate_id(sc.run_as_group, &path.child("runAsGroup"), errs);
    validate_id(sc.fs_group, &path.child("fsGroup"), errs);
    for (i, group) in sc.supplemental_groups.iter().enumerate() {
        validate_id(
            Some(*group),
            &path.child("supplementalGroups").index(i),
            errs,
        );
    }
    if let Some(policy) = &sc.fs_group_change_policy
        && !matches!(policy.as_str(), "OnRootMismatch" | "Always")
    {
        errs.push(FieldError::not_supported(
            &path.child("fsGroupChangePolicy"),
            go_quote(policy),
            &["OnRootMismatch", "Always"],
        ));
    }
    if let Some(policy) = &sc.supplemental_groups_policy
        && !matches!(policy.as_str(), "Merge" | "Strict")
    {
        errs.push(FieldError::not_supported(
            &path.child("supplementalGroupsPolicy"),
            go_quote(policy),
            &["Merge", "Strict"],
        ));
    }
}

/// Kubernetes' `ValidateSecurityContext` (a container's) for the typed fields.
pub(super) fn validate_security_context(
    sc: &SecurityContext,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    validate_id(sc.run_as_user, &path.child("runAsUser"), errs);
    validate_id(sc.run_as_group, &path.child("runAsGroup"), errs);
    if let Some(proc_mount) = &sc.proc_mount
        && !matches!(proc_mount.as_str(), "Default" | "Unmasked")
    {
        errs.push(FieldError::not_supported(
            &path.child("procMount"),
            go_quote(proc_mount),
            &["Default", "Unmasked"],
        ));
    }
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            errs.push(FieldError::invalid(
                path,
                "{...}",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let adds_sys_admin = sc.capabilities.as_ref().is_some_and(|c| {
            c.add
                .iter()
                .any(|a| a == "SYS_ADMIN" || a == "CAP_SYS_ADMIN")
        });
        if adds_sys_admin {
            errs.push(FieldError::invalid(
                path,
                "{...}",
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
}

/// The typed sources of volume `v` at `path` (`spec.volumes[i]`).
pub(super) fn validate_volume_source(v: &Volume, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(host_path) = &v.host_path {
        validate_host_path(host_path, &path.child("hostPath"), errs);
    }
    if let Some(empty_dir) = &v.empty_dir {
        if v.host_path.is_some() {
            errs.push(FieldError::forbidden(
                &path.child("emptyDir"),
                "may not specify more than 1 volume type",
            ));
        }
        validate_empty_dir(empty_dir, &path.child("emptyDir"), errs);
    }
}

fn validate_host_path(source: &HostPathVolumeSource, path: &Path, errs: &mut Vec<FieldError>) {
    let path_path = path.child("path");
    if source.path.is_empty() {
        errs.push(FieldError::required(&path_path, ""));
    } else if source.path.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(
            &path_path,
            go_quote(&source.path),
            "must not contain '..'",
        ));
    }
    if let Some(type_) = &source.type_
        && !HOST_PATH_TYPES.contains(&type_.as_str())
    {
        errs.push(FieldError::not_supported(
            &path.child("type"),
            go_quote(type_),
            &HOST_PATH_TYPES[1..],
        ));
    }
}

fn validate_empty_dir(source: &EmptyDirVolumeSource, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(limit) = &source.size_limit else {
        return;
    };
    let limit_path = path.child("sizeLimit");
    match Quantity::parse(limit) {
        Ok(q) if q.is_negative() => errs.push(FieldError::forbidden(
            &limit_path,
            "SizeLimit field must be a valid resource quantity",
        )),
        Ok(_) => {}
        Err(err) => errs.push(FieldError::invalid(
            &limit_path,
            go_quote(limit),
            err.to_string(),
        )),
    }
}
