//! Record text as the store keeps it: one zstd frame per record, compressed with a dictionary
//! trained on the store's first records (docs/ui.md, "The store").
//!
//! A record is 1 to 2 KiB of JSON whose keys and most values repeat from record to record;
//! alone it compresses about 2x, with a dictionary of those repeats about 8x. The record text
//! is most of the bytes ingest writes (to the WAL, then to the database at each checkpoint),
//! so this is what keeps the writer's cost per record down. Lines are packed on the reader
//! thread, beside the writer's inserts.
//!
//! The frame names its dictionary (zstd's dictionary id; none until the store has one), and
//! the `dictionaries` table holds every dictionary a frame names: a frame is readable for as
//! long as the store is.

use std::collections::HashMap;

use zstd::bulk::{Compressor, Decompressor};

/// zstd level of record frames: the fastest of the standard levels; with a dictionary a
/// higher one gains about 10 % in size for twice the time on the reader thread.
const PACK_LEVEL: i32 = 1;

/// Records sampled to train the dictionary: about 1.5 MB of records, over 20 times the
/// dictionary's size (zstd's trainer wants tens to a hundred times).
const DICTIONARY_SAMPLE_RECORDS: usize = 1_000;

/// Bytes of one record taken as a sample; a huge body says little about the next records.
const DICTIONARY_SAMPLE_RECORD_BYTES: usize = 16 << 10;

/// Largest dictionary trained: keys and common values of a few record types fit in 64 KiB.
const DICTIONARY_MAX_BYTES: usize = 64 << 10;

/// Largest record text unpacked. A frame names its size; a damaged one naming more is an
/// error, not an allocation. Records are far smaller (bodies are cut at the sensor).
const MAX_RECORD_BYTES: u64 = 256 << 20;

/// Why a stored record cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// zstd could not set up a dictionary or a context.
    #[error("zstd: {0}")]
    Zstd(#[from] std::io::Error),
    /// A frame names a dictionary the store does not have.
    #[error("a stored record names zstd dictionary {0}, which the store does not hold; the store is damaged")]
    MissingDictionary(u32),
    /// A frame whose header does not say its size, or says more than `MAX_RECORD_BYTES` (256 MiB).
    #[error("a stored record is not a zstd frame of a known size; the store is damaged")]
    BadFrame,
    /// The text is not UTF-8 (it was JSON on the way in).
    #[error("a stored record is not UTF-8; the store is damaged")]
    NotText,
}

/// A trained dictionary, to be stored (in the same transaction) before the first record
/// packed with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dictionary {
    /// zstd's dictionary id, as frames name it.
    pub id: u32,
    /// The dictionary.
    pub bytes: Vec<u8>,
}

/// Where the packer is with its dictionary.
enum Training {
    /// Collecting samples: concatenated records and each one's length.
    Sampling { data: Vec<u8>, sizes: Vec<usize> },
    /// Trained, loaded from the store, or given up (too few distinct samples): no more tries.
    Done,
}

/// Packs record text into frames; trains the dictionary when the store has none. One per
/// thread that packs.
pub struct Packer {
    compressor: Compressor<'static>,
    training: Training,
    /// A dictionary trained and not yet handed out with a record.
    fresh: Option<Dictionary>,
}

impl Packer {
    /// A packer with the store's dictionary, or one that trains a dictionary from the first
    /// records when the store has none.
    pub fn new(dictionary: Option<&[u8]>) -> Result<Packer, CodecError> {
        Ok(match dictionary {
            Some(d) => Packer {
                compressor: Compressor::with_dictionary(PACK_LEVEL, d)?,
                training: Training::Done,
                fresh: None,
            },
            None => Packer {
                compressor: Compressor::new(PACK_LEVEL)?,
                training: Training::Sampling {
                    data: Vec::new(),
                    sizes: Vec::new(),
                },
                fresh: None,
            },
        })
    }

    /// The record's frame, and the dictionary it was packed with when that is new (the
    /// writer stores it before the record).
    pub fn pack(&mut self, text: &[u8]) -> Result<(Vec<u8>, Option<Dictionary>), CodecError> {
        self.sample(text)?;
        let frame = self.compressor.compress(text)?;
        Ok((frame, self.fresh.take()))
    }

    /// Keep the record as a sample; with enough of them, train and switch to the dictionary.
    fn sample(&mut self, text: &[u8]) -> Result<(), CodecError> {
        let Training::Sampling { data, sizes } = &mut self.training else {
            return Ok(());
        };
        let cut = &text[..text.len().min(DICTIONARY_SAMPLE_RECORD_BYTES)];
        data.extend_from_slice(cut);
        sizes.push(cut.len());
        if sizes.len() < DICTIONARY_SAMPLE_RECORDS {
            return Ok(());
        }
        let trained = zstd::dict::from_continuous(data, sizes, DICTIONARY_MAX_BYTES);
        self.training = Training::Done;
        // Too few distinct samples to train on: records stay packed without a dictionary.
        let Ok(bytes) = trained else { return Ok(()) };
        let Some(id) = zstd::zstd_safe::get_dict_id_from_dict(&bytes) else {
            return Ok(());
        };
        self.compressor.set_dictionary(PACK_LEVEL, &bytes)?;
        self.fresh = Some(Dictionary {
            id: id.get(),
            bytes,
        });
        Ok(())
    }
}

/// Unpacks frames; keeps a context per dictionary met.
#[derive(Default)]
pub struct Unpacker {
    /// Dictionary id (0: none) → a context loaded with it.
    contexts: HashMap<u32, Decompressor<'static>>,
}

impl Unpacker {
    /// The text of a frame; `dictionary` looks a dictionary up by id when this unpacker has
    /// not met it yet.
    pub fn unpack(
        &mut self,
        frame: &[u8],
        dictionary: impl FnOnce(u32) -> Result<Option<Vec<u8>>, CodecError>,
    ) -> Result<String, CodecError> {
        let id = zstd::zstd_safe::get_dict_id_from_frame(frame).map_or(0, |id| id.get());
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(n)) if n <= MAX_RECORD_BYTES => n as usize,
            _ => return Err(CodecError::BadFrame),
        };
        let context = match self.contexts.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let d = if id == 0 {
                    Decompressor::new()?
                } else {
                    let bytes = dictionary(id)?.ok_or(CodecError::MissingDictionary(id))?;
                    Decompressor::with_dictionary(&bytes)?
                };
                e.insert(d)
            }
        };
        let text = context.decompress(frame, size)?;
        String::from_utf8(text).map_err(|_| CodecError::NotText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record like the store's: the same keys, values that vary.
    fn record(i: usize) -> String {
        format!(
            r#"{{"type":"http","ts":"2024-05-01T09:00:{:02}.{i:06}Z","conn_id":{i},"request":{{"method":"GET","path":"/api/v1/items/{}","headers":{{"user-agent":"Mozilla/5.0 (X11; Linux x86_64)","accept":"application/json"}}}},"response":{{"status":{},"body":"item {i} of the catalogue"}}}}"#,
            i % 60,
            i * 7919 % 10_007,
            [200, 404, 500][i % 3]
        )
    }

    fn unpack_with(u: &mut Unpacker, frame: &[u8], dict: &Option<Dictionary>) -> String {
        u.unpack(frame, |id| {
            Ok(dict
                .as_ref()
                .filter(|d| d.id == id)
                .map(|d| d.bytes.clone()))
        })
        .unwrap()
    }

    #[test]
    fn records_round_trip_before_and_after_the_dictionary_is_trained() {
        let mut p = Packer::new(None).unwrap();
        let mut u = Unpacker::default();
        let mut dict = None;
        let mut frames = Vec::new();
        for i in 0..DICTIONARY_SAMPLE_RECORDS + 50 {
            let (frame, fresh) = p.pack(record(i).as_bytes()).unwrap();
            if let Some(d) = fresh {
                assert!(dict.is_none(), "a dictionary is handed out once");
                assert_eq!(i, DICTIONARY_SAMPLE_RECORDS - 1, "trained on the samples");
                dict = Some(d);
            }
            frames.push(frame);
        }
        assert!(dict.is_some(), "a dictionary was trained");
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(unpack_with(&mut u, f, &dict), record(i));
        }
    }

    #[test]
    fn the_dictionary_packs_records_several_times_smaller() {
        let mut p = Packer::new(None).unwrap();
        let mut plain = 0;
        let mut packed = 0;
        for i in 0..DICTIONARY_SAMPLE_RECORDS + 100 {
            let r = record(i);
            let (frame, _) = p.pack(r.as_bytes()).unwrap();
            if i >= DICTIONARY_SAMPLE_RECORDS {
                plain += r.len();
                packed += frame.len();
            }
        }
        assert!(packed * 3 < plain, "{packed} bytes packed of {plain}");
    }

    #[test]
    fn a_store_s_dictionary_is_used_without_training_again() {
        let mut p = Packer::new(None).unwrap();
        let dict = (0..DICTIONARY_SAMPLE_RECORDS)
            .find_map(|i| p.pack(record(i).as_bytes()).unwrap().1)
            .unwrap();
        let mut again = Packer::new(Some(&dict.bytes)).unwrap();
        let (frame, fresh) = again.pack(record(5).as_bytes()).unwrap();
        assert_eq!(fresh, None);
        let id = zstd::zstd_safe::get_dict_id_from_frame(&frame).map(|i| i.get());
        assert_eq!(id, Some(dict.id), "the frame names the store's dictionary");
        assert_eq!(
            unpack_with(&mut Unpacker::default(), &frame, &Some(dict)),
            record(5)
        );
    }

    #[test]
    fn damaged_frames_and_missing_dictionaries_are_errors() {
        let mut u = Unpacker::default();
        let none = |_| Ok(None);
        assert!(matches!(
            u.unpack(b"not a frame", none),
            Err(CodecError::BadFrame)
        ));
        let mut p = Packer::new(None).unwrap();
        let dict = (0..DICTIONARY_SAMPLE_RECORDS)
            .find_map(|i| p.pack(record(i).as_bytes()).unwrap().1)
            .unwrap();
        let (frame, _) = p.pack(record(1).as_bytes()).unwrap();
        assert!(matches!(
            u.unpack(&frame, none),
            Err(CodecError::MissingDictionary(id)) if id == dict.id
        ));
        let cut = &frame[..frame.len() / 2];
        let got = u.unpack(cut, |_| Ok(Some(dict.bytes.clone())));
        assert!(got.is_err(), "a cut frame is an error, not a panic");
    }
}
