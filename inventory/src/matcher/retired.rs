//! `api.retired`: globs over request paths, compiled once into one regex set.

use regex::RegexSet;

use crate::config::ApiConfigError;

/// The retired globs, compiled.
#[derive(Clone, Debug)]
pub struct Retired {
    /// One anchored regex per glob; `None` when there is no glob.
    set: Option<RegexSet>,
}

impl Retired {
    /// Compile the globs: `*` is any run of characters (`/` included), `?` one character,
    /// everything else itself.
    pub fn new(globs: &[String]) -> Result<Retired, ApiConfigError> {
        if globs.is_empty() {
            return Ok(Retired { set: None });
        }
        for g in globs {
            if !g.starts_with('/') {
                return Err(ApiConfigError::BadRetired {
                    pattern: g.clone(),
                    message: "a retired glob is a path and starts with `/`".into(),
                });
            }
        }
        let set = RegexSet::new(globs.iter().map(|g| glob_regex(g))).map_err(|e| {
            ApiConfigError::BadRetired {
                pattern: globs.join(", "),
                message: e.to_string(),
            }
        })?;
        Ok(Retired { set: Some(set) })
    }

    /// Whether a glob names `path`.
    #[inline]
    pub fn names(&self, path: &str) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(path))
    }
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
