//! Pure DaemonSet logic with no I/O: the domain model of everynode's objects, and (as they
//! arrive) validation and defaulting, label and node selectors, taints and tolerations, and the
//! reconcile planner. Nothing here knows about protobuf, gRPC or NATS.

pub mod clock;
pub mod defaults;
pub mod duration;
pub mod errors;
pub mod labels;
pub mod model;
pub mod planner;
pub mod quantity;
pub mod retry;
pub mod scheduling;
pub mod validation;
