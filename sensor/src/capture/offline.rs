//! Offline capture: classic pcap files through libpcap, pcapng files through our own reader
//! ([`super::pcapng`]: a link type per interface, several sections in either byte order,
//! timestamp resolution and offset, decryption secrets), several files merged in timestamp
//! order.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pcap::{Capture, Offline};

use super::pcapng::{DecryptionSecrets, PcapNgFile, Step, PCAPNG_MAGIC};
use super::PacketRef;
use crate::decode::{LinkType, UnsupportedLinkType};

/// The read position of a file is taken (one `ftell`) once per this many of its packets,
/// and at its end: often enough for a progress bar, rare enough to cost nothing.
const POSITION_EVERY_PACKETS: u64 = 4096;

/// Why a capture file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or is not a pcap/pcapng file.
    #[error("cannot open {path}: {reason}; check the path and that it is a pcap or pcapng file")]
    Open {
        /// The file.
        path: PathBuf,
        /// libpcap's message.
        reason: String,
    },
    /// The file's link type is not one apitap decodes.
    #[error("{path}: {source}")]
    LinkType {
        /// The file.
        path: PathBuf,
        /// Which link type.
        source: UnsupportedLinkType,
    },
    /// The file is damaged after some packets; everything before was processed.
    #[error(
        "{path}: read error after packet {packets_read} ({reason}); the packets before it were \
         processed and their events written"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Packets read successfully before the damage (the damaged one is number `packets_read + 1`).
        packets_read: u64,
        /// libpcap's message.
        reason: String,
    },
}

/// What was read from one file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Packets read.
    pub packets: u64,
    /// Bytes of the file read so far: the reader's real offset in it (pcap and pcapng
    /// alike), taken every few thousand packets and at the end.
    pub file_bytes: u64,
    /// pcapng packets whose timestamp was out of range (before 1970, past what a signed
    /// 64-bit count of microseconds holds, or not computable from the interface's
    /// resolution): each took the time of the packet before it in the file.
    pub timestamps_out_of_range: u64,
    /// pcapng packets of interfaces whose link type apitap does not decode: skipped.
    pub unsupported_link_packets: u64,
}

/// What reads one file.
enum Reader {
    /// A classic pcap file, through libpcap.
    Libpcap {
        // Invariant: `cap` is declared before `_buffer`, so it is dropped (and its FILE
        // closed) before the stdio buffer it reads through is freed.
        cap: Capture<Offline>,
        /// The stdio buffer of `cap`'s FILE.
        _buffer: Box<[u8]>,
        link: LinkType,
    },
    /// A pcapng file, through our reader.
    PcapNg(Box<PcapNgFile>),
}

/// One open file and its look-ahead packet.
struct OpenFile {
    report: FileReport,
    reader: Reader,
    /// The next packet of this file, copied, when several files are merged.
    head: Option<Owned>,
}

/// A packet copied out of the reader's buffer.
struct Owned {
    ts_us: u64,
    link: LinkType,
    wire_len: u32,
    data: Vec<u8>,
}

impl Owned {
    /// The packet, borrowed.
    fn as_ref(&self) -> PacketRef<'_> {
        PacketRef {
            ts_us: self.ts_us,
            link: self.link,
            data: &self.data,
            wire_len: self.wire_len,
        }
    }
}

/// What [`OfflineSource::run_inputs`] hands over, in the order of each file.
#[derive(Debug)]
pub enum Input<'a> {
    /// A packet.
    Packet(PacketRef<'a>),
    /// A pcapng Decryption Secrets Block, before every packet that follows it in its file.
    Secrets(&'a DecryptionSecrets),
}

/// Several capture files read as one stream in timestamp order.
pub struct OfflineSource {
    files: Vec<OpenFile>,
    done: Vec<FileReport>,
    errors: Vec<CaptureError>,
    /// Every Decryption Secrets Block read so far, in reading order.
    secrets: Vec<DecryptionSecrets>,
    /// How many of `secrets` were handed to `run_inputs`' callback.
    secrets_handed: usize,
    /// Bytes read over every file: the sum of their `file_bytes`, for a progress bar.
    consumed: Arc<AtomicU64>,
}

/// Packet time in microseconds; times before the epoch clamp to 0.
#[inline]
fn ts_us(h: &pcap::PacketHeader) -> u64 {
    let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
    let usec = u64::try_from(h.ts.tv_usec).unwrap_or(0);
    sec.saturating_mul(1_000_000).saturating_add(usec)
}

/// stdio buffer for capture files. libpcap reads through `fread`, and glibc's default 4 KiB
/// buffer costs one `read` system call per 4 KiB (measured: docs/bench.md, "Allocator and
/// file buffer").
const FILE_BUFFER_BYTES: usize = 1 << 20;

/// libpcap's error buffer size (`PCAP_ERRBUF_SIZE`).
const PCAP_ERRBUF_SIZE: usize = 256;

extern "C" {
    /// libpcap: open a savefile (pcap or pcapng) from an already open stdio stream, which it
    /// then owns (`pcap_close` closes it).
    fn pcap_fopen_offline(fp: *mut libc::FILE, errbuf: *mut libc::c_char) -> *mut std::ffi::c_void;
    /// libpcap: the stdio stream a savefile is read from.
    fn pcap_file(p: *mut std::ffi::c_void) -> *mut libc::FILE;
}

/// Where libpcap's reader is in its file: `ftell` of the stream, which counts what stdio has
/// handed out, not what it has buffered. None if the position cannot be told.
fn read_position(cap: &Capture<Offline>) -> Option<u64> {
    // SAFETY: the handle is a live savefile opened by `open_buffered`; `pcap_file` returns
    // its stream (owned by the handle, open while it lives) and `ftell` only reads it.
    let pos = unsafe {
        let fp = pcap_file(cap.as_ptr().cast());
        if fp.is_null() {
            return None;
        }
        libc::ftell(fp)
    };
    u64::try_from(pos).ok()
}

impl OpenFile {
    /// Take the reader's position into `report.file_bytes` and add what it moved to `consumed`.
    fn note_position(&mut self, consumed: &AtomicU64) {
        let pos = match &self.reader {
            Reader::Libpcap { cap, .. } => read_position(cap),
            Reader::PcapNg(f) => {
                let c = f.counters();
                self.report.timestamps_out_of_range = c.timestamps_out_of_range;
                self.report.unsupported_link_packets = c.unsupported_link_packets;
                Some(f.position())
            }
        };
        if let Some(pos) = pos {
            let moved = pos.saturating_sub(self.report.file_bytes);
            self.report.file_bytes = self.report.file_bytes.max(pos);
            consumed.fetch_add(moved, Ordering::Relaxed);
        }
    }

    /// Count a packet read; now and then, take the position.
    #[inline]
    fn count_packet(&mut self, consumed: &AtomicU64) {
        self.report.packets += 1;
        if self.report.packets % POSITION_EVERY_PACKETS == 0 {
            self.note_position(consumed);
        }
    }
}

/// Open a capture file through a large stdio buffer (libpcap's own `pcap_open_offline` would
/// use the default one). The buffer must outlive the capture (see [`OpenFile`]).
fn open_buffered(path: &Path) -> Result<(Capture<Offline>, Box<[u8]>), String> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "the path contains a NUL byte".to_string())?;
    let mut buf = vec![0u8; FILE_BUFFER_BYTES].into_boxed_slice();
    // SAFETY: plain libc/libpcap calls with valid, NUL-terminated arguments; every pointer is
    // checked before use. On success the FILE is owned by the pcap handle, which the returned
    // `Capture` closes exactly once on drop, and `buf` is returned to be kept alive as long.
    unsafe {
        let fp = libc::fopen(c_path.as_ptr(), c"rb".as_ptr());
        if fp.is_null() {
            return Err(std::io::Error::last_os_error().to_string());
        }
        // Before any I/O on the stream, as setvbuf requires; a failure only costs speed. glibc
        // ignores the size when it allocates the buffer itself, so we supply it.
        let _ = libc::setvbuf(fp, buf.as_mut_ptr().cast(), libc::_IOFBF, buf.len());
        let mut errbuf = [0 as libc::c_char; PCAP_ERRBUF_SIZE];
        let handle = pcap_fopen_offline(fp, errbuf.as_mut_ptr());
        match std::ptr::NonNull::new(handle.cast()) {
            Some(h) => Ok((Capture::from(h), buf)),
            None => {
                libc::fclose(fp);
                Err(std::ffi::CStr::from_ptr(errbuf.as_ptr())
                    .to_string_lossy()
                    .into_owned())
            }
        }
    }
}

/// True when `path` starts like a pcapng file.
fn is_pcapng(path: &Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path)?;
    let n = std::io::Read::read(&mut f, &mut magic)?;
    Ok(n == magic.len() && magic == PCAPNG_MAGIC)
}

/// Open `path` and check its link type (a pcapng file: that one of the interfaces described
/// before its first packet is decodable); the secrets before its first packet.
fn open(path: &Path) -> Result<(OpenFile, Vec<DecryptionSecrets>), CaptureError> {
    let open_error = |reason: String| CaptureError::Open {
        path: path.to_owned(),
        reason,
    };
    let report = FileReport {
        path: path.to_owned(),
        ..FileReport::default()
    };
    if is_pcapng(path).map_err(|e| open_error(e.to_string()))? {
        let mut f = PcapNgFile::open(path).map_err(|e| open_error(e.to_string()))?;
        let secrets = f.read_preamble().map_err(open_error)?;
        let first = f.interfaces().next();
        if let Some((dlt, _)) = first.filter(|_| f.interfaces().all(|(_, l)| l.is_none())) {
            return Err(CaptureError::LinkType {
                path: path.to_owned(),
                source: UnsupportedLinkType {
                    dlt: i32::try_from(dlt).unwrap_or(i32::MAX),
                    name: None,
                },
            });
        }
        let file = OpenFile {
            report,
            reader: Reader::PcapNg(Box::new(f)),
            head: None,
        };
        return Ok((file, secrets));
    }
    let (cap, buffer) = open_buffered(path).map_err(open_error)?;
    let dlt = cap.get_datalink();
    let link = LinkType::from_dlt(dlt.0).ok_or_else(|| CaptureError::LinkType {
        path: path.to_owned(),
        source: UnsupportedLinkType {
            dlt: dlt.0,
            name: dlt.get_name().ok(),
        },
    })?;
    let file = OpenFile {
        report,
        reader: Reader::Libpcap {
            cap,
            _buffer: buffer,
            link,
        },
        head: None,
    };
    Ok((file, Vec::new()))
}

/// Outcome of asking one file for its next packet.
enum Next<'a> {
    Packet(PacketRef<'a>),
    Secrets(DecryptionSecrets),
    End,
    Damaged(String),
}

/// Read the next packet (or secrets) of a file, folding each reader's end and error cases.
fn next(reader: &mut Reader) -> Next<'_> {
    match reader {
        Reader::Libpcap { cap, link, .. } => match cap.next_packet() {
            Ok(p) => Next::Packet(PacketRef {
                ts_us: ts_us(p.header),
                link: *link,
                data: p.data,
                wire_len: p.header.len,
            }),
            Err(pcap::Error::NoMorePackets) => Next::End,
            Err(e) => Next::Damaged(e.to_string()),
        },
        Reader::PcapNg(f) => match f.advance() {
            Ok(Step::Packet(p)) => Next::Packet(PacketRef {
                ts_us: p.ts_us,
                link: p.link,
                data: f.bytes().get(p.start..p.start + p.len).unwrap_or_default(),
                wire_len: p.wire_len,
            }),
            Ok(Step::Secrets(s)) => Next::Secrets(s),
            Ok(Step::End) => Next::End,
            Err(e) => Next::Damaged(e),
        },
    }
}

impl OfflineSource {
    /// Open every file; fails on the first file that cannot be opened, before anything is read.
    pub fn open(paths: &[PathBuf]) -> Result<OfflineSource, CaptureError> {
        let mut files = Vec::with_capacity(paths.len());
        let mut secrets = Vec::new();
        for p in paths {
            let (file, found) = open(p)?;
            files.push(file);
            secrets.extend(found);
        }
        Ok(OfflineSource {
            files,
            done: Vec::new(),
            errors: Vec::new(),
            secrets,
            secrets_handed: 0,
            consumed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Every pcapng Decryption Secrets Block read so far: after `open`, those before each
    /// file's first packet (where `editcap --inject-secrets` puts them); after `run`, all.
    pub fn secrets(&self) -> &[DecryptionSecrets] {
        &self.secrets
    }

    /// Bytes read so far over every file, updated while `run` reads (every few thousand
    /// packets and at the end of each file): a progress bar's position.
    pub fn progress(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.consumed)
    }

    /// Total size of the files on disk, for a progress bar.
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| std::fs::metadata(&f.report.path).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Read every packet of every file in timestamp order (ties: command-line order) and hand it
    /// to `on_packet`, which returns `false` to stop early. Damaged files are recorded and
    /// reading continues with the others. Secrets are kept ([`OfflineSource::secrets`]).
    pub fn run(&mut self, mut on_packet: impl FnMut(PacketRef<'_>) -> bool) {
        self.run_inputs(|input| match input {
            Input::Packet(p) => on_packet(p),
            Input::Secrets(_) => true,
        });
    }

    /// [`OfflineSource::run`], with the decryption secrets of pcapng files handed over too:
    /// first those read by `open`, then each one before the packets that follow it in its
    /// file.
    pub fn run_inputs(&mut self, mut on_input: impl FnMut(Input<'_>) -> bool) {
        if !self.hand_secrets(&mut on_input) {
            return self.stop();
        }
        // Fill the look-ahead of every file while more than one is open.
        let mut i = 0;
        while i < self.files.len() && self.files.len() > 1 {
            if self.refill(i) {
                i += 1;
            }
        }
        while self.files.len() > 1 {
            if !self.hand_secrets(&mut on_input) {
                return self.stop();
            }
            let Some(i) = self.earliest() else { break };
            let f = &mut self.files[i];
            let Some(p) = f.head.take() else { break };
            if !on_input(Input::Packet(p.as_ref())) {
                return self.stop();
            }
            self.refill(i);
        }
        if !self.hand_secrets(&mut on_input) {
            return self.stop();
        }
        if let Some(f) = self.files.pop() {
            self.run_last(f, &mut on_input);
        }
    }

    /// One file left: read straight from the reader's buffer, no copy.
    fn run_last(&mut self, mut f: OpenFile, on_input: &mut impl FnMut(Input<'_>) -> bool) {
        if let Some(p) = f.head.take() {
            if !on_input(Input::Packet(p.as_ref())) {
                self.files.push(f);
                return self.stop();
            }
        }
        loop {
            // Before the read: the packet borrows the reader until the callback returns.
            if f.report.packets % POSITION_EVERY_PACKETS == 0 {
                f.note_position(&self.consumed);
            }
            match next(&mut f.reader) {
                Next::Packet(pkt) => {
                    f.report.packets += 1;
                    if !on_input(Input::Packet(pkt)) {
                        break;
                    }
                }
                Next::Secrets(s) => {
                    self.secrets.push(s);
                    if !self.hand_secrets(on_input) {
                        break;
                    }
                }
                Next::End => break,
                Next::Damaged(reason) => {
                    self.damaged(&f.report, reason);
                    break;
                }
            }
        }
        f.note_position(&self.consumed);
        self.done.push(f.report);
    }

    /// Hands the secrets read and not yet handed to the callback; false when it said stop.
    fn hand_secrets(&mut self, on_input: &mut impl FnMut(Input<'_>) -> bool) -> bool {
        while let Some(s) = self.secrets.get(self.secrets_handed) {
            self.secrets_handed += 1;
            if !on_input(Input::Secrets(s)) {
                return false;
            }
        }
        true
    }

    /// Index of the file whose look-ahead packet is earliest.
    fn earliest(&self) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, f) in self.files.iter().enumerate() {
            if let Some(h) = &f.head {
                if best.is_none_or(|(_, t)| h.ts_us < t) {
                    best = Some((i, h.ts_us));
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// Load the next packet of file `i` into its look-ahead; when the file is finished (or
    /// damaged) it is retired and `false` is returned (index `i` now names another file).
    fn refill(&mut self, i: usize) -> bool {
        let f = &mut self.files[i];
        let outcome = loop {
            match next(&mut f.reader) {
                Next::Packet(p) => {
                    let owned = Owned {
                        ts_us: p.ts_us,
                        link: p.link,
                        wire_len: p.wire_len,
                        data: p.data.to_vec(),
                    };
                    f.head = Some(owned);
                    f.count_packet(&self.consumed);
                    break None;
                }
                // Handed over before the next packet is taken from any file.
                Next::Secrets(s) => self.secrets.push(s),
                Next::End => break Some(None),
                Next::Damaged(reason) => break Some(Some(reason)),
            }
        };
        match outcome {
            None => true,
            Some(damage) => {
                let mut f = self.files.remove(i);
                f.note_position(&self.consumed);
                if let Some(reason) = damage {
                    self.damaged(&f.report, reason);
                }
                self.done.push(f.report);
                false
            }
        }
    }

    /// Record that a file is damaged after the packets read so far.
    fn damaged(&mut self, report: &FileReport, reason: String) {
        self.errors.push(CaptureError::Damaged {
            path: report.path.clone(),
            packets_read: report.packets,
            reason,
        });
    }

    /// Stop early: retire every file as it stands.
    fn stop(&mut self) {
        for mut f in self.files.drain(..) {
            f.note_position(&self.consumed);
            self.done.push(f.report);
        }
    }

    /// Per-file reports, once `run` has returned.
    pub fn reports(&self) -> &[FileReport] {
        &self.done
    }

    /// Packets read so far over all files.
    pub fn packets_read(&self) -> u64 {
        self.done
            .iter()
            .chain(self.files.iter().map(|f| &f.report))
            .map(|r| r.packets)
            .sum()
    }

    /// Damaged files met during `run`.
    pub fn take_errors(&mut self) -> Vec<CaptureError> {
        std::mem::take(&mut self.errors)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use pcap_file::pcap::PcapReader;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;

    use super::*;

    /// A fixture capture.
    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures")
            .join(rel)
    }

    /// The packets of a classic pcap rewritten as pcapng (one interface): the same packets,
    /// record headers of another size.
    fn as_pcapng(pcap: &Path, out: &Path) {
        let mut reader = PcapReader::new(std::fs::File::open(pcap).unwrap()).unwrap();
        let linktype = reader.header().datalink;
        let mut w = PcapNgWriter::new(std::fs::File::create(out).unwrap()).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype,
            snaplen: 0,
            options: vec![],
        })
        .unwrap();
        while let Some(p) = reader.next_packet() {
            let p = p.unwrap();
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_micros(p.timestamp.as_micros() as u64),
                original_len: p.orig_len,
                data: Cow::Borrowed(&p.data),
                options: vec![],
            })
            .unwrap();
        }
    }

    /// Read `files` to the end; the reports and the progress counter.
    fn read_all(files: &[PathBuf]) -> (Vec<FileReport>, u64) {
        let mut src = OfflineSource::open(files).unwrap();
        let progress = src.progress();
        src.run(|_| true);
        assert!(src.take_errors().is_empty());
        (src.reports().to_vec(), progress.load(Ordering::Relaxed))
    }

    fn size(p: &Path) -> u64 {
        std::fs::metadata(p).unwrap().len()
    }

    /// The progress bar's position is the reader's own: at the end it is the file's size,
    /// whatever the format's record headers (16 bytes in pcap, 28 and padding in pcapng).
    #[test]
    fn bytes_read_reach_the_file_size_for_pcap_and_pcapng() {
        let pcap = fixture("local/nginx-curl.pcap");
        let dir = std::env::temp_dir().join(format!("apitap-offline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pcapng = dir.join("nginx-curl.pcapng");
        as_pcapng(&pcap, &pcapng);
        for path in [&pcap, &pcapng] {
            let (reports, progress) = read_all(std::slice::from_ref(path));
            assert_eq!(reports[0].file_bytes, size(path), "{}", path.display());
            assert_eq!(progress, size(path), "{}", path.display());
        }
        // Merged: the sum over the files.
        let (reports, progress) = read_all(&[pcap.clone(), pcapng.clone()]);
        assert_eq!(reports.len(), 2);
        assert_eq!(progress, size(&pcap) + size(&pcapng));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The key log that `editcap --inject-secrets` put in a Decryption Secrets Block is there
    /// after `open`, before any packet, and `run_inputs` hands it over before the packets.
    #[test]
    fn decryption_secrets_are_exposed() {
        let keylog = std::fs::read_to_string(fixture("tls/tls13-nosni-h1.keylog")).unwrap();
        let mut src = OfflineSource::open(&[fixture("pcapng/tls13-with-secrets.pcapng")]).unwrap();
        let texts: Vec<_> = src.secrets().iter().map(|s| s.tls_key_log()).collect();
        assert_eq!(texts, [Some(keylog.as_str())]);
        let mut order = Vec::new();
        src.run_inputs(|input| {
            order.push(matches!(input, Input::Secrets(_)));
            true
        });
        assert_eq!(order.len(), 17);
        assert!(order[0] && order[1..].iter().all(|s| !s), "secrets first");
        assert_eq!(src.secrets().len(), 1);
    }
}
