//! The business calendar: the State Council schedules of the built-in calendar, the
//! five-minute rule across evenings, weekends, adjusted working days and holidays, the
//! properties of `add` and `between`, and the errors a broken calendar file gets.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use proptest::prelude::*;
use whistle_sla::calendar::{Calendar, CalendarError, Hours};

static CHINA: LazyLock<Calendar> = LazyLock::new(Calendar::china);

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a test instant in RFC 3339")
        .to_utc()
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("a test date")
}

/// `from` plus `minutes` of service hours in the built-in calendar, as local RFC 3339.
fn due(from: &str, minutes: i64) -> String {
    local(
        CHINA
            .add(at(from), Duration::minutes(minutes), Hours::Service)
            .expect("the built-in calendar has working days"),
    )
}

fn local(instant: DateTime<Utc>) -> String {
    instant.with_timezone(&CHINA.time_zone()).to_rfc3339()
}

// ---------------------------------------------------------------------------------------
// The built-in calendar

#[test]
fn the_built_in_calendar_loads_and_covers_2025_and_2026() {
    assert!(CHINA.version().starts_with("cn-"), "{}", CHINA.version());
    assert_eq!(CHINA.time_zone(), chrono_tz::Asia::Shanghai);
    assert!(CHINA.covers(2025));
    assert!(CHINA.covers(2026));
    assert!(!CHINA.covers(2024));
    let years: Vec<i32> = CHINA.years().collect();
    assert_eq!(years[..2], [2025, 2026]);
    assert!(
        CHINA
            .source(2025)
            .expect("2025 has a source")
            .contains("国办发明电〔2024〕12号")
    );
    assert!(
        CHINA
            .source(2026)
            .expect("2026 has a source")
            .contains("2026年部分节假日安排")
    );
}

#[test]
fn the_file_in_the_repository_is_the_built_in_one() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/calendar.toml");
    let loaded = Calendar::load(&path).expect("deploy/config/calendar.toml loads");
    assert_eq!(loaded.version(), CHINA.version());
    assert_eq!(
        loaded.years().collect::<Vec<_>>(),
        CHINA.years().collect::<Vec<_>>()
    );
}

/// Every rest day of a year, from 1 January to 31 December.
fn rest_days(calendar: &Calendar, year: i32) -> Vec<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January");
    first
        .iter_days()
        .take_while(|d| d.year() == year)
        .filter(|d| !calendar.is_working_day(*d))
        .collect()
}

fn holidays(calendar: &Calendar, year: i32) -> Vec<(NaiveDate, String)> {
    let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January");
    first
        .iter_days()
        .take_while(|d| d.year() == year)
        .filter_map(|d| calendar.holiday(d).map(|name| (d, name.to_owned())))
        .collect()
}

fn range(from: &str, to: &str) -> Vec<NaiveDate> {
    date(from)
        .iter_days()
        .take_while(|d| *d <= date(to))
        .collect()
}

#[test]
fn the_2025_schedule_is_the_state_councils() {
    let expected: Vec<(NaiveDate, &str)> = [
        (range("2025-01-01", "2025-01-01"), "元旦"),
        (range("2025-01-28", "2025-02-04"), "春节"),
        (range("2025-04-04", "2025-04-06"), "清明节"),
        (range("2025-05-01", "2025-05-05"), "劳动节"),
        (range("2025-05-31", "2025-06-02"), "端午节"),
        (range("2025-10-01", "2025-10-08"), "国庆节、中秋节"),
    ]
    .into_iter()
    .flat_map(|(days, name)| days.into_iter().map(move |d| (d, name)))
    .collect();
    let actual = holidays(&CHINA, 2025);
    assert_eq!(
        actual
            .iter()
            .map(|(d, n)| (*d, n.as_str()))
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(actual.len(), 28);
    for worked in [
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
    ] {
        assert!(CHINA.is_working_day(date(worked)), "{worked} is worked");
    }
    // 52 weekends (104 days) and Wednesday 1 January... less the five weekend days worked,
    // plus the holidays that fall on weekdays.
    let weekday_holidays = actual
        .iter()
        .filter(|(d, _)| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count();
    assert_eq!(
        rest_days(&CHINA, 2025).len(),
        104 - 5 + weekday_holidays,
        "rest days of 2025"
    );
    assert!(!CHINA.is_working_day(date("2025-10-08")));
    assert!(CHINA.is_working_day(date("2025-10-09")));
}

#[test]
fn the_2026_schedule_is_the_state_councils() {
    let expected: Vec<(NaiveDate, &str)> = [
        (range("2026-01-01", "2026-01-03"), "元旦"),
        (range("2026-02-15", "2026-02-23"), "春节"),
        (range("2026-04-04", "2026-04-06"), "清明节"),
        (range("2026-05-01", "2026-05-05"), "劳动节"),
        (range("2026-06-19", "2026-06-21"), "端午节"),
        (range("2026-09-25", "2026-09-27"), "中秋节"),
        (range("2026-10-01", "2026-10-07"), "国庆节"),
    ]
    .into_iter()
    .flat_map(|(days, name)| days.into_iter().map(move |d| (d, name)))
    .collect();
    let actual = holidays(&CHINA, 2026);
    assert_eq!(
        actual
            .iter()
            .map(|(d, n)| (*d, n.as_str()))
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(actual.len(), 33);
    for worked in [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ] {
        assert!(CHINA.is_working_day(date(worked)), "{worked} is worked");
    }
    for rest in ["2026-02-15", "2026-02-16", "2026-02-23", "2026-10-07"] {
        assert!(!CHINA.is_working_day(date(rest)), "{rest} is a rest day");
    }
    // Ordinary days around them.
    assert!(CHINA.is_working_day(date("2026-02-24")));
    assert!(!CHINA.is_working_day(date("2026-02-21")));
    assert!(!CHINA.is_working_day(date("2026-03-14")));
    assert!(CHINA.is_working_day(date("2026-03-13")));
}

#[test]
fn years_outside_the_file_have_plain_weeks() {
    assert!(!CHINA.covers(2030));
    // 2030-01-01 is a Tuesday: without a schedule it is a working day.
    assert!(CHINA.is_working_day(date("2030-01-01")));
    assert!(!CHINA.is_working_day(date("2030-01-05")));
    assert_eq!(CHINA.holiday(date("2030-01-01")), None);
    assert_eq!(
        due("2030-01-04T19:58:00+08:00", 5),
        "2030-01-07T08:03:00+08:00"
    );
}

// ---------------------------------------------------------------------------------------
// The five-minute rule (service hours)

#[test]
fn five_minutes_in_2026() {
    let cases = [
        // A Tuesday evening: two minutes today, three tomorrow morning.
        ("2026-03-10T19:58:00+08:00", "2026-03-11T08:03:00+08:00"),
        // Friday evening: Monday morning.
        ("2026-03-13T19:58:00+08:00", "2026-03-16T08:03:00+08:00"),
        // Inside service hours: five minutes later.
        ("2026-03-10T10:00:00+08:00", "2026-03-10T10:05:00+08:00"),
        // Before opening: from opening.
        ("2026-03-10T06:30:00+08:00", "2026-03-10T08:05:00+08:00"),
        // Saturday 14 February is worked (调休).
        ("2026-02-14T10:00:00+08:00", "2026-02-14T10:05:00+08:00"),
        ("2026-02-13T19:58:00+08:00", "2026-02-14T08:03:00+08:00"),
        // Saturday evening: the Spring Festival break (15 to 23 February) is skipped.
        ("2026-02-14T19:58:00+08:00", "2026-02-24T08:03:00+08:00"),
        ("2026-02-16T10:00:00+08:00", "2026-02-24T08:05:00+08:00"),
        // New Year: 1 to 3 January off, Sunday 4 January worked.
        ("2025-12-31T19:58:00+08:00", "2026-01-04T08:03:00+08:00"),
        // Labour Day: 1 to 5 May off, Saturday 9 May worked.
        ("2026-04-30T19:58:00+08:00", "2026-05-06T08:03:00+08:00"),
        ("2026-05-08T19:58:00+08:00", "2026-05-09T08:03:00+08:00"),
        // National Day: Sunday 20 September worked; 1 to 7 October off, Saturday 10 worked.
        ("2026-09-19T12:00:00+08:00", "2026-09-20T08:05:00+08:00"),
        ("2026-09-30T19:58:00+08:00", "2026-10-08T08:03:00+08:00"),
        ("2026-10-09T19:58:00+08:00", "2026-10-10T08:03:00+08:00"),
        // An instant given in UTC: 11:58Z is 19:58 in Shanghai.
        ("2026-03-10T11:58:00Z", "2026-03-11T08:03:00+08:00"),
    ];
    for (from, expected) in cases {
        assert_eq!(due(from, 5), expected, "received {from}");
    }
}

#[test]
fn five_minutes_in_2025() {
    let cases = [
        // Sunday 28 September is worked, Saturday 27 is not.
        ("2025-09-27T10:00:00+08:00", "2025-09-28T08:05:00+08:00"),
        ("2025-09-26T19:58:00+08:00", "2025-09-28T08:03:00+08:00"),
        ("2025-09-28T12:00:00+08:00", "2025-09-28T12:05:00+08:00"),
        // National Day and Mid-Autumn: 1 to 8 October off.
        ("2025-09-30T19:58:00+08:00", "2025-10-09T08:03:00+08:00"),
        ("2025-09-30T20:00:00+08:00", "2025-10-09T08:05:00+08:00"),
        ("2025-10-03T09:00:00+08:00", "2025-10-09T08:05:00+08:00"),
        // Saturday 11 October worked, Sunday 12 not.
        ("2025-10-10T19:58:00+08:00", "2025-10-11T08:03:00+08:00"),
        ("2025-10-11T19:58:00+08:00", "2025-10-13T08:03:00+08:00"),
        // Spring Festival: 28 January to 4 February off, Sunday 26 January worked.
        ("2025-01-24T19:58:00+08:00", "2025-01-26T08:03:00+08:00"),
        ("2025-01-27T19:58:00+08:00", "2025-02-05T08:03:00+08:00"),
        // New Year's Day alone (a Wednesday).
        ("2024-12-31T19:58:00+08:00", "2025-01-02T08:03:00+08:00"),
        // 2025 ends on a Wednesday: the next morning is 2026's New Year, then Sunday 4.
        ("2025-12-31T20:00:00+08:00", "2026-01-04T08:05:00+08:00"),
    ];
    for (from, expected) in cases {
        assert_eq!(due(from, 5), expected, "received {from}");
    }
}

#[test]
fn running_out_at_closing_time_is_closing_time() {
    assert_eq!(
        due("2026-03-10T19:58:00+08:00", 2),
        "2026-03-10T20:00:00+08:00"
    );
    // A second more is the next morning's first second.
    let next = CHINA
        .add(
            at("2026-03-10T19:58:00+08:00"),
            Duration::seconds(121),
            Hours::Service,
        )
        .expect("due");
    assert_eq!(local(next), "2026-03-11T08:00:01+08:00");
    // A full working day from opening ends at that day's close.
    assert_eq!(
        due("2026-03-10T08:00:00+08:00", 12 * 60),
        "2026-03-10T20:00:00+08:00"
    );
}

#[test]
fn zero_and_negative_amounts_leave_the_instant_unchanged() {
    // Even outside open hours: nothing is to be counted.
    for from in ["2026-02-16T03:00:00+08:00", "2026-03-10T10:00:00+08:00"] {
        for hours in [Hours::Service, Hours::ServiceAndDuty] {
            for amount in [Duration::zero(), Duration::minutes(-5)] {
                assert_eq!(
                    CHINA.add(at(from), amount, hours).expect("due"),
                    at(from),
                    "{from} {amount} {hours:?}"
                );
            }
        }
    }
}

#[test]
fn sub_second_amounts_are_kept() {
    let from = at("2026-03-10T19:59:59.250+08:00");
    let due = CHINA
        .add(from, Duration::milliseconds(1_500), Hours::Service)
        .expect("due");
    assert_eq!(due, at("2026-03-11T08:00:00.750+08:00"));
    assert_eq!(
        CHINA.between(from, due, Hours::Service),
        Duration::milliseconds(1_500)
    );
}

#[test]
fn fifteen_working_days_end_on_the_fifteenth_evening() {
    // 2 to 20 March 2026: three plain weeks.
    let from = at("2026-03-02T08:00:00+08:00");
    let due = CHINA
        .add(from, Duration::hours(15 * 12), Hours::Service)
        .expect("due");
    assert_eq!(local(due), "2026-03-20T20:00:00+08:00");
    // Over the Spring Festival: 13 (Fri) and 14 (Sat, worked), then 24 February on.
    let from = at("2026-02-13T08:00:00+08:00");
    let due = CHINA
        .add(from, Duration::hours(3 * 12), Hours::Service)
        .expect("due");
    assert_eq!(local(due), "2026-02-24T20:00:00+08:00");
}

#[test]
fn a_year_of_service_hours_is_added_quickly() {
    // 2026 has 365 days - 104 weekend days + 6 worked - 19 weekday holidays = 248 working
    // days, the last of them Thursday 31 December.
    let rest = rest_days(&CHINA, 2026).len();
    assert_eq!(365 - rest, 248);
    let from = at("2026-01-01T00:00:00+08:00");
    let started = std::time::Instant::now();
    let due = CHINA
        .add(from, Duration::hours(248 * 12), Hours::Service)
        .expect("due");
    assert_eq!(local(due), "2026-12-31T20:00:00+08:00");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Open hours

#[test]
fn is_open_follows_service_hours_and_the_roster() {
    let open = |text: &str, hours| CHINA.is_open(at(text), hours);
    assert!(open("2026-03-10T08:00:00+08:00", Hours::Service));
    assert!(open("2026-03-10T19:59:59.999999999+08:00", Hours::Service));
    assert!(!open("2026-03-10T20:00:00+08:00", Hours::Service));
    assert!(!open("2026-03-10T07:59:59+08:00", Hours::Service));
    assert!(!open("2026-03-14T10:00:00+08:00", Hours::Service));
    assert!(open("2026-02-14T10:00:00+08:00", Hours::Service));
    assert!(!open("2026-02-16T10:00:00+08:00", Hours::Service));
    for text in [
        "2026-03-10T20:00:00+08:00",
        "2026-03-14T10:00:00+08:00",
        "2026-02-16T03:00:00+08:00",
        "2026-02-24T07:59:59+08:00",
    ] {
        assert!(open(text, Hours::ServiceAndDuty), "{text} is on duty");
    }
}

#[test]
fn service_and_duty_on_the_default_roster_is_elapsed_time() {
    for (from, minutes) in [
        ("2026-02-14T19:58:00+08:00", 5),
        ("2026-02-16T10:00:00+08:00", 60 * 24 * 9),
        ("2025-09-30T23:59:00+08:00", 2),
        ("2026-03-15T07:59:00+08:00", 1),
    ] {
        let from = at(from);
        let amount = Duration::minutes(minutes);
        assert_eq!(
            CHINA.add(from, amount, Hours::ServiceAndDuty).expect("due"),
            from + amount
        );
        assert_eq!(
            CHINA.between(from, from + amount, Hours::ServiceAndDuty),
            amount
        );
    }
}

// ---------------------------------------------------------------------------------------
// between

#[test]
fn between_counts_open_time_only() {
    let between = |from: &str, to: &str, hours| CHINA.between(at(from), at(to), hours);
    // Inside one working day.
    assert_eq!(
        between(
            "2026-03-10T09:00:00+08:00",
            "2026-03-10T09:07:00+08:00",
            Hours::Service
        ),
        Duration::minutes(7)
    );
    // Evening to morning.
    assert_eq!(
        between(
            "2026-03-10T19:58:00+08:00",
            "2026-03-11T08:03:00+08:00",
            Hours::Service
        ),
        Duration::minutes(5)
    );
    // Across the Spring Festival: 1 h on Friday 13, the whole of Saturday 14 (worked),
    // nothing from 15 to 23, 1 h on Tuesday 24.
    assert_eq!(
        between(
            "2026-02-13T19:00:00+08:00",
            "2026-02-24T09:00:00+08:00",
            Hours::Service
        ),
        Duration::hours(14)
    );
    assert_eq!(
        between(
            "2026-02-15T00:00:00+08:00",
            "2026-02-24T00:00:00+08:00",
            Hours::Service
        ),
        Duration::zero()
    );
    assert_eq!(
        between(
            "2026-02-13T19:00:00+08:00",
            "2026-02-24T09:00:00+08:00",
            Hours::ServiceAndDuty
        ),
        Duration::hours(24 * 10 + 14)
    );
    // Backwards or empty: zero.
    assert_eq!(
        between(
            "2026-03-11T08:03:00+08:00",
            "2026-03-10T19:58:00+08:00",
            Hours::Service
        ),
        Duration::zero()
    );
    assert_eq!(
        between(
            "2026-03-10T10:00:00+08:00",
            "2026-03-10T10:00:00+08:00",
            Hours::Service
        ),
        Duration::zero()
    );
    // A whole covered year: 248 working days of 12 hours.
    assert_eq!(
        between(
            "2026-01-01T00:00:00+08:00",
            "2027-01-01T00:00:00+08:00",
            Hours::Service
        ),
        Duration::hours(248 * 12)
    );
}

// ---------------------------------------------------------------------------------------
// Other calendars: another time zone, a night-shift roster, no working days

const NEW_YORK: &str = r#"
version = "test-ny"
time_zone = "America/New_York"

[service_hours]
start = "00:30"
end = "04:00"

[[duty]]
days = "all"
start = "00:00"
end = "24:00"

[years.2026]
source = "a test"
# The two days the clocks change, both Sundays, worked.
working_weekends = ["2026-03-08", "2026-11-01"]
"#;

#[test]
fn clock_changes_are_handled() {
    let ny = Calendar::from_toml(NEW_YORK).expect("the test calendar loads");
    let day = |d: &str| {
        let date = date(d);
        let start = ny
            .time_zone()
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .expect("midnight exists");
        let next = ny
            .time_zone()
            .from_local_datetime(
                &date
                    .succ_opt()
                    .expect("a next day")
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight"),
            )
            .earliest()
            .expect("midnight exists");
        (start.to_utc(), next.to_utc())
    };
    // 8 March: 02:00 jumps to 03:00, so 00:30 to 04:00 is 2 h 30 min.
    let (from, to) = day("2026-03-08");
    assert_eq!(ny.between(from, to, Hours::Service), Duration::minutes(150));
    // 1 November: 01:00 to 02:00 happens twice, so 00:30 to 04:00 is 4 h 30 min.
    let (from, to) = day("2026-11-01");
    assert_eq!(ny.between(from, to, Hours::Service), Duration::minutes(270));
    // A duty roster of every hour is elapsed time, whatever the clocks do.
    for d in ["2026-03-08", "2026-11-01"] {
        let (from, to) = day(d);
        assert_eq!(ny.between(from, to, Hours::ServiceAndDuty), to - from);
        assert_eq!(
            ny.add(from, to - from, Hours::ServiceAndDuty).expect("due"),
            to
        );
    }
}

#[test]
fn a_service_start_in_the_skipped_hour_starts_when_the_clock_jumps() {
    let text = NEW_YORK
        .replace("start = \"00:30\"", "start = \"02:30\"")
        .replace("end = \"04:00\"", "end = \"05:00\"");
    let ny = Calendar::from_toml(&text).expect("the test calendar loads");
    // 02:30 does not exist on 8 March: service runs from 03:00 EDT (07:00Z) to 05:00 EDT.
    let from = at("2026-03-08T00:00:00-05:00");
    let due = ny
        .add(from, Duration::minutes(1), Hours::Service)
        .expect("due");
    assert_eq!(due, at("2026-03-08T07:01:00Z"));
    assert_eq!(
        ny.between(from, from + Duration::days(1), Hours::Service),
        Duration::hours(2)
    );
}

#[test]
fn the_brief_night_roster_leaves_monday_early_morning_uncovered() {
    // A roster where the rest-day shift ends at midnight: the hours after a Sunday
    // midnight are covered by nobody until Monday's service hours.
    let text = CHINA_TEXT
        .replace(
            "days = \"rest\"\nstart = \"08:00\"\nend = \"08:00\"",
            "days = \"rest\"\nstart = \"00:00\"\nend = \"24:00\"",
        )
        .replace("version = \"cn-2026.1\"", "version = \"gap\"");
    let calendar = Calendar::from_toml(&text).expect("the edited calendar loads");
    assert_eq!(calendar.version(), "gap");
    assert!(!calendar.is_open(at("2026-03-16T03:00:00+08:00"), Hours::ServiceAndDuty));
    assert!(calendar.is_open(at("2026-03-15T03:00:00+08:00"), Hours::ServiceAndDuty));
    assert!(calendar.is_open(at("2026-03-17T03:00:00+08:00"), Hours::ServiceAndDuty));
    assert_eq!(
        local(
            calendar
                .add(
                    at("2026-03-15T23:58:00+08:00"),
                    Duration::minutes(5),
                    Hours::ServiceAndDuty
                )
                .expect("due")
        ),
        "2026-03-16T08:03:00+08:00"
    );
}

const CHINA_TEXT: &str = include_str!("../../../deploy/config/calendar.toml");

#[test]
fn a_calendar_without_working_days_is_an_error_not_a_hang() {
    let text = r#"
version = "closed"
time_zone = "Asia/Shanghai"
[service_hours]
start = "08:00"
end = "20:00"
[years.2026]
source = "a test"
holidays = [{ name = "closed", from = "2026-01-01", to = "2026-12-31" }]
[years.2027]
source = "a test"
holidays = [{ name = "closed", from = "2027-01-01", to = "2027-12-31" }]
"#;
    let closed = Calendar::from_toml(text).expect("the test calendar loads");
    let error = closed
        .add(
            at("2026-01-01T00:00:00+08:00"),
            Duration::minutes(5),
            Hours::Service,
        )
        .expect_err("nothing is ever open");
    assert!(matches!(error, CalendarError::NoOpenTime { .. }), "{error}");
    assert!(error.to_string().contains("no open hours within 400 days"));
    // Duty hours still run; no roster at all means nothing does.
    assert_eq!(
        closed.between(
            at("2026-01-01T00:00:00+08:00"),
            at("2027-01-01T00:00:00+08:00"),
            Hours::ServiceAndDuty
        ),
        Duration::zero()
    );
    // Before the closed years, open time is found as usual.
    assert_eq!(
        local(
            closed
                .add(
                    at("2025-12-31T19:00:00+08:00"),
                    Duration::minutes(59),
                    Hours::Service
                )
                .expect("due")
        ),
        "2025-12-31T19:59:00+08:00"
    );
}

#[test]
fn open_time_is_looked_for_exactly_400_days() {
    // Closed from 2026-01-01 through `last_closed`; open time is looked for from the start.
    let closed_through = |last_closed: &str| {
        Calendar::from_toml(&format!(
            r#"
version = "closed"
time_zone = "Asia/Shanghai"
[service_hours]
start = "08:00"
end = "20:00"
[years.2026]
source = "a test"
holidays = [{{ name = "closed", from = "2026-01-01", to = "2026-12-31" }}]
[years.2027]
source = "a test"
holidays = [{{ name = "closed", from = "2027-01-01", to = "{last_closed}" }}]
"#
        ))
        .expect("the test calendar loads")
    };
    let from = at("2026-01-01T00:00:00+08:00");
    // Thursday 2027-02-04, 08:00: 399 days and 8 hours on.
    let due = closed_through("2027-02-03")
        .add(from, Duration::minutes(5), Hours::Service)
        .expect("open time within 400 days is found");
    assert_eq!(local(due), "2027-02-04T08:05:00+08:00");
    // Tuesday 2027-02-09, 08:00: 404 days on, past the horizon whatever the chunks.
    let error = closed_through("2027-02-08")
        .add(from, Duration::minutes(5), Hours::Service)
        .expect_err("open time 404 days on is past the horizon");
    assert!(matches!(error, CalendarError::NoOpenTime { .. }), "{error}");
}

// ---------------------------------------------------------------------------------------
// Loading errors

fn problems(text: &str) -> Vec<(usize, String, String)> {
    match Calendar::from_toml(text) {
        Err(error @ CalendarError::Invalid { .. }) => {
            let shown = error.to_string();
            error
                .problems()
                .iter()
                .map(|p| {
                    assert!(shown.contains(&p.to_string()), "{shown}");
                    (p.line, p.key.clone(), p.message.clone())
                })
                .collect()
        }
        other => panic!("expected content problems, got {other:?}"),
    }
}

fn syntax(text: &str) -> String {
    match Calendar::from_toml(text) {
        Err(error @ CalendarError::Syntax { .. }) => error.to_string(),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

const SMALL: &str = r#"version = "test"
time_zone = "Asia/Shanghai"
[service_hours]
start = "08:00"
end = "20:00"
[[duty]]
days = "working"
start = "20:00"
end = "08:00"
[years.2026]
source = "a test"
holidays = [
    { name = "春节", from = "2026-02-15", to = "2026-02-23" },
]
working_weekends = ["2026-02-14"]
"#;

#[test]
fn the_small_test_calendar_loads() {
    let calendar = Calendar::from_toml(SMALL).expect("loads");
    assert!(calendar.covers(2026));
    assert!(calendar.is_working_day(date("2026-02-14")));
    assert!(!calendar.is_working_day(date("2026-02-16")));
}

#[test]
fn a_bad_time_zone_is_named() {
    let found = problems(&SMALL.replace("Asia/Shanghai", "Asia/Shangai"));
    assert_eq!(found.len(), 1, "{found:?}");
    let (line, key, message) = &found[0];
    assert_eq!((*line, key.as_str()), (2, "time_zone"));
    assert!(
        message.contains("`Asia/Shangai` is not a time zone"),
        "{message}"
    );
}

#[test]
fn bad_times_are_named() {
    let found = problems(&SMALL.replace("end = \"20:00\"", "end = \"25:00\""));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1.as_str()), (5, "service_hours.end"));
    assert!(found[0].2.contains("`25:00` is not a time of day"));

    let found = problems(&SMALL.replace("start = \"20:00\"", "start = \"8pm\""));
    assert_eq!((found[0].0, found[0].1.as_str()), (8, "duty[1].start"));

    let found = problems(&SMALL.replace("start = \"20:00\"", "start = \"24:00\""));
    assert_eq!(found[0].1, "duty[1].start");
    assert!(
        found[0].2.contains("cannot start at 24:00"),
        "{:?}",
        found[0]
    );

    let found = problems(&SMALL.replace("end = \"20:00\"", "end = \"07:00\""));
    assert_eq!(found[0].1, "service_hours.end");
    assert!(
        found[0].2.contains("do not cross midnight"),
        "{:?}",
        found[0]
    );
}

#[test]
fn a_date_outside_its_year_is_named() {
    let found = problems(&SMALL.replace(
        "working_weekends = [\"2026-02-14\"]",
        "working_weekends = [\"2026-02-14\", \"2025-02-08\"]",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0, found[0].1.as_str()),
        (15, "years.2026.working_weekends")
    );
    assert!(
        found[0].2.contains("2025-02-08 is not in 2026"),
        "{found:?}"
    );
    assert!(found[0].2.contains("[years.2025]"), "{found:?}");

    let found = problems(&SMALL.replace("to = \"2026-02-23\"", "to = \"2027-02-23\""));
    assert_eq!(found[0].1, "years.2026.holidays");
    assert!(
        found[0].2.contains("2027-02-23 is not in 2026"),
        "{found:?}"
    );
}

#[test]
fn a_holiday_that_is_worked_is_named() {
    let found = problems(&SMALL.replace(
        "working_weekends = [\"2026-02-14\"]",
        "working_weekends = [\"2026-02-14\", \"2026-02-21\"]",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 15);
    assert!(
        found[0]
            .2
            .contains("2026-02-21 is both a working weekend day and a holiday (春节, line 13)"),
        "{found:?}"
    );
}

#[test]
fn a_worked_weekday_is_named() {
    let found = problems(&SMALL.replace("\"2026-02-14\"]", "\"2026-02-13\"]"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .2
            .contains("2026-02-13 is a Friday, not a Saturday or Sunday"),
        "{found:?}"
    );
}

#[test]
fn duplicate_dates_are_named() {
    let found = problems(&SMALL.replace(
        "working_weekends = [\"2026-02-14\"]",
        "working_weekends = [\n    \"2026-02-14\",\n    \"2026-02-14\",\n]",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 17);
    assert!(
        found[0]
            .2
            .contains("2026-02-14 is listed as a working weekend day twice (also on line 16)"),
        "{found:?}"
    );

    let found = problems(&SMALL.replace(
        "    { name = \"春节\", from = \"2026-02-15\", to = \"2026-02-23\" },\n",
        "    { name = \"春节\", from = \"2026-02-15\", to = \"2026-02-23\" },\n    { name = \"again\", dates = [\"2026-02-16\"] },\n",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 14);
    assert!(
        found[0]
            .2
            .contains("2026-02-16 is listed as a holiday twice (also on line 13)"),
        "{found:?}"
    );
}

#[test]
fn malformed_holidays_and_years_are_named() {
    let found = problems(&SMALL.replace("2026-02-23", "2026-02-10"));
    assert!(
        found[0].2.contains("ends (2026-02-10) before it starts"),
        "{found:?}"
    );
    let found = problems(&SMALL.replace("to = \"2026-02-23\"", "dates = [\"2026-02-16\"]"));
    assert!(
        found[0]
            .2
            .contains("either `dates = [...]` or both `from` and `to`"),
        "{found:?}"
    );
    let found = problems(&SMALL.replace("2026-02-15", "2026-02-30"));
    assert!(
        found[0].2.contains("\"2026-02-30\" is not a date"),
        "{found:?}"
    );
    let found = problems(&SMALL.replace("[years.2026]", "[years.26]"));
    assert_eq!(found[0].1, "years.26");
    assert!(found[0].2.contains("four-digit year"), "{found:?}");
    let found = problems(&SMALL.replace("source = \"a test\"", "source = \" \""));
    assert_eq!(found[0].1, "years.2026.source");
    let found = problems(&SMALL.replace("version = \"test\"", "version = \"\""));
    assert_eq!((found[0].0, found[0].1.as_str()), (1, "version"));
}

#[test]
fn every_problem_is_listed_in_the_order_of_the_file() {
    let text = SMALL
        .replace("Asia/Shanghai", "Mars/Olympus")
        .replace("\"2026-02-14\"]", "\"2026-02-13\", \"2025-01-01\"]")
        .replace("end = \"08:00\"", "end = \"8:00\"");
    let found = problems(&text);
    let lines: Vec<usize> = found.iter().map(|p| p.0).collect();
    assert_eq!(lines, vec![2, 9, 15, 15], "{found:?}");
    let error = Calendar::from_toml(&text).expect_err("invalid");
    let shown = error.to_string();
    assert!(
        shown.starts_with(
            "the calendar has 4 problems; fix each and load it again:\n  - line 2 (`time_zone`)"
        ),
        "{shown}"
    );
}

#[test]
fn unknown_keys_and_wrong_types_are_syntax_errors_with_their_line() {
    let shown = syntax(&SMALL.replace("working_weekends", "working_weekend"));
    assert!(shown.contains("line 15"), "{shown}");
    assert!(shown.contains("unknown field `working_weekend`"), "{shown}");
    assert!(shown.contains("deploy/config/calendar.toml"), "{shown}");

    let shown = syntax(&SMALL.replace("[service_hours]", "[service_hour]"));
    assert!(shown.contains("unknown field `service_hour`"), "{shown}");

    let shown = syntax(&SMALL.replace("days = \"working\"", "days = \"weekdays\""));
    assert!(shown.contains("line 7"), "{shown}");
    assert!(shown.contains("weekdays"), "{shown}");

    let shown = syntax(&SMALL.replace("source = \"a test\"\n", ""));
    assert!(shown.contains("missing field `source`"), "{shown}");

    let shown = syntax(&SMALL.replace("name = \"春节\", ", "nome = \"春节\", "));
    assert!(shown.contains("line 13"), "{shown}");

    let shown = syntax("version = ");
    assert!(shown.contains("line 1"), "{shown}");
}

#[test]
fn a_missing_file_names_the_path() {
    let error = Calendar::load(std::path::Path::new("/nonexistent/calendar.toml"))
        .expect_err("no such file");
    assert!(matches!(error, CalendarError::Read { .. }));
    assert!(
        error
            .to_string()
            .starts_with("cannot read the calendar file /nonexistent/calendar.toml"),
        "{error}"
    );
}

#[test]
fn dates_may_be_toml_dates() {
    let text = SMALL.replace("[\"2026-02-14\"]", "[2026-02-14]");
    let calendar = Calendar::from_toml(&text).expect("a TOML local date is a date");
    assert!(calendar.is_working_day(date("2026-02-14")));
    let found = problems(&SMALL.replace("[\"2026-02-14\"]", "[2026-02-14T08:00:00]"));
    assert!(found[0].2.contains("is not a date"), "{found:?}");
}

// ---------------------------------------------------------------------------------------
// Properties

/// An instant from 2025 to 2027, to the nanosecond.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let first = at("2025-01-01T00:00:00Z").timestamp();
    let last = at("2028-01-01T00:00:00Z").timestamp();
    (first..last, 0..1_000_000_000u32).prop_map(|(seconds, nanos)| {
        DateTime::from_timestamp(seconds, nanos).expect("a representable instant")
    })
}

/// An amount of open time up to 20 days, sometimes whole minutes, sometimes not.
fn amount() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0..=20 * 24 * 60i64).prop_map(Duration::minutes),
        (0..=20 * 24 * 3_600_000_000_000i64).prop_map(Duration::nanoseconds),
    ]
}

fn hours() -> impl Strategy<Value = Hours> {
    prop_oneof![Just(Hours::Service), Just(Hours::ServiceAndDuty)]
}

proptest! {
    #[test]
    fn between_undoes_add(from in instant(), n in amount(), hours in hours()) {
        let due = CHINA.add(from, n, hours).expect("due");
        prop_assert!(due >= from);
        prop_assert_eq!(CHINA.between(from, due, hours), n);
        // The last moment before a due instant is open: no closed time is counted at the end.
        if n > Duration::zero() {
            prop_assert!(CHINA.is_open(due - Duration::nanoseconds(1), hours));
        }
    }

    #[test]
    fn add_is_monotonic(a in instant(), b in instant(), n in amount(), m in amount(), hours in hours()) {
        let (early, late) = (a.min(b), a.max(b));
        prop_assert!(CHINA.add(early, n, hours).expect("due") <= CHINA.add(late, n, hours).expect("due"));
        let (less, more) = (n.min(m), n.max(m));
        prop_assert!(CHINA.add(a, less, hours).expect("due") <= CHINA.add(a, more, hours).expect("due"));
    }

    #[test]
    fn between_is_additive(a in instant(), b in instant(), c in instant(), hours in hours()) {
        let mut points = [a, b, c];
        points.sort();
        let [a, b, c] = points;
        prop_assert_eq!(
            CHINA.between(a, b, hours) + CHINA.between(b, c, hours),
            CHINA.between(a, c, hours)
        );
        prop_assert_eq!(CHINA.between(c, a, hours), Duration::zero());
        prop_assert!(CHINA.between(a, c, hours) <= c - a);
    }

    #[test]
    fn service_and_duty_is_elapsed_time(from in instant(), n in amount()) {
        prop_assert_eq!(CHINA.add(from, n, Hours::ServiceAndDuty).expect("due"), from + n);
    }

    #[test]
    fn service_hours_are_within_service_and_duty(a in instant(), b in instant()) {
        let (a, b) = (a.min(b), a.max(b));
        prop_assert!(CHINA.between(a, b, Hours::Service) <= CHINA.between(a, b, Hours::ServiceAndDuty));
        if CHINA.is_open(a, Hours::Service) {
            prop_assert!(CHINA.is_open(a, Hours::ServiceAndDuty));
        }
    }

    #[test]
    fn the_new_york_calendar_keeps_the_properties(from in instant(), n in amount(), hours in hours()) {
        let ny = Calendar::from_toml(NEW_YORK).expect("the test calendar loads");
        let due = ny.add(from, n, hours).expect("due");
        prop_assert!(due >= from);
        prop_assert_eq!(ny.between(from, due, hours), n);
    }

    #[test]
    fn no_text_makes_loading_panic(text in "\\PC{0,200}") {
        let _ = Calendar::from_toml(&text);
    }

    #[test]
    fn no_cut_of_the_built_in_file_makes_loading_panic(cut in 0..CHINA_TEXT.len()) {
        if let Some(prefix) = CHINA_TEXT.get(..cut) {
            let _ = Calendar::from_toml(prefix);
        }
    }
}
