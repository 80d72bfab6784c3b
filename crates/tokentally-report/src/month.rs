use crate::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use std::fmt;
use std::str::FromStr;

/// Days `[start, end)`: what a charge covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
}

impl Period {
    /// The number of days covered.
    pub fn days(self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// The part of this period from `from` on and, with `to`, before `to`;
    /// empty (at its start) when they do not overlap.
    #[must_use]
    pub fn within(self, from: NaiveDate, to: Option<NaiveDate>) -> Self {
        let start = self.start.max(from);
        let end = to.map_or(self.end, |to| self.end.min(to));
        Self {
            start,
            end: end.max(start),
        }
    }
}

/// The first and last day (both inclusive) with usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaysUsed {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl DaysUsed {
    /// Just `day`.
    pub fn day(day: NaiveDate) -> Self {
        Self {
            first: day,
            last: day,
        }
    }

    /// These days, widened to include `day`.
    #[must_use]
    pub fn with(self, day: NaiveDate) -> Self {
        Self {
            first: self.first.min(day),
            last: self.last.max(day),
        }
    }
}

/// A calendar month in UTC, the period of one chargeback.
///
/// Chargebacks are cut on UTC month boundaries regardless of where the caller or
/// the operator sits, so two runs in different time zones agree to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// # Errors
    /// When `month` is not 1–12 or `year` is outside 1–9999.
    pub fn new(year: i32, month: u32) -> Result<Self> {
        let input = || format!("{year:04}-{month:02}");
        if !(1..=9999).contains(&year) {
            return Err(Error::InvalidMonth {
                input: input(),
                reason: "year must be 1–9999",
            });
        }
        if !(1..=12).contains(&month) {
            return Err(Error::InvalidMonth {
                input: input(),
                reason: "month must be 01–12",
            });
        }
        Ok(Self { year, month })
    }

    pub const fn year(self) -> i32 {
        self.year
    }

    pub const fn month(self) -> u32 {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        // `new` checked the range, and every month has a first day.
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The first day of the following month (exclusive end of this one).
    pub fn end_day(self) -> NaiveDate {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MAX)
    }

    /// The month before this one (`None` before year 1).
    pub fn previous(self) -> Option<Self> {
        let (y, m) = if self.month == 1 {
            (self.year - 1, 12)
        } else {
            (self.year, self.month - 1)
        };
        Self::new(y, m).ok()
    }

    /// The number of days in the month.
    pub fn days(self) -> i64 {
        self.period().days()
    }

    /// The month's days.
    pub fn period(self) -> Period {
        Period {
            start: self.first_day(),
            end: self.end_day(),
        }
    }

    /// Inclusive start: 00:00 UTC on the first day.
    pub fn start(self) -> DateTime<Utc> {
        self.first_day().and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// Exclusive end: 00:00 UTC on the first day of the next month.
    pub fn end(self) -> DateTime<Utc> {
        self.end_day().and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidMonth {
            input: s.to_owned(),
            reason,
        };
        let (y, m) = s.split_once('-').ok_or_else(|| invalid("missing '-'"))?;
        let digits = |part: &str, n: usize| part.len() == n && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) {
            return Err(invalid("year must be four digits"));
        }
        if !digits(m, 2) {
            return Err(invalid("month must be two digits"));
        }
        let year = y.parse().map_err(|_| invalid("year must be four digits"))?;
        let month = m.parse().map_err(|_| invalid("month must be two digits"))?;
        Self::new(year, month).map_err(|_| invalid("month must be 01–12 and year 0001–9999"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let m: Month = "2026-10".parse().expect("valid");
        assert_eq!((m.year(), m.month()), (2026, 10));
        assert_eq!(m.to_string(), "2026-10");
        assert_eq!("0999-01".parse::<Month>().expect("valid").to_string(), "0999-01");
    }

    #[test]
    fn rejects_malformed_months() {
        for bad in [
            "",
            "2026",
            "2026-1",
            "2026-13",
            "2026-00",
            "26-10",
            "2026-10-01",
            "2026/10",
            "abcd-ef",
            "+026-10",
        ] {
            let err = bad.parse::<Month>().expect_err(bad);
            let msg = err.to_string();
            assert!(
                msg.contains("invalid month") && msg.contains("YYYY-MM"),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn utc_bounds_roll_over_the_year() {
        let m: Month = "2026-12".parse().expect("valid");
        assert_eq!(m.start().to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(m.end().to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let jan: Month = "2027-01".parse().expect("valid");
        assert_eq!(jan.previous(), Some(m));
        assert_eq!(m.previous().map(|p| p.to_string()).as_deref(), Some("2026-11"));
        assert_eq!("0001-01".parse::<Month>().expect("valid").previous(), None);
        assert_eq!((m.days(), jan.days()), (31, 31));
        let feb: Month = "2028-02".parse().expect("valid");
        assert_eq!(feb.end_day().to_string(), "2028-03-01");
    }
}
