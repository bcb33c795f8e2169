//! A minimal RFC 3339 timestamp reader, so `dateTime` attributes (RFC 7643 §2.3.5) compare as
//! instants regardless of offset or fractional digits.

/// An instant as (seconds since the Unix epoch, nanoseconds), ordered chronologically.
pub(crate) type Instant = (i64, u32);

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (RFC 3339 §5.6; `t`, `z` and a space
/// separator also accepted), returning `None` for anything else.
pub(crate) fn parse_datetime(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let year = num(0, 4)?;
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    let hour = num(11, 2)?;
    let minute = num(14, 2)?;
    let second = num(17, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            i += 1;
        }
        let count = i - start;
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
            let oh = num(i + 1, 2)?;
            let om = num(i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some((secs, nanos))
}

/// Days in `month` of `year` (proleptic Gregorian).
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_instants() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_datetime("2011-05-13T04:42:34Z"),
            parse_datetime("2011-05-13T06:42:34.000+02:00")
        );
        assert_eq!(
            parse_datetime("2000-03-01T00:00:00.5Z"),
            Some((951_868_800, 500_000_000))
        );
        assert!(parse_datetime("2024-02-30T00:00:00Z").is_none());
        assert!(parse_datetime("2024-01-01").is_none());
        assert!(parse_datetime("2024-01-01T00:00:00").is_none());
        assert!(parse_datetime("2024-01-01T00:00:00.Z").is_none());
        assert!(parse_datetime("é").is_none());
    }
}
