//! Structured logs on stderr through `tracing`. The level comes from `--log-level`, else
//! `RUST_LOG` (full `tracing-subscriber` filter syntax), else `info`.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber; a second call (tests) is ignored.
pub fn init(level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).ok(),
        None => EnvFilter::try_from_default_env().ok(),
    }
    .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_thread_names(true)
        .try_init();
}
