//! Human durations for the configuration file.
//!
//! The vendor's ITSMSettings.xml states every interval in plain seconds (`3600`), while people prefer
//! `1h` or `30d`. Both forms are accepted so that values copied from the vendor file keep working, and a
//! bad value is reported with the text the user wrote.

use std::time::Duration;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text was empty or only whitespace.
    #[error(
        "a duration cannot be empty; write e.g. \"15m\", \"24h\", \"30d\" or a number of seconds"
    )]
    Empty,
    /// A plain number that is negative.
    #[error("a duration cannot be negative (got {0})")]
    Negative(i64),
    /// Text that is neither a number of seconds nor a human duration.
    #[error("\"{text}\" is not a duration ({reason}); write e.g. \"15m\", \"24h\", \"1h30m\", \"30d\" or a number of seconds")]
    Invalid {
        /// What the user wrote.
        text: String,
        /// What the duration parser objected to.
        reason: String,
    },
}

/// Reads a duration: a plain number is seconds, anything else is a human duration such as `15m`,
/// `24h`, `30d`, `180s` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Ok(seconds) = trimmed.parse::<i64>() {
        return from_seconds(seconds);
    }
    humantime::parse_duration(trimmed).map_err(|error| DurationError::Invalid {
        text: text.to_string(),
        reason: error.to_string(),
    })
}

/// Converts a number of seconds (a TOML integer) into a duration.
pub fn from_seconds(seconds: i64) -> Result<Duration, DurationError> {
    u64::try_from(seconds)
        .map(Duration::from_secs)
        .map_err(|_| DurationError::Negative(seconds))
}

/// Writes a duration in the shortest exact form this module reads back: `30d`, `1h`, `15m`, `90s`,
/// or milliseconds when there is a fractional second. Used by the Netwrix importer and the docs.
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() != 0 {
        return format!("{}ms", duration.as_millis());
    }
    let seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".to_string();
    }
    // Whole days from two days up (`30d`), so that one day reads `24h` as people write it.
    if seconds % 86_400 == 0 && seconds >= 2 * 86_400 {
        return format!("{}d", seconds / 86_400);
    }
    for (unit_seconds, suffix) in [(3_600, "h"), (60, "m")] {
        if seconds % unit_seconds == 0 {
            return format!("{}{suffix}", seconds / unit_seconds);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn formatted_durations_read_back(seconds in 0u64..400_000_000) {
            let duration = Duration::from_secs(seconds);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }

    #[test]
    fn reads_human_and_plain_forms() {
        let cases = [
            ("15m", 900),
            ("24h", 86_400),
            ("30d", 2_592_000),
            ("180s", 180),
            ("1h30m", 5_400),
            ("1h 30m", 5_400),
            ("3600", 3_600),
            (" 0 ", 0),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(seconds)),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_bad_text_with_the_text_in_the_message() {
        let error = parse_duration("soon").unwrap_err();
        assert!(error.to_string().contains("\"soon\""), "{error}");
        assert_eq!(parse_duration("  "), Err(DurationError::Empty));
        assert_eq!(parse_duration("-5"), Err(DurationError::Negative(-5)));
        assert!(parse_duration("15 parsecs").is_err());
    }

    #[test]
    fn formats_in_the_largest_exact_unit_and_reads_back() {
        for (seconds, text) in [
            (2_592_000, "30d"),
            (3_600, "1h"),
            (86_400, "24h"),
            (604_800, "7d"),
            (900, "15m"),
            (5_400, "90m"),
            (61, "61s"),
            (0, "0s"),
        ] {
            let duration = Duration::from_secs(seconds);
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text), Ok(duration));
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
    }
}
