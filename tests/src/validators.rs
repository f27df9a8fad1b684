//! Real validators of the formats apitap writes, run as the tests' peers.

use std::process::Command;

use crate::harness::{scratch, workspace_root};

/// Run `openapi-spec-validator` (installed by `scripts/setup-python.sh`) on an OpenAPI 3.1
/// document: `Ok` with its report when it accepts the document, `Err` with its errors when
/// not; `None` (and a loud message) when python3 or pip is missing, so that the validator
/// cannot be installed.
pub fn openapi(name: &str, yaml: &str) -> Option<Result<String, String>> {
    let setup = Command::new("bash")
        .arg(workspace_root().join("scripts/setup-python.sh"))
        .status();
    match setup {
        Ok(s) if s.code() == Some(2) => {
            eprintln!("\n!!!!!!!! SKIPPED: openapi-spec-validator needs python3 and pip, absent here !!!!!!!!\n");
            return None;
        }
        Ok(s) => assert!(s.success(), "scripts/setup-python.sh failed: {s}"),
        Err(e) => {
            eprintln!("\n!!!!!!!! SKIPPED: no bash to run scripts/setup-python.sh: {e} !!!!!!!!\n");
            return None;
        }
    }
    let dir = scratch(&format!("openapi-{name}"));
    let file = dir.join(name);
    std::fs::write(&file, yaml).expect("write the document");
    let out = Command::new("python3")
        .args([
            "-m",
            "openapi_spec_validator",
            "--schema",
            "3.1",
            "--errors",
            "all",
        ])
        .arg(&file)
        .output()
        .expect("run python3");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some(if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    })
}
