//! UDP mirror sockets for `apitap listen` (`cmd/listen.rs`): cloud traffic mirrors send
//! VXLAN or GENEVE to an ordinary UDP endpoint.

mod socket;

pub use socket::{MirrorSocket, SocketStats, MAX_DATAGRAM_BYTES};
