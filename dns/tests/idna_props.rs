//! Property tests: IDNA conversion and host-name checks never panic on any input, and
//! whatever they accept respects the DNS length limits.

use netcore::ConversionProcess;
use netcore_dns::{get_dns_ascii, get_dns_unicode, lookup_form};
use proptest::prelude::*;

fn flags() -> impl Strategy<Value = ConversionProcess> {
    prop::sample::select(ConversionProcess::ALL.to_vec())
}

fn within_dns_limits(ascii: &str) -> bool {
    let name = ascii.strip_suffix('.').unwrap_or(ascii);
    name.len() <= 253 && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

proptest! {
    #[test]
    fn any_string_is_handled(host in "\\PC{0,80}|[a-zA-Z0-9.\\-_]{0,300}|(xn--[a-z0-9\\-]{0,20}\\.){1,4}[a-z]{2,5}", flag in flags()) {
        if let Ok(ascii) = get_dns_ascii(&host, flag) {
            prop_assert!(ascii.is_ascii());
            prop_assert!(within_dns_limits(&ascii), "{ascii}");
        } else {
            prop_assert_eq!(get_dns_ascii(&host, flag).unwrap_err().code(), 2_100_001);
        }
        if let Err(e) = get_dns_unicode(&host, flag) {
            prop_assert_eq!(e.code(), 2_100_001);
        }
        match lookup_form(&host) {
            Ok(name) => {
                prop_assert!(name.is_ascii() && !name.ends_with('.'));
                prop_assert!(within_dns_limits(&name), "{name}");
                prop_assert_eq!(name.to_ascii_lowercase(), name.clone());
            }
            Err(e) => prop_assert_eq!(e.code(), 2_100_001),
        }
    }

    #[test]
    fn ascii_then_unicode_round_trips(label in "[a-z0-9\\u{e0}-\\u{ff}\\u{4e00}-\\u{4e50}]{1,12}", flag in flags()) {
        let host = format!("{label}.example");
        if let Ok(ascii) = get_dns_ascii(&host, flag) {
            let back = get_dns_unicode(&ascii, flag).unwrap();
            prop_assert_eq!(get_dns_ascii(&back, flag).unwrap(), ascii);
        }
    }
}
