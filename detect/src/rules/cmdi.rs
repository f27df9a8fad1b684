//! OS command injection.
//!
//! Method: the value is first stripped of the shell's own evasions (quotes and backslashes
//! inside words: `c'a't`, `w\ho\am\i`; `$IFS`, `${IFS}`, `$@`, brace expansion `{cat,/etc/passwd}`
//! to spaces). Then a command must follow a shell separator (`;`, `|`, `&`, a newline, a
//! backtick or `$(`), optionally behind a directory (`/usr/bin/id`). Commands are two lists:
//! distinctive ones (`whoami`, `uname`, `/bin/sh`...) count at level 1; common English words
//! that are also commands (`cat`, `sleep`, `echo`...) need an argument or the end of the
//! value after them at level 1, and count bare at level 2. Calls that run commands from code
//! (`system(`, `Runtime.getRuntime().exec(`, `<?php`) count at level 1.

use aho_corasick::AhoCorasick;

use super::{words, Hit, Value, L2};

/// Commands no text puts after a shell separator by chance.
const DISTINCT: &[&str] = &[
    "whoami", "uname", "ifconfig", "ipconfig", "netstat", "systeminfo", "nslookup", "netsh",
    "tasklist", "taskkill", "powershell", "pwsh", "cmd.exe", "cmd", "bash", "sh", "zsh", "ksh",
    "csh", "tcsh", "dash", "busybox", "wget", "curl", "nc", "ncat", "netcat", "socat", "telnet",
    "nmap", "python", "python2", "python3", "perl", "ruby", "php", "node", "lua", "base64",
    "printenv", "hostname", "uptime", "chmod", "chown", "crontab", "useradd", "certutil",
    "bitsadmin", "wmic", "mshta", "rundll32", "regsvr32", "cscript", "wscript", "nohup", "xterm",
    "xxd", "ping", "traceroute", "tracert", "getent", "lsof", "pwd", "id", "ls", "dir", "whois",
    "sudo", "passwd", "shutdown", "reboot", "ifup", "dig", "ps", "gcc", "tftp", "ftp", "scp",
    "ssh", "openssl", "mkfifo", "mknod", "expr", "sysinfo", "phpinfo",
];

/// Commands that are also words; after a separator they need an argument-like token.
const WORDY: &[&str] = &[
    "cat", "sleep", "echo", "type", "set", "env", "kill", "rm", "cp", "mv", "touch", "more",
    "less", "head", "tail", "find", "grep", "awk", "sed", "net", "find", "eval", "exec", "sort",
    "timeout", "uniq", "tee", "dd", "tar", "zip", "unzip", "reg", "sc", "who", "w", "time",
];

/// Code that runs commands, in the languages behind web apps.
const CODE: &[&str] = &[
    "system(", "exec(", "shell_exec(", "passthru(", "popen(", "proc_open(", "pcntl_exec(",
    "phpinfo(", "<?php", "<?=", "runtime.getruntime(", "processbuilder(", "os.system(",
    "os.popen(", "subprocess.", "child_process", "__import__(", "require('child_process')",
    "io.popen(", "kernel.exec",
];

/// Command injection detector.
pub(crate) struct Cmdi {
    code: AhoCorasick,
}

impl Cmdi {
    pub(crate) fn new() -> Cmdi {
        Cmdi { code: words(CODE) }
    }

    pub(crate) fn detect(&self, v: &Value<'_>, level: u8) -> Option<Hit> {
        if let Some(m) = self.code.find(v.lower) {
            return Some(Hit::at("cmdi.code-exec", m.start(), v.norm.len()));
        }
        let shell = unshell(v.lower);
        let mut i = 0;
        while let Some((sep_at, cmd_at)) = next_command_start(&shell, i) {
            if let Some(strength) = command_at(&shell, cmd_at) {
                if strength == Strength::Distinct || strength == Strength::WordyWithArgument || level >= L2 {
                    let rule = if shell.get(sep_at) == Some(&b'$') || shell.get(sep_at) == Some(&b'`') {
                        "cmdi.substitution"
                    } else {
                        "cmdi.separator"
                    };
                    return Some(Hit::at(rule, 0, v.norm.len()));
                }
            }
            i = cmd_at.max(sep_at + 1);
        }
        None
    }
}

/// How sure a command after a separator is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strength {
    Distinct,
    WordyWithArgument,
    WordyBare,
}

/// `lower` without the quoting and field-splitting tricks shells ignore: quotes and
/// backslashes dropped, `$IFS`, `${IFS}`, `$IFS$9`, `$@`, `$9` and brace expansion to spaces.
fn unshell(lower: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lower.len());
    let mut in_brace = false;
    let mut i = 0;
    while let Some(&b) = lower.get(i) {
        let rest = lower.get(i..).unwrap_or_default();
        if rest.starts_with(b"${ifs}") {
            out.push(b' ');
            i += 6;
        } else if rest.starts_with(b"$ifs") {
            out.push(b' ');
            i += 4;
        } else if b == b'$' && matches!(rest.get(1), Some(b'@' | b'0'..=b'9')) {
            i += 2;
        } else if matches!(b, b'\'' | b'"' | b'\\') {
            i += 1;
        } else if b == b'{' || b == b'}' || (b == b',' && in_brace) {
            in_brace = b == b'{' || (in_brace && b == b',');
            out.push(b' ');
            i += 1;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// The next shell separator at or after `from` and where the command after it starts.
fn next_command_start(s: &[u8], from: usize) -> Option<(usize, usize)> {
    let rel = s.get(from..)?.iter().position(|b| matches!(b, b';' | b'|' | b'&' | b'\n' | b'\r' | b'`' | b'$'))?;
    let sep = from + rel;
    let mut at = sep + 1;
    if s.get(sep) == Some(&b'$') {
        if s.get(at) != Some(&b'(') {
            return Some((sep, at));
        }
        at += 1;
    }
    while s.get(at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'|' | b'&' | b'\n' | b'\r' | b'(' | b'{')) {
        at += 1;
    }
    Some((sep, at))
}

/// Whether a known command starts at `s[at..]`, behind an optional directory.
fn command_at(s: &[u8], at: usize) -> Option<Strength> {
    let rest = s.get(at..)?;
    let word_len = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-')).count();
    let word = rest.get(..word_len)?;
    // "/usr/bin/id" -> "id"; "c:/windows/system32/cmd.exe" was "\" and stays a word here.
    let base = word.rsplit(|b| *b == b'/').next().unwrap_or(word);
    let after = rest.get(word_len..).unwrap_or_default();
    let ends = after.first().is_none_or(|b| !b.is_ascii_alphanumeric());
    if !ends || base.is_empty() {
        return None;
    }
    let is = |list: &[&str]| list.iter().any(|c| c.as_bytes() == base);
    if is(DISTINCT) {
        return Some(Strength::Distinct);
    }
    if !is(WORDY) {
        return None;
    }
    let arg = after.trim_ascii_start();
    let argument_like = arg.is_empty()
        || matches!(arg.first(), Some(b'/' | b'-' | b'.' | b'~' | b'$' | b'>' | b'<' | b';' | b'|' | b'&' | b'`' | b'0'..=b'9'));
    Some(if argument_like { Strength::WordyWithArgument } else { Strength::WordyBare })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::rule_of;
    use super::super::L1;
    use super::*;

    fn rule(raw: &str, level: u8) -> Option<&'static str> {
        let c = Cmdi::new();
        rule_of(raw, "host", level, |v, l| c.detect(v, l))
    }

    #[test]
    fn separators_and_substitution() {
        let cases = [
            ("; id", "cmdi.separator"),
            ("127.0.0.1 | whoami", "cmdi.separator"),
            ("a && cat /etc/passwd", "cmdi.separator"),
            ("x%0Aid", "cmdi.separator"),
            ("`whoami`", "cmdi.substitution"),
            ("$(uname -a)", "cmdi.substitution"),
            (";/usr/bin/id;", "cmdi.separator"),
            ("; sleep 5", "cmdi.separator"),
            ("|ping -n 21 127.0.0.1", "cmdi.separator"),
            ("& dir c:\\", "cmdi.separator"),
        ];
        for (attack, want) in cases {
            assert_eq!(rule(attack, L1), Some(want), "{attack}");
        }
    }

    #[test]
    fn shell_evasions() {
        for attack in [";c'a't /etc/passwd", ";w\\ho\\am\\i", ";cat${IFS}/etc/passwd", ";cat$IFS$9/etc/passwd", ";{cat,/etc/passwd}", "|w\"h\"o\"a\"m\"i", ";$@whoami"] {
            assert_eq!(rule(attack, L1), Some("cmdi.separator"), "{attack}");
        }
    }

    #[test]
    fn code_execution() {
        for attack in ["system('whoami')", "<?php system($_GET['c']); ?>", "Runtime.getRuntime().exec(\"id\")", "__import__('os').popen('id')"] {
            assert_eq!(rule(attack, L1), Some("cmdi.code-exec"), "{attack}");
        }
    }

    #[test]
    fn wordy_commands_need_arguments_at_level_1() {
        assert_eq!(rule("apples; cat lovers", L1), None);
        assert_eq!(rule("apples; cat lovers", L2), Some("cmdi.separator"));
        assert_eq!(rule("; cat /etc/hosts", L1), Some("cmdi.separator"));
    }

    #[test]
    fn tricky_benign() {
        for benign in [
            "Tom & Jerry",
            "A & W Root Beer",
            "salt; pepper; thyme",
            "black | white",
            "price: $5 & up",
            "R&D department",
            "fish & chips; peas",
            "items=1&page=2",
        ] {
            assert_eq!(rule(benign, L1), None, "{benign}");
        }
    }
}
