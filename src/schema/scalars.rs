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
}
