//! TLS handshake metadata (placeholder while the module is written).
