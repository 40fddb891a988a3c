//! Internationalized domain names: the seed's `getDnsAscii` and `getDnsUnicode`, and
//! the normalization every looked-up host name goes through.
//!
//! Built on the `idna` crate (UTS #46, non-transitional processing). The seed's
//! [`ConversionProcess`] flags map to it as follows:
//!
//! | flag | meaning here |
//! | --- | --- |
//! | `NO_CONFIGURATION` (0) | UTS #46; a code point UTS #46 disallows (unassigned ones among them) is an error |
//! | `ALLOW_UNASSIGNED` (1) | as 0, but a label UTS #46 refuses only for its non-ASCII code points is kept and Punycode-encoded as it is (the IDNA2003 `AllowUnassigned` behaviour) |
//! | `USE_STD3_ASCII_RULES` (2) | as 0, plus the STD3 (RFC 1123) rules: letters, digits and hyphens only, no hyphen at a label's start or end |
//!
//! In every mode a label longer than 63 bytes, a name longer than 253 bytes, an empty
//! label, a NUL or invalid Punycode is refused with 2100001.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use netcore::{ConversionProcess, Error, Result};

/// The longest label, in bytes, of the ASCII form (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;
/// The longest name, in bytes, of the ASCII form without a trailing dot (RFC 1035).
pub const MAX_NAME_LEN: usize = 253;

/// Converts `host` from Unicode to its ASCII (Punycode) form, the seed's
/// `getDnsAscii`. ASCII letters and digits pass unchanged except for case folding.
///
/// ```
/// use netcore::ConversionProcess;
/// let ascii = netcore_dns::get_dns_ascii("www.示例.com", ConversionProcess::NoConfiguration);
/// assert_eq!(ascii.unwrap(), "www.xn--fsq092h.com");
/// ```
///
/// # Errors
/// [`Error::InvalidValue`] (2100001) for invalid input: see the [crate docs](crate#idna).
pub fn get_dns_ascii(host: &str, flag: ConversionProcess) -> Result<String> {
    check_raw(host)?;
    let (deny, hyphens) = rules_of(flag);
    let uts46 = Uts46::new();
    match uts46.to_ascii(
        host.as_bytes(),
        deny,
        hyphens,
        DnsLength::VerifyAllowRootDot,
    ) {
        Ok(ascii) => Ok(ascii.into_owned()),
        Err(_) if flag == ConversionProcess::AllowUnassigned => ascii_allowing_unassigned(host),
        Err(_) => Err(invalid_name(
            host,
            "is not a valid internationalized domain name",
        )),
    }
}

/// Converts `host` from its ASCII (Punycode) form to Unicode, the seed's
/// `getDnsUnicode`.
///
/// ```
/// use netcore::ConversionProcess;
/// let unicode = netcore_dns::get_dns_unicode("www.xn--fsq092h.com", ConversionProcess::NoConfiguration);
/// assert_eq!(unicode.unwrap(), "www.示例.com");
/// ```
///
/// # Errors
/// [`Error::InvalidValue`] (2100001) for invalid input (bad Punycode, a label over 63
/// bytes, ...): see the [crate docs](crate#idna).
pub fn get_dns_unicode(host: &str, flag: ConversionProcess) -> Result<String> {
    check_raw(host)?;
    check_lengths(host, host)?;
    let (deny, hyphens) = rules_of(flag);
    let (unicode, outcome) = Uts46::new().to_unicode(host.as_bytes(), deny, hyphens);
    match outcome {
        Ok(()) => Ok(unicode.into_owned()),
        Err(_) if flag == ConversionProcess::AllowUnassigned => unicode_allowing_unassigned(host),
        Err(_) => Err(invalid_name(
            host,
            "is not a valid internationalized domain name",
        )),
    }
}

/// The form in which a host name is looked up, cached and matched against rules: the
/// lower-case ASCII form without a trailing dot.
///
/// # Errors
/// [`Error::InvalidValue`] (2100001) for an empty name, a NUL, an empty label, a label
/// over 63 bytes, a name over 253 bytes, bad Punycode or characters a host name cannot
/// have. Nothing is sent for such a name.
pub fn lookup_form(host: &str) -> Result<String> {
    check_raw(host)?;
    let ascii = Uts46::new()
        .to_ascii(
            host.as_bytes(),
            AsciiDenyList::URL,
            Hyphens::Allow,
            DnsLength::VerifyAllowRootDot,
        )
        .map_err(|_| invalid_name(host, "is not a valid host name"))?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    // to_ascii already verified the lengths; check again so that the limit is ours.
    check_lengths(host, ascii)?;
    Ok(ascii.to_owned())
}

fn rules_of(flag: ConversionProcess) -> (AsciiDenyList, Hyphens) {
    match flag {
        ConversionProcess::UseStd3AsciiRules => (AsciiDenyList::STD3, Hyphens::CheckFirstLast),
        ConversionProcess::NoConfiguration | ConversionProcess::AllowUnassigned => {
            (AsciiDenyList::EMPTY, Hyphens::Allow)
        }
    }
}

/// Refuses what is never a host name, before any IDNA processing.
fn check_raw(host: &str) -> Result<()> {
    if host.is_empty() {
        return Err(Error::invalid("the host name is empty"));
    }
    if host.contains('\0') {
        return Err(invalid_name(host, "contains a NUL character"));
    }
    // A bound on the work done on untrusted input: no valid name is this long even in
    // Unicode (253 ASCII bytes at most, each label's Unicode form at most 4x larger).
    if host.len() > 4 * MAX_NAME_LEN + 64 {
        return Err(invalid_name(host, "is too long"));
    }
    Ok(())
}

/// Checks the label and name lengths of the ASCII form `ascii` of `host`.
fn check_lengths(host: &str, ascii: &str) -> Result<()> {
    let name = ascii.strip_suffix('.').unwrap_or(ascii);
    if name.is_empty() {
        return Err(invalid_name(host, "has no label"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid_name(
            host,
            &format!("is longer than {MAX_NAME_LEN} bytes"),
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(invalid_name(host, "has an empty label"));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(invalid_name(
                host,
                &format!("has a label longer than {MAX_LABEL_LEN} bytes"),
            ));
        }
    }
    Ok(())
}

/// `ALLOW_UNASSIGNED` to ASCII: each label goes through UTS #46 on its own; a label it
/// refuses is lower-cased and Punycode-encoded as it is when its ASCII part is valid.
fn ascii_allowing_unassigned(host: &str) -> Result<String> {
    let uts46 = Uts46::new();
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let mut labels = Vec::new();
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err(invalid_name(host, "has an empty label"));
        }
        let ascii = match uts46.to_ascii(
            label.as_bytes(),
            AsciiDenyList::EMPTY,
            Hyphens::Allow,
            DnsLength::Verify,
        ) {
            Ok(ascii) => ascii.into_owned(),
            Err(_) => {
                if label.is_ascii() || label.chars().any(char::is_control) {
                    return Err(invalid_name(host, "is not a valid domain name"));
                }
                let lower: String = label.chars().flat_map(char::to_lowercase).collect();
                let encoded = idna::punycode::encode_str(&lower)
                    .ok_or_else(|| invalid_name(host, "cannot be Punycode-encoded"))?;
                format!("xn--{encoded}")
            }
        };
        labels.push(ascii);
    }
    let ascii = labels.join(".");
    check_lengths(host, &ascii)?;
    Ok(ascii)
}

/// `ALLOW_UNASSIGNED` to Unicode: each `xn--` label is Punycode-decoded; bad Punycode
/// is still an error.
fn unicode_allowing_unassigned(host: &str) -> Result<String> {
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let mut labels = Vec::new();
    for label in trimmed.split('.') {
        let lower = label.to_ascii_lowercase();
        match lower.strip_prefix("xn--") {
            Some(encoded) => {
                // A valid A-label decodes to something non-ASCII that encodes back to
                // the same label.
                let decoded = idna::punycode::decode_to_string(encoded)
                    .filter(|d| !d.is_ascii() && !d.chars().any(char::is_control))
                    .filter(|d| idna::punycode::encode_str(d).as_deref() == Some(encoded))
                    .ok_or_else(|| invalid_name(host, "has invalid Punycode"))?;
                labels.push(decoded);
            }
            None if lower.is_ascii() => labels.push(lower),
            None => return Err(invalid_name(host, "is not in ASCII form")),
        }
    }
    Ok(labels.join("."))
}

/// A 2100001 error naming the (possibly shortened) host.
fn invalid_name(host: &str, why: &str) -> Error {
    const SHOWN: usize = 80;
    let shown: String = host.chars().take(SHOWN).collect();
    let ellipsis = if host.chars().count() > SHOWN {
        "..."
    } else {
        ""
    };
    Error::invalid(format!("host name {shown:?}{ellipsis} {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_form_lowercases_and_strips_root_dot() {
        assert_eq!(lookup_form("WWW.Example.COM.").unwrap(), "www.example.com");
        assert_eq!(lookup_form("bücher.de").unwrap(), "xn--bcher-kva.de");
    }

    #[test]
    fn lookup_form_refuses_bad_names() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = vec!["abcdefghi"; 26].join(".");
        assert!(long_name.len() > 253);
        for bad in [
            "",
            "a\0b.com",
            "a..com",
            ".",
            long_label.as_str(),
            long_name.as_str(),
            "xn--a.com",
            "a b.com",
            "a/b.com",
        ] {
            let err = lookup_form(bad).unwrap_err();
            assert_eq!(err.code(), 2_100_001, "{bad:?}: {err}");
        }
    }
}
