//! Interface name patterns: globs with `*` (any run of characters) and `?` (one
//! character).

use std::fmt;

use netcore::Error;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 64;

/// A checked glob over interface names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
}

impl Pattern {
    /// Checks `text`: non-empty, at most [`MAX_PATTERN_LEN`] bytes, printable ASCII
    /// without `/`, whitespace or `[`/`]` (character classes are not supported).
    /// Else [`Error::InvalidValue`] naming the pattern and what is wrong.
    pub fn new(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Err(Error::invalid(format!("interface pattern {text:?}: {why}")));
        if text.is_empty() {
            return bad("is empty");
        }
        if text.len() > MAX_PATTERN_LEN {
            return bad(&format!("is longer than {MAX_PATTERN_LEN} bytes"));
        }
        if let Some(c) = text
            .chars()
            .find(|c| !c.is_ascii_graphic() || matches!(c, '/' | '[' | ']'))
        {
            return bad(&format!(
                "has {c:?}; only letters, digits, punctuation, `*` and `?` are allowed (no `/`, `[`, `]` or spaces)"
            ));
        }
        Ok(Self {
            text: text.to_owned(),
        })
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        glob(self.text.as_bytes(), name.as_bytes())
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Iterative glob matching with backtracking to the last `*`: linear in practice,
/// never recursive.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// Allow and deny lists of interface name patterns; deny wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceFilter {
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
}

impl InterfaceFilter {
    /// A filter from pattern texts, each checked by [`Pattern::new`].
    pub fn new<S: AsRef<str>>(allow: &[S], deny: &[S]) -> Result<Self, Error> {
        let parse = |list: &[S]| {
            list.iter()
                .map(|s| Pattern::new(s.as_ref()))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            allow: parse(allow)?,
            deny: parse(deny)?,
        })
    }

    /// Whether `name` matches an allow pattern and no deny pattern.
    pub fn admits(&self, name: &str) -> bool {
        self.allow.iter().any(|p| p.matches(name)) && !self.deny.iter().any(|p| p.matches(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        Pattern::new(p).unwrap().matches(n)
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(m("eth*", "eth0"));
        assert!(m("eth*", "eth"));
        assert!(!m("eth*", "veth0"));
        assert!(m("*eth*", "veth0"));
        assert!(!m("en?s1", "enp0s1"));
        assert!(m("enp?s1", "enp0s1"));
        assert!(!m("enp?s1", "enp10s1"));
        assert!(m("*", ""));
        assert!(m("e*p", "e0p"));
        assert!(!m("e*p", "e0px"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("veth0", "veth0"));
        assert!(!m("veth0", "veth01"));
        // Backtracking over many stars stays fast.
        assert!(!m("*a*a*a*a*a*a*b", &"a".repeat(60)));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        for (p, why) in [
            ("", "is empty"),
            ("eth 0", "' '"),
            ("eth/0", "'/'"),
            ("eth[0-3]", "'['"),
            ("ethé", "'é'"),
        ] {
            let e = Pattern::new(p).unwrap_err();
            assert_eq!(e.code(), 2_100_001);
            assert!(e.to_string().contains(why), "{p:?}: {e}");
        }
        assert!(Pattern::new(&"x".repeat(65)).is_err());
        assert!(Pattern::new(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn deny_wins_over_allow() {
        let f = InterfaceFilter::new(&["eth*", "veth*"], &["veth9*"]).unwrap();
        assert!(f.admits("eth0"));
        assert!(f.admits("veth1"));
        assert!(!f.admits("veth90"));
        assert!(!f.admits("wlan0"));
        assert!(
            !InterfaceFilter::new::<&str>(&[], &[])
                .unwrap()
                .admits("eth0")
        );
        assert!(InterfaceFilter::new(&["ok*"], &["bad["]).is_err());
    }
}
