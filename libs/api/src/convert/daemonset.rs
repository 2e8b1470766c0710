//! Conversions of `daemonset.proto`: the DaemonSet, its spec, update strategy, status and
//! conditions, and the ControllerRevision that records its templates.

use everynode_core::model;

use super::{
    extra_from_struct, extra_to_struct, ios_in, ios_out, json_to_struct, opt, struct_to_json,
    ts_in, ts_out, vec,
};
use crate::v1;

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
