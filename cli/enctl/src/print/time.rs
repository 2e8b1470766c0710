//! Times as kubectl prints them: ages (`45s`, `3m12s`, `5h`, `2d`; apimachinery's
//! `duration.HumanDuration`) and timestamps (`time.RFC1123Z`, in UTC).

use everynode_core::model::Timestamp;

/// Whole seconds from `then` to `now`, truncated toward zero (Go's `int(d.Seconds())`).
pub fn seconds_between(then: Timestamp, now: Timestamp) -> i64 {
    let nanos = (i128::from(now.seconds) - i128::from(then.seconds)) * 1_000_000_000
        + (i128::from(now.nanos) - i128::from(then.nanos));
    i64::try_from(nanos / 1_000_000_000).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// kubectl's AGE column: `<unknown>` without a timestamp, else the human duration since it.
pub fn age(then: Option<Timestamp>, now: Timestamp) -> String {
    match then {
        None => "<unknown>".to_string(),
        Some(then) => human_duration(seconds_between(then, now)),
    }
}

/// A succinct duration with limited precision, exactly as `duration.HumanDuration`: seconds
/// up to 2 minutes, then minutes (with seconds below 10 minutes), hours (with minutes below 8
/// hours), days (with hours below 8 days), years (with days below 8 years). Up to one second in
/// the future counts as now (clock skew); further is `<invalid>`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A timestamp as Go's `time.RFC1123Z` in UTC: `Mon, 02 Jan 2006 15:04:05 +0000`.
pub fn rfc1123z(ts: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = ts.to_civil();
    let weekday = DAYS[usize::from(t.weekday).min(6)];
    let month = MONTHS[usize::from(t.month.saturating_sub(1)).min(11)];
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} +0000",
        t.day, t.year, t.hour, t.minute, t.second
    )
}

/// A timestamp, or `<unset>` as kubectl writes a zero time.
pub fn rfc1123z_or_unset(ts: Option<Timestamp>) -> String {
    ts.map_or_else(|| "<unset>".to_string(), rfc1123z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (192, "3m12s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600, "5h"),
            (5 * 3600 + 30 * 60, "5h30m"),
            (8 * 3600 + 59 * 60, "8h"),
            (47 * 3600, "47h"),
            (2 * 86_400, "2d"),
            (2 * 86_400 + 5 * 3600, "2d5h"),
            (8 * 86_400 + 5 * 3600, "8d"),
            (729 * 86_400, "729d"),
            (730 * 86_400, "2y"),
            (731 * 86_400, "2y1d"),
            (9 * 365 * 86_400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn age_truncates_toward_zero_and_knows_unknown() {
        let now = Timestamp {
            seconds: 1_000,
            nanos: 100,
        };
        let then = Timestamp {
            seconds: 955,
            nanos: 500,
        };
        assert_eq!(age(Some(then), now), "44s");
        assert_eq!(age(None, now), "<unknown>");
        // Slightly in the future (clock skew) reads as now.
        let future = Timestamp {
            seconds: 1_001,
            nanos: 0,
        };
        assert_eq!(age(Some(future), now), "0s");
    }

    #[test]
    fn timestamps_are_rfc1123z_in_utc() {
        assert_eq!(
            rfc1123z(Timestamp::from_seconds(0)),
            "Thu, 01 Jan 1970 00:00:00 +0000"
        );
        // Go's reference time, 2006-01-02T22:04:05Z.
        assert_eq!(
            rfc1123z(Timestamp::from_seconds(1_136_239_445)),
            "Mon, 02 Jan 2006 22:04:05 +0000"
        );
        // A leap day.
        assert_eq!(
            rfc1123z(Timestamp::from_seconds(1_709_210_096)),
            "Thu, 29 Feb 2024 12:34:56 +0000"
        );
        assert_eq!(rfc1123z_or_unset(None), "<unset>");
    }
}
