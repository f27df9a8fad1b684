//! Errors of the generator.

/// What can go wrong while generating a capture.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A flag has a value the generator cannot honour.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Writing the pcap failed (disk full, closed pipe...).
    #[error("writing the pcap failed: {0}")]
    Pcap(#[from] pcap_file::PcapError),
    /// The truth file could not be written.
    #[error("writing the truth file failed: {0}")]
    Truth(String),
    /// Serialising a frame failed; a bug in the generator, please report it.
    #[error("building a frame failed (generator bug): {0}")]
    Frame(String),
}
