//! `whistle calendar`: business-time arithmetic on the command line, and checking a calendar
//! file before it is deployed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, SecondsFormat, Utc};
use clap::{Args, Subcommand, ValueEnum};
use whistle_sla::calendar::{Calendar, Hours};

/// `whistle calendar` and its subcommands.
#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// What to compute.
    #[command(subcommand)]
    pub command: CalendarCommand,
}

/// The calendar subcommands.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Print when N minutes of open time after an instant have passed (a deadline), as
    /// RFC 3339 in the calendar's time zone, such as 2026-03-11T08:03:00+08:00.
    Due {
        /// The starting instant, RFC 3339 with an offset (2026-03-10T19:58:00+08:00).
        #[arg(long)]
        from: String,
        /// How many minutes of open time (0 or more).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        working_minutes: i64,
        /// Which hours count.
        #[command(flatten)]
        hours: HoursArgs,
        /// The calendar.
        #[command(flatten)]
        calendar: CalendarFile,
    },
    /// Print the open time between two instants, as a number of minutes alone (with a
    /// decimal fraction when it is not whole minutes), such as `7`; 0 when --to is not
    /// after --from.
    Elapsed {
        /// The first instant, RFC 3339 with an offset.
        #[arg(long)]
        from: String,
        /// The second instant, RFC 3339 with an offset.
        #[arg(long)]
        to: String,
        /// Which hours count.
        #[command(flatten)]
        hours: HoursArgs,
        /// The calendar.
        #[command(flatten)]
        calendar: CalendarFile,
    },
    /// Check a calendar file: print its version, time zone and the years it covers, or
    /// every problem in it.
    Check {
        /// The calendar file (TOML, like deploy/config/calendar.toml).
        file: PathBuf,
    },
}

/// Which hours a computation counts.
#[derive(Debug, Clone, Args)]
pub struct HoursArgs {
    /// service: service hours of working days only; service-and-duty: also the duty
    /// roster's shifts.
    #[arg(long, value_enum, default_value_t = HoursArg::Service)]
    pub hours: HoursArg,
}

/// `--hours` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HoursArg {
    /// Service hours of working days only.
    Service,
    /// Service hours plus the duty roster's shifts.
    ServiceAndDuty,
}

impl From<HoursArg> for Hours {
    fn from(hours: HoursArg) -> Self {
        match hours {
            HoursArg::Service => Hours::Service,
            HoursArg::ServiceAndDuty => Hours::ServiceAndDuty,
        }
    }
}

/// Which calendar to compute with.
#[derive(Debug, Clone, Args)]
pub struct CalendarFile {
    /// A calendar file (TOML). Unset: the built-in calendar for China
    /// (deploy/config/calendar.toml).
    #[arg(long, value_name = "FILE")]
    pub calendar: Option<PathBuf>,
}

impl CalendarFile {
    fn load(&self) -> anyhow::Result<Calendar> {
        match &self.calendar {
            Some(path) => Ok(Calendar::load(path)?),
            None => Ok(Calendar::china()),
        }
    }
}

/// Runs one calendar subcommand, printing its answer on standard output.
pub fn run(args: &CalendarArgs) -> anyhow::Result<()> {
    match &args.command {
        CalendarCommand::Due {
            from,
            working_minutes,
            hours,
            calendar,
        } => {
            let from = instant(from, "--from")?;
            if *working_minutes < 0 {
                anyhow::bail!(
                    "--working-minutes is {working_minutes}: give a number of minutes of 0 or more"
                );
            }
            let calendar = calendar.load()?;
            warn_if_uncovered(&calendar, from);
            let amount = Duration::try_minutes(*working_minutes)
                .context("--working-minutes is too large: give a smaller number of minutes")?;
            let due = calendar
                .add(from, amount, hours.hours.into())
                .context("computing the due instant")?;
            println!(
                "{}",
                due.with_timezone(&calendar.time_zone())
                    .to_rfc3339_opts(SecondsFormat::AutoSi, false)
            );
            Ok(())
        }
        CalendarCommand::Elapsed {
            from,
            to,
            hours,
            calendar,
        } => {
            let (from, to) = (instant(from, "--from")?, instant(to, "--to")?);
            let calendar = calendar.load()?;
            warn_if_uncovered(&calendar, from);
            warn_if_uncovered(&calendar, to);
            let open = calendar.between(from, to, hours.hours.into());
            println!("{}", minutes(open));
            Ok(())
        }
        CalendarCommand::Check { file } => check(file),
    }
}

fn check(file: &Path) -> anyhow::Result<()> {
    let calendar = Calendar::load(file)?;
    let years: Vec<String> = calendar.years().map(|y| y.to_string()).collect();
    println!(
        "{}: version {}, time zone {}",
        file.display(),
        calendar.version(),
        calendar.time_zone()
    );
    if years.is_empty() {
        println!("covers no year: every week is Monday to Friday");
    } else {
        println!("covers {}", years.join(", "));
    }
    let this_year = Utc::now().with_timezone(&calendar.time_zone()).year();
    if !calendar.covers(this_year) {
        eprintln!(
            "warning: {} has no [years.{this_year}]: this year counts as plain Monday-to-Friday weeks; add the State Council's schedule for it",
            file.display()
        );
    }
    Ok(())
}

/// An instant given on the command line, as RFC 3339 with an offset.
pub(crate) fn instant(text: &str, flag: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.to_utc())
        .with_context(|| {
            format!(
                "{flag} `{text}` is not an RFC 3339 instant: write it with its offset, such as 2026-03-10T19:58:00+08:00"
            )
        })
}

/// Without the State Council's schedule a holiday counts as a working day: say so, on
/// standard error so the answer on standard output stays one line.
fn warn_if_uncovered(calendar: &Calendar, at: DateTime<Utc>) {
    let year = at.with_timezone(&calendar.time_zone()).year();
    if !calendar.covers(year) {
        eprintln!(
            "warning: calendar {} has no holidays for {year}: its weeks count as plain Monday to Friday",
            calendar.version()
        );
    }
}

/// Minutes as a plain number: whole, or with the fraction to the millisecond.
fn minutes(duration: Duration) -> String {
    let millis = duration.num_milliseconds();
    if millis % 60_000 == 0 {
        return (millis / 60_000).to_string();
    }
    let text = format!("{:.5}", millis as f64 / 60_000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::minutes;
    use chrono::Duration;

    #[test]
    fn minutes_are_printed_plainly() {
        assert_eq!(minutes(Duration::minutes(7)), "7");
        assert_eq!(minutes(Duration::zero()), "0");
        assert_eq!(minutes(Duration::seconds(90)), "1.5");
        assert_eq!(minutes(Duration::seconds(61)), "1.01667");
    }
}
