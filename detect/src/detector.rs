//! The detector: built once from config, then [`Detector::scan`] per request.
//!
//! Per request: allow rules that cover the request's endpoint and client are picked; the
//! request is taken apart into values (`fields`, `body`); each value, up to the bounds, is
//! checked by the prefilter, normalised, and read by the rules of the classes its kind and its
//! triggers select; each hit becomes a [`Finding`] unless an allow rule drops it or it repeats
//! one already made (same class, rule and location).

use crate::allow::Allow;
use crate::body;
use crate::config::{DetectConfig, DetectConfigError};
use crate::fields::{self, Kind, Name, Sink};
use crate::finding::{evidence, Class, ClassSet, Finding};
use crate::normalize::normalize;
use crate::prefilter::{is_plain, Prefilter};
use crate::request::Request;
use crate::rules::{
    cmdi, jndi, nosqli, scanner, sqli, ssrf, ssti, traversal, xss, xxe, Hit, Value,
};

/// What one scan did, for metrics; every bound that was reached shows here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Values read by the rules (after the plain-value fast path, which counts too).
    pub values: u32,
    /// Values longer than `max_value_bytes`, of which only the first bytes were read.
    pub values_cut: u32,
    /// Whether `max_fields` or `max_request_scan_bytes` stopped the scan before the end of the
    /// request (the rest was not read).
    pub stopped_at_bound: bool,
    /// Findings beyond `max_findings`, not reported.
    pub findings_dropped: u32,
    /// Findings an allow rule dropped (a whole request allowed counts as 0 findings).
    pub findings_allowed: u32,
    /// Whether an allow rule covered the whole request, which was then not scanned.
    pub request_allowed: bool,
}

/// The attack detector. Built once from config; `Send + Sync`, shared by worker threads.
pub struct Detector {
    enabled: bool,
    paranoia: u8,
    classes: ClassSet,
    max_value_bytes: usize,
    max_request_scan_bytes: usize,
    max_fields: usize,
    max_findings: usize,
    allow: Vec<Allow>,
    prefilter: Prefilter,
    /// Off only in the differential tests: every class of a kind reads every value, no fast
    /// path, no triggers (the slow twin the prefilter is checked against).
    prefilter_on: bool,
    rules: Rules,
}

/// The compiled rules of every class.
struct Rules {
    sqli: sqli::Sqli,
    xss: xss::Xss,
    traversal: traversal::Traversal,
    cmdi: cmdi::Cmdi,
    nosqli: nosqli::Nosqli,
    ssti: ssti::Ssti,
    scanner: scanner::Scanner,
}

impl Rules {
    /// The first hit of `class`'s rules on `v`.
    fn detect(&self, class: Class, v: &Value<'_>, level: u8) -> Option<Hit> {
        match class {
            Class::Sqli => self.sqli.detect(v, level),
            Class::Xss => self.xss.detect(v, level),
            Class::Traversal => self.traversal.detect(v, level),
            Class::Cmdi => self.cmdi.detect(v, level),
            Class::Ssrf => ssrf::Ssrf.detect(v, level),
            Class::Jndi => jndi::Jndi.detect(v, level),
            Class::Xxe => xxe::Xxe.detect(v, level),
            Class::Nosqli => self.nosqli.detect(v, level),
            Class::Ssti => self.ssti.detect(v, level),
            Class::Scanner => self.scanner.detect(v, level),
            Class::Protocol => None,
        }
    }
}

/// The classes that read a value of each kind.
fn kind_classes(kind: Kind) -> ClassSet {
    use Class::*;
    let list: &[Class] = match kind {
        Kind::PathWhole => &[Traversal, Scanner],
        Kind::PathSegment => &[Sqli, Xss, Cmdi, Jndi, Ssti],
        Kind::ParamName => &[Sqli, Xss, Jndi, Nosqli],
        Kind::JsonKey => &[Sqli, Xss, Jndi, Nosqli],
        Kind::Value | Kind::TextBody => &[
            Sqli, Xss, Traversal, Cmdi, Ssrf, Jndi, Xxe, Nosqli, Ssti, Scanner,
        ],
        Kind::UserAgent => &[Scanner, Jndi, Sqli, Xss, Cmdi, Ssti],
        Kind::StructuredHeader => &[Jndi, Scanner],
        Kind::HeaderName => &[Scanner],
        Kind::XmlBody => &[Xxe, Jndi],
    };
    list.iter().copied().collect()
}

/// Classes that read a plain value (letters, digits, `_.,@-`): tool markers, and for values
/// with a dot, callback domains, bare hosts and file names (`.htaccess`). A plain value
/// without a dot (numbers, words, ids, dates) is read by nothing, unless it is a command name
/// never used as an ordinary value (`whoami`).
fn plain_classes(kind: Kind, raw: &[u8]) -> ClassSet {
    let dotted = memchr::memchr(b'.', raw).is_some();
    let mut set = ClassSet::EMPTY;
    if dotted || matches!(kind, Kind::UserAgent | Kind::HeaderName | Kind::PathWhole) {
        set = set.with(Class::Scanner);
    }
    if dotted {
        set = set.with(Class::Ssrf).with(Class::Traversal);
    }
    if cmdi::is_bare_command(raw) {
        set = set.with(Class::Cmdi);
    }
    set
}

/// Classes that read a value whatever its triggers (their own matching is the prefilter).
fn untriggered_classes(kind: Kind) -> ClassSet {
    match kind {
        Kind::UserAgent | Kind::HeaderName | Kind::PathWhole => {
            ClassSet::EMPTY.with(Class::Scanner)
        }
        Kind::JsonKey | Kind::ParamName => ClassSet::EMPTY.with(Class::Nosqli),
        _ => ClassSet::EMPTY,
    }
}

impl Detector {
    /// Builds the detector; fails with the first invalid setting.
    pub fn new(cfg: &DetectConfig) -> Result<Detector, DetectConfigError> {
        cfg.validate()?;
        let classes = Class::ALL
            .into_iter()
            .filter(|c| cfg.classes.is_on(*c))
            .collect();
        Ok(Detector {
            enabled: cfg.enabled,
            paranoia: cfg.paranoia,
            classes,
            max_value_bytes: cfg.max_value_bytes,
            max_request_scan_bytes: cfg.max_request_scan_bytes,
            max_fields: cfg.max_fields,
            max_findings: cfg.max_findings,
            allow: cfg.allow.iter().map(Allow::new).collect(),
            prefilter: Prefilter::new(),
            prefilter_on: true,
            rules: Rules {
                sqli: sqli::Sqli::new(),
                xss: xss::Xss::new(),
                traversal: traversal::Traversal::new(),
                cmdi: cmdi::Cmdi::new(),
                nosqli: nosqli::Nosqli::new(),
                ssti: ssti::Ssti::new(),
                scanner: scanner::Scanner::new(),
            },
        })
    }

    /// Scans one request; appends its findings (deduplicated, at most `max_findings`) to `out`
    /// and says what the scan did.
    pub fn scan(&self, req: &Request<'_>, out: &mut Vec<Finding>) -> ScanReport {
        let mut report = ScanReport::default();
        if !self.enabled || self.classes.is_empty() {
            return report;
        }
        let allow: Vec<&Allow> = self
            .allow
            .iter()
            .filter(|a| a.covers_request(req.endpoint, req.client))
            .collect();
        if allow.iter().any(|a| a.covers_everything()) {
            report.request_allowed = true;
            return report;
        }
        let mut sink = ScanSink {
            det: self,
            allow: &allow,
            out,
            first: 0,
            report: &mut report,
            bytes: 0,
        };
        sink.first = sink.out.len();
        let _ = fields::target(req.target, &mut sink)
            && fields::headers(req.headers, &mut sink)
            && (req.body.is_empty() || {
                let ct = req.header("content-type");
                body::read(body::body_type(ct, req.body), ct, req.body, &mut sink)
            });
        report
    }

    /// The same detector without its prefilter: every class a value's kind allows reads it.
    #[cfg(test)]
    pub(crate) fn without_prefilter(mut self) -> Detector {
        self.prefilter_on = false;
        self
    }

    /// Reads one value: prefilter, normalisation, then the rules of the classes its kind and
    /// triggers select; `hits` gets each class's first hit with the normalised value.
    fn scan_value(
        &self,
        kind: Kind,
        name: &Name<'_>,
        raw: &[u8],
        hits: &mut dyn FnMut(Class, Hit, &[u8]),
    ) {
        let mut classes = kind_classes(kind).and(self.classes);
        let plain = self.prefilter_on && is_plain(raw);
        if plain {
            classes = classes.and(plain_classes(kind, raw));
            if classes.is_empty() {
                return;
            }
        }
        let norm = if plain {
            raw.to_vec()
        } else {
            normalize(raw).bytes
        };
        let lower = norm.to_ascii_lowercase();
        let triggered = if self.prefilter_on {
            ClassSet(self.prefilter.triggers(&lower).0 | untriggered_classes(kind).0)
        } else {
            classes
        };
        let run = classes.and(triggered);
        if run.is_empty() {
            return;
        }
        let name_part = last_name_part(name);
        let v = Value {
            kind,
            name: &name_part,
            norm: &norm,
            lower: &lower,
        };
        for class in Class::ALL {
            if run.contains(class) {
                if let Some(hit) = self.rules.detect(class, &v, self.paranoia) {
                    hits(class, hit, &norm);
                }
            }
        }
    }
}

/// The last part of a value's name, for rules that read names (`/a/webhook_url` -> `webhook_url`).
fn last_name_part(name: &Name<'_>) -> Vec<u8> {
    match name {
        Name::Query(n) => n.to_vec(),
        Name::Header(h) => h.as_bytes().to_vec(),
        Name::Cookie(c) => c.to_vec(),
        Name::Body(p) => p.rsplit(|b| *b == b'/').next().unwrap_or(p).to_vec(),
        Name::Path | Name::BodyWhole => Vec::new(),
    }
}

/// The name part of a location for allow rules: None for the path and the whole body.
fn allow_param<'n>(name: &'n Name<'_>) -> Option<std::borrow::Cow<'n, [u8]>> {
    match name {
        Name::Query(n) | Name::Body(n) => Some(std::borrow::Cow::Borrowed(n)),
        Name::Header(h) => Some(std::borrow::Cow::Owned(h.to_ascii_lowercase().into_bytes())),
        Name::Cookie(c) => Some(std::borrow::Cow::Borrowed(c)),
        Name::Path | Name::BodyWhole => None,
    }
}

/// Receives the values of one request and turns hits into findings.
struct ScanSink<'d, 'o> {
    det: &'d Detector,
    allow: &'d [&'d Allow],
    out: &'o mut Vec<Finding>,
    /// Index in `out` of this request's first finding.
    first: usize,
    report: &'o mut ScanReport,
    /// Value bytes read so far.
    bytes: usize,
}

impl Sink for ScanSink<'_, '_> {
    fn value(&mut self, kind: Kind, name: &Name<'_>, value: &[u8]) -> bool {
        if value.is_empty() {
            return true;
        }
        if self.report.values as usize >= self.det.max_fields
            || self.bytes >= self.det.max_request_scan_bytes
        {
            self.report.stopped_at_bound = true;
            return false;
        }
        self.report.values += 1;
        let raw = match value.get(..self.det.max_value_bytes) {
            Some(cut) if cut.len() < value.len() => {
                self.report.values_cut += 1;
                cut
            }
            _ => value,
        };
        self.bytes += raw.len();
        let det = self.det;
        det.scan_value(kind, name, raw, &mut |class, hit, norm| {
            self.finding(class, hit, name, norm)
        });
        true
    }
}

impl ScanSink<'_, '_> {
    fn finding(&mut self, class: Class, hit: Hit, name: &Name<'_>, norm: &[u8]) {
        let param = allow_param(name);
        if self
            .allow
            .iter()
            .any(|a| a.covers_finding(class, param.as_deref()))
        {
            self.report.findings_allowed += 1;
            return;
        }
        let location = name.location();
        let ours = self.out.get(self.first..).unwrap_or_default();
        if ours
            .iter()
            .any(|f| f.class == class && f.rule == hit.rule && f.location == location)
        {
            return;
        }
        if ours.len() >= self.det.max_findings {
            self.report.findings_dropped += 1;
            return;
        }
        self.out.push(Finding {
            class,
            rule: hit.rule,
            location,
            evidence: evidence(norm, hit.start, hit.end),
        });
    }
}
