//! Conversions of the pod objects of `pod.proto`: the pod, its template and its spec. The
//! containers, scheduling and status messages nested in them are in the sibling modules
//! [`super::container`], [`super::affinity`] and [`super::pod_status`].

use everynode_core::model;

use super::{extra_from_struct, extra_to_struct, opt, vec};
use crate::v1;

impl From<v1::Pod> for model::Pod {
    fn from(value: v1::Pod) -> Self {
        let v1::Pod {
            api_version,
            kind,
            metadata,
            spec,
            status,
            extra_fields,
        } = value;
        Self {
            api_version,
            kind,
            metadata: opt(metadata),
            spec: opt(spec),
            status: opt(status),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Pod> for v1::Pod {
    fn from(value: model::Pod) -> Self {
        let model::Pod {
            api_version,
            kind,
            metadata,
            spec,
            status,
            extra_fields,
        } = value;
        Self {
            api_version,
            kind,
            metadata: opt(metadata),
            spec: opt(spec),
            status: opt(status),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::PodTemplateSpec> for model::PodTemplateSpec {
    fn from(value: v1::PodTemplateSpec) -> Self {
        let v1::PodTemplateSpec {
            metadata,
            spec,
            extra_fields,
        } = value;
        Self {
            metadata: opt(metadata),
            spec: opt(spec),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::PodTemplateSpec> for v1::PodTemplateSpec {
    fn from(value: model::PodTemplateSpec) -> Self {
        let model::PodTemplateSpec {
            metadata,
            spec,
            extra_fields,
        } = value;
        Self {
            metadata: opt(metadata),
            spec: opt(spec),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::PodSpec> for model::PodSpec {
    fn from(value: v1::PodSpec) -> Self {
        let v1::PodSpec {
            volumes,
            init_containers,
            containers,
            ephemeral_containers,
            restart_policy,
            termination_grace_period_seconds,
            active_deadline_seconds,
            dns_policy,
            node_selector,
            service_account_name,
            service_account,
            node_name,
            host_network,
            host_pid,
            host_ipc,
            affinity,
            scheduler_name,
            tolerations,
            priority_class_name,
            priority,
            security_context,
            extra_fields,
        } = value;
        Self {
            volumes: vec(volumes),
            init_containers: vec(init_containers),
            containers: vec(containers),
            ephemeral_containers: vec(ephemeral_containers),
            restart_policy,
            termination_grace_period_seconds,
            active_deadline_seconds,
            dns_policy,
            node_selector,
            service_account_name,
            service_account,
            node_name,
            host_network,
            host_pid,
            host_ipc,
            affinity: opt(affinity),
            scheduler_name,
            tolerations: vec(tolerations),
            priority_class_name,
            priority,
            security_context: opt(security_context),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::PodSpec> for v1::PodSpec {
    fn from(value: model::PodSpec) -> Self {
        let model::PodSpec {
            volumes,
            init_containers,
            containers,
            ephemeral_containers,
            restart_policy,
            termination_grace_period_seconds,
            active_deadline_seconds,
            dns_policy,
            node_selector,
            service_account_name,
            service_account,
            node_name,
            host_network,
            host_pid,
            host_ipc,
            affinity,
            scheduler_name,
            tolerations,
            priority_class_name,
            priority,
            security_context,
            extra_fields,
        } = value;
        Self {
            volumes: vec(volumes),
            init_containers: vec(init_containers),
            containers: vec(containers),
            ephemeral_containers: vec(ephemeral_containers),
            restart_policy,
            termination_grace_period_seconds,
            active_deadline_seconds,
            dns_policy,
            node_selector,
            service_account_name,
            service_account,
            node_name,
            host_network,
            host_pid,
            host_ipc,
            affinity: opt(affinity),
            scheduler_name,
            tolerations: vec(tolerations),
            priority_class_name,
            priority,
            security_context: opt(security_context),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}
