//! Times as people type them, read in the local time zone (`TZ`, else the system's):
//! an RFC 3339 instant; a date (`2026-12-01`); `today`, `tomorrow`; `+3d`, `+2w`
//! (days or weeks from today) or `+4h` (hours from now); a weekday (`friday`, `fri`:
//! the next one, never today).
//!
//! A due date given as a day means the end of that day: a task due "on Friday" is not
//! late until Friday is over. A filter bound given as a day is sent as that date with
//! the local time zone's name (`tz`), and the server reads it as the day's start.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// What a time the user typed names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// An instant.
    At(Timestamp),
    /// A whole day, in the local time zone.
    Day(Date),
}

/// Reads `text` as of `now` (whose time zone is the local one).
pub fn parse(text: &str, now: &Zoned) -> Result<When, String> {
    let word = text.trim().to_lowercase();
    let today = now.date();
    let day = |date: Result<Date, jiff::Error>| {
        date.map(When::Day)
            .map_err(|_| format!("`{text}` is too far from today"))
    };
    match word.as_str() {
        "today" => return Ok(When::Day(today)),
        "tomorrow" => return day(today.checked_add(1.day())),
        _ => {}
    }
    if let Some(amount) = word.strip_prefix('+') {
        let (number, unit) = amount.split_at(amount.len().saturating_sub(1));
        let n: i64 = number
            .parse()
            .map_err(|_| format!("`{text}`: expected +N followed by d, w or h (`+3d`)"))?;
        if !(1..=100_000).contains(&n) {
            return Err(format!("`{text}`: N is 1 to 100000"));
        }
        return match unit {
            "d" => day(today.checked_add(n.days())),
            "w" => day(today.checked_add(n.weeks())),
            "h" => now
                .timestamp()
                .checked_add(n.hours())
                .map(When::At)
                .map_err(|_| format!("`{text}` is too far from now")),
            _ => Err(format!(
                "`{text}`: the unit is d (days), w (weeks) or h (hours)"
            )),
        };
    }
    if let Some(weekday) = weekday(&word) {
        // The next such day after today: "friday" said on a Friday means next week's.
        return day(today.nth_weekday(1, weekday));
    }
    // A time of day (after a `T` or a space, as RFC 3339 allows) is never dropped: it
    // makes the text an instant, or an error.
    if word.starts_with(|c: char| c.is_ascii_digit()) && (word.contains('t') || word.contains(':'))
    {
        return text.parse::<Timestamp>().map(When::At).map_err(|_| {
            format!("`{text}` is not an RFC 3339 time with its offset (2026-12-01T17:00:00Z)")
        });
    }
    text.parse::<Date>().map(When::Day).map_err(|_| {
        format!(
            "`{text}`: expected a date (2026-12-01), an RFC 3339 time, today, tomorrow, \
             +3d, +2w, +4h or a weekday"
        )
    })
}

fn weekday(word: &str) -> Option<Weekday> {
    let days = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    days.into_iter()
        .find(|(name, _)| word.len() >= 3 && name.starts_with(word))
        .map(|(_, day)| day)
}

impl When {
    /// A due time: an instant as it is, a day at its end (its last microsecond) in
    /// `zone`; as RFC 3339 in UTC.
    pub fn due(&self, zone: &TimeZone) -> Result<String, String> {
        let at = match self {
            When::At(at) => *at,
            When::Day(date) => {
                let next = date
                    .tomorrow()
                    .and_then(|next| next.to_zoned(zone.clone()))
                    .map_err(|_| format!("{date} is out of range"))?;
                next.timestamp()
                    .checked_sub(1.microsecond())
                    .map_err(|_| format!("{date} is out of range"))?
            }
        };
        Ok(at.to_string())
    }

    /// A filter bound's value: an instant as RFC 3339; a day as its date when `zone`
    /// has a name the server knows (sent beside it as `tz`: see [`Local::name`]), else
    /// as the instant it starts in `zone`.
    pub fn bound(&self, zone: &Local) -> Result<String, String> {
        match (self, &zone.name) {
            (When::At(at), _) => Ok(at.to_string()),
            (When::Day(date), Some(_)) => Ok(date.to_string()),
            (When::Day(date), None) => date
                .to_zoned(zone.zone.clone())
                .and_then(|day| day.start_of_day())
                .map(|start| start.timestamp().to_string())
                .map_err(|_| format!("{date} is out of range")),
        }
    }
}

/// The local time zone: `TZ`, else the system's.
#[derive(Debug, Clone)]
pub struct Local {
    /// The zone.
    pub zone: TimeZone,
    /// Its IANA name, which the server can read days in; none for a POSIX rule
    /// (`TZ=CET-1CEST`) or a zone file without a name.
    pub name: Option<String>,
}

impl Local {
    /// The local time zone; a `TZ` that names none is an error rather than UTC, since
    /// every day typed would otherwise be read hours away from the one meant.
    pub fn get() -> Result<Local, String> {
        let unknown = || {
            let tz = std::env::var("TZ").unwrap_or_default();
            format!("TZ={tz:?} names no time zone; set it to one such as Europe/Paris, or unset it")
        };
        let zone = TimeZone::try_system().map_err(|_| unknown())?;
        let name = zone.iana_name().map(str::to_owned);
        if name.as_deref() == Some("Etc/Unknown") {
            return Err(unknown());
        }
        Ok(Local { zone, name })
    }

    /// The time now, here.
    pub fn now(&self) -> Zoned {
        Zoned::now().with_time_zone(self.zone.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        // A Wednesday afternoon in Paris.
        "2026-12-02T15:30:00+01:00[Europe/Paris]".parse().unwrap()
    }

    fn due(text: &str) -> String {
        let now = now();
        parse(text, &now).unwrap().due(now.time_zone()).unwrap()
    }

    #[test]
    fn a_day_is_due_at_its_end_in_the_local_zone() {
        assert_eq!(due("2026-12-01"), "2026-12-01T22:59:59.999999Z");
        assert_eq!(due("today"), "2026-12-02T22:59:59.999999Z");
        assert_eq!(due("tomorrow"), "2026-12-03T22:59:59.999999Z");
        assert_eq!(due("+3d"), "2026-12-05T22:59:59.999999Z");
        assert_eq!(due("+1w"), "2026-12-09T22:59:59.999999Z");
        // The next Friday; and "wednesday" on a Wednesday is next week's.
        assert_eq!(due("Friday"), "2026-12-04T22:59:59.999999Z");
        assert_eq!(due("wed"), "2026-12-09T22:59:59.999999Z");
    }

    #[test]
    fn a_day_bound_is_a_date_with_a_named_zone_and_an_instant_without() {
        let day = parse("2026-12-01", &now()).unwrap();
        let paris = Local {
            zone: TimeZone::get("Europe/Paris").unwrap(),
            name: Some("Europe/Paris".to_owned()),
        };
        assert_eq!(day.bound(&paris).unwrap(), "2026-12-01");
        // A POSIX rule has no name the server could look up: the day's start is sent.
        let rule = Local {
            zone: TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap(),
            name: None,
        };
        assert_eq!(day.bound(&rule).unwrap(), "2026-11-30T23:00:00Z");
    }

    #[test]
    fn instants_and_hours_are_exact() {
        assert_eq!(due("+4h"), "2026-12-02T18:30:00Z");
        assert_eq!(due("2026-12-01T17:00:00+02:00"), "2026-12-01T15:00:00Z");
        assert_eq!(due("2026-12-01 17:00:00+02:00"), "2026-12-01T15:00:00Z");
    }

    #[test]
    fn nonsense_is_refused_with_the_forms_it_could_be() {
        for text in [
            "soon",
            "+3",
            "+3y",
            "+0d",
            "2026-13-01",
            "fr",
            "2026-12-01T25:00:00Z",
            "2026-12-01 10:00",
            "2026-12-01 23:00:00",
        ] {
            assert!(parse(text, &now()).is_err(), "{text}");
        }
    }
}
