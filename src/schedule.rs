//! Schedules: standard five-field crontab expressions (and `@daily`-style
//! macros) evaluated in a configured time zone, correct across clock changes.
//!
//! The `cron` crate wants a seconds field first, numbers Sunday as 1, ANDs the
//! day-of-month and day-of-week fields, and skips local times that do not exist.
//! So an expression is converted (seconds `0`, day-of-week as names, two
//! schedules when both day fields are restricted — crontab's OR rule), and is
//! evaluated on *wall-clock* times which are then placed on the time line here:
//! - a wall time that does not exist (the hour the clocks go forward) runs at
//!   the first instant after the gap — once;
//! - a wall time that occurs twice (the hour the clocks go back) runs at its
//!   first occurrence only — once.

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// What to do at start-up about scheduled runs missed while the server was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedRuns {
    /// Run once to catch up (however many were missed).
    #[default]
    CatchUp,
    /// Log the missed runs and wait for the next scheduled time.
    Skip,
}

/// A parsed crontab expression.
#[derive(Debug, Clone)]
pub struct CronSpec {
    pub expr: String,
    /// One schedule, or two whose union is the expression (day-of-month OR day-of-week).
    parts: Vec<cron::Schedule>,
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl CronSpec {
    /// Parse `m h dom mon dow` or a macro (`@hourly`, `@daily`, `@midnight`,
    /// `@weekly`, `@monthly`, `@yearly`, `@annually`).
    pub fn parse(expr: &str) -> Result<CronSpec, String> {
        let trimmed = expr.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            m if m.starts_with('@') => {
                return Err(format!(
                    "`{trimmed}` is not supported (use @hourly, @daily, @weekly, @monthly, @yearly or five fields)"
                ));
            }
            _ => trimmed,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(format!(
                "`{trimmed}` has {} field(s); expected five: minute hour day-of-month month day-of-week (e.g. `30 1 * * *`)",
                fields.len()
            ));
        };
        let days = day_of_week_names(dow)?;
        // crontab: when both day fields are restricted, either may match.
        let restricted = |f: &str| !f.starts_with('*');
        let exprs = if restricted(dom) && restricted(dow) {
            vec![
                format!("0 {minute} {hour} {dom} {month} *"),
                format!("0 {minute} {hour} * {month} {days}"),
            ]
        } else {
            vec![format!("0 {minute} {hour} {dom} {month} {days}")]
        };
        let parts = exprs
            .iter()
            .map(|e| cron::Schedule::from_str(e).map_err(|err| format!("`{trimmed}`: {err}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CronSpec {
            expr: trimmed.to_string(),
            parts,
        })
    }

    /// The first scheduled instant strictly after `t`, with wall times read in `tz`.
    pub fn next_after(&self, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Walk wall-clock times (a naive calendar, carried as if UTC) from a few
        // hours before `t`'s wall time, place each on the time line, keep the first after `t`.
        let wall = t.with_timezone(&tz).naive_local() - Duration::hours(3);
        let start = Utc.from_utc_datetime(&wall);
        self.parts
            .iter()
            .filter_map(|s| {
                s.after(&start)
                    .take(200_000)
                    .map(|c| place(tz, c.naive_utc()))
                    .find(|at| *at > t)
            })
            .min()
    }
}

/// The instant of a wall-clock time in `tz`: the first occurrence of a repeated
/// time, the end of the gap for a time skipped by the clocks going forward.
pub fn place(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    if let Some(at) = tz.from_local_datetime(&wall).earliest() {
        return at.with_timezone(&Utc);
    }
    let mut probe = wall;
    for _ in 0..(48 * 60) {
        probe += Duration::minutes(1);
        let whole_minute = probe
            .date()
            .and_hms_opt(
                chrono::Timelike::hour(&probe),
                chrono::Timelike::minute(&probe),
                0,
            )
            .unwrap_or(probe);
        if let Some(at) = tz.from_local_datetime(&whole_minute).earliest() {
            return at.with_timezone(&Utc);
        }
    }
    // No zone has a gap of two days; fall back to reading the wall time as UTC.
    Utc.from_utc_datetime(&wall)
}

/// The crontab day-of-week field (0–7, Sunday 0 or 7, names, ranges, steps, lists)
/// as the `cron` crate's day names.
fn day_of_week_names(field: &str) -> Result<String, String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Ok(n) = s.parse::<u32>() {
            return if n <= 7 {
                Ok(n % 7)
            } else {
                Err(format!("day of week `{s}` is out of range 0–7"))
            };
        }
        DAY_NAMES
            .iter()
            .position(|d| d.eq_ignore_ascii_case(s))
            .map(|p| p as u32)
            .ok_or_else(|| format!("`{s}` is not a day of the week (0–7 or SUN–SAT)"))
    };
    let mut set = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in day of week `{item}`"))?,
            ),
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            // Keep 7 as 7 at the top of a range (`5-7` is Friday to Sunday).
            let hi = if b == "7" { 7 } else { value(b)? };
            (value(a)?, hi)
        } else if step > 1 {
            (value(range)?, 6)
        } else {
            let v = value(range)?;
            (v, v)
        };
        if lo > hi {
            return Err(format!("day-of-week range `{range}` runs backwards"));
        }
        let mut d = lo;
        while d <= hi {
            set[(d % 7) as usize] = true;
            d += step;
        }
    }
    if set.iter().all(|x| *x) {
        return Ok("*".into());
    }
    Ok(DAY_NAMES
        .iter()
        .zip(set)
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(","))
}

/// The scheduled instant missed since `last_fire`, if one fell before `now`.
pub fn missed_since(
    spec: &CronSpec,
    tz: Tz,
    last_fire: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let next = spec.next_after(tz, last_fire?)?;
    (next < now).then_some(next)
}

/// The latest scheduled instant at or before `now`, starting from `from` (a slot
/// that is already due): collapses any number of missed slots into one.
pub fn latest_due(spec: &CronSpec, tz: Tz, from: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut slot = from;
    while let Some(n) = spec.next_after(tz, slot) {
        if n > now {
            break;
        }
        slot = n;
    }
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn runs(spec: &str, tz: Tz, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let spec = CronSpec::parse(spec).unwrap();
        let (mut t, to) = (utc(from), utc(to));
        let mut out = Vec::new();
        while let Some(n) = spec.next_after(tz, t) {
            if n > to {
                break;
            }
            out.push(n);
            t = n;
        }
        out
    }

    #[test]
    fn spring_forward_runs_once_at_the_end_of_the_gap() {
        // 29 March 2026: London clocks go from 01:00 GMT to 02:00 BST; 01:30 does not exist.
        let r = runs(
            "30 1 * * *",
            chrono_tz::Europe::London,
            "2026-03-27T12:00:00Z",
            "2026-03-31T12:00:00Z",
        );
        assert_eq!(
            r,
            vec![
                utc("2026-03-28T01:30:00Z"), // 01:30 GMT
                utc("2026-03-29T01:00:00Z"), // the gap's end: 02:00 BST
                utc("2026-03-30T00:30:00Z"), // 01:30 BST
                utc("2026-03-31T00:30:00Z"),
            ]
        );
    }

    #[test]
    fn autumn_back_runs_once_at_the_first_occurrence() {
        // 25 October 2026: 02:00 BST becomes 01:00 GMT; 01:30 happens twice.
        let r = runs(
            "30 1 * * *",
            chrono_tz::Europe::London,
            "2026-10-23T12:00:00Z",
            "2026-10-27T12:00:00Z",
        );
        assert_eq!(
            r,
            vec![
                utc("2026-10-24T00:30:00Z"), // 01:30 BST
                utc("2026-10-25T00:30:00Z"), // first 01:30 (BST), not again at 01:30 GMT
                utc("2026-10-26T01:30:00Z"), // 01:30 GMT
                utc("2026-10-27T01:30:00Z"),
            ]
        );
        // Starting inside the repeated hour, after the first 01:30: the next run is the next night.
        let spec = CronSpec::parse("30 1 * * *").unwrap();
        assert_eq!(
            spec.next_after(chrono_tz::Europe::London, utc("2026-10-25T01:10:00Z")),
            Some(utc("2026-10-26T01:30:00Z"))
        );
    }

    #[test]
    fn hourly_across_both_changes_never_repeats_an_instant() {
        for (from, to) in [
            ("2026-03-28T20:00:00Z", "2026-03-29T06:00:00Z"),
            ("2026-10-24T20:00:00Z", "2026-10-25T06:00:00Z"),
        ] {
            let r = runs("0 * * * *", chrono_tz::Europe::London, from, to);
            assert!(r.windows(2).all(|w| w[0] < w[1]), "{r:?}");
        }
        // Spring: 01:00 GMT is the first 'hour 2'; 23 wall hours → 10 runs in 10 hours.
        assert_eq!(
            runs(
                "0 * * * *",
                chrono_tz::Europe::London,
                "2026-03-28T20:30:00Z",
                "2026-03-29T06:30:00Z"
            )
            .len(),
            10
        );
    }

    #[test]
    fn utc_zone_and_weekday_numbering() {
        // 2026-11-23 is a Monday. `1-5` is Monday to Friday, 0 and 7 are Sunday.
        let tz = chrono_tz::UTC;
        let weekdays = runs("0 6 * * 1-5", tz, "2026-11-22T00:00:00Z", "2026-11-29T23:00:00Z");
        assert_eq!(weekdays.len(), 5);
        assert_eq!(weekdays[0], utc("2026-11-23T06:00:00Z"));
        let sundays7 = runs("0 6 * * 7", tz, "2026-11-22T07:00:00Z", "2026-12-07T00:00:00Z");
        let sundays0 = runs("0 6 * * 0", tz, "2026-11-22T07:00:00Z", "2026-12-07T00:00:00Z");
        assert_eq!(
            sundays7,
            vec![utc("2026-11-29T06:00:00Z"), utc("2026-12-06T06:00:00Z")]
        );
        assert_eq!(sundays0, sundays7);
        let fri_sun = runs("0 6 * * 5-7", tz, "2026-11-23T07:00:00Z", "2026-11-30T00:00:00Z");
        assert_eq!(fri_sun.len(), 3);
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 1st of the month OR any Monday, December 2026 (1st is a Tuesday).
        let r = runs(
            "0 2 1 * mon",
            chrono_tz::UTC,
            "2026-11-30T12:00:00Z",
            "2026-12-15T00:00:00Z",
        );
        assert_eq!(
            r,
            vec![
                utc("2026-12-01T02:00:00Z"),
                utc("2026-12-07T02:00:00Z"),
                utc("2026-12-14T02:00:00Z")
            ]
        );
    }

    #[test]
    fn macros_and_errors() {
        assert!(CronSpec::parse("@daily").is_ok());
        assert!(CronSpec::parse("*/15 * * * *").is_ok());
        for bad in [
            "0 1 * *",
            "0 0 1 * * *",
            "61 1 * * *",
            "0 1 * * 8",
            "@reboot",
            "0 1 * * 5-2",
        ] {
            assert!(CronSpec::parse(bad).is_err(), "{bad} should be refused");
        }
        let err = CronSpec::parse("0 1 * *").unwrap_err();
        assert!(err.contains("expected five"), "{err}");
    }

    #[test]
    fn missed_runs_collapse_to_one() {
        let spec = CronSpec::parse("30 1 * * *").unwrap();
        let tz = chrono_tz::Europe::London;
        let last = utc("2026-11-18T01:30:00Z");
        let now = utc("2026-11-23T09:00:00Z");
        let first_missed = missed_since(&spec, tz, Some(last), now).unwrap();
        assert_eq!(first_missed, utc("2026-11-19T01:30:00Z"));
        assert_eq!(
            latest_due(&spec, tz, first_missed, now),
            utc("2026-11-23T01:30:00Z")
        );
        assert_eq!(missed_since(&spec, tz, None, now), None);
        assert_eq!(
            missed_since(&spec, tz, Some(utc("2026-11-23T01:30:00Z")), now),
            None
        );
    }
}
