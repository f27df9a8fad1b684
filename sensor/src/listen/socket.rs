//! One mirror socket: an ordinary UDP endpoint that a cloud mirror or a VTEP sends to. No
//! libpcap, no promiscuous mode, no privileges (below port 1024 aside).
//!
//! Datagrams are read with `recvmsg` so the kernel's count of datagrams dropped at a full
//! receive queue (`SO_RXQ_OVFL`, a cumulative counter in a control message) comes with them.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

use crate::decode::UdpTunnel;

/// Largest UDP payload (65535 minus the IPv4 and UDP headers).
pub const MAX_DATAGRAM_BYTES: usize = 65_507;

/// Counters of one socket.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SocketStats {
    /// Where it listens, `vxlan:0.0.0.0:4789`.
    pub name: String,
    /// Datagrams received.
    pub datagrams: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Datagrams the kernel dropped because the receive queue was full (`SO_RXQ_OVFL`).
    pub socket_drops: u64,
    /// Datagrams larger than the receive buffer (cut, counted, decoded as truncated).
    pub truncated: u64,
    /// Receive buffer asked for (`--rcvbuf-bytes`), bytes.
    pub rcvbuf_requested_bytes: u64,
    /// Receive buffer the kernel granted (`SO_RCVBUF` read back), bytes: Linux doubles the
    /// value asked for, keeping half for its own bookkeeping.
    pub rcvbuf_bytes: u64,
}

/// A bound, non-blocking mirror socket.
pub struct MirrorSocket {
    sock: UdpSocket,
    /// Tunnel type of every datagram.
    pub kind: UdpTunnel,
    /// The bound address: the outer destination of every datagram.
    pub local: SocketAddr,
    /// Its counters.
    pub stats: SocketStats,
}

/// `setsockopt` of an int option.
fn set_int(fd: i32, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: `v` is a valid c_int for the duration of the call, its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `getsockopt` of an int option.
fn get_int(fd: i32, level: i32, name: i32) -> io::Result<i32> {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes of the sizes given.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut i32).cast(), &mut len) };
    if rc == 0 {
        Ok(v)
    } else {
        Err(io::Error::last_os_error())
    }
}

impl MirrorSocket {
    /// Bind `addr` for tunnel type `kind` with a receive buffer of about `rcvbuf_bytes`
    /// (`SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF` capped by `net.core.rmem_max`).
    pub fn bind(
        kind: UdpTunnel,
        name: &str,
        addr: SocketAddr,
        rcvbuf_bytes: usize,
    ) -> io::Result<Self> {
        let sock = UdpSocket::bind(addr)?;
        sock.set_nonblocking(true)?;
        let fd = sock.as_raw_fd();
        let want = i32::try_from(rcvbuf_bytes).unwrap_or(i32::MAX);
        if set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, want).is_err() {
            set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, want)?;
        }
        set_int(fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1)?;
        let granted = get_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap_or(0);
        let local = sock.local_addr()?;
        Ok(MirrorSocket {
            sock,
            kind,
            local,
            stats: SocketStats {
                name: format!("{name}:{local}"),
                rcvbuf_requested_bytes: u64::try_from(want).unwrap_or(0),
                rcvbuf_bytes: u64::try_from(granted).unwrap_or(0),
                ..SocketStats::default()
            },
        })
    }

    /// The file descriptor, for `poll`.
    pub fn fd(&self) -> i32 {
        self.sock.as_raw_fd()
    }

    /// Receive one datagram into `buf`: its length and sender, or None when none is waiting.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        let mut addr: MaybeUninit<libc::sockaddr_storage> = MaybeUninit::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // Room for one u32 control message (SO_RXQ_OVFL), aligned.
        let mut control = [0u64; 8];
        // SAFETY: an all-zero msghdr is a valid value; the fields are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = addr.as_mut_ptr().cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` points to live buffers of the lengths given.
        let n = unsafe { libc::recvmsg(self.fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let n = n as usize;
        // SAFETY: the kernel filled `msg_controllen` bytes of `control` with well-formed
        // cmsg headers; the CMSG macros walk them within that length.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_RXQ_OVFL {
                    let drops = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<u32>());
                    // A cumulative count since the socket was opened.
                    self.stats.socket_drops = u64::from(drops);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if msg.msg_flags & libc::MSG_TRUNC != 0 {
            self.stats.truncated += 1;
        }
        self.stats.datagrams += 1;
        self.stats.bytes += n as u64;
        // SAFETY: recvmsg wrote a sockaddr of `msg_namelen` bytes into `addr`.
        let from = unsafe { sockaddr_to(addr.assume_init_ref(), msg.msg_namelen) };
        Ok(Some((n.min(buf.len()), from.unwrap_or(self.local))))
    }
}

/// A `sockaddr_storage` as a `SocketAddr`.
fn sockaddr_to(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
