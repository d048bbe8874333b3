//! Leaf helpers every layer may use (they import nothing from the crate): hex encoding, the
//! RFC 3339 form we render everywhere, and database URLs ([`url`]).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

pub mod url;

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// `2026-11-30T03:14:44.123456Z`: fixed width, so it also sorts correctly as text.
pub fn rfc3339(ts: DateTime<Utc>) -> String {
    // Written digit by digit: every message of every page carries one, and chrono's formatter
    // (a `write!` per field) cost several times this. Years outside 0..=9999 take chrono's path.
    let year = ts.year();
    if !(0..=9999).contains(&year) {
        return ts.to_rfc3339_opts(SecondsFormat::Micros, true);
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, ts.month());
    put(8, 2, ts.day());
    put(11, 2, ts.hour());
    put(14, 2, ts.minute());
    // A leap second is stored as second 59 plus 1,000,000+ µs; chrono renders it as second 60.
    let micros = ts.timestamp_subsec_micros();
    put(17, 2, ts.second() + micros / 1_000_000);
    put(20, 6, micros % 1_000_000);
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// Current time truncated to microseconds, the precision both backends store.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn rfc3339_matches_chrono_everywhere() {
        let chrono_form = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        // Spread over years 0..=9999 plus the edges, with varied microseconds.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let (lo, hi) = (-62_167_219_200_i64, 253_402_300_799_i64);
        let mut times: Vec<DateTime<Utc>> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let secs = lo + (x % (hi - lo + 1) as u64) as i64;
                DateTime::from_timestamp(secs, ((x >> 20) % 1_000_000) as u32 * 1_000).unwrap()
            })
            .collect();
        times.push(DateTime::from_timestamp(lo, 0).unwrap());
        times.push(DateTime::from_timestamp(hi, 999_999_000).unwrap());
        times.push(DateTime::from_timestamp(lo - 1, 0).unwrap());
        times.push(DateTime::from_timestamp(hi + 1, 0).unwrap());
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_micro_opt(23, 59, 59, 1_500_000)
            .unwrap()
            .and_utc();
        times.push(leap);
        for t in times {
            assert_eq!(rfc3339(t), chrono_form(t), "{t:?}");
        }
        assert_eq!(
            rfc3339(DateTime::from_timestamp(1_796_094_884, 123_456_789).unwrap()),
            "2026-12-01T03:14:44.123456Z"
        );
    }
}
