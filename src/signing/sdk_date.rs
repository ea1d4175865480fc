//! The `X-Sdk-Date` header format, `YYYYMMDDTHHMMSSZ` in UTC.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// `X-Sdk-Date` is not `YYYYMMDDTHHMMSSZ` or is not a valid date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Sdk-Date is not a valid YYYYMMDDTHHMMSSZ date")]
pub struct SdkDateError;

/// Parses an `X-Sdk-Date` value strictly (exactly 16 ASCII characters).
pub fn parse_sdk_date(value: &str) -> Result<OffsetDateTime, SdkDateError> {
    if value.len() != 16 || !value.is_ascii() {
        return Err(SdkDateError);
    }
    PrimitiveDateTime::parse(value, FORMAT)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| SdkDateError)
}

/// Formats a time as an `X-Sdk-Date` value (converted to UTC).
pub fn format_sdk_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trip() {
        let t = parse_sdk_date("20261203T160704Z").expect("valid");
        assert_eq!(t, datetime!(2026-12-03 16:07:04 UTC));
        assert_eq!(format_sdk_date(t), "20261203T160704Z");
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "",
            "20261203T160704",
            "20261203T160704z",
            "2026-12-03T16:07:04Z",
            "20261303T160704Z",
            "20261203T250704Z",
            "+2026120T160704Z",
            "20261203T160704Ż",
        ] {
            assert_eq!(parse_sdk_date(bad), Err(SdkDateError), "{bad:?}");
        }
    }
}
