//! When calls happen: sessions of calls placed in the month, then sorted by time.
//!
//! Timestamps are planned before any content so the records can be generated in
//! time order with only the open sessions in memory, which keeps big benchmark
//! samples linear in time and flat in memory.

use crate::apps::{APPS, App, Hours};
use chrono::{Datelike, NaiveDate, Weekday};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::io;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One call to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Planned {
    pub time_ms: i64,
    pub session: u32,
    pub turn: u32,
    /// The session's last call, after which its state can be dropped.
    pub last: bool,
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub calls: Vec<Planned>,
    /// App of each session.
    pub session_apps: Vec<usize>,
}

/// The month's first instant and its days.
#[derive(Debug, Clone)]
pub(crate) struct Month {
    pub start_ms: i64,
    pub days: Vec<Weekday>,
}

impl Month {
    pub(crate) fn new(year: i32, month: u32) -> io::Result<Self> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no such month: {year}-{month:02}"),
            )
        };
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(invalid)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            first.with_month(month + 1)
        }
        .ok_or_else(invalid)?;
        let start_ms = first
            .and_hms_opt(0, 0, 0)
            .ok_or_else(invalid)?
            .and_utc()
            .timestamp_millis();
        let days = first
            .iter_days()
            .take_while(|d| *d < next)
            .map(|d| d.weekday())
            .collect();
        Ok(Self { start_ms, days })
    }

    pub(crate) fn end_ms(&self) -> i64 {
        self.start_ms + DAY_MS * self.days.len() as i64
    }

    /// Weekday office hours in Europe, when AOAI quotas run hot.
    pub(crate) fn is_peak(&self, time_ms: i64) -> bool {
        let offset = time_ms - self.start_ms;
        let day = usize::try_from(offset / DAY_MS).unwrap_or(0);
        let hour = offset % DAY_MS / HOUR_MS;
        let weekday = self
            .days
            .get(day)
            .is_some_and(|d| !matches!(d, Weekday::Sat | Weekday::Sun));
        weekday && (8..17).contains(&hour)
    }

    /// Day of the month, from 0.
    pub(crate) fn day(&self, time_ms: i64) -> i64 {
        (time_ms - self.start_ms) / DAY_MS
    }
}

/// Relative activity per UTC hour.
fn hour_weights(hours: Hours) -> [u32; 24] {
    match hours {
        Hours::Office => [
            0, 0, 0, 0, 0, 1, 3, 8, 12, 14, 14, 12, 9, 12, 14, 13, 10, 5, 2, 1, 1, 0, 0, 0,
        ],
        Hours::Extended => [
            1, 1, 1, 1, 1, 2, 4, 8, 10, 11, 11, 10, 10, 11, 11, 11, 10, 9, 8, 7, 6, 4, 2, 1,
        ],
        Hours::Nightly => [
            4, 10, 12, 12, 8, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2,
        ],
        Hours::Always => [1; 24],
    }
}

fn day_weight(app: &App, day: usize, days: usize, weekday: Weekday) -> u32 {
    let weekend = matches!(weekday, Weekday::Sat | Weekday::Sun);
    let base = match (app.hours, weekend) {
        (Hours::Office, true) => 1,
        (Hours::Extended, true) => 7,
        _ => 10,
    };
    // Payroll questions pile up around pay day, at the end of the month.
    if app.name == "payroll-bot" && day + 4 >= days {
        base * 3
    } else {
        base
    }
}

pub(crate) fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    0
}

/// Plans `calls` calls in `month`.
pub(crate) fn plan(rng: &mut ChaCha8Rng, calls: usize, month: &Month) -> Plan {
    // Sessions are picked in proportion to share / mean length, so calls follow the shares.
    let session_weights: Vec<u32> = APPS
        .iter()
        .map(|a| a.share * 1000 / ((a.turns.0 + a.turns.1) / 2).max(1))
        .collect();
    let day_weights: Vec<Vec<u32>> = APPS
        .iter()
        .map(|a| {
            month
                .days
                .iter()
                .enumerate()
                .map(|(i, w)| day_weight(a, i, month.days.len(), *w))
                .collect()
        })
        .collect();
    let end = month.end_ms();
    let mut planned = Vec::with_capacity(calls);
    let mut session_apps = Vec::new();
    while planned.len() < calls {
        let app = weighted(rng, &session_weights);
        let a = &APPS[app];
        let session = u32::try_from(session_apps.len()).unwrap_or(u32::MAX);
        session_apps.push(app);
        let day = weighted(rng, &day_weights[app]) as i64;
        let hour = weighted(rng, &hour_weights(a.hours)) as i64;
        let mut t = month.start_ms + day * DAY_MS + hour * HOUR_MS + rng.random_range(0..HOUR_MS);
        let turns = rng
            .random_range(a.turns.0..=a.turns.1)
            .min(u32::try_from(calls - planned.len()).unwrap_or(1));
        let first = planned.len();
        for turn in 0..turns {
            if t >= end {
                break;
            }
            planned.push(Planned {
                time_ms: t,
                session,
                turn,
                last: false,
            });
            t += i64::from(rng.random_range(a.gap_s.0 * 1000..=a.gap_s.1 * 1000));
        }
        if let Some(last) = planned.get_mut(first..).and_then(|s| s.last_mut()) {
            last.last = true;
        }
    }
    planned.sort_by_key(|c| (c.time_ms, c.session, c.turn));
    Plan {
        calls: planned,
        session_apps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn months_know_their_days() {
        let oct = Month::new(2026, 10).expect("month");
        assert_eq!(oct.days.len(), 31);
        assert_eq!(oct.days[0], Weekday::Thu);
        assert_eq!(Month::new(2026, 12).expect("month").days.len(), 31);
        assert_eq!(Month::new(2028, 2).expect("month").days.len(), 29);
        assert!(Month::new(2026, 13).is_err());
    }

    #[test]
    fn plans_are_sorted_and_inside_the_month() {
        let month = Month::new(2026, 10).expect("month");
        let plan = plan(&mut ChaCha8Rng::seed_from_u64(1), 3000, &month);
        assert_eq!(plan.calls.len(), 3000);
        assert!(plan.calls.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        assert!(
            plan.calls
                .iter()
                .all(|c| c.time_ms >= month.start_ms && c.time_ms < month.end_ms())
        );
        let lasts = plan.calls.iter().filter(|c| c.last).count();
        assert_eq!(lasts, plan.session_apps.len());
    }
}
