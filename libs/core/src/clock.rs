//! The wall clock, read as the domain model's [`Timestamp`]: every binary stamps creation,
//! deletion, heartbeat, transition and container times through [`Timestamp::now`]. Reading the
//! clock is the only thing here that is not pure; the planner never calls it (it is given
//! "now").

use std::time::{Duration, SystemTime};

use crate::model::Timestamp;

impl Timestamp {
    /// Now (a clock before 1970 reads as the epoch).
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// The wall-clock time `elapsed` before now (the epoch at the earliest).
    pub fn ago(elapsed: Duration) -> Self {
        Self::from_system_time(
            SystemTime::now()
                .checked_sub(elapsed)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        )
    }

    /// `time` as a timestamp (a time before 1970 reads as the epoch).
    pub fn from_system_time(time: SystemTime) -> Self {
        let since = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
        }
    }

    /// This time without its fraction of a second, as Kubernetes records `metav1.Time`.
    pub const fn whole_seconds(self) -> Self {
        Self::from_seconds(self.seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_this_code_was_written_and_has_valid_nanos() {
        let t = Timestamp::now();
        assert!(t.seconds > 1_790_000_000, "{t:?}");
        assert!((0..1_000_000_000).contains(&t.nanos), "{t:?}");
    }

    #[test]
    fn ago_goes_back_and_stops_at_the_epoch() {
        let before = Timestamp::now();
        let earlier = Timestamp::ago(Duration::from_secs(10));
        assert!(
            earlier.seconds <= before.seconds - 9,
            "{earlier:?} {before:?}"
        );
        assert!(
            earlier.seconds >= before.seconds - 11,
            "{earlier:?} {before:?}"
        );
        assert_eq!(
            Timestamp::ago(Duration::from_secs(u64::MAX / 2)),
            Timestamp::default()
        );
    }

    #[test]
    fn whole_seconds_drops_the_fraction() {
        let t = Timestamp {
            seconds: 12,
            nanos: 999,
        };
        assert_eq!(t.whole_seconds(), Timestamp::from_seconds(12));
        let before_1970 = SystemTime::UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(
            Timestamp::from_system_time(before_1970),
            Timestamp::default()
        );
    }
}
