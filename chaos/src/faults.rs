//! The faults the suite injects, and how each is healed.

use std::fmt;
use std::time::Duration;

use crate::fleet::{Fleet, Part};
use crate::rng::Rng;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// SIGKILL admission, start it again.
    KillAdmission,
    /// SIGKILL the registry, start it again.
    KillRegistry,
    /// SIGKILL the controller holding the lease, start it again (as a standby).
    KillLeader,
    /// SIGKILL one agent process (its simulated nodes' pods keep running), start it again.
    KillAgent,
    /// SIGKILL one nats-server of the cluster, start it again on its store.
    KillNats,
    /// SIGSTOP the controller holding the lease for longer than the lease, then SIGCONT.
    FreezeLeader,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::KillAdmission,
        Kind::KillRegistry,
        Kind::KillLeader,
        Kind::KillAgent,
        Kind::KillNats,
        Kind::FreezeLeader,
    ];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::KillAdmission => "kill-admission",
            Kind::KillRegistry => "kill-registry",
            Kind::KillLeader => "kill-leader",
            Kind::KillAgent => "kill-agent",
            Kind::KillNats => "kill-nats",
            Kind::FreezeLeader => "freeze-leader",
        })
    }
}

/// The order of fault kinds: every kind once per round of six, each round shuffled.
#[derive(Debug)]
pub struct Schedule {
    round: Vec<Kind>,
}

impl Schedule {
    /// An empty schedule (filled on first use).
    pub fn new() -> Self {
        Self { round: Vec::new() }
    }

    /// The next kind.
    pub fn next(&mut self, rng: &mut Rng) -> Kind {
        if self.round.is_empty() {
            self.round = Kind::ALL.to_vec();
            rng.shuffle(&mut self.round);
        }
        self.round.pop().unwrap_or(Kind::KillAgent)
    }
}

/// One injected fault: what, on which part, for how long.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The kind.
    pub kind: Kind,
    /// The process it hit.
    pub target: String,
    /// From injection to heal.
    pub held: Duration,
}

/// Injects a fault of `kind`, keeps it for a random time, heals it, and waits until the part is
/// back (a restarted service serves; a restarted nats-server serves JetStream).
pub async fn inject(
    fleet: &mut Fleet,
    kind: Kind,
    rng: &mut Rng,
    lease: Duration,
) -> anyhow::Result<Fault> {
    let hold = rng.between(Duration::from_millis(300), Duration::from_millis(2500));
    let started = tokio::time::Instant::now();
    let target = match kind {
        Kind::KillAdmission | Kind::KillRegistry => {
            let part = if kind == Kind::KillAdmission {
                Part::Admission
            } else {
                Part::Registry
            };
            let proc = fleet.service(part);
            proc.kill();
            tokio::time::sleep(hold).await;
            proc.spawn()?;
            let name = proc.name.clone();
            fleet.wait_serving(part).await?;
            name
        }
        Kind::KillLeader => {
            let leader = fleet.wait_leader(Duration::from_secs(30)).await?;
            let controller = &mut fleet.controllers[leader];
            controller.kill();
            tokio::time::sleep(hold).await;
            controller.spawn()?;
            controller.name.clone()
        }
        Kind::FreezeLeader => {
            let leader = fleet.wait_leader(Duration::from_secs(30)).await?;
            let controller = &mut fleet.controllers[leader];
            controller.freeze()?;
            // Past the lease, so that a standby takes over while it is frozen.
            let frozen =
                lease + rng.between(Duration::from_millis(1000), Duration::from_millis(3000));
            tokio::time::sleep(frozen).await;
            fleet.controllers[leader].thaw()?;
            fleet.controllers[leader].name.clone()
        }
        Kind::KillAgent => {
            let index = rng.below(fleet.agents.len());
            let agent = &mut fleet.agents[index];
            agent.proc.kill();
            tokio::time::sleep(hold).await;
            agent.proc.spawn()?;
            agent.proc.name.clone()
        }
        Kind::KillNats => {
            let index = rng.below(fleet.nats.len());
            let member = fleet.nats.member(index);
            member.kill();
            tokio::time::sleep(hold).await;
            member.restart().await?;
            // NATS itself has healed only once the streams the killed member led have new
            // leaders: it elects them after its raft election timeout (4–9 s after the kill,
            // fixed in nats-server), which no client can shorten; the convergence limit counts
            // from there.
            fleet.wait_streams_led(Duration::from_secs(30)).await?;
            format!("nats-{index}")
        }
    };
    Ok(Fault {
        kind,
        target,
        held: started.elapsed(),
    })
}
