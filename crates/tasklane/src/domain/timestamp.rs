//! Instants in time, kept at microsecond precision in UTC.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An instant, truncated to whole microseconds and normalised to UTC.
///
/// Microseconds are what both SQL stores hold exactly (as a 64-bit integer), so a value
/// read back always equals the value written, and ordering in SQL equals ordering here.
/// Serialised as RFC 3339 (`2026-11-24T09:30:00.5Z`); parsed from RFC 3339 with any
/// offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current instant.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// Parses an RFC 3339 timestamp (`2026-11-24T09:30:00Z`, `...+02:00`).
    pub fn parse(text: &str) -> Result<Self, String> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|_| format!("`{text}` is not an RFC 3339 timestamp"))
    }

    /// Microseconds since the Unix epoch: the stored representation.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// The inverse of [`Timestamp::as_micros`].
    pub fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    fn from_datetime(at: OffsetDateTime) -> Self {
        // Years 1..=9999 (all RFC 3339 can express) span about ±2^58 microseconds.
        Timestamp((at.unix_timestamp_nanos() / 1_000) as i64)
    }

    fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000)
            .expect("a Timestamp is only built from an in-range instant")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self
            .to_datetime()
            .format(&Rfc3339)
            .map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_to_utc_and_truncates_to_micros() {
        let t = Timestamp::parse("2026-11-24T10:30:00.123456789+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T09:30:00.123456Z");
        assert_eq!(Timestamp::from_micros(t.as_micros()), t);
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
        assert!(Timestamp::parse("2026-11-24").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("2026-11-24T10:30:00").is_err());
    }
}
