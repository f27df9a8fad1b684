//! JSON lines: one record per line, to any writer (stdout, a file, a pipe).

use std::io::Write;

use crate::{EventMeta, ExportError, ExportStats, Exporter};

/// Writes each record followed by `\n`. The caller chooses buffering (wrap the writer in a
/// `BufWriter`); `flush` flushes the writer.
pub struct JsonLinesExporter<W: Write> {
    out: W,
    stats: ExportStats,
}

impl<W: Write> JsonLinesExporter<W> {
    /// An exporter writing to `out`.
    pub fn new(out: W) -> Self {
        JsonLinesExporter {
            out,
            stats: ExportStats::default(),
        }
    }

    /// The writer back, e.g. to inspect it in tests.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> JsonLinesExporter<W> {
    /// Write one record made of `parts`, then its newline.
    fn write_record(&mut self, parts: [&[u8]; 2]) -> Result<(), ExportError> {
        debug_assert!(
            !parts.iter().any(|p| p.contains(&b'\n')),
            "a JSON record must be one line"
        );
        self.stats.offered += 1;
        let r = self
            .out
            .write_all(parts[0])
            .and_then(|()| self.out.write_all(parts[1]))
            .and_then(|()| self.out.write_all(b"\n"));
        match r {
            Ok(()) => {
                self.stats.records += 1;
                self.stats.delivered += 1;
                self.stats.bytes += (parts[0].len() + parts[1].len()) as u64;
                Ok(())
            }
            Err(e) => {
                self.stats.failed += 1;
                Err(e.into())
            }
        }
    }
}

impl<W: Write + Send> Exporter for JsonLinesExporter<W> {
    fn export(&mut self, _meta: EventMeta<'_>, json: &[u8]) -> Result<(), ExportError> {
        self.write_record([json, &[]])
    }

    /// Straight into the writer: the parts are never copied together.
    fn export_parts(
        &mut self,
        _meta: EventMeta<'_>,
        head: &[u8],
        tail: &[u8],
    ) -> Result<(), ExportError> {
        self.write_record([head, tail])
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(self.out.flush()?)
    }

    fn flush_buffered(&mut self) -> Result<(), ExportError> {
        Ok(self.out.flush()?)
    }

    fn stats(&self) -> &ExportStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_per_record() {
        let mut e = JsonLinesExporter::new(Vec::new());
        let meta = EventMeta {
            kind: "http",
            key: None,
        };
        e.export(meta, br#"{"a":1}"#).unwrap();
        e.export(meta, br#"{"b":2}"#).unwrap();
        assert_eq!(e.stats().records, 2);
        assert_eq!(e.stats().bytes, 14);
        assert_eq!(e.into_inner(), b"{\"a\":1}\n{\"b\":2}\n");
    }

    /// A record in two parts is written and counted as the joined record would be.
    #[test]
    fn parts_are_written_as_one_record() {
        let meta = EventMeta {
            kind: "http",
            key: None,
        };
        let mut joined = JsonLinesExporter::new(Vec::new());
        joined.export(meta, br#"{"a":1,"b":2}"#).unwrap();
        let mut parts = JsonLinesExporter::new(Vec::new());
        parts
            .export_parts(meta, br#"{"a":1"#, br#","b":2}"#)
            .unwrap();
        assert_eq!(parts.stats(), joined.stats());
        assert_eq!(parts.into_inner(), joined.into_inner());
    }

    #[test]
    fn write_failure_is_counted() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "closed",
                ))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut e = JsonLinesExporter::new(Broken);
        assert!(e
            .export(
                EventMeta {
                    kind: "http",
                    key: None
                },
                b"{}"
            )
            .is_err());
        assert_eq!(e.stats().failed, 1);
        assert_eq!(e.stats().records, 0);
    }
}
