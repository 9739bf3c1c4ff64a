//! The calendar file: its TOML shape, and the checks a file must pass before it is used.
//!
//! The text is first read into "raw" structures that keep each value's place in the text,
//! then every check runs and every problem is collected, so whoever edits the file sees all
//! of them at once, each with its line.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono::{Datelike, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::{CalendarError, DutyDays, Problem, Shift, Year};

/// A calendar that passed every check.
#[derive(Debug)]
pub(super) struct Checked {
    pub version: String,
    pub time_zone: Tz,
    pub service: Shift,
    pub duty: Vec<(DutyDays, Shift)>,
    pub years: BTreeMap<i32, Year>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    version: Spanned<String>,
    time_zone: Spanned<String>,
    service_hours: RawHours,
    #[serde(default)]
    duty: Vec<RawDuty>,
    #[serde(default)]
    years: BTreeMap<Spanned<String>, RawYear>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    start: Spanned<String>,
    end: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDuty {
    days: DutyDays,
    start: Spanned<String>,
    end: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    source: Spanned<String>,
    #[serde(default)]
    holidays: Vec<RawHoliday>,
    #[serde(default)]
    working_weekends: Vec<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: Spanned<String>,
    dates: Option<Vec<Spanned<toml::Value>>>,
    from: Option<Spanned<toml::Value>>,
    to: Option<Spanned<toml::Value>>,
}

/// Reads and checks a calendar; `origin` names the text in errors.
pub(super) fn check(text: &str, origin: &str) -> Result<Checked, CalendarError> {
    let raw: RawCalendar = toml::from_str(text).map_err(|e| CalendarError::Syntax {
        origin: origin.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let mut checker = Checker {
        text,
        problems: Vec::new(),
    };
    let checked = checker.calendar(raw);
    if checker.problems.is_empty()
        && let Some(checked) = checked
    {
        return Ok(checked);
    }
    checker.problems.sort_by_key(|p| p.line);
    Err(CalendarError::Invalid {
        origin: origin.to_owned(),
        problems: checker.problems,
    })
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn problem(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let line = self.line(span);
        self.problems.push(Problem {
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    /// The whole calendar, or `None` when a part of it could not be read (the problems say
    /// why).
    fn calendar(&mut self, raw: RawCalendar) -> Option<Checked> {
        let version = raw.version.get_ref().trim().to_owned();
        if version.is_empty() {
            self.problem(
                raw.version.span(),
                "version",
                "`version` is empty: give the calendar a version such as \"cn-2026.1\" and raise it with every change, so a deadline can be traced to the calendar it was computed with",
            );
        }
        let time_zone = match raw.time_zone.get_ref().trim().parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.problem(
                    raw.time_zone.span(),
                    "time_zone",
                    format!(
                        "`{}` is not a time zone of the IANA database: write one such as \"Asia/Shanghai\"",
                        raw.time_zone.get_ref()
                    ),
                );
                None
            }
        };
        let service = self.service_hours(&raw.service_hours);
        let mut duty = Some(Vec::new());
        for (i, shift) in raw.duty.iter().enumerate() {
            let key = format!("duty[{}]", i + 1);
            let start = self.time(&shift.start, &format!("{key}.start"));
            let end = self.time(&shift.end, &format!("{key}.end"));
            if start == Some(MINUTES_PER_DAY) {
                self.problem(
                    shift.start.span(),
                    format!("{key}.start"),
                    "a shift cannot start at 24:00: start it at \"00:00\" (of the kind of day it falls on)",
                );
                duty = None;
                continue;
            }
            match (start, end) {
                (Some(start), Some(end)) => {
                    // An end not after the start is the next morning's (a night shift), and
                    // an end equal to the start is a full day; both are at most 24 hours.
                    let end = if end > start {
                        end
                    } else {
                        end + MINUTES_PER_DAY
                    };
                    if let Some(duty) = duty.as_mut() {
                        duty.push((shift.days, Shift { start, end }));
                    }
                }
                _ => duty = None,
            }
        }
        let mut years = BTreeMap::new();
        for (key, raw_year) in &raw.years {
            if let Some((number, year)) = self.year(key, raw_year) {
                years.insert(number, year);
            }
        }
        Some(Checked {
            version,
            time_zone: time_zone?,
            service: service?,
            duty: duty?,
            years,
        })
    }

    fn service_hours(&mut self, raw: &RawHours) -> Option<Shift> {
        let start = self.time(&raw.start, "service_hours.start");
        let end = self.time(&raw.end, "service_hours.end");
        let (start, end) = (start?, end?);
        if end <= start {
            self.problem(
                raw.end.span(),
                "service_hours.end",
                format!(
                    "service hours end at {} but start at {}: the end must be later the same day (service hours do not cross midnight; put night cover in the [[duty]] roster)",
                    raw.end.get_ref(),
                    raw.start.get_ref()
                ),
            );
            return None;
        }
        Some(Shift { start, end })
    }

    /// A local time of day "HH:MM", as minutes since midnight ("24:00" is 1440).
    fn time(&mut self, raw: &Spanned<String>, key: &str) -> Option<u32> {
        let parsed = parse_time(raw.get_ref());
        if parsed.is_none() {
            self.problem(
                raw.span(),
                key,
                format!(
                    "`{}` is not a time of day: write \"HH:MM\" on the 24-hour clock, from \"00:00\" to \"24:00\" (midnight at the end of the day)",
                    raw.get_ref()
                ),
            );
        }
        parsed
    }

    fn year(&mut self, key: &Spanned<String>, raw: &RawYear) -> Option<(i32, Year)> {
        let table = format!("years.{}", key.get_ref());
        let number = key
            .get_ref()
            .parse::<i32>()
            .ok()
            .filter(|n| (1000..=9999).contains(n) && key.get_ref().len() == 4);
        let Some(number) = number else {
            self.problem(
                key.span(),
                table,
                format!(
                    "`[years.{}]` does not name a year: name the table by its four-digit year, such as [years.2027]",
                    key.get_ref()
                ),
            );
            return None;
        };
        let source = raw.source.get_ref().trim().to_owned();
        if source.is_empty() {
            self.problem(
                raw.source.span(),
                format!("{table}.source"),
                "`source` is empty: name the notice the year's dates come from (its title, number and date), so they can be checked against it",
            );
        }

        let mut holidays: BTreeMap<NaiveDate, String> = BTreeMap::new();
        // Where each holiday date was given, to point at both places of a duplicate.
        let mut holiday_lines: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for holiday in &raw.holidays {
            let name = holiday.name.get_ref().trim().to_owned();
            let key = format!("{table}.holidays");
            if name.is_empty() {
                self.problem(
                    holiday.name.span(),
                    &key,
                    "a holiday has an empty `name`: name it as the notice does, such as \"春节\"",
                );
            }
            let dates = self.holiday_dates(holiday, number, &key);
            for (date, span) in dates {
                let line = self.line(span.clone());
                if let Some(first) = holiday_lines.get(&date) {
                    let message = format!(
                        "{date} is listed as a holiday twice (also on line {first}): list each day once"
                    );
                    self.problem(span, &key, message);
                    continue;
                }
                holiday_lines.insert(date, line);
                holidays.insert(date, name.clone());
            }
        }

        let mut working_weekends = BTreeSet::new();
        let key = format!("{table}.working_weekends");
        let mut weekend_lines: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for value in &raw.working_weekends {
            let Some(date) = self.date(value, number, &key) else {
                continue;
            };
            let line = self.line(value.span());
            if let Some(first) = weekend_lines.get(&date) {
                let message = format!(
                    "{date} is listed as a working weekend day twice (also on line {first}): list each day once"
                );
                self.problem(value.span(), &key, message);
                continue;
            }
            weekend_lines.insert(date, line);
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                let message = format!(
                    "{date} is a {}, not a Saturday or Sunday: `working_weekends` lists only weekend days that are worked (调休); weekdays are working days already. Check the date against the notice",
                    weekday_name(date.weekday())
                );
                self.problem(value.span(), &key, message);
                continue;
            }
            if let Some(first) = holiday_lines.get(&date) {
                let message = format!(
                    "{date} is both a working weekend day and a holiday ({}, line {first}): a day is one or the other, check both against the notice",
                    holidays.get(&date).map_or("", String::as_str)
                );
                self.problem(value.span(), &key, message);
                continue;
            }
            working_weekends.insert(date);
        }
        Some((
            number,
            Year {
                source,
                holidays,
                working_weekends,
            },
        ))
    }

    /// The dates of one holiday entry, each with the span to point at.
    fn holiday_dates(
        &mut self,
        holiday: &RawHoliday,
        year: i32,
        key: &str,
    ) -> Vec<(NaiveDate, Range<usize>)> {
        let name = holiday.name.get_ref();
        match (&holiday.dates, &holiday.from, &holiday.to) {
            (Some(dates), None, None) => {
                if dates.is_empty() {
                    self.problem(
                        holiday.name.span(),
                        key,
                        format!(
                            "holiday {name} has no `dates`: list its days, or give `from` and `to`"
                        ),
                    );
                }
                dates
                    .iter()
                    .filter_map(|value| Some((self.date(value, year, key)?, value.span())))
                    .collect()
            }
            (None, Some(from), Some(to)) => {
                let (Some(first), Some(last)) =
                    (self.date(from, year, key), self.date(to, year, key))
                else {
                    return Vec::new();
                };
                if last < first {
                    self.problem(
                        to.span(),
                        key,
                        format!(
                            "holiday {name} ends ({last}) before it starts ({first}): swap `from` and `to`"
                        ),
                    );
                    return Vec::new();
                }
                first
                    .iter_days()
                    .take_while(|d| *d <= last)
                    .map(|d| (d, from.span()))
                    .collect()
            }
            _ => {
                self.problem(
                    holiday.name.span(),
                    key,
                    format!(
                        "holiday {name} needs either `dates = [...]` or both `from` and `to` (a break of several days, both ends included), not a mix"
                    ),
                );
                Vec::new()
            }
        }
    }

    /// A date "YYYY-MM-DD" (quoted, or a TOML local date) that lies in `year`.
    fn date(&mut self, value: &Spanned<toml::Value>, year: i32, key: &str) -> Option<NaiveDate> {
        let date = match value.get_ref() {
            toml::Value::String(text) => text.trim().parse::<NaiveDate>().ok(),
            toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                }
                _ => None,
            },
            _ => None,
        };
        let Some(date) = date else {
            self.problem(
                value.span(),
                key,
                format!(
                    "{} is not a date: write \"YYYY-MM-DD\", such as \"{year}-10-01\"",
                    value.get_ref()
                ),
            );
            return None;
        };
        if date.year() != year {
            self.problem(
                value.span(),
                key,
                format!(
                    "{date} is not in {year}: every date of [years.{year}] lies in {year}; move it to the table of its own year (add [years.{}] if needed)",
                    date.year()
                ),
            );
            return None;
        }
        Some(date)
    }
}

const MINUTES_PER_DAY: u32 = 24 * 60;

fn parse_time(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time("00:00"), Some(0));
        assert_eq!(parse_time("08:30"), Some(510));
        assert_eq!(parse_time("24:00"), Some(1440));
        for bad in [
            "24:01", "8:00", "08:60", "0800", "08:00:00", "ab:cd", "", "+8:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
