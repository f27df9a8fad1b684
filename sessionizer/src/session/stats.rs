//! Counters of the sessionizer. Names follow `apitap_session_<what>_total` when exported.

use serde::Serialize;

/// Everything the sessionizer counts. Monotonic, except `keys` which lists per-key hits.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SessionStats {
    /// Transactions observed.
    pub transactions: u64,
    /// Transactions for which no key of the list was present (no session).
    pub transactions_without_key: u64,
    /// Hits per key, in list order: `(source label, transactions)`.
    pub keys: Vec<(String, u64)>,
    /// Sessions started (first part).
    pub sessions_started: u64,
    /// Parts started after a max-duration split (part >= 2).
    pub parts_started: u64,
    /// Sessions ended by idle timeout.
    pub ended_idle: u64,
    /// Parts ended at the maximum duration.
    pub ended_max_duration: u64,
    /// Sessions ended by LRU eviction at `max_sessions`.
    pub ended_evicted: u64,
    /// Sessions ended at end of input.
    pub ended_end_of_input: u64,
    /// Sessions ended at shutdown.
    pub ended_shutdown: u64,
    /// Split parts that saw no transaction before expiring (no record).
    pub empty_parts_dropped: u64,
    /// `update` records emitted.
    pub updates: u64,
    /// Server-set values (Set-Cookie, login tokens) remembered.
    pub bindings_added: u64,
    /// Bindings forgotten at `login.max_bindings`.
    pub bindings_evicted: u64,
    /// Sessions that started linked to the session where their key was set.
    pub sessions_linked: u64,
    /// JWTs whose signature verified.
    pub jwt_verified: u64,
    /// JWTs whose signature did not verify.
    pub jwt_verify_failed: u64,
    /// Client IPs taken from a trusted proxy's header.
    pub client_ip_from_header: u64,
    /// Unreadable forwarding headers from trusted proxies.
    pub client_ip_header_invalid: u64,
    /// Forwarding headers ignored because the peer is not a trusted proxy.
    pub client_ip_header_untrusted: u64,
    /// Bodies decoded from a content coding.
    pub bodies_decoded: u64,
    /// Decoded bodies cut at the size or ratio bound (decompression bombs).
    pub body_decode_limit: u64,
    /// Bodies that failed to decode, or had an unknown coding.
    pub body_decode_failed: u64,
    /// Truncated bodies decoded as far as they went.
    pub body_decode_partial: u64,
    /// JSON bodies that did not parse.
    pub json_parse_failed: u64,
    /// Multipart scans stopped at `body.max_multipart_parts`.
    pub multipart_parts_limit: u64,
    /// Values (parameters, User-Agents) cut at `max_value_bytes`.
    pub values_truncated: u64,
    /// Client IPs not remembered at `max_client_ips_per_session`.
    pub client_ips_dropped: u64,
    /// User-Agents not remembered at `max_user_agents_per_session`.
    pub user_agents_dropped: u64,
    /// Requests to endpoints not remembered at `max_endpoints_per_session`.
    pub endpoints_dropped: u64,
    /// Values not counted as distinct at `max_distinct_values_per_param`.
    pub distinct_values_capped: u64,
    /// Transaction ids not listed at `max_transaction_ids_per_session`.
    pub transaction_ids_dropped: u64,
}
