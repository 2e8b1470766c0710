//! Conversions of `node.proto`: the node, its spec and taints, its status, conditions, addresses
//! and system info.

use everynode_core::model;

use super::{extra_from_struct, extra_to_struct, opt, ts_in, ts_out, vec};
use crate::v1;

impl From<v1::Node> for model::Node {
    fn from(value: v1::Node) -> Self {
        let v1::Node {
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

impl From<model::Node> for v1::Node {
    fn from(value: model::Node) -> Self {
        let model::Node {
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

impl From<v1::NodeSpec> for model::NodeSpec {
    fn from(value: v1::NodeSpec) -> Self {
        let v1::NodeSpec {
            pod_cidr,
            provider_id,
            unschedulable,
            taints,
            extra_fields,
        } = value;
        Self {
            pod_cidr,
            provider_id,
            unschedulable,
            taints: vec(taints),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeSpec> for v1::NodeSpec {
    fn from(value: model::NodeSpec) -> Self {
        let model::NodeSpec {
            pod_cidr,
            provider_id,
            unschedulable,
            taints,
            extra_fields,
        } = value;
        Self {
            pod_cidr,
            provider_id,
            unschedulable,
            taints: vec(taints),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::Taint> for model::Taint {
    fn from(value: v1::Taint) -> Self {
        let v1::Taint {
            key,
            value,
            effect,
            time_added,
        } = value;
        Self {
            key,
            value,
            effect,
            time_added: ts_in(time_added),
        }
    }
}

impl From<model::Taint> for v1::Taint {
    fn from(value: model::Taint) -> Self {
        let model::Taint {
            key,
            value,
            effect,
            time_added,
        } = value;
        Self {
            key,
            value,
            effect,
            time_added: ts_out(time_added),
        }
    }
}

impl From<v1::NodeStatus> for model::NodeStatus {
    fn from(value: v1::NodeStatus) -> Self {
        let v1::NodeStatus {
            capacity,
            allocatable,
            conditions,
            addresses,
            node_info,
            extra_fields,
        } = value;
        Self {
            capacity,
            allocatable,
            conditions: vec(conditions),
            addresses: vec(addresses),
            node_info: opt(node_info),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeStatus> for v1::NodeStatus {
    fn from(value: model::NodeStatus) -> Self {
        let model::NodeStatus {
            capacity,
            allocatable,
            conditions,
            addresses,
            node_info,
            extra_fields,
        } = value;
        Self {
            capacity,
            allocatable,
            conditions: vec(conditions),
            addresses: vec(addresses),
            node_info: opt(node_info),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeCondition> for model::NodeCondition {
    fn from(value: v1::NodeCondition) -> Self {
        let v1::NodeCondition {
            r#type,
            status,
            last_heartbeat_time,
            last_transition_time,
            reason,
            message,
        } = value;
        Self {
            type_: r#type,
            status,
            last_heartbeat_time: ts_in(last_heartbeat_time),
            last_transition_time: ts_in(last_transition_time),
            reason,
            message,
        }
    }
}

impl From<model::NodeCondition> for v1::NodeCondition {
    fn from(value: model::NodeCondition) -> Self {
        let model::NodeCondition {
            type_,
            status,
            last_heartbeat_time,
            last_transition_time,
            reason,
            message,
        } = value;
        Self {
            r#type: type_,
            status,
            last_heartbeat_time: ts_out(last_heartbeat_time),
            last_transition_time: ts_out(last_transition_time),
            reason,
            message,
        }
    }
}

impl From<v1::NodeAddress> for model::NodeAddress {
    fn from(value: v1::NodeAddress) -> Self {
        let v1::NodeAddress { r#type, address } = value;
        Self {
            type_: r#type,
            address,
        }
    }
}

impl From<model::NodeAddress> for v1::NodeAddress {
    fn from(value: model::NodeAddress) -> Self {
        let model::NodeAddress { type_, address } = value;
        Self {
            r#type: type_,
            address,
        }
    }
}

impl From<v1::NodeSystemInfo> for model::NodeSystemInfo {
    fn from(value: v1::NodeSystemInfo) -> Self {
        let v1::NodeSystemInfo {
            machine_id,
            system_uuid,
            boot_id,
            kernel_version,
            os_image,
            container_runtime_version,
            kubelet_version,
            kube_proxy_version,
            operating_system,
            architecture,
        } = value;
        Self {
            machine_id,
            system_uuid,
            boot_id,
            kernel_version,
            os_image,
            container_runtime_version,
            kubelet_version,
            kube_proxy_version,
            operating_system,
            architecture,
        }
    }
}

impl From<model::NodeSystemInfo> for v1::NodeSystemInfo {
    fn from(value: model::NodeSystemInfo) -> Self {
        let model::NodeSystemInfo {
            machine_id,
            system_uuid,
            boot_id,
            kernel_version,
            os_image,
            container_runtime_version,
            kubelet_version,
            kube_proxy_version,
            operating_system,
            architecture,
        } = value;
        Self {
            machine_id,
            system_uuid,
            boot_id,
            kernel_version,
            os_image,
            container_runtime_version,
            kubelet_version,
            kube_proxy_version,
            operating_system,
            architecture,
        }
    }
}
