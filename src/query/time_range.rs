//! `--since` / `--until`: parsing, and comparing record times cheaply.
//!
//! Records carry times in one canonical form (`format_time`: RFC 3339 UTC, microseconds,
//! 27 bytes), which sorts lexically; bounds are kept in that form so the common case is a
//! byte comparison. Other forms fall back to parsing.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::QueryError;
use crate::audit::record::format_time;

/// The half-open interval `since <= time < until`; either end may be open.
#[derive(Debug, Clone, Default)]
pub struct TimeRange {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    since_text: Option<String>,
    until_text: Option<String>,
}

impl TimeRange {
    /// Parses the flags' values, resolving spans against `now`.
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<TimeRange, QueryError> {
        let since = since.map(|v| parse_bound("since", v, now)).transpose()?;
        let until = until.map(|v| parse_bound("until", v, now)).transpose()?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(QueryError::EmptyRange);
            }
        }
        Ok(TimeRange {
            since,
            until,
            since_text: since.map(format_time),
            until_text: until.map(format_time),
        })
    }

    pub fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Whether a record time is inside the range; an unreadable time is outside any
    /// bounded range.
    pub fn contains(&self, time: &str) -> bool {
        if self.is_open() {
            return true;
        }
        if is_canonical(time) {
            let after_since = self.since_text.as_deref().is_none_or(|s| time >= s);
            let before_until = self.until_text.as_deref().is_none_or(|u| time < u);
            return after_since && before_until;
        }
        match OffsetDateTime::parse(time, &Rfc3339) {
            Ok(t) => self.contains_time(t),
            Err(_) => false,
        }
    }

    pub fn contains_time(&self, t: OffsetDateTime) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as `format_time` writes it.
fn is_canonical(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 27
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z'
}

/// RFC 3339, or a humantime span (`15m`, `24h`, `7d`, `1h30m`) meaning `now - span`.
pub fn parse_bound(
    flag: &'static str,
    value: &str,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, QueryError> {
    let bad = |reason: String| QueryError::Time {
        flag,
        value: value.to_string(),
        reason,
    };
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(t);
    }
    // A value that starts like a date is meant as RFC 3339: say what is wrong with it.
    if value.len() >= 10 && value.as_bytes()[4] == b'-' {
        let e = OffsetDateTime::parse(value, &Rfc3339).err();
        return Err(bad(e.map(|e| e.to_string()).unwrap_or_default()));
    }
    let span = humantime::parse_duration(value).map_err(|e| bad(e.to_string()))?;
    let span = time::Duration::try_from(span).map_err(|e| bad(e.to_string()))?;
    now.checked_sub(span)
        .ok_or_else(|| bad("span reaches before year -9999".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-03 12:00:00 UTC);

    #[test]
    fn spans_count_back_from_now() {
        assert_eq!(
            parse_bound("since", "15m", NOW).unwrap(),
            datetime!(2026-12-03 11:45:00 UTC)
        );
        assert_eq!(
            parse_bound("since", "7d", NOW).unwrap(),
            datetime!(2026-11-26 12:00:00 UTC)
        );
    }

    #[test]
    fn rfc3339_with_offset() {
        assert_eq!(
            parse_bound("until", "2026-12-03T14:00:00+02:00", NOW).unwrap(),
            datetime!(2026-12-03 12:00:00 UTC)
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = parse_bound("since", "yesterday", NOW).unwrap_err();
        assert!(e.to_string().starts_with("--since \"yesterday\""), "{e}");
        let e = parse_bound("until", "2026-13-01T00:00:00Z", NOW).unwrap_err();
        assert!(e.to_string().starts_with("--until"), "{e}");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn canonical_and_other_forms_compare_alike() {
        let r = TimeRange::parse(
            Some("2026-12-03T10:00:00Z"),
            Some("2026-12-03T11:00:00Z"),
            NOW,
        )
        .unwrap();
        assert!(r.contains("2026-12-03T10:00:00.000000Z"));
        assert!(!r.contains("2026-12-03T11:00:00.000000Z"));
        assert!(!r.contains("2026-12-03T09:59:59.999999Z"));
        assert!(r.contains("2026-12-03T12:30:00+02:00"));
        assert!(!r.contains("garbage"));
        assert!(matches!(
            TimeRange::parse(Some("1h"), Some("2h"), NOW),
            Err(QueryError::EmptyRange)
        ));
    }
}
