//! `apitap listen`: the UDP mirror listener. Cloud traffic mirrors (AWS VPC Traffic Mirroring
//! and Azure vTAP over VXLAN, AWS Gateway Load Balancer over GENEVE) send to an ordinary UDP
//! endpoint; this receives them on plain sockets and feeds the same pipeline as replay.

mod args;
mod run;
mod socket;

pub use args::ListenArgs;
pub use run::run;
pub use socket::{MirrorSocket, SocketStats, MAX_DATAGRAM_BYTES};
