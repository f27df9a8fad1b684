//! The sessions list's filters, read from and written back to the query string, so that a
//! link reproduces exactly what its sender saw. Pure: the store turns a [`SessionFilter`] into
//! SQL (`store/query.rs`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

use crate::record::ts_us;

/// A filter value that cannot be read; the page shows the message and ignores the filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FilterError {
    /// The query-string parameter.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// An address or a network, as a range of 16-byte keys (IPv4 as IPv4-mapped IPv6), the form
/// the store indexes client addresses in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    /// First address, inclusive.
    pub lo: [u8; 16],
    /// Last address, inclusive.
    pub hi: [u8; 16],
}

impl IpRange {
    /// `10.0.0.7`, `10.0.0.0/8`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            let k = ip_key(ip);
            return Ok(IpRange { lo: k, hi: k });
        }
        let net: IpNet = s
            .parse()
            .map_err(|_| format!("{s:?} is not an address or a network (10.0.0.0/8)"))?;
        Ok(IpRange {
            lo: ip_key(net.network()),
            hi: ip_key(net.broadcast()),
        })
    }
}

/// The 16-byte key of an address: IPv6 as is, IPv4 mapped (`::ffff:a.b.c.d`), so that one
/// ordered index holds both and a network is one range.
pub fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address of a key written by [`ip_key`].
pub fn ip_from_key(k: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(k);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// A user's pattern as an SQLite `GLOB`: `*` is the only wildcard; every other character,
/// `?`, `[` and `]` included, matches itself. Without `*` the pattern matches exactly.
pub fn glob(pattern: &str) -> String {
    let mut g = String::with_capacity(pattern.len() + 4);
    for c in pattern.chars() {
        match c {
            '?' => g.push_str("[?]"),
            '[' => g.push_str("[[]"),
            ']' => g.push_str("[]]"),
            c => g.push(c),
        }
    }
    g
}

/// Which API use the sessions list asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiUse {
    /// Calls to shadow endpoints (not in any spec).
    Shadow,
    /// Calls to zombie endpoints (deprecated or removed from the spec).
    Zombie,
    /// Either.
    Any,
}

impl ApiUse {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "shadow" => Ok(ApiUse::Shadow),
            "zombie" => Ok(ApiUse::Zombie),
            "any" => Ok(ApiUse::Any),
            _ => Err(format!("{s:?}: expected shadow, zombie or any")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ApiUse::Shadow => "shadow",
            ApiUse::Zombie => "zombie",
            ApiUse::Any => "any",
        }
    }
}

/// The column the sessions list is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Last seen (the default: what is happening now first).
    Last,
    /// First seen.
    First,
    /// Request count.
    Requests,
    /// Attack count.
    Attacks,
    /// Alert count.
    Alerts,
}

impl SortKey {
    /// Every key, in the order the list's headers show them.
    pub const ALL: [SortKey; 5] = [
        SortKey::First,
        SortKey::Last,
        SortKey::Requests,
        SortKey::Attacks,
        SortKey::Alerts,
    ];

    /// The query-string name.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Last => "last",
            SortKey::First => "first",
            SortKey::Requests => "requests",
            SortKey::Attacks => "attacks",
            SortKey::Alerts => "alerts",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        SortKey::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("{s:?}: expected first, last, requests, attacks or alerts"))
    }
}

/// The sessions list's filters, sort and page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFilter {
    /// `ip`: a client address or network, with the text as given.
    pub ip: Option<(String, IpRange)>,
    /// `user`: the session's user, `*` wildcards.
    pub user: Option<String>,
    /// `endpoint`: an endpoint the session called, `*` wildcards (`GET /api/v1/orders*`).
    pub endpoint: Option<String>,
    /// `from`: sessions active at or after this time (microseconds), with the text as given.
    pub from: Option<(String, i64)>,
    /// `to`: sessions active at or before this time.
    pub to: Option<(String, i64)>,
    /// `attacks=1`: at least one attack.
    pub has_attacks: bool,
    /// `alerts=1`: at least one alert.
    pub has_alerts: bool,
    /// `alert`: an alert of this kind.
    pub alert_kind: Option<String>,
    /// `attack`: an attack of this class.
    pub attack_class: Option<String>,
    /// `api`: shadow or zombie endpoint use.
    pub api: Option<ApiUse>,
    /// `sensor`: seen by this sensor.
    pub sensor: Option<String>,
    /// `tag`: tagged so by an analyst.
    pub tag: Option<String>,
    /// `sort`.
    pub sort: SortKey,
    /// `order=asc` (default descending).
    pub ascending: bool,
    /// `page`, 0-based.
    pub page: u32,
}

impl Default for SessionFilter {
    fn default() -> Self {
        SessionFilter {
            ip: None,
            user: None,
            endpoint: None,
            from: None,
            to: None,
            has_attacks: false,
            has_alerts: false,
            alert_kind: None,
            attack_class: None,
            api: None,
            sensor: None,
            tag: None,
            sort: SortKey::Last,
            ascending: false,
            page: 0,
        }
    }
}

/// A time as the filter form sends it: RFC 3339 (`2024-05-01T10:00:00Z`), or the browser's
/// `datetime-local` form (`2024-05-01T10:00`, read as UTC).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let full = match s.len() {
        16 => format!("{s}:00Z"),
        19 => format!("{s}Z"),
        _ => s.to_owned(),
    };
    ts_us(&full).map_err(|_| format!("{s:?} is not a time (2024-05-01T10:00:00Z)"))
}

impl SessionFilter {
    /// Read the query string's parameters; an unreadable value is left out and reported.
    pub fn from_query(q: &BTreeMap<String, String>) -> (Self, Vec<FilterError>) {
        let mut f = SessionFilter::default();
        let mut errors = Vec::new();
        let text = |name: &str| {
            q.get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut read = |field: &'static str, r: Result<(), String>| {
            if let Err(message) = r {
                errors.push(FilterError { field, message });
            }
        };
        if let Some(v) = text("ip") {
            read("ip", IpRange::parse(&v).map(|r| f.ip = Some((v, r))));
        }
        if let Some(v) = text("from") {
            read("from", parse_time(&v).map(|t| f.from = Some((v, t))));
        }
        if let Some(v) = text("to") {
            read("to", parse_time(&v).map(|t| f.to = Some((v, t))));
        }
        if let Some(v) = text("api") {
            read("api", ApiUse::parse(&v).map(|a| f.api = Some(a)));
        }
        if let Some(v) = text("sort") {
            read("sort", SortKey::parse(&v).map(|s| f.sort = s));
        }
        if let Some(v) = text("page") {
            read(
                "page",
                v.parse()
                    .map(|p| f.page = p)
                    .map_err(|_| format!("{v:?} is not a page number")),
            );
        }
        f.user = text("user");
        f.endpoint = text("endpoint");
        f.alert_kind = text("alert");
        f.attack_class = text("attack");
        f.sensor = text("sensor");
        f.tag = text("tag");
        f.has_attacks = text("attacks").is_some_and(|v| v == "1");
        f.has_alerts = text("alerts").is_some_and(|v| v == "1");
        f.ascending = text("order").is_some_and(|v| v == "asc");
        (f, errors)
    }

    /// The query-string parameters that give this filter back (defaults left out), in a
    /// fixed order.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut q: Vec<(&'static str, String)> = Vec::new();
        let mut opt = |name, v: Option<&String>| {
            if let Some(v) = v {
                q.push((name, v.clone()));
            }
        };
        opt("ip", self.ip.as_ref().map(|(t, _)| t));
        opt("user", self.user.as_ref());
        opt("endpoint", self.endpoint.as_ref());
        opt("from", self.from.as_ref().map(|(t, _)| t));
        opt("to", self.to.as_ref().map(|(t, _)| t));
        opt("alert", self.alert_kind.as_ref());
        opt("attack", self.attack_class.as_ref());
        opt("sensor", self.sensor.as_ref());
        opt("tag", self.tag.as_ref());
        if self.has_attacks {
            q.push(("attacks", "1".into()));
        }
        if self.has_alerts {
            q.push(("alerts", "1".into()));
        }
        if let Some(a) = self.api {
            q.push(("api", a.name().into()));
        }
        if self.sort != SortKey::Last {
            q.push(("sort", self.sort.name().into()));
        }
        if self.ascending {
            q.push(("order", "asc".into()));
        }
        if self.page > 0 {
            q.push(("page", self.page.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_network_is_one_range_of_mapped_keys() {
        let r = IpRange::parse("10.1.0.0/16").unwrap();
        assert_eq!(ip_from_key(r.lo), "10.1.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(ip_from_key(r.hi), "10.1.255.255".parse::<IpAddr>().unwrap());
        let inside = ip_key("10.1.7.9".parse().unwrap());
        let outside = ip_key("10.2.0.0".parse().unwrap());
        assert!(r.lo <= inside && inside <= r.hi);
        assert!(outside > r.hi);
        let one = IpRange::parse("2001:db8::1").unwrap();
        assert_eq!(one.lo, one.hi);
        assert!(IpRange::parse("10.0.0.0/33").is_err());
        assert!(IpRange::parse("example.com").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The key range of a network holds exactly the addresses `ipnet` says it contains
        /// (the slow twin), IPv4 and IPv6 alike.
        #[test]
        fn a_key_range_holds_exactly_the_network(net in 0u32.., len in 0u8..=32, addr in 0u32.., v6 in proptest::prelude::any::<bool>(), hi in 0u128..) {
            let (net, addr): (IpNet, IpAddr) = if v6 {
                let n = ipnet::Ipv6Net::new(Ipv6Addr::from(hi ^ u128::from(net)), len * 4).unwrap();
                (IpNet::V6(n.trunc()), IpAddr::V6(Ipv6Addr::from(hi ^ u128::from(addr))))
            } else {
                let n = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(net), len).unwrap();
                (IpNet::V4(n.trunc()), IpAddr::V4(std::net::Ipv4Addr::from(addr)))
            };
            let r = IpRange::parse(&net.to_string()).unwrap();
            let k = ip_key(addr);
            proptest::prop_assert_eq!(r.lo <= k && k <= r.hi, net.contains(&addr));
            proptest::prop_assert_eq!(ip_from_key(k), addr);
        }
    }

    #[test]
    fn glob_keeps_only_the_star_as_wildcard() {
        assert_eq!(glob("GET /api/*"), "GET /api/*");
        assert_eq!(glob("a?b[c]"), "a[?]b[[]c[]]");
    }

    #[test]
    fn the_query_string_round_trips() {
        let q = query(&[
            ("ip", "10.0.0.0/8"),
            ("user", "alice"),
            ("endpoint", "GET /api/*"),
            ("from", "2024-05-01T10:00"),
            ("attacks", "1"),
            ("alert", "bola"),
            ("api", "zombie"),
            ("sort", "requests"),
            ("order", "asc"),
            ("page", "2"),
        ]);
        let (f, errors) = SessionFilter::from_query(&q);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(f.from.as_ref().unwrap().1, 1_714_557_600_000_000);
        let back: BTreeMap<String, String> = f
            .to_query()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(back, q);
    }

    #[test]
    fn a_bad_value_is_reported_and_left_out() {
        let (f, errors) =
            SessionFilter::from_query(&query(&[("ip", "nope"), ("page", "x"), ("user", "bob")]));
        assert_eq!(f.ip, None);
        assert_eq!(f.user.as_deref(), Some("bob"));
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["ip", "page"]);
    }
}
