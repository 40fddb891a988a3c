//! IDNA conversion: the seed's examples and the three ConversionProcess flags.

use netcore::ConversionProcess::{self, AllowUnassigned, NoConfiguration, UseStd3AsciiRules};
use netcore_dns::{get_dns_ascii, get_dns_unicode};

const ALL: [ConversionProcess; 3] = [NoConfiguration, AllowUnassigned, UseStd3AsciiRules];

fn code<T: std::fmt::Debug>(result: netcore::Result<T>) -> u32 {
    result.unwrap_err().code()
}

#[test]
fn seed_examples_hold() {
    // The seed's getDnsAscii / getDnsUnicode examples ("示例" is "example").
    assert_eq!(
        get_dns_ascii("www.示例.com", NoConfiguration).unwrap(),
        "www.xn--fsq092h.com"
    );
    assert_eq!(
        get_dns_ascii("www.example.com", NoConfiguration).unwrap(),
        "www.example.com"
    );
    assert_eq!(
        get_dns_unicode("www.xn--fsq092h.com", NoConfiguration).unwrap(),
        "www.示例.com"
    );
    assert_eq!(
        get_dns_unicode("www.example.com", NoConfiguration).unwrap(),
        "www.example.com"
    );
}

#[test]
fn common_vectors_in_every_mode() {
    let pairs = [
        ("bücher.de", "xn--bcher-kva.de"),
        ("münchen.example", "xn--mnchen-3ya.example"),
        ("правительство.рф", "xn--80aealotwbjpid2k.xn--p1ai"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("www.example.com.", "www.example.com."),
    ];
    for flag in ALL {
        for (unicode, ascii) in pairs {
            assert_eq!(
                get_dns_ascii(unicode, flag).unwrap(),
                ascii,
                "{unicode} {flag}"
            );
            assert_eq!(
                get_dns_unicode(ascii, flag).unwrap(),
                unicode,
                "{ascii} {flag}"
            );
        }
        // Mapping: upper case and full-width forms fold.
        assert_eq!(
            get_dns_ascii("WWW.Example.COM", flag).unwrap(),
            "www.example.com"
        );
        assert_eq!(
            get_dns_ascii("ＥＸＡＭＰＬＥ.com", flag).unwrap(),
            "example.com"
        );
    }
}

#[test]
fn allow_unassigned_differs_on_unassigned_code_points() {
    // U+0378 is unassigned.
    let host = "\u{378}.com";
    assert_eq!(code(get_dns_ascii(host, NoConfiguration)), 2_100_001);
    assert_eq!(code(get_dns_ascii(host, UseStd3AsciiRules)), 2_100_001);
    assert_eq!(get_dns_ascii(host, AllowUnassigned).unwrap(), "xn--zva.com");
    assert_eq!(
        code(get_dns_unicode("xn--zva.com", NoConfiguration)),
        2_100_001
    );
    assert_eq!(
        code(get_dns_unicode("xn--zva.com", UseStd3AsciiRules)),
        2_100_001
    );
    assert_eq!(
        get_dns_unicode("xn--zva.com", AllowUnassigned).unwrap(),
        host
    );
}

#[test]
fn std3_rules_differ_on_non_ldh_ascii() {
    for host in [
        "a_b.example",
        "-lead.example",
        "trail-.example",
        "a*b.example",
    ] {
        assert_eq!(
            code(get_dns_ascii(host, UseStd3AsciiRules)),
            2_100_001,
            "{host}"
        );
        assert_eq!(
            code(get_dns_unicode(host, UseStd3AsciiRules)),
            2_100_001,
            "{host}"
        );
        assert_eq!(get_dns_ascii(host, NoConfiguration).unwrap(), host);
        assert_eq!(get_dns_ascii(host, AllowUnassigned).unwrap(), host);
        assert_eq!(get_dns_unicode(host, NoConfiguration).unwrap(), host);
    }
}

#[test]
fn invalid_input_is_2100001_in_every_mode() {
    let label_64 = format!("{}.com", "a".repeat(64));
    let label_63 = format!("{}.com", "a".repeat(63));
    let unicode_label_too_long = format!("{}.com", "ü".repeat(60));
    let name_254 = format!("{}.{}", vec!["a".repeat(62); 4].join("."), "ab");
    assert_eq!(name_254.len(), 254);
    for flag in ALL {
        assert_eq!(get_dns_ascii(&label_63, flag).unwrap(), label_63);
        for bad in [
            "",
            ".",
            "a..com",
            "nul\0.com",
            label_64.as_str(),
            unicode_label_too_long.as_str(),
            name_254.as_str(),
        ] {
            assert_eq!(
                code(get_dns_ascii(bad, flag)),
                2_100_001,
                "ascii {bad:?} {flag}"
            );
            assert_eq!(
                code(get_dns_unicode(bad, flag)),
                2_100_001,
                "unicode {bad:?} {flag}"
            );
        }
        // Bad Punycode.
        for bad in [
            "xn--a.com",
            "xn--abc-.com",
            "xn--99999999999.com",
            "xn--.com",
        ] {
            assert_eq!(
                code(get_dns_unicode(bad, flag)),
                2_100_001,
                "unicode {bad:?} {flag}"
            );
        }
    }
    // Very long input is refused without panicking.
    let huge = "a".repeat(1 << 20);
    assert_eq!(code(get_dns_ascii(&huge, NoConfiguration)), 2_100_001);
    assert_eq!(code(get_dns_unicode(&huge, NoConfiguration)), 2_100_001);
}
