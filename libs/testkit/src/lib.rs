//! Test harness shared by every integration test of everynode.
//!
//! - [`NatsServer`] starts a real `nats-server` with JetStream, on a free loopback port, with its
//!   own temporary store, and cleans up (process killed and reaped, port freed, directory
//!   removed) when dropped. It can be stopped, killed and restarted on the same port and store
//!   to test how services ride out a NATS restart.
//! - [`Stack`] is the whole system on one such server: admission, registry, controllers and
//!   agents in this process on free ports (a controller also as its own process), configured in
//!   one place ([`StackBuilder`]), with their addresses and gRPC clients.
//! - [`Served`] runs one service's `run` on a free port, for the tests of that service.
//! - [`Wait`] and [`eventually`] wait on a condition instead of sleeping: they poll until the
//!   condition holds or a deadline passes, and a timeout says what was expected and what was
//!   last observed.
//!
//! - [`pki::TestPki`] makes a PKI per test as `enctl pki init` does: every service, agent and
//!   client of a test presents an identity of its CA (credentials on, as in production).
//! - [`TestCgroups`] gives an agent of a test a cgroup parent of its own (removed afterwards),
//!   and makes a confinement test fail, saying what is missing, without root or cgroups.
//! - [`fixtures`] finds the test data kept in the repository (the real-world manifests).
//!
//! The harness reads exactly one environment variable, `EVERYNODE_NATS_SERVER` (the path of the
//! `nats-server` binary to use); everything else is passed in by the test.

mod cgroups;
pub mod fixtures;
mod nats;
pub mod pki;
mod served;
mod stack;
mod wait;

pub use cgroups::TestCgroups;
pub use nats::{BINARY_ENV, Error, NatsCluster, NatsServer, free_ports};
pub use served::Served;
pub use stack::{ControllerProcess, Service, Stack, StackBuilder, Timing, check_serving};
pub use wait::{TimedOut, Wait, eventually, eventually_blocking};
