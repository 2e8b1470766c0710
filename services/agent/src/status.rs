//! Pod status assembly: a pure function from what a runtime observed of each container to the
//! pod's `status` (phase, conditions, container statuses), as the kubelet computes it
//! (`getPhase`, `GeneratePodReadyCondition`, `GenerateContainersReadyCondition`,
//! `GeneratePodInitializedCondition` in `pkg/kubelet`).
//!
//! Invariants:
//! - a condition's `lastTransitionTime` changes only when its `status` changes (it is carried
//!   over from the previous status otherwise), so assembling twice from the same observations
//!   gives the same status and the writer writes nothing;
//! - timestamps have whole seconds (Kubernetes' `metav1.Time` precision), for the same reason;
//! - `PodScheduled` is always `True`: a pod reaches an agent only once it is bound to its node.

use everynode_core::model::{
    ContainerState, ContainerStateWaiting, ContainerStatus, PodCondition, PodSpec, PodStatus,
    Timestamp,
};

/// Phase: not every container has started yet.
pub const PHASE_PENDING: &str = "Pending";
/// Phase: every container started and at least one runs (or restarts).
pub const PHASE_RUNNING: &str = "Running";
/// Phase: every container exited successfully and none will restart.
pub const PHASE_SUCCEEDED: &str = "Succeeded";
/// Phase: every container exited, at least one in failure, and none will restart.
pub const PHASE_FAILED: &str = "Failed";

/// Condition: every container is ready (and so the pod serves).
pub const READY: &str = "Ready";
/// Condition: every container is ready.
pub const CONTAINERS_READY: &str = "ContainersReady";
/// Condition: every init container completed.
pub const INITIALIZED: &str = "Initialized";
/// Condition: the pod is bound to a node.
pub const POD_SCHEDULED: &str = "PodScheduled";

const TRUE: &str = "True";
const FALSE: &str = "False";

/// Waiting reason while the runtime prepares a container.
pub const REASON_CONTAINER_CREATING: &str = "ContainerCreating";
/// Waiting reason of regular containers while init containers run.
pub const REASON_POD_INITIALIZING: &str = "PodInitializing";
/// Waiting reason between two restarts of a failing container.
pub const REASON_CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";

/// What stays the same for the whole life of a pod on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    /// The node's primary address.
    pub host_ip: String,
    /// The pod's address (the node's, for both runtimes).
    pub pod_ip: String,
    /// When the agent accepted the pod.
    pub start_time: Timestamp,
}

/// A waiting container status, as the runtime reports a container it has not started.
pub fn waiting(name: &str, image: &str, reason: &str, message: &str) -> ContainerStatus {
    ContainerStatus {
        name: name.to_owned(),
        state: Some(ContainerState::Waiting(ContainerStateWaiting {
            reason: reason.to_owned(),
            message: message.to_owned(),
        })),
        image: image.to_owned(),
        started: Some(false),
        ..ContainerStatus::default()
    }
}

/// The status of a pod that was just accepted: every init container (or, without any, every
/// container) `ContainerCreating`, the others `PodInitializing`.
pub fn initial(spec: &PodSpec, facts: &PodFacts, now: Timestamp) -> PodStatus {
    let has_init = !spec.init_containers.is_empty();
    let init = spec
        .init_containers
        .iter()
        .map(|c| waiting(&c.name, &c.image, REASON_CONTAINER_CREATING, ""))
        .collect();
    let reason = if has_init {
        REASON_POD_INITIALIZING
    } else {
        REASON_CONTAINER_CREATING
    };
    let containers = spec
        .containers
        .iter()
        .map(|c| waiting(&c.name, &c.image, reason, ""))
        .collect();
    assemble(spec, init, containers, facts, None, now)
}

/// The pod status for the observed container statuses. `previous` is the status last
/// assembled for this pod (for `lastTransitionTime`s); `now` stamps conditions that change.
pub fn assemble(
    spec: &PodSpec,
    init_container_statuses: Vec<ContainerStatus>,
    container_statuses: Vec<ContainerStatus>,
    facts: &PodFacts,
    previous: Option<&PodStatus>,
    now: Timestamp,
) -> PodStatus {
    let phase = phase(spec, &init_container_statuses, &container_statuses);
    let initialized = initialized(spec, &init_container_statuses);
    let unready = unready_containers(spec, &container_statuses);
    let previous_conditions = previous.map_or(&[][..], |p| p.conditions.as_slice());

    let mut conditions = Vec::with_capacity(4);
    let (status, reason, message) = match &initialized {
        Ok(()) => (TRUE, "", String::new()),
        Err(incomplete) => (
            FALSE,
            "ContainersNotInitialized",
            format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            ),
        ),
    };
    conditions.push(condition(
        previous_conditions,
        INITIALIZED,
        status,
        reason,
        message,
        now,
    ));
    let (status, reason, message) = if unready.is_empty() {
        (TRUE, "", String::new())
    } else {
        (
            FALSE,
            "ContainersNotReady",
            format!("containers with unready status: [{}]", unready.join(" ")),
        )
    };
    conditions.push(condition(
        previous_conditions,
        READY,
        status,
        reason,
        message.clone(),
        now,
    ));
    conditions.push(condition(
        previous_conditions,
        CONTAINERS_READY,
        status,
        reason,
        message,
        now,
    ));
    conditions.push(condition(
        previous_conditions,
        POD_SCHEDULED,
        TRUE,
        "",
        String::new(),
        now,
    ));

    PodStatus {
        phase: phase.to_owned(),
        conditions,
        host_ip: facts.host_ip.clone(),
        pod_ip: facts.pod_ip.clone(),
        start_time: Some(facts.start_time),
        init_container_statuses,
        container_statuses,
        ..PodStatus::default()
    }
}

/// A condition, keeping the previous `lastTransitionTime` when `status` did not change.
fn condition(
    previous: &[PodCondition],
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> PodCondition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time)
        .or(Some(now));
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        last_probe_time: None,
        last_transition_time,
        reason: reason.to_owned(),
        message,
    }
}

fn find<'a>(statuses: &'a [ContainerStatus], name: &str) -> Option<&'a ContainerStatus> {
    statuses.iter().find(|s| s.name == name)
}

fn terminated_exit_code(state: Option<&ContainerState>) -> Option<i32> {
    match state {
        Some(ContainerState::Terminated(t)) => Some(t.exit_code),
        _ => None,
    }
}

/// `Ok` when every init container has completed successfully, else the names of those that
/// have not.
fn initialized(spec: &PodSpec, statuses: &[ContainerStatus]) -> Result<(), Vec<String>> {
    let incomplete: Vec<String> = spec
        .init_containers
        .iter()
        .filter(|c| {
            find(statuses, &c.name)
                .is_none_or(|s| terminated_exit_code(s.state.as_ref()) != Some(0))
        })
        .map(|c| c.name.clone())
        .collect();
    if incomplete.is_empty() {
        Ok(())
    } else {
        Err(incomplete)
    }
}

/// The containers that are not ready, in spec order.
fn unready_containers(spec: &PodSpec, statuses: &[ContainerStatus]) -> Vec<String> {
    spec.containers
        .iter()
        .filter(|c| find(statuses, &c.name).is_none_or(|s| !s.ready))
        .map(|c| c.name.clone())
        .collect()
}

/// The pod phase, as the kubelet's `getPhase` computes it (restartable "sidecar" init
/// containers are treated as ordinary init containers).
pub fn phase(
    spec: &PodSpec,
    init_statuses: &[ContainerStatus],
    statuses: &[ContainerStatus],
) -> &'static str {
    let mut pending_initialization = 0;
    let mut failed_initialization = 0;
    for container in &spec.init_containers {
        let Some(status) = find(init_statuses, &container.name) else {
            pending_initialization += 1;
            continue;
        };
        match &status.state {
            Some(ContainerState::Running(_)) => pending_initialization += 1,
            Some(ContainerState::Terminated(t)) => {
                if t.exit_code != 0 {
                    failed_initialization += 1;
                }
            }
            Some(ContainerState::Waiting(_)) => {
                match terminated_exit_code(status.last_state.as_ref()) {
                    Some(0) => {}
                    Some(_) => failed_initialization += 1,
                    None => pending_initialization += 1,
                }
            }
            None => pending_initialization += 1,
        }
    }

    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for container in &spec.containers {
        let Some(status) = find(statuses, &container.name) else {
            unknown += 1;
            continue;
        };
        match &status.state {
            Some(ContainerState::Running(_)) => running += 1,
            Some(ContainerState::Terminated(t)) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            Some(ContainerState::Waiting(_)) => {
                if terminated_exit_code(status.last_state.as_ref()).is_some() {
                    stopped += 1;
                } else {
                    waiting += 1;
                }
            }
            None => unknown += 1,
        }
    }

    let restart_policy = spec.restart_policy.as_str();
    if failed_initialization > 0 && restart_policy == "Never" {
        return PHASE_FAILED;
    }
    let any_regular_started = statuses.iter().any(|s| {
        matches!(
            s.state,
            Some(ContainerState::Running(_) | ContainerState::Terminated(_))
        ) || s.last_state.is_some()
    });
    if (pending_initialization > 0 && !any_regular_started) || waiting > 0 {
        return PHASE_PENDING;
    }
    if running > 0 && unknown == 0 {
        return PHASE_RUNNING;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        // An empty restart policy is Kubernetes' default, Always.
        if restart_policy == "Always" || restart_policy.is_empty() {
            return PHASE_RUNNING;
        }
        if stopped == succeeded {
            return PHASE_SUCCEEDED;
        }
        if restart_policy == "Never" {
            return PHASE_FAILED;
        }
        return PHASE_RUNNING;
    }
    PHASE_PENDING
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{Container, ContainerStateRunning, ContainerStateTerminated};

    use super::*;

    fn spec(init: &[&str], containers: &[&str], policy: &str) -> PodSpec {
        let container = |name: &&str| Container {
            name: (*name).to_owned(),
            image: "img".to_owned(),
            ..Container::default()
        };
        PodSpec {
            init_containers: init.iter().map(container).collect(),
            containers: containers.iter().map(container).collect(),
            restart_policy: policy.to_owned(),
            ..PodSpec::default()
        }
    }

    fn facts() -> PodFacts {
        PodFacts {
            host_ip: "10.0.0.1".to_owned(),
            pod_ip: "10.0.0.1".to_owned(),
            start_time: Timestamp::from_seconds(100),
        }
    }

    fn running(name: &str, ready: bool) -> ContainerStatus {
        ContainerStatus {
            name: name.to_owned(),
            state: Some(ContainerState::Running(ContainerStateRunning {
                started_at: Some(Timestamp::from_seconds(101)),
            })),
            ready,
            started: Some(true),
            ..ContainerStatus::default()
        }
    }

    fn terminated(name: &str, exit_code: i32) -> ContainerStatus {
        ContainerStatus {
            name: name.to_owned(),
            state: Some(ContainerState::Terminated(ContainerStateTerminated {
                exit_code,
                ..ContainerStateTerminated::default()
            })),
            ..ContainerStatus::default()
        }
    }

    fn crash_looping(name: &str) -> ContainerStatus {
        ContainerStatus {
            last_state: terminated(name, 1).state,
            restart_count: 3,
            ..waiting(name, "img", REASON_CRASH_LOOP_BACK_OFF, "back-off")
        }
    }

    fn condition_of<'a>(status: &'a PodStatus, type_: &str) -> &'a PodCondition {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no {type_} condition in {status:?}"))
    }

    #[test]
    fn a_new_pod_is_pending_and_not_ready() {
        let spec = spec(&[], &["app"], "Always");
        let status = initial(&spec, &facts(), Timestamp::from_seconds(100));
        assert_eq!(status.phase, PHASE_PENDING);
        assert_eq!(condition_of(&status, READY).status, "False");
        assert_eq!(
            condition_of(&status, READY).message,
            "containers with unready status: [app]"
        );
        assert_eq!(condition_of(&status, INITIALIZED).status, "True");
        assert_eq!(condition_of(&status, POD_SCHEDULED).status, "True");
        assert_eq!(status.host_ip, "10.0.0.1");
        assert_eq!(status.start_time, Some(Timestamp::from_seconds(100)));
        let waiting = &status.container_statuses[0];
        assert!(
            matches!(&waiting.state, Some(ContainerState::Waiting(w)) if w.reason == REASON_CONTAINER_CREATING)
        );
    }

    #[test]
    fn regular_containers_wait_for_init_containers() {
        let spec = spec(&["setup"], &["app"], "Always");
        let status = initial(&spec, &facts(), Timestamp::from_seconds(100));
        assert_eq!(status.phase, PHASE_PENDING);
        assert_eq!(condition_of(&status, INITIALIZED).status, "False");
        assert!(
            matches!(&status.container_statuses[0].state, Some(ContainerState::Waiting(w)) if w.reason == REASON_POD_INITIALIZING)
        );
    }

    #[test]
    fn running_ready_containers_make_a_ready_running_pod() {
        let spec = spec(&["setup"], &["a", "b"], "Always");
        let status = assemble(
            &spec,
            vec![terminated("setup", 0)],
            vec![running("a", true), running("b", true)],
            &facts(),
            None,
            Timestamp::from_seconds(200),
        );
        assert_eq!(status.phase, PHASE_RUNNING);
        for type_ in [READY, CONTAINERS_READY, INITIALIZED, POD_SCHEDULED] {
            assert_eq!(condition_of(&status, type_).status, "True", "{type_}");
        }
    }

    #[test]
    fn one_unready_container_makes_the_pod_unready_but_running() {
        let spec = spec(&[], &["a", "b"], "Always");
        let status = assemble(
            &spec,
            vec![],
            vec![running("a", true), running("b", false)],
            &facts(),
            None,
            Timestamp::from_seconds(200),
        );
        assert_eq!(status.phase, PHASE_RUNNING);
        let ready = condition_of(&status, READY);
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason, "ContainersNotReady");
        assert_eq!(ready.message, "containers with unready status: [b]");
    }

    #[test]
    fn a_crash_looping_container_keeps_the_pod_running_under_restart_policy_always() {
        let spec = spec(&[], &["app"], "Always");
        let status = assemble(
            &spec,
            vec![],
            vec![crash_looping("app")],
            &facts(),
            None,
            Timestamp::from_seconds(200),
        );
        assert_eq!(status.phase, PHASE_RUNNING);
        assert_eq!(condition_of(&status, READY).status, "False");
    }

    #[test]
    fn a_container_without_a_command_keeps_the_pod_pending() {
        let spec = spec(&[], &["app"], "Always");
        let status = assemble(
            &spec,
            vec![],
            vec![waiting("app", "img", "NoCommand", "no command")],
            &facts(),
            None,
            Timestamp::from_seconds(200),
        );
        assert_eq!(status.phase, PHASE_PENDING);
    }

    #[test]
    fn exited_containers_give_succeeded_or_failed_only_without_restarts() {
        let never = spec(&[], &["a", "b"], "Never");
        let ok = [terminated("a", 0), terminated("b", 0)];
        let failed = [terminated("a", 0), terminated("b", 2)];
        assert_eq!(phase(&never, &[], &ok), PHASE_SUCCEEDED);
        assert_eq!(phase(&never, &[], &failed), PHASE_FAILED);
        let on_failure = spec(&[], &["a", "b"], "OnFailure");
        assert_eq!(phase(&on_failure, &[], &ok), PHASE_SUCCEEDED);
        assert_eq!(phase(&on_failure, &[], &failed), PHASE_RUNNING);
        let always = spec(&[], &["a", "b"], "Always");
        assert_eq!(phase(&always, &[], &ok), PHASE_RUNNING);
    }

    #[test]
    fn a_failed_init_container_fails_the_pod_only_with_restart_policy_never() {
        let never = spec(&["setup"], &["app"], "Never");
        let app_waiting = [waiting("app", "img", REASON_POD_INITIALIZING, "")];
        assert_eq!(
            phase(&never, &[terminated("setup", 1)], &app_waiting),
            PHASE_FAILED
        );
        let always = spec(&["setup"], &["app"], "Always");
        assert_eq!(
            phase(&always, &[crash_looping("setup")], &app_waiting),
            PHASE_PENDING
        );
    }

    #[test]
    fn missing_container_statuses_keep_the_pod_pending() {
        let spec = spec(&[], &["a", "b"], "Always");
        assert_eq!(phase(&spec, &[], &[running("a", true)]), PHASE_PENDING);
    }

    #[test]
    fn transition_times_change_only_when_a_condition_flips() {
        let spec = spec(&[], &["app"], "Always");
        let first = assemble(
            &spec,
            vec![],
            vec![running("app", false)],
            &facts(),
            None,
            Timestamp::from_seconds(200),
        );
        let same = assemble(
            &spec,
            vec![],
            vec![running("app", false)],
            &facts(),
            Some(&first),
            Timestamp::from_seconds(300),
        );
        assert_eq!(first, same, "nothing changed, so nothing may differ");
        let ready = assemble(
            &spec,
            vec![],
            vec![running("app", true)],
            &facts(),
            Some(&same),
            Timestamp::from_seconds(400),
        );
        assert_eq!(
            condition_of(&ready, READY).last_transition_time,
            Some(Timestamp::from_seconds(400))
        );
        assert_eq!(
            condition_of(&ready, POD_SCHEDULED).last_transition_time,
            Some(Timestamp::from_seconds(200))
        );
    }
}
