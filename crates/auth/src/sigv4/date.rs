//! The three date formats SigV4 meets: `20150830T123600Z` (X-Amz-Date), `20150830` (scope) and
//! IMF-fixdate `Sun, 30 Aug 2015 12:36:00 GMT` (the `Date` header).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

fn ymd(year: &[u8], month: u32, day: &[u8]) -> Option<Date> {
    let year = i32::try_from(digits(year)?).ok()?;
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(year, month, u8::try_from(digits(day)?).ok()?).ok()
}

fn hms(h: &[u8], m: &[u8], s: &[u8]) -> Option<Time> {
    let f = |x: &[u8]| digits(x).and_then(|v| u8::try_from(v).ok());
    Time::from_hms(f(h)?, f(m)?, f(s)?).ok()
}

/// Parses `YYYYMMDD`.
pub(crate) fn parse_scope_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 8 {
        return None;
    }
    ymd(&b[0..4], digits(&b[4..6])?, &b[6..8])
}

/// Parses ISO 8601 basic format `YYYYMMDD'T'HHMMSS'Z'`, strictly.
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let date = ymd(&b[0..4], digits(&b[4..6])?, &b[6..8])?;
    let time = hms(&b[9..11], &b[11..13], &b[13..15])?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Parses an HTTP `Date`: IMF-fixdate `Sun, 30 Aug 2015 12:36:00 GMT`, also with the zone
/// written `UTC`, `+0000` or `-0000` (Python's `email.utils.formatdate`, which botocore uses).
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let mut it = s.split(' ').filter(|p| !p.is_empty());
    let weekday = it.next()?.strip_suffix(',')?;
    let (day, month, year, clock, zone) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some()
        || !WEEKDAYS.contains(&weekday)
        || !matches!(zone, "GMT" | "UTC" | "+0000" | "-0000")
    {
        return None;
    }
    if !(1..=2).contains(&day.len()) || year.len() != 4 {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == month)?;
    let date = ymd(
        year.as_bytes(),
        u32::try_from(month + 1).ok()?,
        day.as_bytes(),
    )?;
    let c = clock.as_bytes();
    if c.len() != 8 || c[2] != b':' || c[5] != b':' {
        return None;
    }
    let time = hms(&c[0..2], &c[3..5], &c[6..8])?;
    let parsed = PrimitiveDateTime::new(date, time).assume_utc();
    (WEEKDAYS[usize::from(parsed.weekday().number_days_from_monday())] == weekday).then_some(parsed)
}

/// `YYYYMMDD'T'HHMMSS'Z'` of `t` in UTC (of `t` as is in the rare case that its UTC
/// equivalent is past year 9999).
pub(crate) fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{}T{:02}{:02}{:02}Z",
        format_scope_date(t.date()),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `YYYYMMDD` of `d`.
pub(crate) fn format_scope_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}
