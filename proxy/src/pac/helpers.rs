//! The PAC helper functions as plain Rust, without the JavaScript engine: the worker
//! binds each to its JavaScript name. Functions that need DNS take the answers as
//! arguments; the worker asks the parent for them.

use std::net::{IpAddr, Ipv4Addr};

use super::clock::{ClockReading, DateTimeParts};

/// `isPlainHostName(host)`: the host has no dot.
pub fn is_plain_host_name(host: &str) -> bool {
    !host.contains('.')
}

/// `dnsDomainIs(host, domain)`: the host ends with the domain (ASCII case ignored).
pub fn dns_domain_is(host: &str, domain: &str) -> bool {
    host.len() >= domain.len()
        && host.is_char_boundary(host.len() - domain.len())
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

/// `localHostOrDomainIs(host, hostdom)`: the host is `hostdom`, or an unqualified host
/// whose name is the first label of `hostdom`.
pub fn local_host_or_domain_is(host: &str, hostdom: &str) -> bool {
    if host.eq_ignore_ascii_case(hostdom) {
        return true;
    }
    !host.contains('.')
        && hostdom.len() > host.len()
        && hostdom.is_char_boundary(host.len())
        && hostdom[..host.len()].eq_ignore_ascii_case(host)
        && hostdom[host.len()..].starts_with('.')
}

/// `dnsDomainLevels(host)`: the number of dots.
pub fn dns_domain_levels(host: &str) -> usize {
    host.matches('.').count()
}

/// `shExpMatch(str, shexp)`: shell glob matching with `*` (any run) and `?` (one
/// character); every other character matches itself. Linear-time (no backtracking
/// blow-up on hostile patterns).
pub fn sh_exp_match(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Parses a dotted-quad IPv4 address (exactly four decimal parts).
pub fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    text.trim().parse().ok()
}

/// `convert_addr(ipaddr)`: the address as an unsigned 32-bit number.
pub fn convert_addr(text: &str) -> Option<u32> {
    parse_ipv4(text).map(u32::from)
}

/// `isInNet(addr, pattern, mask)` once `addr` is resolved: whether the address masked
/// equals the pattern masked. `false` when pattern or mask is not an IPv4 address.
pub fn is_in_net(address: Ipv4Addr, pattern: &str, mask: &str) -> bool {
    match (parse_ipv4(pattern), parse_ipv4(mask)) {
        (Some(pattern), Some(mask)) => {
            let mask = u32::from(mask);
            u32::from(address) & mask == u32::from(pattern) & mask
        }
        _ => false,
    }
}

/// `isInNetEx(ipAddress, ipPrefix)`: whether the address lies in the prefix
/// (`198.95.0.0/16`, `3ffe:8311:ffff::/48`). `false` on malformed input or mixed
/// families.
pub fn is_in_net_ex(address: &str, prefix: &str) -> bool {
    let Ok(address) = address.trim().parse::<IpAddr>() else {
        return false;
    };
    let Some((network, length)) = prefix.trim().split_once('/') else {
        return false;
    };
    let (Ok(network), Ok(length)) = (network.parse::<IpAddr>(), length.parse::<u32>()) else {
        return false;
    };
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) if length <= 32 => {
            let mask = u32::MAX.checked_shl(32 - length).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if length <= 128 => {
            let mask = u128::MAX.checked_shl(128 - length).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `sortIpAddressList(list)`: the `;`-separated addresses sorted, IPv6 before IPv4 and
/// ascending within a family, in canonical form. `None` (JavaScript `false`) when the
/// list is empty or holds something that is not an address.
pub fn sort_ip_address_list(list: &str) -> Option<String> {
    let mut addresses = list
        .split(';')
        .map(|part| part.trim().parse::<IpAddr>().ok())
        .collect::<Option<Vec<IpAddr>>>()?;
    if addresses.is_empty() {
        return None;
    }
    addresses.sort_by_key(|address| match address {
        IpAddr::V6(v6) => (0, u128::from(*v6)),
        IpAddr::V4(v4) => (1, u128::from(u32::from(*v4))),
    });
    Some(join_addresses(&addresses))
}

/// Addresses joined with `;`, as the IPv6 extensions return them.
pub fn join_addresses(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Splits off a trailing `"GMT"` argument and picks the time it asks for.
fn time_and_args<'a>(args: &'a [String], now: &ClockReading) -> (DateTimeParts, &'a [String]) {
    match args.split_last() {
        Some((last, rest)) if last == "GMT" => (now.gmt, rest),
        _ => (now.local, args),
    }
}

/// Whether `value` lies in `start..=end`, wrapping around when `start > end`.
fn in_wrapping_range<T: PartialOrd>(value: T, start: T, end: T) -> bool {
    if start <= end {
        start <= value && value <= end
    } else {
        value >= start || value <= end
    }
}

/// `weekdayRange(wd1 [, wd2] [, "GMT"])`: whether today is `wd1`, or lies in
/// `wd1..=wd2` (wrapping, so `FRI`–`MON` spans the weekend). `false` on bad names.
pub fn weekday_range(args: &[String], now: &ClockReading) -> bool {
    let (time, args) = time_and_args(args, now);
    let day = |name: &String| WEEKDAYS.iter().position(|d| *d == name.as_str());
    match args {
        [first] => day(first) == Some(time.weekday as usize),
        [first, second] => match (day(first), day(second)) {
            (Some(a), Some(b)) => in_wrapping_range(time.weekday as usize, a, b),
            _ => false,
        },
        _ => false,
    }
}

/// One `dateRange` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePart {
    Day(u32),
    Month(u32),
    Year(i32),
}

fn parse_date_part(arg: &str) -> Option<DatePart> {
    if let Some(month) = MONTHS.iter().position(|m| *m == arg) {
        return Some(DatePart::Month(month as u32 + 1));
    }
    let number: i64 = arg.trim().parse().ok()?;
    match number {
        1..=31 => Some(DatePart::Day(number as u32)),
        1000..=9999 => Some(DatePart::Year(number as i32)),
        _ => None,
    }
}

fn part_kind(part: &DatePart) -> u8 {
    match part {
        DatePart::Day(_) => 0,
        DatePart::Month(_) => 1,
        DatePart::Year(_) => 2,
    }
}

/// A comparable key of the fields present in `parts` (year, then month, then day).
fn date_key(parts: &[DatePart]) -> (i32, u32, u32) {
    let mut key = (0, 0, 0);
    for part in parts {
        match *part {
            DatePart::Year(y) => key.0 = y,
            DatePart::Month(m) => key.1 = m,
            DatePart::Day(d) => key.2 = d,
        }
    }
    key
}

/// `dateRange(...)`: the Netscape forms `(day)`, `(month)`, `(year)`, `(d1, d2)`,
/// `(m1, m2)`, `(y1, y2)`, `(d1, m1, d2, m2)`, `(m1, y1, m2, y2)`,
/// `(d1, m1, y1, d2, m2, y2)`, each with an optional trailing `"GMT"`. Days are 1–31,
/// months `JAN`–`DEC`, years four digits. Ranges are inclusive; a range without a
/// year wraps around the year's end (`DEC`–`JAN`). `false` on malformed arguments.
pub fn date_range(args: &[String], now: &ClockReading) -> bool {
    let (time, args) = time_and_args(args, now);
    let Some(parts) = args
        .iter()
        .map(|arg| parse_date_part(arg))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let (start, end): (&[DatePart], &[DatePart]) = match parts.len() {
        1 => (&parts[..1], &parts[..1]),
        2 | 4 | 6 => parts.split_at(parts.len() / 2),
        _ => return false,
    };
    let kinds = |half: &[DatePart]| half.iter().map(part_kind).collect::<Vec<_>>();
    let start_kinds = kinds(start);
    // Fields in day, month, year order, each at most once, the same in both halves.
    if start_kinds != kinds(end) || start_kinds.windows(2).any(|w| w[0] >= w[1]) {
        return false;
    }
    let today: Vec<DatePart> = start
        .iter()
        .map(|part| match part {
            DatePart::Day(_) => DatePart::Day(time.day),
            DatePart::Month(_) => DatePart::Month(time.month),
            DatePart::Year(_) => DatePart::Year(time.year),
        })
        .collect();
    let (start, end, today) = (date_key(start), date_key(end), date_key(&today));
    if start_kinds.contains(&2) {
        start <= today && today <= end
    } else {
        in_wrapping_range(today, start, end)
    }
}

/// `timeRange(...)`: `(hour)`, `(h1, h2)` (whole hours, inclusive), `(h1, m1, h2, m2)`
/// (to the end of minute `m2`), `(h1, m1, s1, h2, m2, s2)`, each with an optional
/// trailing `"GMT"`; wraps around midnight when the start is after the end. `false` on
/// malformed arguments.
pub fn time_range(args: &[String], now: &ClockReading) -> bool {
    let (time, args) = time_and_args(args, now);
    let Some(numbers) = args
        .iter()
        .map(|arg| arg.trim().parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()
    else {
        return false;
    };
    let seconds =
        |h: u32, m: u32, s: u32| (h <= 23 && m <= 59 && s <= 59).then_some(h * 3600 + m * 60 + s);
    let current = time.hour * 3600 + time.minute * 60 + time.second.min(59);
    let range = match numbers[..] {
        [h] => return h <= 23 && time.hour == h,
        [h1, h2] => seconds(h1, 0, 0).zip(seconds(h2, 59, 59)),
        [h1, m1, h2, m2] => seconds(h1, m1, 0).zip(seconds(h2, m2, 59)),
        [h1, m1, s1, h2, m2, s2] => seconds(h1, m1, s1).zip(seconds(h2, m2, s2)),
        _ => None,
    };
    match range {
        Some((start, end)) => in_wrapping_range(current, start, end),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_exp_match_globs() {
        assert!(sh_exp_match(
            "http://home.netscape.com/people/ari/index.html",
            "*/ari/*"
        ));
        assert!(!sh_exp_match(
            "http://home.netscape.com/people/montulli/index.html",
            "*/ari/*"
        ));
        assert!(sh_exp_match("abc", "a?c"));
        assert!(!sh_exp_match("abbc", "a?c"));
        assert!(sh_exp_match("", "*"));
        assert!(sh_exp_match("a.b", "a.b"));
        assert!(!sh_exp_match("axb", "a.b"));
        assert!(sh_exp_match(&"a".repeat(10_000), &"*a".repeat(100)));
        assert!(!sh_exp_match(
            &"a".repeat(10_000),
            &format!("{}b", "*a".repeat(100))
        ));
    }

    #[test]
    fn domain_helpers() {
        assert!(dns_domain_is("www.netscape.com", ".netscape.com"));
        assert!(!dns_domain_is("www", ".netscape.com"));
        assert!(dns_domain_is("WWW.Netscape.COM", ".netscape.com"));
        assert!(local_host_or_domain_is(
            "www.netscape.com",
            "www.netscape.com"
        ));
        assert!(local_host_or_domain_is("www", "www.netscape.com"));
        assert!(!local_host_or_domain_is("www.mcom.com", "www.netscape.com"));
        assert!(!local_host_or_domain_is(
            "home.netscape.com",
            "www.netscape.com"
        ));
        assert_eq!(dns_domain_levels("www"), 0);
        assert_eq!(dns_domain_levels("www.netscape.com"), 2);
    }

    #[test]
    fn address_helpers() {
        assert_eq!(convert_addr("104.16.41.2"), Some(1_745_889_538));
        assert_eq!(convert_addr("1.2.3"), None);
        let a = Ipv4Addr::new(198, 95, 249, 79);
        assert!(is_in_net(a, "198.95.249.79", "255.255.255.255"));
        assert!(is_in_net(a, "198.95.0.0", "255.255.0.0"));
        assert!(!is_in_net(a, "198.96.0.0", "255.255.0.0"));
        assert!(!is_in_net(a, "bogus", "255.255.0.0"));
        assert!(is_in_net_ex("198.95.249.79", "198.95.0.0/16"));
        assert!(is_in_net_ex("3ffe:8311:ffff:1::1", "3ffe:8311:ffff::/48"));
        assert!(!is_in_net_ex("3ffe:8312::1", "3ffe:8311:ffff::/48"));
        assert!(is_in_net_ex("1.2.3.4", "0.0.0.0/0"));
        assert!(!is_in_net_ex("1.2.3.4", "::/0"));
        assert!(!is_in_net_ex("1.2.3.4", "1.2.3.0/33"));
        assert_eq!(
            sort_ip_address_list("10.2.3.9;2001:4898:28:3:201:2ff:feea:fc14;::1;10.2.3.10;::9"),
            Some("::1;::9;2001:4898:28:3:201:2ff:feea:fc14;10.2.3.9;10.2.3.10".into())
        );
        assert_eq!(sort_ip_address_list("1.2.3.4;bogus"), None);
    }

    fn reading(weekday: u32, hour: u32, minute: u32) -> ClockReading {
        let local = DateTimeParts {
            year: 2026,
            month: 11,
            day: 22,
            weekday,
            hour,
            minute,
            second: 30,
        };
        // GMT is one hour behind; at local midnight it is still the previous day.
        let gmt = DateTimeParts {
            hour: (hour + 23) % 24,
            day: 21,
            weekday: (weekday + 6) % 7,
            ..local
        };
        ClockReading { local, gmt }
    }

    fn s(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn time_helpers() {
        let now = reading(0, 0, 15); // Sunday 00:15:30 local, Saturday 23:15:30 GMT.
        assert!(weekday_range(&s(&["SUN"]), &now));
        assert!(weekday_range(&s(&["SAT", "GMT"]), &now));
        assert!(weekday_range(&s(&["FRI", "MON"]), &now));
        assert!(!weekday_range(&s(&["MON", "FRI"]), &now));
        assert!(!weekday_range(&s(&["sun"]), &now));
        assert!(time_range(&s(&["0"]), &now));
        assert!(time_range(&s(&["23", "GMT"]), &now));
        assert!(time_range(&s(&["22", "1"]), &now));
        assert!(time_range(&s(&["0", "15", "0", "16"]), &now));
        assert!(!time_range(&s(&["0", "16", "0", "17"]), &now));
        assert!(time_range(&s(&["0", "15", "30", "0", "15", "30"]), &now));
        assert!(!time_range(&s(&["24"]), &now));
        assert!(!time_range(&s(&["1", "2", "3"]), &now));
        assert!(date_range(&s(&["22"]), &now));
        assert!(date_range(&s(&["NOV"]), &now));
        assert!(date_range(&s(&["2026"]), &now));
        assert!(date_range(&s(&["OCT", "DEC"]), &now));
        assert!(date_range(&s(&["DEC", "NOV"]), &now));
        assert!(!date_range(&s(&["DEC", "OCT"]), &now));
        assert!(date_range(&s(&["1", "NOV", "30", "NOV"]), &now));
        assert!(date_range(&s(&["NOV", "2026", "JAN", "2027"]), &now));
        assert!(date_range(
            &s(&["22", "NOV", "2026", "22", "NOV", "2026"]),
            &now
        ));
        assert!(!date_range(
            &s(&["23", "NOV", "2026", "1", "JAN", "2027"]),
            &now
        ));
        assert!(!date_range(&s(&["NOV", "1"]), &now));
        assert!(!date_range(&s(&[]), &now));
    }
}
