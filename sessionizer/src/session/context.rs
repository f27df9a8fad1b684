//! Context parameters: named values read from a transaction, exported after their mode
//! (`plain`, `hash`, `mask`, `drop`) and aggregated per session.

use std::borrow::Cow;
use std::sync::Arc;

use super::config::{
    MaskKeep, ParamMode, ParamRole, ParamSide, ParamSource, ParamSpec, TokenLocation,
};
use super::endpoint::{cut, match_template};
use super::jwt;
use super::secret::{Domain, Keyed};
use super::view::TxView;

/// A compiled parameter.
#[derive(Clone, Debug)]
pub(crate) struct Param {
    /// Name in records.
    pub name: Arc<str>,
    /// Source kind.
    source: ParamSource,
    /// Request or response.
    side: ParamSide,
    /// Header/cookie/query/form name, pointer, claim or capture.
    field: String,
    /// Path template.
    template: String,
    /// JWT location.
    token_in: TokenLocation,
    /// Export mode.
    pub mode: ParamMode,
    /// Mask end.
    keep: MaskKeep,
    /// Mask length.
    keep_chars: usize,
    /// User or role.
    pub role: Option<ParamRole>,
}

impl Param {
    /// Compile a validated spec.
    pub fn new(s: &ParamSpec) -> Self {
        Param {
            name: s.name.as_str().into(),
            source: s.source,
            side: s.side,
            field: s.field.clone().unwrap_or_else(|| s.name.clone()),
            template: s.template.clone().unwrap_or_default(),
            token_in: s.token_in.clone().unwrap_or(TokenLocation::Bearer),
            mode: s.mode,
            keep: s.mask_keep,
            keep_chars: s.mask_keep_chars,
            role: s.role,
        }
    }

    /// Whether the value is a claim of the `Authorization: Bearer` token.
    pub fn reads_bearer_claims(&self) -> bool {
        self.source == ParamSource::Jwt && self.token_in == TokenLocation::Bearer
    }

    /// The raw value in a transaction.
    pub fn extract<'v>(&self, view: &'v TxView<'_>) -> Option<Cow<'v, str>> {
        let f = self.field.as_str();
        match self.source {
            ParamSource::Header => view.header(self.side, f).map(Cow::Borrowed),
            ParamSource::Cookie => match self.side {
                ParamSide::Request => view.cookie(f).map(Cow::Borrowed),
                ParamSide::Response => view
                    .set_cookies()
                    .find(|(n, _)| *n == f)
                    .map(|(_, v)| Cow::Borrowed(v))
                    .filter(|v| !v.is_empty()),
            },
            ParamSource::Query => view.query_param(f),
            ParamSource::Form => view.form_field(self.side, f),
            ParamSource::Json => view.json_field(self.side, f),
            ParamSource::Jwt => view
                .with_claims(&self.token_in, |c| jwt::claim(c, f).map(Cow::into_owned))
                .map(Cow::Owned),
            ParamSource::Path => {
                let mut out = None;
                let ok = match_template(&self.template, view.path, |name, v| {
                    if name == f && out.is_none() {
                        out = Some(v);
                    }
                });
                if ok {
                    out.map(Cow::Borrowed)
                } else {
                    None
                }
            }
        }
    }

    /// What leaves the sensor for `raw`; `None` in `drop` mode. The flag says the value was
    /// cut at `max_bytes`.
    pub fn export(&self, raw: &str, keyed: &Keyed, max_bytes: usize) -> (Option<String>, bool) {
        match self.mode {
            ParamMode::Drop => (None, false),
            ParamMode::Hash => (
                Some(keyed.hash(Domain::Param, &[raw.as_bytes()]).to_hex()),
                false,
            ),
            ParamMode::Plain => {
                let c = cut(raw, max_bytes);
                (Some(c.to_string()), c.len() < raw.len())
            }
            ParamMode::Mask => {
                let c = cut(raw, max_bytes);
                (
                    Some(mask(c, self.keep, self.keep_chars)),
                    c.len() < raw.len(),
                )
            }
        }
    }
}

/// Keep `keep_chars` characters at one end, replace the others by `*`. A value no longer
/// than `keep_chars` is masked whole (keeping it would reveal it all).
pub fn mask(v: &str, keep: MaskKeep, keep_chars: usize) -> String {
    let n = v.chars().count();
    if n <= keep_chars {
        return "*".repeat(n);
    }
    let hidden = n - keep_chars;
    match keep {
        MaskKeep::Prefix => v
            .chars()
            .take(keep_chars)
            .chain(std::iter::repeat_n('*', hidden))
            .collect(),
        MaskKeep::Suffix => std::iter::repeat_n('*', hidden)
            .chain(v.chars().skip(hidden))
            .collect(),
    }
}

/// A plain value as a finite number, for numeric aggregates.
pub fn numeric(v: &str) -> Option<f64> {
    let t = v.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(
            mask("4111111111111111", MaskKeep::Suffix, 4),
            "************1111"
        );
        assert_eq!(
            mask("alice@example.com", MaskKeep::Prefix, 3),
            "ali**************"
        );
        assert_eq!(mask("abc", MaskKeep::Suffix, 4), "***");
        assert_eq!(mask("héllo", MaskKeep::Prefix, 2), "hé***");
        assert_eq!(mask("x", MaskKeep::Suffix, 0), "*");
    }

    #[test]
    fn numbers() {
        assert_eq!(numeric("12.5"), Some(12.5));
        assert_eq!(numeric(" -3 "), Some(-3.0));
        assert_eq!(numeric("1e3"), Some(1000.0));
        assert_eq!(numeric("inf"), None);
        assert_eq!(numeric("NaN"), None);
        assert_eq!(numeric("12a"), None);
        assert_eq!(numeric(""), None);
    }
}
