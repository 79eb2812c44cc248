//! Wall-clock time for records that outlive a process: epoch milliseconds, and RFC 3339 UTC
//! text for people and agents (no date crate: the civil-date conversion is a few lines).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `2026-11-25T00:31:29.123Z` for epoch milliseconds.
pub fn rfc3339(epoch_ms: u64) -> String {
    let seconds = epoch_ms / 1000;
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        epoch_ms % 1000
    )
}

/// The local calendar day holding `epoch_ms` (`2026-11-25`), and the epoch milliseconds at which
/// the next local day begins. The offset is the one in force at `epoch_ms`: on a night the clocks
/// change, the day turns an hour early or late, which a daily budget can live with.
pub fn local_day(epoch_ms: u64) -> (String, u64) {
    let seconds = i64::try_from(epoch_ms / 1000).unwrap_or(i64::MAX);
    let offset = crate::foundation::sys::utc_offset_seconds(seconds);
    let local_days = (seconds + offset).div_euclid(86_400);
    let (year, month, day) = civil_from_days(local_days);
    let next_ms = ((local_days + 1) * 86_400 - offset).max(0) as u64 * 1000;
    (format!("{year:04}-{month:02}-{day:02}"), next_ms)
}

/// The local (year, month, day) holding `epoch_ms`.
pub fn local_date(epoch_ms: u64) -> (i64, u32, u32) {
    let seconds = i64::try_from(epoch_ms / 1000).unwrap_or(i64::MAX);
    civil_from_days((seconds + crate::foundation::sys::utc_offset_seconds(seconds)).div_euclid(86_400))
}

/// Epoch milliseconds of a local wall-clock time (the offset of that moment, as the C library
/// knows it); `None` for a date before 1970.
pub fn local_epoch_ms(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> Option<u64> {
    let local = days_from_civil(year, month, day) * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60;
    let utc = local - crate::foundation::sys::utc_offset_seconds(local);
    u64::try_from(utc).ok().map(|s| s * 1000)
}

/// (year, month, day) to days since 1970-01-01, the inverse of `civil_from_days`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_index = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_566_689_123), "2026-11-25T00:31:29.123Z");
    }

    #[test]
    fn civil_days_round_trip() {
        for days in [-1000, 0, 11_016, 20_417, 60_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        let now = now_ms();
        let (y, m, d) = local_date(now);
        let midnight = local_epoch_ms(y, m, d, 0, 0).unwrap();
        assert!(midnight <= now && now - midnight < 86_400_000 + 3_600_000);
    }

    #[test]
    fn a_local_day_ends_when_the_next_begins() {
        let now = now_ms();
        let (today, next) = local_day(now);
        assert!(next > now && next - now <= 86_400_000 + 3_600_000, "{now} {next}");
        assert_eq!(local_day(next - 1).0, today);
        assert_ne!(local_day(next).0, today);
    }
}
