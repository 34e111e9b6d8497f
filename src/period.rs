//! A reporting period: one calendar month in UTC, written `YYYY-MM`. Parsed once, strictly,
//! for every command that takes one (a loose `26-11` read as the year 26 evaluated nothing
//! and said so with an overflow).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// Years a period may be in: the ledger holds event times from 1970 to 2200.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=2199;

/// One calendar month, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    year: i32,
    month: u32,
}

impl Period {
    /// `[first instant of the month, first instant of the next)`.
    pub fn bounds(self) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a checked month");
        let end = start.checked_add_months(chrono::Months::new(1)).expect("a month before 2200");
        (start.and_hms_opt(0, 0, 0).expect("midnight").and_utc(), end.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
    }

    /// The calendar month before the one holding `now`.
    pub fn before(now: DateTime<Utc>) -> Self {
        let last = now.date_naive().with_day(1).expect("day 1") - chrono::Duration::days(1);
        Self { year: last.year(), month: last.month() }
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || format!("'{text}' is not a month: write YYYY-MM (a four-digit year from 1970 to 2199, a two-digit month), e.g. 2026-11");
        let (year, month) = text.split_once('-').ok_or_else(wrong)?;
        if year.len() != 4 || month.len() != 2 || !year.bytes().chain(month.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(wrong());
        }
        let (year, month): (i32, u32) = (year.parse().map_err(|_| wrong())?, month.parse().map_err(|_| wrong())?);
        if !YEARS.contains(&year) || !(1..=12).contains(&month) {
            return Err(wrong());
        }
        Ok(Self { year, month })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// `run`'s period: a month, or `last-month` (the month before the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPeriod {
    /// This month.
    Month(Period),
    /// The calendar month before the run's start.
    LastMonth,
}

impl FromStr for RunPeriod {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "last-month" {
            return Ok(Self::LastMonth);
        }
        text.parse().map(Self::Month).map_err(|e| format!("{e}, or last-month"))
    }
}

impl RunPeriod {
    /// The month it names, for a run at `now`.
    pub fn resolve(self, now: DateTime<Utc>) -> Period {
        match self {
            Self::Month(p) => p,
            Self::LastMonth => Period::before(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_digit_years_and_two_digit_months_are_periods() {
        assert_eq!("2026-11".parse::<Period>().unwrap().to_string(), "2026-11");
        for bad in ["26-11", "0000-01", "2026-1", "2026-13", "2026-00", "2026/11", "2026-11-01", " 2026-11", "+026-11", "2300-01", ""] {
            let err = bad.parse::<Period>().unwrap_err();
            assert!(err.contains(&format!("'{bad}'")) && err.contains("YYYY-MM"), "{bad}: {err}");
        }
        let (start, end) = "2026-12".parse::<Period>().unwrap().bounds();
        assert_eq!((start.to_rfc3339(), end.to_rfc3339()), ("2026-12-01T00:00:00+00:00".into(), "2027-01-01T00:00:00+00:00".into()));
    }

    #[test]
    fn last_month_is_the_calendar_month_before() {
        let now = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!("last-month".parse::<RunPeriod>().unwrap().resolve(now).to_string(), "2025-12");
        assert!("lastmonth".parse::<RunPeriod>().unwrap_err().contains("or last-month"));
    }
}
