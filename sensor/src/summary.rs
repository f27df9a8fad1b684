//! The run summary printed on stderr at the end of a replay.

use std::fmt;
use std::time::Duration;

use crate::capture::FileReport;
use crate::pipeline::PipelineStats;

/// What a replay did, for humans.
pub struct Summary<'a> {
    /// Per-file reports; None where the input is not files (`listen`).
    pub files: Option<&'a [FileReport]>,
    /// Every counter.
    pub stats: &'a PipelineStats,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Replay's worker threads (0: one thread); `None` where the threads are not a choice.
    pub workers: Option<usize>,
}

/// Non-zero counters of a serializable stats struct, as `name value` pairs.
fn nonzero(v: &impl serde::Serialize) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(v) {
        for (k, v) in m {
            match v {
                serde_json::Value::Number(n) if n.as_u64().unwrap_or(0) > 0 => {
                    out.push((k, n.as_u64().unwrap_or(0)));
                }
                serde_json::Value::Object(inner) => {
                    for (k2, v2) in inner {
                        if let Some(n) = v2.as_u64().filter(|n| *n > 0) {
                            out.push((format!("{k}.{k2}"), n));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// What became of the records: "written" only when every one arrived (JSON lines always;
/// Kafka when the broker acknowledged them all), else what was accepted, delivered and lost.
fn records(e: &apitap_exporters::ExportStats) -> String {
    if e.delivered == e.offered {
        format!("records written: {}", e.delivered)
    } else {
        format!(
            "records: {} offered, {} delivered, {} not delivered",
            e.offered, e.delivered, e.failed
        )
    }
}

/// `name value, name value` on one line.
fn join(pairs: &[(String, u64)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.stats;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let d = &s.front.decode;
        f.write_str("apitap: ")?;
        if let Some(files) = self.files {
            write!(f, "{} file(s), ", files.len())?;
        }
        writeln!(
            f,
            "{} packets, {} bytes in {:.3} s: {:.0} packets/s, {:.3} Gbit/s, {:.0} transactions/s",
            d.packets,
            d.bytes,
            secs,
            d.packets as f64 / secs,
            d.bytes as f64 * 8.0 / secs / 1e9,
            s.output.transactions as f64 / secs,
        )?;
        writeln!(
            f,
            "  flows: {} opened, {} evicted, {} open at end; transactions: {}; {}",
            s.front.reassembly.flows_opened,
            s.front.reassembly.flows_evicted,
            s.front.active_flows,
            s.output.transactions,
            records(&s.output.export)
        )?;
        for r in self.files.unwrap_or_default() {
            if r.timestamps_out_of_range > 0 {
                writeln!(
                    f,
                    "  {}: {} packet time(s) out of range, each given the time of the packet \
                     before it",
                    r.path.display(),
                    r.timestamps_out_of_range
                )?;
            }
            if r.unsupported_link_packets > 0 {
                writeln!(
                    f,
                    "  {}: {} packet(s) of interfaces with a link type apitap does not decode, \
                     skipped",
                    r.path.display(),
                    r.unsupported_link_packets
                )?;
            }
        }
        match self.workers {
            None => {}
            Some(0) => writeln!(f, "  threads: one (--workers 0)")?,
            Some(n) => writeln!(
                f,
                "  threads: reader, {n} worker(s) (decode, reassembly, HTTP), session and export"
            )?,
        }
        for (name, counters) in [
            ("decode", nonzero(&s.front.decode)),
            ("reassembly", nonzero(&s.front.reassembly)),
            ("insertion", nonzero(&s.front.insertion)),
            ("http", nonzero(&s.front.http)),
            ("http2", nonzero(&s.front.http2)),
            ("export", nonzero(&s.output.export)),
        ] {
            if !counters.is_empty() {
                writeln!(f, "  {name}: {}", join(&counters))?;
            }
        }
        let listed = |m: &std::collections::BTreeMap<String, u64>| -> Vec<(String, u64)> {
            m.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        for line in protocol_notes(s) {
            writeln!(f, "  {line}")?;
        }
        if !s.output.anomalies.is_empty() {
            writeln!(
                f,
                "  anomalies by kind: {}",
                join(&listed(&s.output.anomalies))
            )?;
        }
        if !s.output.attacks.is_empty() {
            writeln!(
                f,
                "  attacks by class: {}; by outcome: {}; alerts: {}",
                join(&listed(&s.output.attacks)),
                join(&listed(&s.output.attack_outcomes)),
                s.output.alerts
            )?;
        }
        if !s.output.api_calls.is_empty() {
            writeln!(
                f,
                "  api calls by status: {}",
                join(&listed(&s.output.api_calls))
            )?;
        }
        let b = s.output.behaviours.nonzero();
        if !b.is_empty() {
            writeln!(f, "  behaviours: {}", join(&b))?;
        }
        Ok(())
    }
}

/// What the operator should know about the protocols seen: how many TLS connections there
/// were and that their content is not visible, and how many connections were not HTTP.
fn protocol_notes(s: &PipelineStats) -> Vec<String> {
    let h = &s.front.http;
    let mut notes = Vec::new();
    if h.tls_connections > 0 {
        let hidden = h.tls_connections - h.tls_decrypted_connections;
        let mut line = format!(
            "tls: {} connection(s) seen; the content of {hidden} is encrypted and not visible \
             (their tls records carry SNI, ALPN, version, cipher, JA3 and JA4)",
            h.tls_connections
        );
        if h.tls_decrypted_connections > 0 {
            line.push_str(&format!(
                "; {} decrypted with the key log",
                h.tls_decrypted_connections
            ));
        }
        notes.push(line);
    }
    if h.not_http_connections > 0 || h.opaque_tunnels > 0 {
        notes.push(format!(
            "not HTTP: {} connection(s) and {} CONNECT tunnel(s) spoke something else; nothing \
             of them was parsed",
            h.not_http_connections, h.opaque_tunnels
        ));
    }
    notes
}

/// Write the final counters as pretty JSON (`--stats-json`); a failure is reported, not fatal:
/// the events were already written.
pub fn write_stats_json(path: &std::path::Path, stats: &impl serde::Serialize) {
    let written = serde_json::to_vec_pretty(stats)
        .map_err(std::io::Error::other)
        .and_then(|j| std::fs::write(path, j));
    if let Err(e) = written {
        eprintln!("apitap: cannot write stats to {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary says how many TLS connections were seen and that their content is not
    /// visible; and how many connections were not HTTP.
    #[test]
    fn protocol_notes_name_tls_and_not_http() {
        let mut s = PipelineStats::default();
        assert!(protocol_notes(&s).is_empty());
        s.front.http.tls_connections = 3;
        s.front.http.tls_decrypted_connections = 1;
        s.front.http.not_http_connections = 2;
        let notes = protocol_notes(&s);
        assert!(
            notes[0].starts_with("tls: 3 connection(s) seen"),
            "{notes:?}"
        );
        assert!(
            notes[0].contains("content of 2 is encrypted and not visible"),
            "{notes:?}"
        );
        assert!(
            notes[0].contains("1 decrypted with the key log"),
            "{notes:?}"
        );
        assert!(
            notes[1].starts_with("not HTTP: 2 connection(s)"),
            "{notes:?}"
        );
    }
}
