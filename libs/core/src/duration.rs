//! Durations as every everynode binary reads them from its flags and environment variables:
//! humantime's syntax (`250ms`, `10s`, `1m30s`, `2h`), `0` for zero, surrounding whitespace
//! ignored. [`parse_duration`] and [`parse_positive_duration`] are clap value parsers; their
//! errors read the same for every flag.

use std::time::Duration;

/// A flag value that is not an acceptable duration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DurationError {
    /// Not in humantime's syntax.
    #[error("not a duration ({0}); try 10s or 1m30s")]
    Syntax(#[source] humantime::DurationError),
    /// Zero where only a positive duration makes sense.
    #[error("must be longer than zero")]
    Zero,
}

/// A duration such as `10s`, `1m30s` or `250ms`; `0` (or `0s`) is zero.
pub fn parse_duration(value: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(value.trim()).map_err(DurationError::Syntax)
}

/// A duration longer than zero.
pub fn parse_positive_duration(value: &str) -> Result<Duration, DurationError> {
    match parse_duration(value)? {
        duration if duration.is_zero() => Err(DurationError::Zero),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humantime_syntax_and_zero() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 2h "), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        let error = parse_duration("soon").unwrap_err().to_string();
        assert!(error.starts_with("not a duration ("), "{error}");
        assert!(error.ends_with("); try 10s or 1m30s"), "{error}");
        assert!(parse_duration("10").is_err(), "a unit is required");
    }

    #[test]
    fn positive_durations_refuse_zero() {
        assert_eq!(parse_positive_duration("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_positive_duration("0s"), Err(DurationError::Zero));
        assert_eq!(
            parse_positive_duration("0").unwrap_err().to_string(),
            "must be longer than zero"
        );
        assert!(matches!(
            parse_positive_duration("x"),
            Err(DurationError::Syntax(_))
        ));
    }
}
