//! RFC 3339 timestamps (via the `time` crate), so `dateTime` attributes (RFC 7643 §2.3.5)
//! compare as instants regardless of offset or fractional digits.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 date-time; `None` for anything else. `OffsetDateTime` orders by instant.
pub(crate) fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_instants() {
        assert_eq!(
            parse_datetime("1970-01-01T00:00:00Z"),
            Some(OffsetDateTime::UNIX_EPOCH)
        );
        assert_eq!(
            parse_datetime("2011-05-13T04:42:34Z"),
            parse_datetime("2011-05-13T06:42:34.000+02:00")
        );
        assert!(parse_datetime("2000-03-01T00:00:00.5Z") > parse_datetime("2000-03-01T00:00:00Z"));
        assert!(parse_datetime("2024-02-30T00:00:00Z").is_none());
        assert!(parse_datetime("2024-01-01").is_none());
        assert!(parse_datetime("2024-01-01T00:00:00").is_none());
        assert!(parse_datetime("2024-01-01T00:00:00.Z").is_none());
        assert!(parse_datetime("é").is_none());
    }
}
