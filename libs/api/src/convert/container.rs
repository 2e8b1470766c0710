//! Conversions of the container messages of `pod.proto`: containers, ports, environment,
//! resources, volumes and volume mounts, probes and their actions.

use everynode_core::model;

use super::{extra_from_struct, extra_to_struct, ios_in, ios_out, opt, vec};
use crate::v1;

impl From<v1::Container> for model::Container {
    fn from(value: v1::Container) -> Self {
        let v1::Container {
            name,
            image,
            command,
            args,
            working_dir,
            ports,
            env,
            resources,
            volume_mounts,
            liveness_probe,
            readiness_probe,
            startup_probe,
            termination_message_path,
            termination_message_policy,
            image_pull_policy,
            restart_policy,
            security_context,
            extra_fields,
        } = value;
        Self {
            name,
            image,
            command,
            args,
            working_dir,
            ports: vec(ports),
            env: vec(env),
            resources: opt(resources),
            volume_mounts: vec(volume_mounts),
            liveness_probe: opt(liveness_probe),
            readiness_probe: opt(readiness_probe),
            startup_probe: opt(startup_probe),
            termination_message_path,
            termination_message_policy,
            image_pull_policy,
            restart_policy,
            security_context: opt(security_context),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Container> for v1::Container {
    fn from(value: model::Container) -> Self {
        let model::Container {
            name,
            image,
            command,
            args,
            working_dir,
            ports,
            env,
            resources,
            volume_mounts,
            liveness_probe,
            readiness_probe,
            startup_probe,
            termination_message_path,
            termination_message_policy,
            image_pull_policy,
            restart_policy,
            security_context,
            extra_fields,
        } = value;
        Self {
            name,
            image,
            command,
            args,
            working_dir,
            ports: vec(ports),
            env: vec(env),
            resources: opt(resources),
            volume_mounts: vec(volume_mounts),
            liveness_probe: opt(liveness_probe),
            readiness_probe: opt(readiness_probe),
            startup_probe: opt(startup_probe),
            termination_message_path,
            termination_message_policy,
            image_pull_policy,
            restart_policy,
            security_context: opt(security_context),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::ContainerPort> for model::ContainerPort {
    fn from(value: v1::ContainerPort) -> Self {
        let v1::ContainerPort {
            name,
            host_port,
            container_port,
            protocol,
            host_ip,
            extra_fields,
        } = value;
        Self {
            name,
            host_port,
            container_port,
            protocol,
            host_ip,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ContainerPort> for v1::ContainerPort {
    fn from(value: model::ContainerPort) -> Self {
        let model::ContainerPort {
            name,
            host_port,
            container_port,
            protocol,
            host_ip,
            extra_fields,
        } = value;
        Self {
            name,
            host_port,
            container_port,
            protocol,
            host_ip,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::EnvVar> for model::EnvVar {
    fn from(value: v1::EnvVar) -> Self {
        let v1::EnvVar {
            name,
            value,
            value_from,
            extra_fields,
        } = value;
        Self {
            name,
            value,
            value_from: opt(value_from),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::EnvVar> for v1::EnvVar {
    fn from(value: model::EnvVar) -> Self {
        let model::EnvVar {
            name,
            value,
            value_from,
            extra_fields,
        } = value;
        Self {
            name,
            value,
            value_from: opt(value_from),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::EnvVarSource> for model::EnvVarSource {
    fn from(value: v1::EnvVarSource) -> Self {
        let v1::EnvVarSource {
            field_ref,
            resource_field_ref,
            config_map_key_ref,
            secret_key_ref,
            extra_fields,
        } = value;
        Self {
            field_ref: opt(field_ref),
            resource_field_ref: opt(resource_field_ref),
            config_map_key_ref: opt(config_map_key_ref),
            secret_key_ref: opt(secret_key_ref),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::EnvVarSource> for v1::EnvVarSource {
    fn from(value: model::EnvVarSource) -> Self {
        let model::EnvVarSource {
            field_ref,
            resource_field_ref,
            config_map_key_ref,
            secret_key_ref,
            extra_fields,
        } = value;
        Self {
            field_ref: opt(field_ref),
            resource_field_ref: opt(resource_field_ref),
            config_map_key_ref: opt(config_map_key_ref),
            secret_key_ref: opt(secret_key_ref),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::ObjectFieldSelector> for model::ObjectFieldSelector {
    fn from(value: v1::ObjectFieldSelector) -> Self {
        let v1::ObjectFieldSelector {
            api_version,
            field_path,
            extra_fields,
        } = value;
        Self {
            api_version,
            field_path,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ObjectFieldSelector> for v1::ObjectFieldSelector {
    fn from(value: model::ObjectFieldSelector) -> Self {
        let model::ObjectFieldSelector {
            api_version,
            field_path,
            extra_fields,
        } = value;
        Self {
            api_version,
            field_path,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::ResourceFieldSelector> for model::ResourceFieldSelector {
    fn from(value: v1::ResourceFieldSelector) -> Self {
        let v1::ResourceFieldSelector {
            container_name,
            resource,
            divisor,
            extra_fields,
        } = value;
        Self {
            container_name,
            resource,
            divisor,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ResourceFieldSelector> for v1::ResourceFieldSelector {
    fn from(value: model::ResourceFieldSelector) -> Self {
        let model::ResourceFieldSelector {
            container_name,
            resource,
            divisor,
            extra_fields,
        } = value;
        Self {
            container_name,
            resource,
            divisor,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::KeySelector> for model::KeySelector {
    fn from(value: v1::KeySelector) -> Self {
        let v1::KeySelector {
            name,
            key,
            optional,
            extra_fields,
        } = value;
        Self {
            name,
            key,
            optional,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::KeySelector> for v1::KeySelector {
    fn from(value: model::KeySelector) -> Self {
        let model::KeySelector {
            name,
            key,
            optional,
            extra_fields,
        } = value;
        Self {
            name,
            key,
            optional,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::ResourceRequirements> for model::ResourceRequirements {
    fn from(value: v1::ResourceRequirements) -> Self {
        let v1::ResourceRequirements {
            limits,
            requests,
            extra_fields,
        } = value;
        Self {
            limits,
            requests,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ResourceRequirements> for v1::ResourceRequirements {
    fn from(value: model::ResourceRequirements) -> Self {
        let model::ResourceRequirements {
            limits,
            requests,
            extra_fields,
        } = value;
        Self {
            limits,
            requests,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::VolumeMount> for model::VolumeMount {
    fn from(value: v1::VolumeMount) -> Self {
        let v1::VolumeMount {
            name,
            read_only,
            mount_path,
            sub_path,
            mount_propagation,
            extra_fields,
        } = value;
        Self {
            name,
            read_only,
            mount_path,
            sub_path,
            mount_propagation,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::VolumeMount> for v1::VolumeMount {
    fn from(value: model::VolumeMount) -> Self {
        let model::VolumeMount {
            name,
            read_only,
            mount_path,
            sub_path,
            mount_propagation,
            extra_fields,
        } = value;
        Self {
            name,
            read_only,
            mount_path,
            sub_path,
            mount_propagation,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::Volume> for model::Volume {
    fn from(value: v1::Volume) -> Self {
        let v1::Volume {
            name,
            host_path,
            empty_dir,
            extra_fields,
        } = value;
        Self {
            name,
            host_path: opt(host_path),
            empty_dir: opt(empty_dir),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Volume> for v1::Volume {
    fn from(value: model::Volume) -> Self {
        let model::Volume {
            name,
            host_path,
            empty_dir,
            extra_fields,
        } = value;
        Self {
            name,
            host_path: opt(host_path),
            empty_dir: opt(empty_dir),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::Probe> for model::Probe {
    fn from(value: v1::Probe) -> Self {
        let v1::Probe {
            exec,
            http_get,
            tcp_socket,
            grpc,
            initial_delay_seconds,
            timeout_seconds,
            period_seconds,
            success_threshold,
            failure_threshold,
            termination_grace_period_seconds,
            extra_fields,
        } = value;
        Self {
            exec: opt(exec),
            http_get: opt(http_get),
            tcp_socket: opt(tcp_socket),
            grpc: opt(grpc),
            initial_delay_seconds,
            timeout_seconds,
            period_seconds,
            success_threshold,
            failure_threshold,
            termination_grace_period_seconds,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Probe> for v1::Probe {
    fn from(value: model::Probe) -> Self {
        let model::Probe {
            exec,
            http_get,
            tcp_socket,
            grpc,
            initial_delay_seconds,
            timeout_seconds,
            period_seconds,
            success_threshold,
            failure_threshold,
            termination_grace_period_seconds,
            extra_fields,
        } = value;
        Self {
            exec: opt(exec),
            http_get: opt(http_get),
            tcp_socket: opt(tcp_socket),
            grpc: opt(grpc),
            initial_delay_seconds,
            timeout_seconds,
            period_seconds,
            success_threshold,
            failure_threshold,
            termination_grace_period_seconds,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::ExecAction> for model::ExecAction {
    fn from(value: v1::ExecAction) -> Self {
        let v1::ExecAction {
            command,
            extra_fields,
        } = value;
        Self {
            command,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ExecAction> for v1::ExecAction {
    fn from(value: model::ExecAction) -> Self {
        let model::ExecAction {
            command,
            extra_fields,
        } = value;
        Self {
            command,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::HttpGetAction> for model::HttpGetAction {
    fn from(value: v1::HttpGetAction) -> Self {
        let v1::HttpGetAction {
            path,
            port,
            host,
            scheme,
            extra_fields,
        } = value;
        Self {
            path,
            port: ios_in(port),
            host,
            scheme,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::HttpGetAction> for v1::HttpGetAction {
    fn from(value: model::HttpGetAction) -> Self {
        let model::HttpGetAction {
            path,
            port,
            host,
            scheme,
            extra_fields,
        } = value;
        Self {
            path,
            port: ios_out(port),
            host,
            scheme,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::TcpSocketAction> for model::TcpSocketAction {
    fn from(value: v1::TcpSocketAction) -> Self {
        let v1::TcpSocketAction {
            port,
            host,
            extra_fields,
        } = value;
        Self {
            port: ios_in(port),
            host,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::TcpSocketAction> for v1::TcpSocketAction {
    fn from(value: model::TcpSocketAction) -> Self {
        let model::TcpSocketAction {
            port,
            host,
            extra_fields,
        } = value;
        Self {
            port: ios_out(port),
            host,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::GrpcAction> for model::GrpcAction {
    fn from(value: v1::GrpcAction) -> Self {
        let v1::GrpcAction {
            port,
            service,
            extra_fields,
        } = value;
        Self {
            port,
            service,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::GrpcAction> for v1::GrpcAction {
    fn from(value: model::GrpcAction) -> Self {
        let model::GrpcAction {
            port,
            service,
            extra_fields,
        } = value;
        Self {
            port,
            service,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}
