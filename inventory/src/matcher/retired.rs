//! `api.retired`: globs over request paths, compiled once into one regex set.

use regex::RegexSet;

use crate::config::ApiConfigError;

/// The retired globs, compiled.
#[derive(Clone, Debug)]
pub struct Retired {
    /// Globs that are a literal prefix and one final `*` (`/api/v1/*`, the usual kind):
    /// their prefixes, compared without a regex.
    prefixes: Vec<String>,
    /// One anchored regex per other glob; `None` when there is none.
    set: Option<RegexSet>,
}

impl Retired {
    /// Compile the globs: `*` is any run of characters (`/` included), `?` one character,
    /// everything else itself.
    pub fn new(globs: &[String]) -> Result<Retired, ApiConfigError> {
        for g in globs {
            if !g.starts_with('/') {
                return Err(ApiConfigError::BadRetired {
                    pattern: g.clone(),
                    message: "a retired glob is a path and starts with `/`".into(),
                });
            }
        }
        let (prefixes, others): (Vec<&String>, Vec<&String>) =
            globs.iter().partition(|g| literal_prefix(g).is_some());
        let set = if others.is_empty() {
            None
        } else {
            let set = RegexSet::new(others.iter().map(|g| glob_regex(g))).map_err(|e| {
                ApiConfigError::BadRetired {
                    pattern: others
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    message: e.to_string(),
                }
            })?;
            Some(set)
        };
        Ok(Retired {
            prefixes: prefixes
                .iter()
                .filter_map(|g| literal_prefix(g))
                .map(str::to_string)
                .collect(),
            set,
        })
    }

    /// Whether a glob names `path`.
    #[inline]
    pub fn names(&self, path: &str) -> bool {
        self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
            || self.set.as_ref().is_some_and(|s| s.is_match(path))
    }
}

/// The prefix of a glob that is a literal and one final `*`.
fn literal_prefix(glob: &str) -> Option<&str> {
    glob.strip_suffix('*').filter(|p| !p.contains(['*', '?']))
}

/// The anchored regex of a glob.
fn glob_regex(glob: &str) -> String {
    let mut re = String::with_capacity(glob.len() + 8);
    re.push_str("^(?s:");
    let mut buf = [0u8; 4];
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut buf))),
        }
    }
    re.push_str(")$");
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The prefix fast path names what the glob's regex names.
        #[test]
        fn prefixes_name_what_regexes_name(
            prefix in "/[a-c/]{0,4}",
            path in "[/a-c]{0,8}",
        ) {
            let glob = format!("{prefix}*");
            let fast = Retired::new(std::slice::from_ref(&glob)).unwrap();
            proptest::prop_assert!(fast.set.is_none());
            let slow = RegexSet::new([glob_regex(&glob)]).unwrap();
            proptest::prop_assert_eq!(fast.names(&path), slow.is_match(&path));
        }
    }

    #[test]
    fn globs_name_paths() {
        let r = Retired::new(&["/api/v1/*".into(), "/old?".into(), "/a.b".into()]).unwrap();
        let table = [
            ("/api/v1/users", true),
            ("/api/v1/users/7/orders", true),
            ("/api/v1/", true),
            ("/api/v1", false),
            ("/api/v2/users", false),
            ("/oldx", true),
            ("/old", false),
            ("/a.b", true),
            ("/axb", false),
        ];
        for (path, want) in table {
            assert_eq!(r.names(path), want, "{path}");
        }
        assert!(!Retired::new(&[]).unwrap().names("/x"));
        assert!(matches!(
            Retired::new(&["api/*".into()]),
            Err(ApiConfigError::BadRetired { .. })
        ));
    }
}
