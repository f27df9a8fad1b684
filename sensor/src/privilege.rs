//! Giving up privileges once the capture is open.
//!
//! Opening a capture needs CAP_NET_RAW (the packet socket) and CAP_NET_ADMIN (promiscuous
//! mode, the kernel ring); reading from it afterwards needs neither. `capture.user` switches to
//! an unprivileged user and every capability is then cleared, so a bug in a parser cannot be
//! turned into anything that needs them.

use std::ffi::CString;

/// Why privileges could not be dropped. The sensor refuses to run on rather than keep
/// privileges it was told to give up.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// No such user.
    #[error(
        "capture.user {0:?} does not exist; create it (useradd --system {0}) or remove the setting"
    )]
    NoUser(String),
    /// A system call failed.
    #[error("cannot switch to user {user:?}: {call} failed: {source}; run apitap as root (or with CAP_SETUID and CAP_SETGID) to use capture.user")]
    Call {
        /// The user.
        user: String,
        /// Which call.
        call: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Switch to `user` (its uid, primary gid, no supplementary groups), then clear every
/// capability of the process (effective, permitted, inheritable).
pub fn drop_to_user(user: &str) -> Result<(), PrivilegeError> {
    let c_user = CString::new(user).map_err(|_| PrivilegeError::NoUser(user.to_owned()))?;
    let call = |call: &'static str| PrivilegeError::Call {
        user: user.to_owned(),
        call,
        source: std::io::Error::last_os_error(),
    };
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives the use of `pw`'s strings
    // (only the numeric ids are read).
    let rc = unsafe {
        libc::getpwnam_r(
            c_user.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(PrivilegeError::NoUser(user.to_owned()));
    }
    let (uid, gid) = (pw.pw_uid, pw.pw_gid);
    // SAFETY: plain system calls with valid arguments; order matters: groups and gid first,
    // while we still may change them.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(call("setgroups"));
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            return Err(call("setresgid"));
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(call("setresuid"));
        }
    }
    clear_capabilities().map_err(|source| PrivilegeError::Call {
        user: user.to_owned(),
        call: "capset",
        source,
    })
}

/// Clear every capability set of this process (Linux `capset`, version 3).
fn clear_capabilities() -> std::io::Result<()> {
    /// `_LINUX_CAPABILITY_VERSION_3`.
    const VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data have the layout the kernel expects for version 3 (two data
    // structs); both live across the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
