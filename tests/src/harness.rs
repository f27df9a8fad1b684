//! Running the real `apitap` binary from integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (where `fixtures/` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A fixture path, relative to `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    workspace_root().join("fixtures").join(rel)
}

/// The `apitap` binary built by cargo next to this test executable
/// (`target/<profile>/apitap`); `APITAP_BIN` overrides it.
pub fn apitap_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("APITAP_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/apitap
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join("apitap");
    assert!(
        bin.exists(),
        "{} not found: build it first (`cargo build -p apitap`, which `scripts/test.sh` does)",
        bin.display()
    );
    bin
}

/// Run `apitap` with `args` (and the test session secret); the output is returned whatever
/// the exit code.
pub fn apitap(args: &[&str]) -> Output {
    Command::new(apitap_bin())
        .args(args)
        .env("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)
        .output()
        .expect("run apitap")
}

/// A scratch directory unique to this test process and `name`, emptied first; removed when
/// the returned guard is dropped, unless the test is failing (then it is kept to be read).
pub fn scratch(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("apitap-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    Scratch(d)
}

/// A test's scratch directory ([`scratch`]): a path while it lives, gone after a passing
/// test (test runs left one per test behind, some tens of megabytes each).
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Result of one replay.
#[derive(Debug)]
pub struct Replay {
    /// The JSON lines written, raw.
    pub raw: String,
    /// The parsed records.
    pub records: Vec<serde_json::Value>,
    /// The final counters (`--stats-json`).
    pub stats: serde_json::Value,
    /// Exit code.
    pub code: i32,
    /// Standard error.
    pub stderr: String,
}

/// The session secret every replay of the tests runs with (through the environment, which
/// takes the place of `session.secret`), so that session ids are the same on every run.
pub const TEST_SESSION_SECRET: &str = "apitap-test-session-secret-0123456789";

/// Replay `pcaps` with extra `args` through the binary and collect everything.
pub fn replay(pcaps: &[PathBuf], args: &[&str]) -> Replay {
    replay_env(
        pcaps,
        args,
        &[("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)],
    )
}

/// The config of the core pipeline alone (sessions off): `fixtures/core.toml`.
pub fn core_config() -> PathBuf {
    fixture("core.toml")
}

/// [`replay`] of the core pipeline (sessions off) unless `args` name a `--config`: the tests
/// of capture, reassembly and HTTP behaviour do not depend on session settings.
pub fn replay_core(pcaps: &[PathBuf], args: &[&str]) -> Replay {
    if args.contains(&"--config") {
        return replay(pcaps, args);
    }
    let core = core_config();
    let mut all = vec!["--config", core.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    replay(pcaps, &all)
}

/// [`replay`] with the given environment variables set for the binary.
pub fn replay_env(pcaps: &[PathBuf], args: &[&str], env: &[(&str, &str)]) -> Replay {
    let dir = scratch(&format!("replay-{}", unique()));
    let out = dir.join("events.jsonl");
    let stats = dir.join("stats.json");
    let mut cmd = Command::new(apitap_bin());
    cmd.arg("replay")
        .args(pcaps)
        .arg("--output")
        .arg(&out)
        .arg("--stats-json")
        .arg(&stats);
    cmd.args(args);
    cmd.envs(env.iter().copied());
    let o = cmd.output().expect("run apitap replay");
    let raw = std::fs::read_to_string(&out).unwrap_or_default();
    let records = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}")))
        .collect();
    let stats = std::fs::read(&stats)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    Replay {
        raw,
        records,
        stats,
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A process-unique counter for scratch names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// What one measured run of the binary gave.
#[derive(Debug)]
pub struct Measured {
    /// Exit code (-1 when a signal ended it).
    pub code: i32,
    /// Standard error.
    pub stderr: String,
    /// Peak resident set of the process, in KiB (`ru_maxrss` of that child alone).
    pub max_rss_kib: u64,
}

/// Run `apitap` with `args` (and the test session secret) and measure its peak resident set:
/// the child is reaped with `wait4`, whose resource usage is that child's alone (other
/// tests' children do not count, as they would in `getrusage(RUSAGE_CHILDREN)`).
#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also gives its resource usage"
)]
pub fn apitap_measured(args: &[&str]) -> Measured {
    use std::io::Read;
    let dir = scratch(&format!("measured-{}", unique()));
    let err_path = dir.join("stderr");
    let err = std::fs::File::create(&err_path).expect("create stderr file");
    let child = Command::new(apitap_bin())
        .args(args)
        .env("APITAP_SESSION_SECRET", TEST_SESSION_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .spawn()
        .expect("run apitap");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not reaped yet (`child` is never waited on); `status` and
    // `usage` are valid for writes for the duration of the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let mut stderr = String::new();
    let _ = std::fs::File::open(&err_path).and_then(|mut f| f.read_to_string(&mut stderr));
    let _ = std::fs::remove_dir_all(&dir);
    Measured {
        code,
        stderr,
        // Linux reports kilobytes (KiB).
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    }
}

/// Hold a running child still (`SIGSTOP`) or let it go on (`SIGCONT`): a test changes what
/// the child talks to while it cannot act, where the real thing changes at once.
pub fn hold(child: &std::process::Child, still: bool) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let signal = if still { libc::SIGSTOP } else { libc::SIGCONT };
    // SAFETY: `pid` is our child, not waited on yet, so the pid is still its own.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
}
