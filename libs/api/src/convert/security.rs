//! Conversions of the security messages of `pod.proto` (pod and container security contexts,
//! capabilities) and of the typed volume sources (`hostPath`, `emptyDir`).

use everynode_core::model;

use super::{extra_from_struct, extra_to_struct, opt};
use crate::v1;

/// Writes both directions of a conversion between a message and its model mirror whose fields
/// have the same names and convert field by field with the given function.
macro_rules! mirror {
    ($proto:ident <=> $model:ident { $($field:ident: $conv:expr),* $(,)? }) => {
        impl From<v1::$proto> for model::$model {
            fn from(value: v1::$proto) -> Self {
                let v1::$proto { $($field,)* extra_fields } = value;
                Self {
                    $($field: $conv($field),)*
                    extra_fields: extra_from_struct(extra_fields),
                }
            }
        }

        impl From<model::$model> for v1::$proto {
            fn from(value: model::$model) -> Self {
                let model::$model { $($field,)* extra_fields } = value;
                Self {
                    $($field: $conv($field),)*
                    extra_fields: extra_to_struct(extra_fields),
                }
            }
        }
    };
}

fn same<T>(value: T) -> T {
    value
}

mirror!(PodSecurityContext <=> PodSecurityContext {
    run_as_user: same,
    run_as_group: same,
    run_as_non_root: same,
    supplemental_groups: same,
    fs_group: same,
    fs_group_change_policy: same,
    supplemental_groups_policy: same,
});

mirror!(SecurityContext <=> SecurityContext {
    capabilities: opt,
    privileged: same,
    run_as_user: same,
    run_as_group: same,
    run_as_non_root: same,
    read_only_root_filesystem: same,
    allow_privilege_escalation: same,
    proc_mount: same,
});

mirror!(Capabilities <=> Capabilities {
    add: same,
    drop: same,
});

mirror!(EmptyDirVolumeSource <=> EmptyDirVolumeSource {
    medium: same,
    size_limit: same,
});

impl From<v1::HostPathVolumeSource> for model::HostPathVolumeSource {
    fn from(value: v1::HostPathVolumeSource) -> Self {
        let v1::HostPathVolumeSource {
            path,
            r#type,
            extra_fields,
        } = value;
        Self {
            path,
            type_: r#type,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::HostPathVolumeSource> for v1::HostPathVolumeSource {
    fn from(value: model::HostPathVolumeSource) -> Self {
        let model::HostPathVolumeSource {
            path,
            type_,
            extra_fields,
        } = value;
        Self {
            path,
            r#type: type_,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}
