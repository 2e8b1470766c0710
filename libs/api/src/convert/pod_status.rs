//! Conversions of the pod status messages of `pod.proto`: pod status and conditions, container
//! statuses and the container state (a proto message of three optional states, an enum in the
//! model).

use everynode_core::model;

use super::{extra_from_struct, extra_to_struct, opt, ts_in, ts_out, vec};
use crate::v1;

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
pub(super) fn container_state_from_proto(
    value: v1::ContainerState,
) -> Option<model::ContainerState> {
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
