//! `adversarial-pcap`: write one of the captures of [`apitap_tests::adversarial`] (for
//! `scripts/bench-memory.sh`).
//!
//! ```text
//! adversarial-pcap syn-flood SYNS OUT
//! adversarial-pcap parked-heads CONNS HEAD_BYTES OUT
//! adversarial-pcap pipelined CONNS REQUESTS REQUEST_BYTES OUT
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use apitap_tests::adversarial::{write, Scenario};

/// The scenario and output path the arguments name, or a usage message.
fn parse(args: &[String]) -> Result<(Scenario, &str), String> {
    let num = |i: usize| -> Result<u64, String> {
        let a = args.get(i).ok_or("missing argument")?;
        a.parse().map_err(|_| format!("not a number: {a}"))
    };
    let narrow = |v: u64| u32::try_from(v).map_err(|_| format!("too large: {v}"));
    let (scenario, out) = match args.first().map(String::as_str) {
        Some("syn-flood") => (Scenario::SynFlood { syns: narrow(num(1)?)? }, 2),
        Some("parked-heads") => (
            Scenario::ParkedHeads {
                conns: narrow(num(1)?)?,
                head_bytes: num(2)? as usize,
            },
            3,
        ),
        Some("pipelined") => (
            Scenario::Pipelined {
                conns: narrow(num(1)?)?,
                requests: narrow(num(2)?)?,
                request_bytes: num(3)? as usize,
            },
            4,
        ),
        _ => return Err("usage: adversarial-pcap syn-flood SYNS OUT | parked-heads CONNS HEAD_BYTES OUT | pipelined CONNS REQUESTS REQUEST_BYTES OUT".into()),
    };
    let path = args.get(out).ok_or("missing output path")?;
    Ok((scenario, path))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = || -> Result<u64, String> {
        let (scenario, path) = parse(&args)?;
        let file = File::create(path).map_err(|e| format!("cannot create {path}: {e}"))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let n = write(scenario, &mut w).map_err(|e| e.to_string())?;
        w.flush().map_err(|e| format!("cannot write {path}: {e}"))?;
        Ok(n)
    };
    match run() {
        Ok(n) => {
            eprintln!("{n} packets");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("adversarial-pcap: {e}");
            ExitCode::FAILURE
        }
    }
}
