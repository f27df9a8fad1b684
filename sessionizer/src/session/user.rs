//! Who the user is when no context parameter says (`[session.user]`): a claim of the bearer
//! JWT, or the username a login request posts. Stateless, part of the facts.

use super::config::{ParamSide, ParamSource, ParamSpec, UserConfig};
use super::context::Param;
use super::jwt;
use super::secret::Keyed;
use super::view::TxView;
use crate::http::capture::PathKeywords;

/// A login request's username, and what the transaction says about the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UserRead {
    /// The user of the transaction by default: the login's username when the login
    /// succeeded, else the bearer JWT's claim.
    pub user: Option<String>,
    /// The username a login request posted, as exported, whether or not the login succeeded.
    pub login_user: Option<String>,
    /// A value was cut at `max_value_bytes`.
    pub truncated: bool,
}

/// The default user reader, compiled from a validated [`UserConfig`].
#[derive(Clone, Debug)]
pub(crate) struct DefaultUser {
    /// `user.enabled`: the reads name the transaction's user (else only login usernames are
    /// read, for the behaviours).
    names_user: bool,
    /// The bearer JWT claim naming the user; `None` when empty or off.
    claim: Option<String>,
    /// Login body fields, in order.
    fields: Vec<String>,
    /// How the value is exported (the mode of `[session.user]`).
    export: Param,
}

impl DefaultUser {
    /// The reader for `cfg`; `None` when it reads nothing (the defaults off and no login
    /// fields).
    pub fn new(cfg: &UserConfig) -> Option<Self> {
        if !cfg.enabled && cfg.login_fields.is_empty() {
            return None;
        }
        let spec = ParamSpec {
            name: "user".into(),
            source: ParamSource::Form,
            side: ParamSide::Request,
            field: None,
            template: None,
            token_in: None,
            mode: cfg.mode,
            mask_keep_chars: cfg.mask_keep_chars,
            mask_keep: cfg.mask_keep,
            role: None,
        };
        Some(DefaultUser {
            names_user: cfg.enabled,
            claim: Some(cfg.jwt_claim.clone()).filter(|c| cfg.enabled && !c.is_empty()),
            fields: cfg.login_fields.clone(),
            export: Param::new(&spec),
        })
    }

    /// Whether the bearer token's claims are read.
    pub fn reads_bearer_claims(&self) -> bool {
        self.claim.is_some()
    }

    /// What `view` says about its user. `is_login` says the request is a login (a `POST` to
    /// a login path).
    pub fn read(
        &self,
        view: &TxView<'_>,
        is_login: bool,
        keyed: &Keyed,
        max_value_bytes: usize,
    ) -> UserRead {
        let mut read = UserRead::default();
        let export = |raw: &str, read: &mut UserRead| {
            let (v, cut) = self.export.export(raw, keyed, max_value_bytes);
            read.truncated |= cut;
            v
        };
        if is_login {
            let raw = self.fields.iter().find_map(|f| {
                view.form_field(ParamSide::Request, f)
                    .or_else(|| view.json_field(ParamSide::Request, &format!("/{f}")))
                    .map(|v| v.into_owned())
            });
            if let Some(raw) = raw {
                read.login_user = export(&raw, &mut read);
                let succeeded = view.resp.is_some_and(|r| (200..400).contains(&r.status));
                if succeeded && self.names_user {
                    read.user.clone_from(&read.login_user);
                }
            }
        }
        if read.user.is_none() {
            if let (Some(claim), Some(c)) = (&self.claim, view.bearer_token_claims()) {
                // Cut values are counted once, when the token is first seen.
                let user = c.user(|v| {
                    let raw = jwt::claim(v, claim)?;
                    export(&raw, &mut read)
                });
                read.user = user.map(str::to_owned);
            }
        }
        read
    }
}

/// True when `method` and `path` make a login request: a `POST` to a path `keywords` match.
pub(crate) fn is_login(method: &str, path: &str, keywords: &PathKeywords) -> bool {
    method.eq_ignore_ascii_case("POST") && keywords.matches(path)
}
