//! The wall clock as the domain model's timestamp: every service stamps creation, deletion,
//! heartbeat and transition times through this one function.

use std::time::SystemTime;

use everynode_core::model::Timestamp;

/// Now, as a [`Timestamp`] (a clock before 1970 reads as the epoch).
pub fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_this_code_was_written_and_has_valid_nanos() {
        let t = super::now();
        assert!(t.seconds > 1_790_000_000, "{t:?}");
        assert!((0..1_000_000_000).contains(&t.nanos), "{t:?}");
    }
}
