//! The clock that PAC's time helpers (`weekdayRange`, `dateRange`, `timeRange`) read.
//!
//! The parent process reads its [`Clock`] once per `FindProxyForURL` call and sends
//! the reading to the worker, so tests inject a fixed clock and time zone.

use chrono::{Datelike, FixedOffset, NaiveDateTime, Offset, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

/// A broken-down calendar time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateTimeParts {
    /// The year, e.g. 2026.
    pub year: i32,
    /// The month, 1 (January) to 12.
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
    /// The day of the week, 0 (Sunday) to 6 (Saturday).
    pub weekday: u32,
    /// The hour, 0 to 23.
    pub hour: u32,
    /// The minute, 0 to 59.
    pub minute: u32,
    /// The second, 0 to 59 (60 on a leap second).
    pub second: u32,
}

impl DateTimeParts {
    /// The parts of a chrono date and time.
    pub fn from_chrono<T: Datelike + Timelike>(time: &T) -> Self {
        Self {
            year: time.year(),
            month: time.month(),
            day: time.day(),
            weekday: time.weekday().num_days_from_sunday(),
            hour: time.hour(),
            minute: time.minute(),
            second: time.second(),
        }
    }
}

/// One reading of a clock: the same instant in local time and in GMT (the PAC helpers'
/// optional `"GMT"` argument picks the second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockReading {
    /// The local time.
    pub local: DateTimeParts,
    /// The time in GMT (UTC).
    pub gmt: DateTimeParts,
}

/// A source of the current time for the PAC time helpers.
pub trait Clock: Send + Sync {
    /// The current time, local and GMT.
    fn now(&self) -> ClockReading;
}

/// The system clock in the system's time zone.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> ClockReading {
        let utc = chrono::Utc::now();
        let local = utc.with_timezone(&chrono::Local);
        ClockReading {
            local: DateTimeParts::from_chrono(&local),
            gmt: DateTimeParts::from_chrono(&utc),
        }
    }
}

/// A clock stopped at one instant in a time zone with a fixed offset (for tests and
/// reproducible evaluation).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock {
    reading: ClockReading,
}

impl FixedClock {
    /// A clock showing `utc` (a GMT date and time), seen from a time zone
    /// `offset_seconds` east of GMT (e.g. 3600 for CET). An offset outside ±24 h is
    /// taken as 0.
    pub fn new(utc: NaiveDateTime, offset_seconds: i32) -> Self {
        let offset = FixedOffset::east_opt(offset_seconds).unwrap_or(chrono::Utc.fix());
        let local = offset.from_utc_datetime(&utc);
        Self {
            reading: ClockReading {
                local: DateTimeParts::from_chrono(&local),
                gmt: DateTimeParts::from_chrono(&utc),
            },
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> ClockReading {
        self.reading
    }
}
