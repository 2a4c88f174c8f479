//! Durations and sizes as messages say them: one way to write each, for every crate.
//! (The config's own syntax, `800ms`, `10m`, is [`HumanDuration`](crate::HumanDuration).)

use std::time::Duration;

/// `812 ms`, `2 s`, `1.25 s`, `2m03s`, `1h05m`: milliseconds under a second, seconds (to the
/// hundredth) under a minute, then minutes and seconds, then hours and minutes.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let text = format!("{:.2}", d.as_secs_f64());
        format!("{} s", text.trim_end_matches('0').trim_end_matches('.'))
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

/// [`duration`] of a span in milliseconds, cut to whole seconds (a clock that moves by the
/// second, such as time left); a negative span is zero.
pub fn whole_seconds(ms: i64) -> String {
    match u64::try_from(ms / 1000).unwrap_or(0) {
        0 => "0 s".to_owned(),
        s => duration(Duration::from_secs(s)),
    }
}

/// `16 MiB`, `512 KiB`, `1.5 MiB`, `300 bytes`.
pub fn bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    let (unit, name) = match n {
        n if n >= MIB => (MIB, "MiB"),
        n if n >= KIB => (KIB, "KiB"),
        n => return format!("{n} bytes"),
    };
    if n.is_multiple_of(unit) {
        format!("{} {name}", n / unit)
    } else {
        format!("{:.1} {name}", n as f64 / unit as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        let ms = Duration::from_millis;
        assert_eq!(duration(ms(0)), "0 ms");
        assert_eq!(duration(ms(812)), "812 ms");
        assert_eq!(duration(ms(1000)), "1 s");
        assert_eq!(duration(ms(2000)), "2 s");
        assert_eq!(duration(ms(1250)), "1.25 s");
        assert_eq!(duration(ms(1500)), "1.5 s");
        assert_eq!(duration(ms(1999)), "2 s");
        assert_eq!(duration(ms(59_000)), "59 s");
        assert_eq!(duration(ms(60_000)), "1m00s");
        assert_eq!(duration(ms(123_400)), "2m03s");
        assert_eq!(duration(ms(3_600_000)), "1h00m");
        assert_eq!(duration(ms(3_900_000)), "1h05m");
        assert_eq!(whole_seconds(59_812), "59 s");
        assert_eq!(whole_seconds(-5), "0 s");
        assert_eq!(whole_seconds(400), "0 s");
        assert_eq!(whole_seconds(600_000), "10m00s");
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(bytes(300), "300 bytes");
        assert_eq!(bytes(1024), "1 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(512 << 10), "512 KiB");
        assert_eq!(bytes(16 << 20), "16 MiB");
        assert_eq!(bytes(3 << 19), "1.5 MiB");
    }
}
