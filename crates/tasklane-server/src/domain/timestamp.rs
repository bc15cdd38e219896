//! Instants in time, kept at microsecond precision in UTC, within the years 1 to 9999.

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
///
/// Only instants from [`Timestamp::MIN`] to [`Timestamp::MAX`] can be built, checked
/// *after* the offset is applied: RFC 3339 writes four-digit years, so
/// `9999-12-31T23:59:59-00:01` (in the year 10000 once in UTC) parses but could never be
/// written back. Every value of this type therefore serialises, which is what keeps a
/// stored task readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest instant: `0001-01-01T00:00:00Z`. (Year 0 is valid RFC 3339, but many
    /// clients' date types start at year 1.)
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000_000);
    /// The latest instant: `9999-12-31T23:59:59.999999Z`.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999_999);

    /// The current instant.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc()).expect("the clock is within years 1 to 9999")
    }

    /// Parses an RFC 3339 timestamp (`2026-11-24T09:30:00Z`, `...+02:00`) whose instant,
    /// in UTC, lies from [`Timestamp::MIN`] to [`Timestamp::MAX`].
    pub fn parse(text: &str) -> Result<Self, String> {
        // RFC 3339 allows a leap second (`23:59:60`), which no stored instant can hold:
        // the parser would move it to `23:59:59.999999`, another instant than the one
        // sent. Refused instead of reinterpreted.
        if text.get(17..19) == Some("60") {
            return Err(format!(
                "`{text}` is a leap second, which cannot be stored; send :59 or :00 of the \
                 next minute"
            ));
        }
        let at = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| format!("`{text}` is not an RFC 3339 timestamp"))?;
        Self::from_datetime(at).ok_or_else(|| {
            format!(
                "`{text}` is outside the range {} to {} once converted to UTC",
                Self::MIN,
                Self::MAX
            )
        })
    }

    /// Microseconds since the Unix epoch: the stored representation.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// The inverse of [`Timestamp::as_micros`]; `None` outside [`Timestamp::MIN`] to
    /// [`Timestamp::MAX`].
    pub fn from_micros(micros: i64) -> Option<Self> {
        (Self::MIN.0..=Self::MAX.0)
            .contains(&micros)
            .then_some(Timestamp(micros))
    }

    fn from_datetime(at: OffsetDateTime) -> Option<Self> {
        // Whole microseconds, rounded down (towards the past, before 1970 too) as
        // truncating the digits does. Years -9999..=9999 (all `time` holds) span about
        // ±2^58 microseconds, so the quotient fits.
        let micros = at.unix_timestamp_nanos().div_euclid(1_000);
        Self::from_micros(i64::try_from(micros).ok()?)
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
        assert_eq!(Timestamp::from_micros(t.as_micros()), Some(t));
    }

    #[test]
    fn a_leap_second_is_refused_not_moved() {
        let error = Timestamp::parse("2016-12-31T23:59:60Z").unwrap_err();
        assert!(error.contains("leap second"), "{error}");
        assert!(Timestamp::parse("2016-12-31T23:59:60.5+01:00").is_err());
        assert!(Timestamp::parse("2016-12-31T23:59:59Z").is_ok());
    }

    #[test]
    fn the_range_is_checked_in_utc() {
        let last = Timestamp::parse("9999-12-31T23:59:59.999999Z").unwrap();
        assert_eq!(last, Timestamp::MAX);
        assert_eq!(last.to_string(), "9999-12-31T23:59:59.999999Z");
        let first = Timestamp::parse("0001-01-01T00:00:00Z").unwrap();
        assert_eq!(
            (first, first.to_string().as_str()),
            (Timestamp::MIN, "0001-01-01T00:00:00Z")
        );
        // Inside the range as written, outside it in UTC.
        for text in [
            "9999-12-31T23:59:59-00:01",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+00:01",
            "0001-01-01T23:58:59+23:59",
            "0000-06-01T00:00:00Z",
        ] {
            let error = Timestamp::parse(text).unwrap_err();
            assert!(error.contains("outside the range"), "{text}: {error}");
        }
        // The extreme offsets, where the UTC instant stays inside.
        assert_eq!(
            Timestamp::parse("9999-12-31T23:59:59+23:59")
                .unwrap()
                .to_string(),
            "9999-12-31T00:00:59Z"
        );
        assert_eq!(
            Timestamp::parse("0001-01-01T00:00:00-23:59")
                .unwrap()
                .to_string(),
            "0001-01-01T23:59:00Z"
        );
        assert_eq!(Timestamp::from_micros(Timestamp::MAX.as_micros() + 1), None);
        assert_eq!(Timestamp::from_micros(Timestamp::MIN.as_micros() - 1), None);
        assert_eq!(Timestamp::from_micros(i64::MAX), None);
    }

    #[test]
    fn every_timestamp_writes_back_as_itself() {
        for t in [Timestamp::MIN, Timestamp::MAX, Timestamp::now()] {
            assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn fractions_before_1970_are_truncated_towards_the_past() {
        let t = Timestamp::parse("1969-12-31T23:59:59.9999995Z").unwrap();
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
        assert!(Timestamp::parse("2026-11-24").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("2026-11-24T10:30:00").is_err());
    }
}
