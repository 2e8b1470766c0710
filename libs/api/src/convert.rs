//! Conversions between the generated `everynode.v1` messages ([`crate::v1`]) and
//! `everynode_core`'s domain model ([`everynode_core::model`]): the one place where protobuf meets
//! the domain (STYLE.md example 6).
//!
//! Every conversion destructures its source exhaustively (no `..`), so a field added to the proto
//! or to the model fails to compile here instead of being silently dropped. Conversions are total:
//! they never fail; anything a value may get wrong is left for validation to report.
//!
//! Choices made here, which callers can rely on:
//! - `extra_fields`: an absent `Struct` and an empty one both become an empty [`model::Extra`];
//!   an empty `Extra` becomes an absent `Struct`. Round trips are therefore stable.
//! - `google.protobuf.Struct`/`Value` ↔ JSON ([`struct_to_json`], [`value_to_json`], …): a proto
//!   number is an `f64`; one that is integral and within ±2^53 comes back as a JSON integer, any
//!   other finite number as a JSON float, NaN and ±infinity (which JSON cannot hold) as `null`. A
//!   `Value` with no kind set is `null`. JSON integers beyond ±2^53 lose precision on the way to
//!   the proto (they become the nearest `f64`).
//! - int-or-string (`maxUnavailable`, `maxSurge`, probe ports), see [`int_or_string_from_value`]:
//!   an integral number in `i32` range is `Int`; any other number is kept as `Str` of its decimal
//!   text (e.g. `"1.5"`) so validation can report it; a string is `Str` as given; `null`, a bool,
//!   a list or a struct is treated as absent (`None`), as Kubernetes would refuse to decode them.
//! - timestamps are normalized on the way in (`nanos` in `0..1e9`), so the model's ordering holds.
//! - [`model::ContainerState`] is an enum: a proto state with several states set keeps terminated
//!   over running over waiting; a proto state with none set becomes `None`.

use everynode_core::model;
use prost_types::value::Kind;

use crate::v1;

/// 2^53: integral `f64`s up to this magnitude are exact, so they convert to JSON integers.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

// ---------------------------------------------------------------------------------------------
// Struct / Value ↔ JSON
// ---------------------------------------------------------------------------------------------

/// Converts a `google.protobuf.Struct` to a JSON object; see the module docs for numbers.
pub fn struct_to_json(value: prost_types::Struct) -> serde_json::Map<String, serde_json::Value> {
    let prost_types::Struct { fields } = value;
    fields
        .into_iter()
        .map(|(key, value)| (key, value_to_json(value)))
        .collect()
}

/// Converts a JSON object to a `google.protobuf.Struct`; see the module docs for numbers.
pub fn json_to_struct(value: serde_json::Map<String, serde_json::Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: value
            .into_iter()
            .map(|(key, value)| (key, json_to_value(value)))
            .collect(),
    }
}

/// Converts a `google.protobuf.Value` to JSON. A value with no kind is `null`; an integral number
/// within ±2^53 is a JSON integer; NaN and ±infinity are `null`.
pub fn value_to_json(value: prost_types::Value) -> serde_json::Value {
    let prost_types::Value { kind } = value;
    match kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::NumberValue(n)) => number_to_json(n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::StructValue(s)) => serde_json::Value::Object(struct_to_json(s)),
        Some(Kind::ListValue(prost_types::ListValue { values })) => {
            serde_json::Value::Array(values.into_iter().map(value_to_json).collect())
        }
    }
}

/// Converts JSON to a `google.protobuf.Value`. Numbers become `f64` (integers beyond ±2^53 lose
/// precision).
pub fn json_to_value(value: serde_json::Value) -> prost_types::Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(prost_types::NullValue::NullValue.into()),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        // `as_f64` is `None` only with serde_json's `arbitrary_precision` for a number no `f64`
        // holds; keep its text rather than invent a value.
        serde_json::Value::Number(n) => n
            .as_f64()
            .map_or_else(|| Kind::StringValue(n.to_string()), Kind::NumberValue),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(json_to_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A proto number as JSON: an integer when it is one exactly, else a float, else `null`.
fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        // Exact: integral and within ±2^53.
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// Converts an optional `extra_fields` struct to the model's [`model::Extra`]; absent is empty.
pub fn extra_from_struct(value: Option<prost_types::Struct>) -> model::Extra {
    value.map_or_else(model::Extra::new, |s| {
        let prost_types::Struct { fields } = s;
        fields
            .into_iter()
            .map(|(key, value)| (key, value_to_json(value)))
            .collect()
    })
}

/// Converts the model's [`model::Extra`] to an optional `extra_fields` struct; empty is absent.
pub fn extra_to_struct(value: model::Extra) -> Option<prost_types::Struct> {
    if value.is_empty() {
        return None;
    }
    Some(prost_types::Struct {
        fields: value
            .into_iter()
            .map(|(key, value)| (key, json_to_value(value)))
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Timestamps and int-or-string
// ---------------------------------------------------------------------------------------------

/// Converts a `google.protobuf.Timestamp`, normalizing it so that `nanos` is in `0..1e9`.
pub fn timestamp_from_proto(value: prost_types::Timestamp) -> model::Timestamp {
    let prost_types::Timestamp { seconds, nanos } = value.normalized();
    model::Timestamp { seconds, nanos }
}

/// Converts a model timestamp to a `google.protobuf.Timestamp`.
pub fn timestamp_to_proto(value: model::Timestamp) -> prost_types::Timestamp {
    let model::Timestamp { seconds, nanos } = value;
    prost_types::Timestamp { seconds, nanos }
}

fn ts_in(value: Option<prost_types::Timestamp>) -> Option<model::Timestamp> {
    value.map(timestamp_from_proto)
}

fn ts_out(value: Option<model::Timestamp>) -> Option<prost_types::Timestamp> {
    value.map(timestamp_to_proto)
}

/// Reads an int-or-string `google.protobuf.Value`: an integral number in `i32` range is `Int`;
/// any other number is `Str` of its decimal text (`"1.5"`, `"3000000000"`, `"NaN"`) so that
/// validation can report it as given; a string is `Str`; `null`, bool, list, struct or no kind
/// is `None` (absent).
pub fn int_or_string_from_value(value: prost_types::Value) -> Option<model::IntOrString> {
    let prost_types::Value { kind } = value;
    match kind? {
        Kind::NumberValue(n) => {
            if n.fract() == 0.0 && n >= f64::from(i32::MIN) && n <= f64::from(i32::MAX) {
                // Exact: integral and within i32.
                Some(model::IntOrString::Int(n as i32))
            } else {
                Some(model::IntOrString::Str(n.to_string()))
            }
        }
        Kind::StringValue(s) => Some(model::IntOrString::Str(s)),
        Kind::NullValue(_) | Kind::BoolValue(_) | Kind::StructValue(_) | Kind::ListValue(_) => None,
    }
}

/// Writes an int-or-string as a `google.protobuf.Value`: a number for `Int`, a string for `Str`.
pub fn int_or_string_to_value(value: model::IntOrString) -> prost_types::Value {
    let kind = match value {
        model::IntOrString::Int(n) => Kind::NumberValue(f64::from(n)),
        model::IntOrString::Str(s) => Kind::StringValue(s),
    };
    prost_types::Value { kind: Some(kind) }
}

fn ios_in(value: Option<prost_types::Value>) -> Option<model::IntOrString> {
    value.and_then(int_or_string_from_value)
}

fn ios_out(value: Option<model::IntOrString>) -> Option<prost_types::Value> {
    value.map(int_or_string_to_value)
}

// ---------------------------------------------------------------------------------------------
// Small helpers for nested messages
// ---------------------------------------------------------------------------------------------

fn opt<T, U: From<T>>(value: Option<T>) -> Option<U> {
    value.map(U::from)
}

fn vec<T, U: From<T>>(value: Vec<T>) -> Vec<U> {
    value.into_iter().map(U::from).collect()
}

// ---------------------------------------------------------------------------------------------
// meta.proto
// ---------------------------------------------------------------------------------------------

impl From<v1::ObjectMeta> for model::ObjectMeta {
    fn from(value: v1::ObjectMeta) -> Self {
        let v1::ObjectMeta {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp,
            deletion_timestamp,
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references,
            finalizers,
            extra_fields,
        } = value;
        Self {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp: ts_in(creation_timestamp),
            deletion_timestamp: ts_in(deletion_timestamp),
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references: vec(owner_references),
            finalizers,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ObjectMeta> for v1::ObjectMeta {
    fn from(value: model::ObjectMeta) -> Self {
        let model::ObjectMeta {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp,
            deletion_timestamp,
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references,
            finalizers,
            extra_fields,
        } = value;
        Self {
            name,
            generate_name,
            namespace,
            uid,
            resource_version,
            generation,
            creation_timestamp: ts_out(creation_timestamp),
            deletion_timestamp: ts_out(deletion_timestamp),
            deletion_grace_period_seconds,
            labels,
            annotations,
            owner_references: vec(owner_references),
            finalizers,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::OwnerReference> for model::OwnerReference {
    fn from(value: v1::OwnerReference) -> Self {
        let v1::OwnerReference {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields,
        } = value;
        Self {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::OwnerReference> for v1::OwnerReference {
    fn from(value: model::OwnerReference) -> Self {
        let model::OwnerReference {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields,
        } = value;
        Self {
            kind,
            name,
            uid,
            api_version,
            controller,
            block_owner_deletion,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::LabelSelector> for model::LabelSelector {
    fn from(value: v1::LabelSelector) -> Self {
        let v1::LabelSelector {
            match_labels,
            match_expressions,
            extra_fields,
        } = value;
        Self {
            match_labels,
            match_expressions: vec(match_expressions),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::LabelSelector> for v1::LabelSelector {
    fn from(value: model::LabelSelector) -> Self {
        let model::LabelSelector {
            match_labels,
            match_expressions,
            extra_fields,
        } = value;
        Self {
            match_labels,
            match_expressions: vec(match_expressions),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::LabelSelectorRequirement> for model::LabelSelectorRequirement {
    fn from(value: v1::LabelSelectorRequirement) -> Self {
        let v1::LabelSelectorRequirement {
            key,
            operator,
            values,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            values,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::LabelSelectorRequirement> for v1::LabelSelectorRequirement {
    fn from(value: model::LabelSelectorRequirement) -> Self {
        let model::LabelSelectorRequirement {
            key,
            operator,
            values,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            values,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// pod.proto
// ---------------------------------------------------------------------------------------------

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
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

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
        let v1::Volume { name, extra_fields } = value;
        Self {
            name,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Volume> for v1::Volume {
    fn from(value: model::Volume) -> Self {
        let model::Volume { name, extra_fields } = value;
        Self {
            name,
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

impl From<v1::Affinity> for model::Affinity {
    fn from(value: v1::Affinity) -> Self {
        let v1::Affinity {
            node_affinity,
            extra_fields,
        } = value;
        Self {
            node_affinity: opt(node_affinity),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Affinity> for v1::Affinity {
    fn from(value: model::Affinity) -> Self {
        let model::Affinity {
            node_affinity,
            extra_fields,
        } = value;
        Self {
            node_affinity: opt(node_affinity),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeAffinity> for model::NodeAffinity {
    fn from(value: v1::NodeAffinity) -> Self {
        let v1::NodeAffinity {
            required_during_scheduling_ignored_during_execution,
            extra_fields,
        } = value;
        Self {
            required_during_scheduling_ignored_during_execution: opt(
                required_during_scheduling_ignored_during_execution,
            ),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeAffinity> for v1::NodeAffinity {
    fn from(value: model::NodeAffinity) -> Self {
        let model::NodeAffinity {
            required_during_scheduling_ignored_during_execution,
            extra_fields,
        } = value;
        Self {
            required_during_scheduling_ignored_during_execution: opt(
                required_during_scheduling_ignored_during_execution,
            ),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeSelector> for model::NodeSelector {
    fn from(value: v1::NodeSelector) -> Self {
        let v1::NodeSelector {
            node_selector_terms,
            extra_fields,
        } = value;
        Self {
            node_selector_terms: vec(node_selector_terms),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeSelector> for v1::NodeSelector {
    fn from(value: model::NodeSelector) -> Self {
        let model::NodeSelector {
            node_selector_terms,
            extra_fields,
        } = value;
        Self {
            node_selector_terms: vec(node_selector_terms),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeSelectorTerm> for model::NodeSelectorTerm {
    fn from(value: v1::NodeSelectorTerm) -> Self {
        let v1::NodeSelectorTerm {
            match_expressions,
            match_fields,
            extra_fields,
        } = value;
        Self {
            match_expressions: vec(match_expressions),
            match_fields: vec(match_fields),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeSelectorTerm> for v1::NodeSelectorTerm {
    fn from(value: model::NodeSelectorTerm) -> Self {
        let model::NodeSelectorTerm {
            match_expressions,
            match_fields,
            extra_fields,
        } = value;
        Self {
            match_expressions: vec(match_expressions),
            match_fields: vec(match_fields),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::NodeSelectorRequirement> for model::NodeSelectorRequirement {
    fn from(value: v1::NodeSelectorRequirement) -> Self {
        let v1::NodeSelectorRequirement {
            key,
            operator,
            values,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            values,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::NodeSelectorRequirement> for v1::NodeSelectorRequirement {
    fn from(value: model::NodeSelectorRequirement) -> Self {
        let model::NodeSelectorRequirement {
            key,
            operator,
            values,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            values,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::Toleration> for model::Toleration {
    fn from(value: v1::Toleration) -> Self {
        let v1::Toleration {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::Toleration> for v1::Toleration {
    fn from(value: model::Toleration) -> Self {
        let model::Toleration {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields,
        } = value;
        Self {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::PodStatus> for model::PodStatus {
    fn from(value: v1::PodStatus) -> Self {
        let v1::PodStatus {
            phase,
            conditions,
            message,
            reason,
            host_ip,
            pod_ip,
            start_time,
            init_container_statuses,
            container_statuses,
            extra_fields,
        } = value;
        Self {
            phase,
            conditions: vec(conditions),
            message,
            reason,
            host_ip,
            pod_ip,
            start_time: ts_in(start_time),
            init_container_statuses: vec(init_container_statuses),
            container_statuses: vec(container_statuses),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::PodStatus> for v1::PodStatus {
    fn from(value: model::PodStatus) -> Self {
        let model::PodStatus {
            phase,
            conditions,
            message,
            reason,
            host_ip,
            pod_ip,
            start_time,
            init_container_statuses,
            container_statuses,
            extra_fields,
        } = value;
        Self {
            phase,
            conditions: vec(conditions),
            message,
            reason,
            host_ip,
            pod_ip,
            start_time: ts_out(start_time),
            init_container_statuses: vec(init_container_statuses),
            container_statuses: vec(container_statuses),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::PodCondition> for model::PodCondition {
    fn from(value: v1::PodCondition) -> Self {
        let v1::PodCondition {
            r#type,
            status,
            last_probe_time,
            last_transition_time,
            reason,
            message,
        } = value;
        Self {
            type_: r#type,
            status,
            last_probe_time: ts_in(last_probe_time),
            last_transition_time: ts_in(last_transition_time),
            reason,
            message,
        }
    }
}

impl From<model::PodCondition> for v1::PodCondition {
    fn from(value: model::PodCondition) -> Self {
        let model::PodCondition {
            type_,
            status,
            last_probe_time,
            last_transition_time,
            reason,
            message,
        } = value;
        Self {
            r#type: type_,
            status,
            last_probe_time: ts_out(last_probe_time),
            last_transition_time: ts_out(last_transition_time),
            reason,
            message,
        }
    }
}

impl From<v1::ContainerStatus> for model::ContainerStatus {
    fn from(value: v1::ContainerStatus) -> Self {
        let v1::ContainerStatus {
            name,
            state,
            last_state,
            ready,
            restart_count,
            image,
            image_id,
            container_id,
            started,
        } = value;
        Self {
            name,
            state: state.and_then(container_state_from_proto),
            last_state: last_state.and_then(container_state_from_proto),
            ready,
            restart_count,
            image,
            image_id,
            container_id,
            started,
        }
    }
}

impl From<model::ContainerStatus> for v1::ContainerStatus {
    fn from(value: model::ContainerStatus) -> Self {
        let model::ContainerStatus {
            name,
            state,
            last_state,
            ready,
            restart_count,
            image,
            image_id,
            container_id,
            started,
        } = value;
        Self {
            name,
            state: opt(state),
            last_state: opt(last_state),
            ready,
            restart_count,
            image,
            image_id,
            container_id,
            started,
        }
    }
}

/// Reads a proto container state, keeping terminated over running over waiting when several are
/// set (the state furthest along the container's life); `None` when none is set.
fn container_state_from_proto(value: v1::ContainerState) -> Option<model::ContainerState> {
    let v1::ContainerState {
        waiting,
        running,
        terminated,
    } = value;
    if let Some(terminated) = terminated {
        Some(model::ContainerState::Terminated(terminated.into()))
    } else if let Some(running) = running {
        Some(model::ContainerState::Running(running.into()))
    } else {
        waiting.map(|waiting| model::ContainerState::Waiting(waiting.into()))
    }
}

impl From<model::ContainerState> for v1::ContainerState {
    fn from(value: model::ContainerState) -> Self {
        match value {
            model::ContainerState::Waiting(waiting) => Self {
                waiting: Some(waiting.into()),
                running: None,
                terminated: None,
            },
            model::ContainerState::Running(running) => Self {
                waiting: None,
                running: Some(running.into()),
                terminated: None,
            },
            model::ContainerState::Terminated(terminated) => Self {
                waiting: None,
                running: None,
                terminated: Some(terminated.into()),
            },
        }
    }
}

impl From<v1::ContainerStateWaiting> for model::ContainerStateWaiting {
    fn from(value: v1::ContainerStateWaiting) -> Self {
        let v1::ContainerStateWaiting { reason, message } = value;
        Self { reason, message }
    }
}

impl From<model::ContainerStateWaiting> for v1::ContainerStateWaiting {
    fn from(value: model::ContainerStateWaiting) -> Self {
        let model::ContainerStateWaiting { reason, message } = value;
        Self { reason, message }
    }
}

impl From<v1::ContainerStateRunning> for model::ContainerStateRunning {
    fn from(value: v1::ContainerStateRunning) -> Self {
        let v1::ContainerStateRunning { started_at } = value;
        Self {
            started_at: ts_in(started_at),
        }
    }
}

impl From<model::ContainerStateRunning> for v1::ContainerStateRunning {
    fn from(value: model::ContainerStateRunning) -> Self {
        let model::ContainerStateRunning { started_at } = value;
        Self {
            started_at: ts_out(started_at),
        }
    }
}

impl From<v1::ContainerStateTerminated> for model::ContainerStateTerminated {
    fn from(value: v1::ContainerStateTerminated) -> Self {
        let v1::ContainerStateTerminated {
            exit_code,
            signal,
            reason,
            message,
            started_at,
            finished_at,
            container_id,
        } = value;
        Self {
            exit_code,
            signal,
            reason,
            message,
            started_at: ts_in(started_at),
            finished_at: ts_in(finished_at),
            container_id,
        }
    }
}

impl From<model::ContainerStateTerminated> for v1::ContainerStateTerminated {
    fn from(value: model::ContainerStateTerminated) -> Self {
        let model::ContainerStateTerminated {
            exit_code,
            signal,
            reason,
            message,
            started_at,
            finished_at,
            container_id,
        } = value;
        Self {
            exit_code,
            signal,
            reason,
            message,
            started_at: ts_out(started_at),
            finished_at: ts_out(finished_at),
            container_id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// node.proto
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// daemonset.proto
// ---------------------------------------------------------------------------------------------

impl From<v1::DaemonSet> for model::DaemonSet {
    fn from(value: v1::DaemonSet) -> Self {
        let v1::DaemonSet {
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

impl From<model::DaemonSet> for v1::DaemonSet {
    fn from(value: model::DaemonSet) -> Self {
        let model::DaemonSet {
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

impl From<v1::DaemonSetSpec> for model::DaemonSetSpec {
    fn from(value: v1::DaemonSetSpec) -> Self {
        let v1::DaemonSetSpec {
            selector,
            template,
            update_strategy,
            min_ready_seconds,
            template_generation,
            revision_history_limit,
            extra_fields,
        } = value;
        Self {
            selector: opt(selector),
            template: opt(template),
            update_strategy: opt(update_strategy),
            min_ready_seconds,
            template_generation,
            revision_history_limit,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::DaemonSetSpec> for v1::DaemonSetSpec {
    fn from(value: model::DaemonSetSpec) -> Self {
        let model::DaemonSetSpec {
            selector,
            template,
            update_strategy,
            min_ready_seconds,
            template_generation,
            revision_history_limit,
            extra_fields,
        } = value;
        Self {
            selector: opt(selector),
            template: opt(template),
            update_strategy: opt(update_strategy),
            min_ready_seconds,
            template_generation,
            revision_history_limit,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::DaemonSetUpdateStrategy> for model::DaemonSetUpdateStrategy {
    fn from(value: v1::DaemonSetUpdateStrategy) -> Self {
        let v1::DaemonSetUpdateStrategy {
            r#type,
            rolling_update,
            extra_fields,
        } = value;
        Self {
            type_: r#type,
            rolling_update: opt(rolling_update),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::DaemonSetUpdateStrategy> for v1::DaemonSetUpdateStrategy {
    fn from(value: model::DaemonSetUpdateStrategy) -> Self {
        let model::DaemonSetUpdateStrategy {
            type_,
            rolling_update,
            extra_fields,
        } = value;
        Self {
            r#type: type_,
            rolling_update: opt(rolling_update),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::RollingUpdateDaemonSet> for model::RollingUpdateDaemonSet {
    fn from(value: v1::RollingUpdateDaemonSet) -> Self {
        let v1::RollingUpdateDaemonSet {
            max_unavailable,
            max_surge,
            extra_fields,
        } = value;
        Self {
            max_unavailable: ios_in(max_unavailable),
            max_surge: ios_in(max_surge),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::RollingUpdateDaemonSet> for v1::RollingUpdateDaemonSet {
    fn from(value: model::RollingUpdateDaemonSet) -> Self {
        let model::RollingUpdateDaemonSet {
            max_unavailable,
            max_surge,
            extra_fields,
        } = value;
        Self {
            max_unavailable: ios_out(max_unavailable),
            max_surge: ios_out(max_surge),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::DaemonSetStatus> for model::DaemonSetStatus {
    fn from(value: v1::DaemonSetStatus) -> Self {
        let v1::DaemonSetStatus {
            current_number_scheduled,
            number_misscheduled,
            desired_number_scheduled,
            number_ready,
            observed_generation,
            updated_number_scheduled,
            number_available,
            number_unavailable,
            collision_count,
            conditions,
            extra_fields,
        } = value;
        Self {
            current_number_scheduled,
            number_misscheduled,
            desired_number_scheduled,
            number_ready,
            observed_generation,
            updated_number_scheduled,
            number_available,
            number_unavailable,
            collision_count,
            conditions: vec(conditions),
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::DaemonSetStatus> for v1::DaemonSetStatus {
    fn from(value: model::DaemonSetStatus) -> Self {
        let model::DaemonSetStatus {
            current_number_scheduled,
            number_misscheduled,
            desired_number_scheduled,
            number_ready,
            observed_generation,
            updated_number_scheduled,
            number_available,
            number_unavailable,
            collision_count,
            conditions,
            extra_fields,
        } = value;
        Self {
            current_number_scheduled,
            number_misscheduled,
            desired_number_scheduled,
            number_ready,
            observed_generation,
            updated_number_scheduled,
            number_available,
            number_unavailable,
            collision_count,
            conditions: vec(conditions),
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

impl From<v1::DaemonSetCondition> for model::DaemonSetCondition {
    fn from(value: v1::DaemonSetCondition) -> Self {
        let v1::DaemonSetCondition {
            r#type,
            status,
            last_transition_time,
            reason,
            message,
        } = value;
        Self {
            type_: r#type,
            status,
            last_transition_time: ts_in(last_transition_time),
            reason,
            message,
        }
    }
}

impl From<model::DaemonSetCondition> for v1::DaemonSetCondition {
    fn from(value: model::DaemonSetCondition) -> Self {
        let model::DaemonSetCondition {
            type_,
            status,
            last_transition_time,
            reason,
            message,
        } = value;
        Self {
            r#type: type_,
            status,
            last_transition_time: ts_out(last_transition_time),
            reason,
            message,
        }
    }
}

impl From<v1::ControllerRevision> for model::ControllerRevision {
    fn from(value: v1::ControllerRevision) -> Self {
        let v1::ControllerRevision {
            api_version,
            kind,
            metadata,
            data,
            revision,
            extra_fields,
        } = value;
        Self {
            api_version,
            kind,
            metadata: opt(metadata),
            data: data.map(struct_to_json),
            revision,
            extra_fields: extra_from_struct(extra_fields),
        }
    }
}

impl From<model::ControllerRevision> for v1::ControllerRevision {
    fn from(value: model::ControllerRevision) -> Self {
        let model::ControllerRevision {
            api_version,
            kind,
            metadata,
            data,
            revision,
            extra_fields,
        } = value;
        Self {
            api_version,
            kind,
            metadata: opt(metadata),
            data: data.map(json_to_struct),
            revision,
            extra_fields: extra_to_struct(extra_fields),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use prost::Message;
    use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage};
    use serde_json::json;

    use super::*;

    // -- fixtures: proto objects with every field set -----------------------------------------

    /// An `extra_fields` struct with nested objects, arrays, integers, floats, bools and null.
    fn extra(tag: &str) -> Option<prost_types::Struct> {
        let serde_json::Value::Object(map) = json!({
            format!("x-{tag}"): {
                "nested": [1, 2.5, -3, "s", true, null, {"k": "v"}, []],
                "empty": {},
            },
            "count": 7,
        }) else {
            unreachable!("json! of an object literal is an object")
        };
        Some(json_to_struct(map))
    }

    fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp {
            seconds,
            nanos: 500,
        })
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn number(n: f64) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::NumberValue(n)),
        }
    }

    fn string(s: &str) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::StringValue(s.to_owned())),
        }
    }

    fn meta(name: &str) -> v1::ObjectMeta {
        v1::ObjectMeta {
            name: name.into(),
            generate_name: format!("{name}-"),
            namespace: "kube-system".into(),
            uid: format!("uid-{name}"),
            resource_version: "42".into(),
            generation: 3,
            creation_timestamp: ts(1_700_000_000),
            deletion_timestamp: ts(1_700_000_100),
            deletion_grace_period_seconds: Some(30),
            labels: map(&[("app", name), ("tier", "node")]),
            annotations: map(&[("deprecated.daemonset.template.generation", "3")]),
            owner_references: vec![v1::OwnerReference {
                kind: "DaemonSet".into(),
                name: "owner".into(),
                uid: "uid-owner".into(),
                api_version: "apps/v1".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
                extra_fields: extra("owner"),
            }],
            finalizers: strings(&["foregroundDeletion"]),
            extra_fields: extra("meta"),
        }
    }

    fn probe(port: prost_types::Value) -> v1::Probe {
        v1::Probe {
            exec: Some(v1::ExecAction {
                command: strings(&["cat", "/tmp/healthy"]),
                extra_fields: extra("exec"),
            }),
            http_get: Some(v1::HttpGetAction {
                path: "/healthz".into(),
                port: Some(port.clone()),
                host: "127.0.0.1".into(),
                scheme: "HTTPS".into(),
                extra_fields: extra("httpGet"),
            }),
            tcp_socket: Some(v1::TcpSocketAction {
                port: Some(port),
                host: "localhost".into(),
                extra_fields: extra("tcpSocket"),
            }),
            grpc: Some(v1::GrpcAction {
                port: 9090,
                service: Some("health".into()),
                extra_fields: extra("grpc"),
            }),
            initial_delay_seconds: 1,
            timeout_seconds: 2,
            period_seconds: 3,
            success_threshold: 4,
            failure_threshold: 5,
            termination_grace_period_seconds: Some(6),
            extra_fields: extra("probe"),
        }
    }

    fn key_selector(name: &str) -> v1::KeySelector {
        v1::KeySelector {
            name: name.into(),
            key: "key".into(),
            optional: Some(true),
            extra_fields: extra("keySelector"),
        }
    }

    fn container(name: &str) -> v1::Container {
        v1::Container {
            name: name.into(),
            image: "registry.example/agent:1.2.3".into(),
            command: strings(&["/bin/agent"]),
            args: strings(&["--verbose", "--port=8080"]),
            working_dir: "/work".into(),
            ports: vec![v1::ContainerPort {
                name: "http".into(),
                host_port: 18080,
                container_port: 8080,
                protocol: "TCP".into(),
                host_ip: "0.0.0.0".into(),
                extra_fields: extra("port"),
            }],
            env: vec![v1::EnvVar {
                name: "NODE_NAME".into(),
                value: "fallback".into(),
                value_from: Some(v1::EnvVarSource {
                    field_ref: Some(v1::ObjectFieldSelector {
                        api_version: "v1".into(),
                        field_path: "spec.nodeName".into(),
                        extra_fields: extra("fieldRef"),
                    }),
                    resource_field_ref: Some(v1::ResourceFieldSelector {
                        container_name: name.into(),
                        resource: "limits.memory".into(),
                        divisor: "1Mi".into(),
                        extra_fields: extra("resourceFieldRef"),
                    }),
                    config_map_key_ref: Some(key_selector("config")),
                    secret_key_ref: Some(key_selector("secret")),
                    extra_fields: extra("valueFrom"),
                }),
                extra_fields: extra("env"),
            }],
            resources: Some(v1::ResourceRequirements {
                limits: map(&[("cpu", "500m"), ("memory", "128Mi")]),
                requests: map(&[("cpu", "100m")]),
                extra_fields: extra("resources"),
            }),
            volume_mounts: vec![v1::VolumeMount {
                name: "data".into(),
                read_only: true,
                mount_path: "/data".into(),
                sub_path: "sub".into(),
                mount_propagation: Some("HostToContainer".into()),
                extra_fields: extra("volumeMount"),
            }],
            liveness_probe: Some(probe(number(8080.0))),
            readiness_probe: Some(probe(string("http"))),
            startup_probe: Some(probe(number(8081.0))),
            termination_message_path: "/dev/termination-log".into(),
            termination_message_policy: "FallbackToLogsOnError".into(),
            image_pull_policy: "IfNotPresent".into(),
            restart_policy: Some("Always".into()),
            extra_fields: extra("container"),
        }
    }

    fn node_selector_requirement(key: &str) -> v1::NodeSelectorRequirement {
        v1::NodeSelectorRequirement {
            key: key.into(),
            operator: "In".into(),
            values: strings(&["a", "b"]),
            extra_fields: extra("nodeSelectorRequirement"),
        }
    }

    fn pod_spec() -> v1::PodSpec {
        v1::PodSpec {
            volumes: vec![v1::Volume {
                name: "data".into(),
                extra_fields: extra("volume"),
            }],
            init_containers: vec![container("init")],
            containers: vec![container("main"), container("sidecar")],
            ephemeral_containers: vec![container("debug")],
            restart_policy: "Always".into(),
            termination_grace_period_seconds: Some(30),
            active_deadline_seconds: Some(600),
            dns_policy: "ClusterFirstWithHostNet".into(),
            node_selector: map(&[("kubernetes.io/os", "linux")]),
            service_account_name: "agent".into(),
            service_account: "agent".into(),
            node_name: "n1".into(),
            host_network: true,
            host_pid: true,
            host_ipc: true,
            affinity: Some(v1::Affinity {
                node_affinity: Some(v1::NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(v1::NodeSelector {
                        node_selector_terms: vec![v1::NodeSelectorTerm {
                            match_expressions: vec![node_selector_requirement("zone")],
                            match_fields: vec![node_selector_requirement("metadata.name")],
                            extra_fields: extra("term"),
                        }],
                        extra_fields: extra("nodeSelector"),
                    }),
                    extra_fields: extra("nodeAffinity"),
                }),
                extra_fields: extra("affinity"),
            }),
            scheduler_name: "default-scheduler".into(),
            tolerations: vec![v1::Toleration {
                key: "node.kubernetes.io/not-ready".into(),
                operator: "Exists".into(),
                value: "v".into(),
                effect: "NoExecute".into(),
                toleration_seconds: Some(300),
                extra_fields: extra("toleration"),
            }],
            priority_class_name: "system-node-critical".into(),
            priority: Some(2_000_001_000),
            extra_fields: extra("podSpec"),
        }
    }

    fn terminated() -> v1::ContainerStateTerminated {
        v1::ContainerStateTerminated {
            exit_code: 137,
            signal: 9,
            reason: "OOMKilled".into(),
            message: "out of memory".into(),
            started_at: ts(1_700_000_010),
            finished_at: ts(1_700_000_020),
            container_id: "process://41".into(),
        }
    }

    fn container_status(
        name: &str,
        state: v1::ContainerState,
        last_state: v1::ContainerState,
    ) -> v1::ContainerStatus {
        v1::ContainerStatus {
            name: name.into(),
            state: Some(state),
            last_state: Some(last_state),
            ready: true,
            restart_count: 2,
            image: "registry.example/agent:1.2.3".into(),
            image_id: "sha256:abc".into(),
            container_id: "process://42".into(),
            started: Some(true),
        }
    }

    fn pod() -> v1::Pod {
        let waiting = v1::ContainerState {
            waiting: Some(v1::ContainerStateWaiting {
                reason: "CrashLoopBackOff".into(),
                message: "back-off 10s".into(),
            }),
            ..Default::default()
        };
        let running = v1::ContainerState {
            running: Some(v1::ContainerStateRunning {
                started_at: ts(1_700_000_030),
            }),
            ..Default::default()
        };
        let terminated = v1::ContainerState {
            terminated: Some(terminated()),
            ..Default::default()
        };
        v1::Pod {
            api_version: "v1".into(),
            kind: "Pod".into(),
            metadata: Some(meta("agent-abcde")),
            spec: Some(pod_spec()),
            status: Some(v1::PodStatus {
                phase: "Running".into(),
                conditions: vec![v1::PodCondition {
                    r#type: "Ready".into(),
                    status: "True".into(),
                    last_probe_time: ts(1_700_000_040),
                    last_transition_time: ts(1_700_000_050),
                    reason: "ContainersReady".into(),
                    message: "all containers ready".into(),
                }],
                message: "running".into(),
                reason: "Started".into(),
                host_ip: "10.0.0.1".into(),
                pod_ip: "10.0.0.1".into(),
                start_time: ts(1_700_000_005),
                init_container_statuses: vec![container_status(
                    "init",
                    waiting,
                    terminated.clone(),
                )],
                container_statuses: vec![container_status("main", running, terminated)],
                extra_fields: extra("podStatus"),
            }),
            extra_fields: extra("pod"),
        }
    }

    fn node() -> v1::Node {
        v1::Node {
            api_version: "v1".into(),
            kind: "Node".into(),
            metadata: Some(meta("n1")),
            spec: Some(v1::NodeSpec {
                pod_cidr: "10.244.0.0/24".into(),
                provider_id: "example://n1".into(),
                unschedulable: true,
                taints: vec![v1::Taint {
                    key: "dedicated".into(),
                    value: "infra".into(),
                    effect: "NoExecute".into(),
                    time_added: ts(1_700_000_060),
                }],
                extra_fields: extra("nodeSpec"),
            }),
            status: Some(v1::NodeStatus {
                capacity: map(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")]),
                allocatable: map(&[("cpu", "3800m")]),
                conditions: vec![v1::NodeCondition {
                    r#type: "Ready".into(),
                    status: "True".into(),
                    last_heartbeat_time: ts(1_700_000_070),
                    last_transition_time: ts(1_700_000_080),
                    reason: "AgentReady".into(),
                    message: "agent is posting ready status".into(),
                }],
                addresses: vec![v1::NodeAddress {
                    r#type: "InternalIP".into(),
                    address: "10.0.0.1".into(),
                }],
                node_info: Some(v1::NodeSystemInfo {
                    machine_id: "m".into(),
                    system_uuid: "s".into(),
                    boot_id: "b".into(),
                    kernel_version: "6.1.0".into(),
                    os_image: "Debian GNU/Linux 12 (bookworm)".into(),
                    container_runtime_version: "process://0.1.0".into(),
                    kubelet_version: "0.1.0".into(),
                    kube_proxy_version: "v0.0.0".into(),
                    operating_system: "linux".into(),
                    architecture: "amd64".into(),
                }),
                extra_fields: extra("nodeStatus"),
            }),
            extra_fields: extra("node"),
        }
    }

    fn daemon_set() -> v1::DaemonSet {
        v1::DaemonSet {
            api_version: "apps/v1".into(),
            kind: "DaemonSet".into(),
            metadata: Some(meta("agent")),
            spec: Some(v1::DaemonSetSpec {
                selector: Some(v1::LabelSelector {
                    match_labels: map(&[("app", "agent")]),
                    match_expressions: vec![v1::LabelSelectorRequirement {
                        key: "tier".into(),
                        operator: "In".into(),
                        values: strings(&["node"]),
                        extra_fields: extra("labelSelectorRequirement"),
                    }],
                    extra_fields: extra("selector"),
                }),
                template: Some(v1::PodTemplateSpec {
                    metadata: Some(meta("")),
                    spec: Some(pod_spec()),
                    extra_fields: extra("template"),
                }),
                update_strategy: Some(v1::DaemonSetUpdateStrategy {
                    r#type: "RollingUpdate".into(),
                    rolling_update: Some(v1::RollingUpdateDaemonSet {
                        max_unavailable: Some(number(1.0)),
                        max_surge: Some(string("10%")),
                        extra_fields: extra("rollingUpdate"),
                    }),
                    extra_fields: extra("updateStrategy"),
                }),
                min_ready_seconds: 10,
                template_generation: Some(3),
                revision_history_limit: Some(10),
                extra_fields: extra("spec"),
            }),
            status: Some(v1::DaemonSetStatus {
                current_number_scheduled: 1,
                number_misscheduled: 2,
                desired_number_scheduled: 3,
                number_ready: 4,
                observed_generation: 5,
                updated_number_scheduled: 6,
                number_available: 7,
                number_unavailable: 8,
                collision_count: Some(9),
                conditions: vec![v1::DaemonSetCondition {
                    r#type: "Custom".into(),
                    status: "True".into(),
                    last_transition_time: ts(1_700_000_090),
                    reason: "Because".into(),
                    message: "a client said so".into(),
                }],
                extra_fields: extra("status"),
            }),
            extra_fields: extra("daemonSet"),
        }
    }

    fn controller_revision() -> v1::ControllerRevision {
        let serde_json::Value::Object(data) = json!({
            "spec": {"template": {"spec": {"containers": [{"name": "main"}]}, "$patch": "replace"}}
        }) else {
            unreachable!("json! of an object literal is an object")
        };
        v1::ControllerRevision {
            api_version: "apps/v1".into(),
            kind: "ControllerRevision".into(),
            metadata: Some(meta("agent-6d4b8f7c9")),
            data: Some(json_to_struct(data)),
            revision: 4,
            extra_fields: extra("revision"),
        }
    }

    /// proto → model → proto.
    fn round_trip<P, M>(proto: P) -> P
    where
        P: Clone + From<M>,
        M: From<P>,
    {
        P::from(M::from(proto))
    }

    // -- the fixtures really set every field ------------------------------------------------

    /// Adds the full name of every field set in `message` (recursively, within `everynode.v1`).
    fn collect_set_fields(message: &DynamicMessage, seen: &mut BTreeSet<String>) {
        for (field, value) in message.fields() {
            seen.insert(field.full_name().to_owned());
            collect_set_fields_in_value(value, seen);
        }
    }

    fn collect_set_fields_in_value(value: &prost_reflect::Value, seen: &mut BTreeSet<String>) {
        match value {
            prost_reflect::Value::Message(m) if m.descriptor().package_name() == "everynode.v1" => {
                collect_set_fields(m, seen);
            }
            prost_reflect::Value::List(items) => {
                for item in items {
                    collect_set_fields_in_value(item, seen);
                }
            }
            prost_reflect::Value::Map(entries) => {
                for item in entries.values() {
                    collect_set_fields_in_value(item, seen);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn fixtures_set_every_field_of_every_model_message() {
        let pool = DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
        let mut seen = BTreeSet::new();
        let fixtures: [(&str, Vec<u8>); 4] = [
            ("everynode.v1.DaemonSet", daemon_set().encode_to_vec()),
            ("everynode.v1.Pod", pod().encode_to_vec()),
            ("everynode.v1.Node", node().encode_to_vec()),
            (
                "everynode.v1.ControllerRevision",
                controller_revision().encode_to_vec(),
            ),
        ];
        for (name, bytes) in fixtures {
            let descriptor = pool.get_message_by_name(name).unwrap();
            let message = DynamicMessage::decode(descriptor, bytes.as_slice()).unwrap();
            collect_set_fields(&message, &mut seen);
        }

        let files = [
            "everynode/v1/meta.proto",
            "everynode/v1/pod.proto",
            "everynode/v1/node.proto",
            "everynode/v1/daemonset.proto",
        ];
        let unset: Vec<String> = files
            .iter()
            .flat_map(|file| {
                pool.get_file_by_name(file)
                    .unwrap()
                    .messages()
                    .collect::<Vec<_>>()
            })
            .flat_map(|message| message.fields().collect::<Vec<_>>())
            .map(|field| field.full_name().to_owned())
            .filter(|name| !seen.contains(name))
            .collect();
        assert!(
            unset.is_empty(),
            "the fixtures leave these fields unset, so the round trips do not cover them: {unset:?}"
        );
    }

    // -- round trips ---------------------------------------------------------------------------

    #[test]
    fn fully_populated_daemon_set_round_trips_unchanged() {
        let proto = daemon_set();
        assert_eq!(round_trip::<_, model::DaemonSet>(proto.clone()), proto);
    }

    #[test]
    fn pod_with_status_round_trips_unchanged() {
        let proto = pod();
        assert_eq!(round_trip::<_, model::Pod>(proto.clone()), proto);
    }

    #[test]
    fn node_round_trips_unchanged() {
        let proto = node();
        assert_eq!(round_trip::<_, model::Node>(proto.clone()), proto);
    }

    #[test]
    fn controller_revision_round_trips_unchanged() {
        let proto = controller_revision();
        assert_eq!(
            round_trip::<_, model::ControllerRevision>(proto.clone()),
            proto
        );
    }

    #[test]
    fn empty_objects_round_trip_unchanged() {
        assert_eq!(
            round_trip::<_, model::DaemonSet>(v1::DaemonSet::default()),
            v1::DaemonSet::default()
        );
        assert_eq!(
            round_trip::<_, model::Pod>(v1::Pod::default()),
            v1::Pod::default()
        );
        assert_eq!(
            round_trip::<_, model::Node>(v1::Node::default()),
            v1::Node::default()
        );
        assert_eq!(
            round_trip::<_, model::ControllerRevision>(v1::ControllerRevision::default()),
            v1::ControllerRevision::default()
        );
    }

    #[test]
    fn daemon_set_converts_to_the_expected_model_values() {
        let ds = model::DaemonSet::from(daemon_set());
        let spec = ds.spec.unwrap();
        let rolling = spec.update_strategy.unwrap().rolling_update.unwrap();
        assert_eq!(rolling.max_unavailable, Some(model::IntOrString::Int(1)));
        assert_eq!(rolling.max_surge, Some(model::IntOrString::from("10%")));
        assert_eq!(spec.min_ready_seconds, 10);
        let meta = ds.metadata.unwrap();
        assert_eq!(
            meta.creation_timestamp,
            Some(model::Timestamp {
                seconds: 1_700_000_000,
                nanos: 500
            })
        );
        assert_eq!(
            meta.controller_ref().map(|r| r.uid.as_str()),
            Some("uid-owner")
        );
        assert_eq!(meta.extra_fields["count"], json!(7));
        assert_eq!(
            meta.extra_fields["x-meta"]["nested"],
            json!([1, 2.5, -3, "s", true, null, {"k": "v"}, []])
        );
    }

    #[test]
    fn pod_status_converts_container_states_to_the_enum() {
        let pod = model::Pod::from(pod());
        assert!(pod.is_ready());
        let status = pod.status.unwrap();
        assert!(matches!(
            status.container_statuses[0].state,
            Some(model::ContainerState::Running(_))
        ));
        assert!(matches!(
            status.init_container_statuses[0].state,
            Some(model::ContainerState::Waiting(_))
        ));
        assert!(matches!(
            status.container_statuses[0].last_state,
            Some(model::ContainerState::Terminated(
                model::ContainerStateTerminated { exit_code: 137, .. }
            ))
        ));
    }

    // -- extra_fields presence ---------------------------------------------------------------

    #[test]
    fn empty_extra_fields_struct_becomes_absent() {
        let proto = v1::Volume {
            name: "data".into(),
            extra_fields: Some(prost_types::Struct::default()),
        };
        let volume = model::Volume::from(proto);
        assert!(volume.extra_fields.is_empty());
        assert_eq!(v1::Volume::from(volume).extra_fields, None);
    }

    #[test]
    fn empty_extra_becomes_absent_struct_and_absent_struct_becomes_empty_extra() {
        assert_eq!(extra_to_struct(model::Extra::new()), None);
        assert_eq!(extra_from_struct(None), model::Extra::new());
    }

    // -- container state ---------------------------------------------------------------------

    #[test]
    fn container_state_with_several_set_keeps_terminated_over_running_over_waiting() {
        let waiting = Some(v1::ContainerStateWaiting {
            reason: "ContainerCreating".into(),
            message: String::new(),
        });
        let running = Some(v1::ContainerStateRunning { started_at: ts(1) });
        let all = v1::ContainerState {
            waiting: waiting.clone(),
            running,
            terminated: Some(terminated()),
        };
        assert!(matches!(
            container_state_from_proto(all),
            Some(model::ContainerState::Terminated(_))
        ));
        let running_and_waiting = v1::ContainerState {
            waiting,
            running,
            terminated: None,
        };
        assert!(matches!(
            container_state_from_proto(running_and_waiting),
            Some(model::ContainerState::Running(_))
        ));
    }

    #[test]
    fn container_state_with_none_set_is_absent() {
        assert_eq!(
            container_state_from_proto(v1::ContainerState::default()),
            None
        );
    }

    // -- int-or-string -----------------------------------------------------------------------

    #[test]
    fn integral_numbers_in_i32_range_are_ints() {
        use model::IntOrString::Int;
        assert_eq!(int_or_string_from_value(number(1.0)), Some(Int(1)));
        assert_eq!(int_or_string_from_value(number(0.0)), Some(Int(0)));
        assert_eq!(int_or_string_from_value(number(-1.0)), Some(Int(-1)));
        assert_eq!(
            int_or_string_from_value(number(f64::from(i32::MAX))),
            Some(Int(i32::MAX))
        );
        assert_eq!(
            int_or_string_from_value(number(f64::from(i32::MIN))),
            Some(Int(i32::MIN))
        );
    }

    #[test]
    fn fractional_or_out_of_range_numbers_are_kept_as_strings() {
        use model::IntOrString::Str;
        assert_eq!(
            int_or_string_from_value(number(1.5)),
            Some(Str("1.5".into()))
        );
        assert_eq!(
            int_or_string_from_value(number(3_000_000_000.0)),
            Some(Str("3000000000".into()))
        );
        assert_eq!(
            int_or_string_from_value(number(f64::from(i32::MIN) - 1.0)),
            Some(Str("-2147483649".into()))
        );
        assert_eq!(
            int_or_string_from_value(number(f64::NAN)),
            Some(Str("NaN".into()))
        );
    }

    #[test]
    fn strings_are_kept_as_given() {
        use model::IntOrString::Str;
        assert_eq!(
            int_or_string_from_value(string("10%")),
            Some(Str("10%".into()))
        );
        assert_eq!(int_or_string_from_value(string("1")), Some(Str("1".into())));
        assert_eq!(
            int_or_string_from_value(string("")),
            Some(Str(String::new()))
        );
    }

    #[test]
    fn null_bool_list_struct_and_kindless_values_are_absent() {
        let values = [
            prost_types::Value { kind: None },
            json_to_value(json!(null)),
            json_to_value(json!(true)),
            json_to_value(json!([1])),
            json_to_value(json!({"a": 1})),
        ];
        for value in values {
            assert_eq!(int_or_string_from_value(value.clone()), None, "{value:?}");
        }
    }

    #[test]
    fn int_or_string_is_written_as_number_or_string() {
        assert_eq!(
            int_or_string_to_value(model::IntOrString::Int(25)),
            number(25.0)
        );
        assert_eq!(
            int_or_string_to_value(model::IntOrString::from("25%")),
            string("25%")
        );
    }

    // -- timestamps ----------------------------------------------------------------------------

    #[test]
    fn timestamps_are_normalized_on_the_way_in() {
        let t = prost_types::Timestamp {
            seconds: 10,
            nanos: -1,
        };
        assert_eq!(
            timestamp_from_proto(t),
            model::Timestamp {
                seconds: 9,
                nanos: 999_999_999
            }
        );
    }

    // -- Struct / Value ↔ JSON ----------------------------------------------------------------

    #[test]
    fn nested_json_round_trips_through_struct() {
        let serde_json::Value::Object(object) = json!({
            "a": {"b": {"c": [1, [2, [3]], {"d": null}]}},
            "list": ["x", 1.25, false, null],
            "empty_object": {},
            "empty_list": [],
            "int": -42,
            "float": 0.5,
        }) else {
            unreachable!("json! of an object literal is an object")
        };
        assert_eq!(struct_to_json(json_to_struct(object.clone())), object);
    }

    #[test]
    fn integral_numbers_within_2_pow_53_come_back_as_json_integers() {
        assert!(value_to_json(number(3.0)).is_i64());
        assert_eq!(value_to_json(number(3.0)), json!(3));
        assert_eq!(value_to_json(number(-0.0)), json!(0));
        assert_eq!(
            value_to_json(number(9_007_199_254_740_992.0)),
            json!(9_007_199_254_740_992_i64)
        );
        assert_eq!(
            value_to_json(number(-9_007_199_254_740_992.0)),
            json!(-9_007_199_254_740_992_i64)
        );
    }

    #[test]
    fn other_numbers_come_back_as_json_floats() {
        assert!(value_to_json(number(2.5)).is_f64());
        assert_eq!(value_to_json(number(2.5)), json!(2.5));
        let big = value_to_json(number(18_014_398_509_481_984.0)); // 2^54
        assert!(big.is_f64(), "{big}");
        assert_eq!(big.as_f64(), Some(18_014_398_509_481_984.0));
    }

    #[test]
    fn non_finite_numbers_and_kindless_values_become_null() {
        assert_eq!(value_to_json(number(f64::NAN)), serde_json::Value::Null);
        assert_eq!(
            value_to_json(number(f64::INFINITY)),
            serde_json::Value::Null
        );
        assert_eq!(
            value_to_json(prost_types::Value { kind: None }),
            serde_json::Value::Null
        );
    }

    #[test]
    fn json_scalars_map_to_their_proto_kinds() {
        assert_eq!(
            json_to_value(json!(null)).kind,
            Some(Kind::NullValue(prost_types::NullValue::NullValue.into()))
        );
        assert_eq!(json_to_value(json!(true)).kind, Some(Kind::BoolValue(true)));
        assert_eq!(json_to_value(json!(7)).kind, Some(Kind::NumberValue(7.0)));
        assert_eq!(
            json_to_value(json!(0.25)).kind,
            Some(Kind::NumberValue(0.25))
        );
        assert_eq!(
            json_to_value(json!(u64::MAX)).kind,
            Some(Kind::NumberValue(u64::MAX as f64))
        );
        assert_eq!(
            json_to_value(json!("s")).kind,
            Some(Kind::StringValue("s".into()))
        );
    }
}
