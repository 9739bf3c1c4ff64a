//! Business calendars: which days are working days, when the service desk is open, when
//! the duty desk is staffed, and time arithmetic over those hours.
//!
//! A calendar is data (`deploy/config/calendar.toml` is the default, built into the
//! binary): a time zone, the service hours of a working day, the duty roster (值班), and for
//! each year the State Council's holidays and the weekend days worked in exchange (调休).
//!
//! Open time is computed from each local day's open intervals, converted to UTC through
//! the calendar's time zone, merged, and summed or walked, a day at a time: adding fifteen
//! days of service hours looks at about three weeks of days, never at minutes.

mod file;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{
    DateTime, Datelike, Days, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The default calendar, for China (Asia/Shanghai).
const CHINA: &str = include_str!("../../../deploy/config/calendar.toml");

/// How far [`Calendar::add`] looks for open time before giving up: longer than any break a
/// real calendar has, so only a calendar without working days (or hours) hits it.
const HORIZON_DAYS: i64 = 400;

/// Days of open intervals computed at once by [`Calendar::add`] (its first chunk may be
/// shorter) and [`Calendar::between`].
const CHUNK_DAYS: i64 = 14;

/// Which hours a clock counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hours {
    /// Service hours of working days only (the clock waits outside them).
    Service,
    /// Service hours plus the duty roster's shifts (the clock runs whenever someone is on duty).
    ServiceAndDuty,
}

/// Why a calendar could not be loaded, or a computation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The file could not be read.
    #[error(
        "cannot read the calendar file {}: {source}: check the path and that the file is readable",
        .path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or has an unknown key, a missing key, or a value of the wrong
    /// type.
    #[error(
        "{origin} is not a valid calendar: fix the place shown below (the comments in deploy/config/calendar.toml describe every key):\n{message}"
    )]
    Syntax {
        /// What the text is, such as `calendar file /etc/whistle/calendar.toml`.
        origin: String,
        /// The TOML parser's message: line, column, and what it expected.
        message: String,
    },
    /// The text is well-formed but its content is wrong: every problem found is listed.
    #[error(
        "{origin} has {} problem{}; fix each and load it again:\n{}",
        .problems.len(),
        if .problems.len() == 1 { "" } else { "s" },
        ProblemList(.problems)
    )]
    Invalid {
        /// What the text is, such as `calendar file /etc/whistle/calendar.toml`.
        origin: String,
        /// Every problem, in the order of the file.
        problems: Vec<Problem>,
    },
    /// No open time within 400 days: the calendar has no working days, or
    /// (for [`Hours::Service`]) no service hours.
    #[error(
        "no open hours within {horizon_days} days after {from} in calendar {version}: the calendar has (almost) no working days; check its holidays and service hours"
    )]
    NoOpenTime {
        /// Where the search started (or last found open time).
        from: DateTime<Utc>,
        /// How far it looked.
        horizon_days: i64,
        /// The calendar's version.
        version: String,
    },
    /// The result would lie outside the instants chrono can represent.
    #[error(
        "{from} plus the requested open time lies beyond the last representable instant: use a smaller amount"
    )]
    OutOfRange {
        /// Where the computation started.
        from: DateTime<Utc>,
    },
}

impl CalendarError {
    /// The content problems found; empty for any other error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// One problem in a calendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line it is on (1-based).
    pub line: usize,
    /// The key it is about, such as `years.2026.working_weekends` or `duty[2].end`.
    pub key: String,
    /// What is wrong, and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} (`{}`): {}", self.line, self.key, self.message)
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// The kind of day a duty shift starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DutyDays {
    Working,
    Rest,
    All,
}

impl DutyDays {
    fn includes(self, working: bool) -> bool {
        match self {
            Self::Working => working,
            Self::Rest => !working,
            Self::All => true,
        }
    }
}

/// Local minutes since the start of a day; `end` may pass midnight (up to 48 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shift {
    start: u32,
    end: u32,
}

/// One year's State Council schedule.
#[derive(Debug, Clone)]
struct Year {
    source: String,
    /// Each holiday date, with the holiday's name.
    holidays: BTreeMap<NaiveDate, String>,
    working_weekends: BTreeSet<NaiveDate>,
}

/// A business calendar: working days, service hours and the duty roster in one time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    version: String,
    time_zone: Tz,
    service: Shift,
    duty: Vec<(DutyDays, Shift)>,
    years: BTreeMap<i32, Year>,
}

/// A half-open interval of instants, `start < end`.
type Interval = (DateTime<Utc>, DateTime<Utc>);

impl Calendar {
    /// The default calendar: China (Asia/Shanghai), `deploy/config/calendar.toml` as built
    /// into the binary.
    pub fn china() -> Self {
        Self::from_toml_named(CHINA, "the built-in calendar deploy/config/calendar.toml")
            .expect("the built-in calendar is valid: its tests load it")
    }

    /// Reads a calendar from TOML text (the format of `deploy/config/calendar.toml`).
    pub fn from_toml(text: &str) -> Result<Self, CalendarError> {
        Self::from_toml_named(text, "the calendar")
    }

    /// Reads a calendar file.
    pub fn load(path: &Path) -> Result<Self, CalendarError> {
        let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_named(&text, &format!("calendar file {}", path.display()))
    }

    fn from_toml_named(text: &str, origin: &str) -> Result<Self, CalendarError> {
        let checked = file::check(text, origin)?;
        Ok(Self {
            version: checked.version,
            time_zone: checked.time_zone,
            service: checked.service,
            duty: checked.duty,
            years: checked.years,
        })
    }

    /// The calendar's version (its `version` key), to record beside what was computed with it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The time zone its hours and dates are in.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// Whether the calendar has the State Council schedule of `year`. Outside the years it
    /// covers every week is plain Monday to Friday, so callers should warn.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The years the calendar has a schedule for, in order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Where the schedule of `year` comes from (the notice), if the calendar covers it.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|y| y.source.as_str())
    }

    /// The name of the holiday `date` belongs to, if it is one.
    pub fn holiday(&self, date: NaiveDate) -> Option<&str> {
        self.years
            .get(&date.year())
            .and_then(|y| y.holidays.get(&date))
            .map(String::as_str)
    }

    /// Whether `date` (a local date in the calendar's time zone) is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if let Some(year) = self.years.get(&date.year()) {
            if year.working_weekends.contains(&date) {
                return true;
            }
            if year.holidays.contains_key(&date) {
                return false;
            }
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// Whether `at` falls inside the given hours.
    pub fn is_open(&self, at: DateTime<Utc>, hours: Hours) -> bool {
        let Some(next) = at.checked_add_signed(Duration::nanoseconds(1)) else {
            return false;
        };
        !self.open_intervals(at, next, hours).is_empty()
    }

    /// The instant at which `amount` of open time (under `hours`) has passed since `from`.
    ///
    /// `amount` zero (or negative, which counts as zero) returns `from` unchanged. If `from`
    /// is outside open hours, counting starts when they next open. An amount that runs out
    /// exactly when open hours close returns that closing instant (19:58 plus two minutes
    /// of service hours is 20:00, not the next morning). Errors only if no open time exists
    /// within 400 days: a calendar with no working days.
    pub fn add(
        &self,
        from: DateTime<Utc>,
        amount: Duration,
        hours: Hours,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let mut remaining = amount;
        if remaining <= Duration::zero() {
            return Ok(from);
        }
        let horizon = Duration::days(HORIZON_DAYS);
        // Most clocks are minutes or hours long: a first chunk as long as the amount and a
        // weekend spares them a fortnight of intervals; later chunks are whole.
        let mut chunk = Duration::days((amount.num_days() + 3).min(CHUNK_DAYS));
        let mut cursor = from;
        let mut last_open = from;
        loop {
            // The search stops exactly `horizon` after the last open time, whatever the
            // chunks, so that where it gives up does not depend on them.
            let end = cursor
                .checked_add_signed(chunk)
                .ok_or(CalendarError::OutOfRange { from })?;
            let end = last_open
                .checked_add_signed(horizon)
                .map_or(end, |limit| end.min(limit));
            chunk = Duration::days(CHUNK_DAYS);
            for (start, stop) in self.open_intervals(cursor, end, hours) {
                let length = stop - start;
                if length >= remaining {
                    return Ok(start + remaining);
                }
                remaining -= length;
                last_open = stop;
            }
            cursor = end;
            if cursor - last_open >= horizon {
                return Err(CalendarError::NoOpenTime {
                    from: last_open,
                    horizon_days: HORIZON_DAYS,
                    version: self.version.clone(),
                });
            }
        }
    }

    /// Open time (under `hours`) between `from` and `to`; zero when `to <= from`.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>, hours: Hours) -> Duration {
        let chunk = Duration::days(CHUNK_DAYS);
        let mut total = Duration::zero();
        let mut cursor = from;
        while cursor < to {
            let end = cursor.checked_add_signed(chunk).map_or(to, |e| e.min(to));
            total += self
                .open_intervals(cursor, end, hours)
                .into_iter()
                .map(|(start, stop)| stop - start)
                .sum::<Duration>();
            cursor = end;
        }
        total
    }

    /// The open intervals overlapping `[from, to)`, cut to it, merged and in order.
    fn open_intervals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        hours: Hours,
    ) -> Vec<Interval> {
        if to <= from {
            return Vec::new();
        }
        // A day's intervals lie within that day and the next (local time), and a time zone
        // transition can move a local day's boundary by some hours: two days of margin on
        // each side cover every day that can reach into the window.
        let first = self
            .local_date(from)
            .checked_sub_days(Days::new(2))
            .unwrap_or(NaiveDate::MIN);
        let last = self
            .local_date(to)
            .checked_add_days(Days::new(2))
            .unwrap_or(NaiveDate::MAX);
        let mut raw = Vec::new();
        for day in first.iter_days().take_while(|d| *d <= last) {
            self.day_intervals(day, hours, &mut raw);
        }
        raw.sort_unstable();
        let mut merged: Vec<Interval> = Vec::with_capacity(raw.len());
        for (start, stop) in raw {
            let (start, stop) = (start.max(from), stop.min(to));
            if start >= stop {
                continue;
            }
            match merged.last_mut() {
                Some(previous) if start <= previous.1 => previous.1 = previous.1.max(stop),
                _ => merged.push((start, stop)),
            }
        }
        merged
    }

    /// The open intervals that start on local day `day`, in UTC, not merged.
    fn day_intervals(&self, day: NaiveDate, hours: Hours, out: &mut Vec<Interval>) {
        let working = self.is_working_day(day);
        if working {
            self.push_shift(day, self.service, out);
        }
        if hours == Hours::ServiceAndDuty {
            for &(days, shift) in &self.duty {
                if days.includes(working) {
                    self.push_shift(day, shift, out);
                }
            }
        }
    }

    fn push_shift(&self, day: NaiveDate, shift: Shift, out: &mut Vec<Interval>) {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        let at = |minutes: u32| {
            midnight
                .checked_add_signed(Duration::minutes(i64::from(minutes)))
                .and_then(|local| self.to_utc(local))
        };
        if let (Some(start), Some(end)) = (at(shift.start), at(shift.end))
            && start < end
        {
            out.push((start, end));
        }
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    /// The instant a local wall-clock time happens. A time that happens twice (clocks set
    /// back) is its first occurrence; a time that never happens (clocks set forward) is the
    /// first whole minute after the jump. Both keep later local times at later-or-equal
    /// instants, which the merging of intervals relies on.
    fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        if let Some(at) = self.time_zone.from_local_datetime(&local).earliest() {
            return Some(at.to_utc());
        }
        // Real transitions skip at most a day (Samoa, 2011); stop looking after two.
        (1..=2 * 24 * 60).find_map(|minutes| {
            let later = local.checked_add_signed(Duration::minutes(minutes))?;
            self.time_zone
                .from_local_datetime(&later)
                .earliest()
                .map(|at| at.to_utc())
        })
    }
}
