//! Scalars of our own: `DateTime`.

use async_graphql::{Description, InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// An instant as RFC 3339 text with its offset (`2024-05-01T12:00:00.000Z`). Vendor times are
/// passed on as the vendor wrote them when they are RFC 3339; a vendor time without an offset
/// is UTC; anything else is left out (null).
#[derive(Clone, Debug, PartialEq, Eq, Description)]
pub struct DateTime(String);

#[Scalar(
    name = "DateTime",
    use_type_description,
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) if is_rfc3339(text) => Ok(DateTime(text.clone())),
            _ => Err(InputValueError::custom(
                "expected an RFC 3339 date-time with an offset",
            )),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl DateTime {
    /// A vendor's time, if it is one.
    pub fn from_vendor(text: &str) -> Option<DateTime> {
        let text = text.trim();
        if is_rfc3339(text) {
            return Some(DateTime(text.to_string()));
        }
        let utc = format!("{}Z", text.replacen(' ', "T", 1));
        is_rfc3339(&utc).then_some(DateTime(utc))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn millis(&self) -> i64 {
        let b = self.0.as_bytes();
        let num =
            |r: std::ops::Range<usize>| b[r].iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        let days = days_from_civil(num(0..4), num(5..7), num(8..10));
        let seconds = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
        let mut rest = &self.0[19..];
        let mut millis = 0;
        if let Some(fraction) = rest.strip_prefix('.') {
            let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
            let padded = format!("{:0<3}", &fraction[..n.min(3)]);
            millis = padded.parse::<i64>().unwrap_or(0);
            rest = &fraction[n..];
        }
        let offset = match rest.as_bytes() {
            [sign @ (b'+' | b'-'), ..] => {
                let o = rest.as_bytes();
                let minutes = (i64::from(o[1] - b'0') * 10 + i64::from(o[2] - b'0')) * 60
                    + i64::from(o[4] - b'0') * 10
                    + i64::from(o[5] - b'0');
                if *sign == b'+' {
                    minutes * 60
                } else {
                    -minutes * 60
                }
            }
            _ => 0,
        };
        (seconds - offset) * 1000 + millis
    }

    /// The instant `millis` after the epoch, in UTC with milliseconds.
    pub fn from_millis(millis: i64) -> DateTime {
        let (days, ms) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
        let (y, m, d) = civil_from_days(days);
        let s = ms / 1000;
        DateTime(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            s / 3600,
            s / 60 % 60,
            s % 60,
            ms % 1000
        ))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z` or `±HH:MM`.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    let offset = rest.as_bytes();
    matches!(rest, "Z" | "z")
        || (offset.len() == 6
            && matches!(offset[0], b'+' | b'-')
            && offset[1..3].iter().all(u8::is_ascii_digit)
            && offset[3] == b':'
            && offset[4..6].iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_times_are_kept_normalised_or_left_out() {
        let kept = |t: &str| DateTime::from_vendor(t).map(|d| d.0);
        assert_eq!(
            kept("2024-05-01T12:00:00.000Z").as_deref(),
            Some("2024-05-01T12:00:00.000Z")
        );
        assert_eq!(
            kept("2024-05-01T12:00:00+02:00").as_deref(),
            Some("2024-05-01T12:00:00+02:00")
        );
        assert_eq!(
            kept("2024-05-01 12:00:00").as_deref(),
            Some("2024-05-01T12:00:00Z")
        );
        assert_eq!(kept("yesterday"), None);
        assert_eq!(kept("2024-05-01"), None);
        assert_eq!(kept("2024-05-01T12:00:00."), None);
    }

    #[test]
    fn instants_convert_to_and_from_milliseconds() {
        let at = |t: &str| DateTime(t.to_string()).millis();
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(at("2024-05-01T12:00:00.250Z"), 1_714_564_800_250);
        assert_eq!(at("2024-05-01T14:00:00.25+02:00"), 1_714_564_800_250);
        assert_eq!(at("2024-05-01T11:30:00-00:30"), 1_714_564_800_000);
        assert_eq!(at("1969-12-31T23:59:59.999Z"), -1);
        let text = DateTime::from_millis(1_714_564_800_250).0;
        assert_eq!(text, "2024-05-01T12:00:00.250Z");
        assert_eq!(
            DateTime::from_millis(951_782_400_000).0,
            "2000-02-29T00:00:00.000Z"
        );
    }
}
