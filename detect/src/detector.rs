//! The detector: built once from config, then a [`Scanner`] per worker (or
//! [`Detector::scan`]) per request.
//!
//! Per request: allow rules that cover the request's endpoint and client are picked; the
//! request is taken apart into values (`fields`, `body`); each value, up to the bounds, is
//! checked by the prefilter, normalised, and read by the rules of the classes its kind and its
//! triggers select; each hit becomes a [`Finding`] unless an allow rule drops it or it repeats
//! one already made (same class, rule and location). A [`Scanner`] also remembers the values
//! it found clean (`cache.rs`) and does not read them again.

use std::sync::Arc;

use crate::allow::Allow;
use crate::body;
use crate::cache::{Place, Remembered, Span, VerdictCache};
use crate::config::{DetectConfig, DetectConfigError};
use crate::fields::{self, Group, HeaderRole, Kind, Name, Sink};
use crate::finding::{evidence, Class, ClassSet, Finding};
use crate::names::NameMemo;
use crate::normalize::normalize_into;
use crate::prefilter::{ByteScan, Prefilter};
use crate::request::Request;
use crate::rules::{
    cmdi, jndi, nosqli, scanner, sqli, ssrf, ssti, traversal, xss, xxe, Hit, Shape, Value,
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
    /// Values a [`Scanner`] had found clean before and did not read again (always 0 for
    /// [`Detector::scan`], which keeps no memory). A value is kept when found clean a second
    /// time. Header names never count here; plain words and numbers without a dot and the
    /// whole path count only in a group (path, query string, cookies) kept whole.
    pub values_cached: u32,
    /// Clean values a [`Scanner`] kept in place of another it had kept: its memory is full
    /// ([`crate::VERDICT_CACHE_ENTRIES`]), and the value replaced will be read again.
    pub cache_replaced: u32,
    /// Clean values a [`Scanner`] did not keep: its memory holds
    /// [`crate::MAX_CACHE_KEY_BYTES`] of them already.
    pub cache_full: u32,
}

impl ScanReport {
    /// Counts what the memory did with a clean value.
    fn count(&mut self, remembered: Remembered) {
        match remembered {
            Remembered::Replaced => self.cache_replaced += 1,
            Remembered::Full => self.cache_full += 1,
            Remembered::Noted | Remembered::Kept => {}
        }
    }
}

/// The attack detector. Built once from config; `Send + Sync` and cheap to clone (the
/// compiled rules are shared), so that each worker can make its own [`Scanner`].
#[derive(Clone)]
pub struct Detector {
    inner: Arc<Compiled>,
}

/// What a detector is made of: the config's settings and the compiled rules.
struct Compiled {
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

/// One worker's detector: the shared [`Detector`], the buffers a scan reuses, and a memory of
/// values found clean (at most [`crate::VERDICT_CACHE_ENTRIES`]), so that a value repeated
/// across requests (User-Agent, Accept, a session's cookie, a path) is read once or twice.
/// Its findings are [`Detector::scan`]'s. Not shared between threads: one per worker, from
/// [`Detector::scanner`].
pub struct Scanner {
    detector: Detector,
    scratch: Scratch,
    cache: VerdictCache,
    roles: NameMemo<HeaderFacts>,
    url_names: NameMemo<bool>,
}

/// A scanner's memories, lent to one scan.
struct Memory<'m> {
    /// Values and groups found clean.
    verdicts: &'m mut VerdictCache,
    /// Header roles by name.
    roles: &'m mut NameMemo<HeaderFacts>,
    /// Whether a name says URL or host, by name.
    url_names: &'m mut NameMemo<bool>,
}

/// Buffers a request's scan writes into, kept from one request to the next so that reading
/// a request allocates nothing once they have grown.
#[derive(Default)]
struct Scratch {
    /// Where a JSON body's walk is.
    json: body::JsonWalk,
    /// A value's buffers.
    value: ValueScratch,
}

/// Buffers a value's scan writes into.
#[derive(Default)]
struct ValueScratch {
    /// The normalised value (when normalisation was needed).
    norm: Vec<u8>,
    /// The other buffer normalisation alternates with.
    spare: Vec<u8>,
    /// The value in ASCII lower case, for the rules.
    lower: Vec<u8>,
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

    /// Every class's regex rules.
    fn shapes(&self) -> impl Iterator<Item = &Shape> {
        let all = [
            self.sqli.shapes(),
            self.xss.shapes(),
            self.nosqli.shapes(),
            self.ssti.shapes(),
        ];
        all.into_iter().flatten()
    }

    /// How many regex rules were compiled (each is on first use).
    #[cfg(test)]
    fn compiled_shapes(&self) -> usize {
        self.shapes().filter(|s| s.is_compiled()).count()
    }
}

/// The classes that read a value of each kind.
fn kind_classes(kind: Kind) -> ClassSet {
    use Class::*;
    const PATH_WHOLE: ClassSet = ClassSet::of(&[Traversal, Scanner]);
    const PATH_SEGMENT: ClassSet = ClassSet::of(&[Sqli, Xss, Cmdi, Jndi, Ssti]);
    const NAME: ClassSet = ClassSet::of(&[Sqli, Xss, Jndi, Nosqli]);
    const VALUE: ClassSet = ClassSet::of(&[
        Sqli, Xss, Traversal, Cmdi, Ssrf, Jndi, Xxe, Nosqli, Ssti, Scanner,
    ]);
    const USER_AGENT: ClassSet = ClassSet::of(&[Scanner, Jndi, Sqli, Xss, Cmdi, Ssti]);
    const STRUCTURED_HEADER: ClassSet = ClassSet::of(&[Jndi, Scanner]);
    const HEADER_NAME: ClassSet = ClassSet::of(&[Scanner]);
    const XML_BODY: ClassSet = ClassSet::of(&[Xxe, Jndi]);
    match kind {
        Kind::PathWhole => PATH_WHOLE,
        Kind::PathSegment => PATH_SEGMENT,
        Kind::ParamName | Kind::JsonKey => NAME,
        Kind::Value | Kind::TextBody => VALUE,
        Kind::UserAgent => USER_AGENT,
        Kind::StructuredHeader => STRUCTURED_HEADER,
        Kind::HeaderName => HEADER_NAME,
        Kind::XmlBody => XML_BODY,
    }
}

/// Classes that read a plain value (letters, digits, `_.,@-`: numbers, words, ids, dates,
/// emails), of `classes`: tool markers (a User-Agent, a header name, the path, and for values
/// with a dot, callback domains), file names with a dot (`.htaccess`), a bare host in a
/// parameter named for one (from level 2), a command name never used as an ordinary value
/// (`whoami`), and the few SQL and script words that are plain themselves
/// ([`Prefilter::plain_words`]). Most plain values are read by nothing.
fn plain_classes(
    det: &Compiled,
    kind: Kind,
    hint: &mut UrlHint<'_, '_>,
    raw: &[u8],
    bytes: ByteScan,
    classes: ClassSet,
) -> ClassSet {
    let dotted = bytes.has_dot();
    let mut set = ClassSet::EMPTY;
    if dotted || matches!(kind, Kind::UserAgent | Kind::HeaderName | Kind::PathWhole) {
        set = set.with(Class::Scanner);
    }
    if dotted {
        set = set.with(Class::Traversal);
    }
    if classes.contains(Class::Ssrf)
        && det.prefilter.may_name_internal_host(raw, bytes, true)
        && hint.says_url(det)
    {
        set = set.with(Class::Ssrf);
    }
    if classes.contains(Class::Cmdi) && det.prefilter.is_bare_command(raw) {
        set = set.with(Class::Cmdi);
    }
    if !classes
        .and(ClassSet::of(&[Class::Sqli, Class::Xss]))
        .is_empty()
    {
        set = ClassSet(set.0 | det.prefilter.plain_words(raw, bytes).0);
    }
    classes.and(set)
}

/// The classes of a value of `kind` that can hold at all, from what their rules check first:
/// a User-Agent reaches SQL only with a quote in it (`sqli.rs`). (A header name is a scanner's
/// only when it is one of the scanner's header names: checked before the byte pass.)
fn kind_gate(kind: Kind, bytes: ByteScan) -> ClassSet {
    let all = ClassSet(u16::MAX);
    match kind {
        Kind::UserAgent if !bytes.has_quote() => ClassSet(all.0 & !Class::Sqli.bit()),
        _ => all,
    }
}

/// Classes a value's kind wakes whatever its triggers: a header name that is one of the
/// scanner's is a scanner's.
fn kind_triggers(kind: Kind) -> ClassSet {
    match kind {
        Kind::HeaderName => ClassSet::EMPTY.with(Class::Scanner),
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
        let compiled = Compiled {
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
        };
        Ok(Detector {
            inner: Arc::new(compiled),
        })
    }

    /// True when an allow rule names endpoints or clients: a scan without them
    /// ([`Request::endpoint`] and [`Request::client`] `None`) may then find more than a scan
    /// with them. Without such rules both find the same.
    pub fn allows_by_context(&self) -> bool {
        self.inner.allow.iter().any(Allow::reads_context)
    }

    /// A scanner for one worker: this detector's rules (shared, not copied) with buffers and
    /// a memory of clean values of its own.
    pub fn scanner(&self) -> Scanner {
        Scanner {
            detector: self.clone(),
            scratch: Scratch::default(),
            cache: VerdictCache::default(),
            roles: NameMemo::default(),
            url_names: NameMemo::default(),
        }
    }

    /// Scans one request; appends its findings (deduplicated, at most `max_findings`) to `out`
    /// and says what the scan did. Keeps nothing from one call to the next: a worker that
    /// scans many requests does better with its own [`Scanner`].
    pub fn scan(&self, req: &Request<'_>, out: &mut Vec<Finding>) -> ScanReport {
        self.inner.scan(req, out, &mut Scratch::default(), None)
    }

    /// Compiles now every rule's regex that counts at the configured paranoia level (each is
    /// otherwise compiled when a value first reaches it): for benchmarks that count the
    /// instructions of scans alone, or a caller that wants no first-use cost later.
    pub fn compile_rules(&self) {
        let level = self.inner.paranoia;
        self.inner
            .rules
            .shapes()
            .filter(|s| s.level <= level)
            .for_each(Shape::compile);
    }

    /// How many of the rules' regexes were compiled so far (each is on first use).
    #[cfg(test)]
    pub(crate) fn compiled_shapes(&self) -> usize {
        self.inner.rules.compiled_shapes()
    }

    /// The same detector without its prefilter: every class a value's kind allows reads it.
    #[cfg(test)]
    pub(crate) fn without_prefilter(mut self) -> Detector {
        Arc::get_mut(&mut self.inner)
            .expect("a detector fresh from new is not shared")
            .prefilter_on = false;
        self
    }
}

impl Scanner {
    /// Scans one request as [`Detector::scan`] does, without reading again the values this
    /// scanner found clean before ([`ScanReport::values_cached`]).
    pub fn scan(&mut self, req: &Request<'_>, out: &mut Vec<Finding>) -> ScanReport {
        let Scanner {
            detector,
            scratch,
            cache,
            roles,
            url_names,
        } = self;
        let memory = Memory {
            verdicts: cache,
            roles,
            url_names,
        };
        detector.inner.scan(req, out, scratch, Some(memory))
    }

    /// The detector this scanner reads with.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }
}

impl Compiled {
    /// One request's scan, with the caller's buffers and, for a [`Scanner`], its memory.
    fn scan(
        &self,
        req: &Request<'_>,
        out: &mut Vec<Finding>,
        scratch: &mut Scratch,
        memory: Option<Memory<'_>>,
    ) -> ScanReport {
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
        let (cache, roles, url_names) = match memory {
            Some(m) => (Some(m.verdicts), Some(m.roles), Some(m.url_names)),
            None => (None, None, None),
        };
        let mut sink = ScanSink {
            det: self,
            found: Found {
                first: out.len(),
                out,
                allow: &allow,
                report: &mut report,
                max_findings: self.max_findings,
            },
            bytes: 0,
            scratch: &mut scratch.value,
            cache,
            roles,
            url_names,
            unclean: 0,
            group: None,
        };
        let json = &mut scratch.json;
        let _ = fields::target(req.target, &mut sink)
            && fields::headers(req.headers, &mut sink)
            && (req.body.is_empty() || {
                let ct = req.header("content-type");
                body::read(body::body_type(ct, req.body), ct, req.body, &mut sink, json)
            });
        report
    }

    /// The classes of `classes` whose rules read a value of `kind` (its name's hint in
    /// `hint`): those its triggers wake. `norm` is the value after normalisation and `bytes`
    /// its byte pass.
    fn triggered(
        &self,
        kind: Kind,
        hint: &mut UrlHint<'_, '_>,
        norm: &[u8],
        bytes: ByteScan,
        classes: ClassSet,
    ) -> ClassSet {
        if !self.prefilter_on {
            return classes;
        }
        let mut triggered =
            ClassSet(self.prefilter.triggers(norm, bytes, classes).0 | kind_triggers(kind).0);
        if classes.contains(Class::Ssrf)
            && !triggered.contains(Class::Ssrf)
            && self.prefilter.may_name_internal_host(norm, bytes, false)
            && hint.says_url(self)
        {
            triggered = triggered.with(Class::Ssrf);
        }
        classes.and(triggered)
    }

    /// The part of a value's name its verdict depends on, for the memory of clean values:
    /// the last part of the name where the SSRF rule reads it (a value's kind reads SSRF, from
    /// level 2: `ssrf.rs`, [`UrlHint`]), else nothing: no other rule reads
    /// a value's name, so the same bytes in the same kind of place have the same verdict.
    fn verdict_name<'n>(&self, kind: Kind, name: &'n Name<'_>) -> &'n [u8] {
        if self.paranoia >= crate::rules::L2 && kind_classes(kind).contains(Class::Ssrf) {
            last_name_part(name)
        } else {
            &[]
        }
    }
}

/// What the detector does with a header, decided from its name alone (and by a scanner once
/// per name): how the header is read, and whether its name is one the scanner rule reads.
#[derive(Clone, Copy)]
struct HeaderFacts {
    role: HeaderRole,
    scanner_header: bool,
}

impl HeaderFacts {
    fn of(name: &str) -> HeaderFacts {
        HeaderFacts {
            role: fields::header_role(name),
            scanner_header: scanner::is_scanner_header(name.as_bytes()),
        }
    }
}

/// Whether the SSRF rule reads a bare host in a value of this name: from level 2, in a
/// parameter whose name says URL or host (`ssrf.rs`). Without a `:`, the only way that rule
/// holds. Worked out at most once per value, and by a scanner once per name.
struct UrlHint<'n, 'm> {
    /// The last part of the value's name.
    name: &'n [u8],
    /// The scanner's memo of names; None for [`Detector::scan`].
    memo: Option<&'m mut NameMemo<bool>>,
    /// The answer, once asked.
    known: Option<bool>,
}

impl UrlHint<'_, '_> {
    fn says_url(&mut self, det: &Compiled) -> bool {
        if det.paranoia < crate::rules::L2 {
            return false;
        }
        if let Some(known) = self.known {
            return known;
        }
        let name = self.name;
        let says = match self.memo.as_deref_mut() {
            Some(memo) => memo.get(name, || det.prefilter.is_url_name(name)),
            None => det.prefilter.is_url_name(name),
        };
        self.known = Some(says);
        says
    }
}

/// The last part of a value's name, for rules that read names (`/a/webhook_url` -> `webhook_url`).
fn last_name_part<'n>(name: &'n Name<'_>) -> &'n [u8] {
    match name {
        Name::Query(n) => n,
        Name::Body(p) => p.rsplit(|b| *b == b'/').next().unwrap_or(p),
        Name::Header(h) => h.as_bytes(),
        Name::Cookie(c) => c,
        Name::Path | Name::BodyWhole => &[],
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
    det: &'d Compiled,
    found: Found<'d, 'o>,
    /// Value bytes read so far.
    bytes: usize,
    scratch: &'o mut ValueScratch,
    /// The scanner's memory of clean values; None for [`Detector::scan`].
    cache: Option<&'o mut VerdictCache>,
    /// The scanner's memory of header roles; None for [`Detector::scan`].
    roles: Option<&'o mut NameMemo<HeaderFacts>>,
    /// The scanner's memory of names that say URL or host; None for [`Detector::scan`].
    url_names: Option<&'o mut NameMemo<bool>>,
    /// Values a rule held on so far (whatever became of the hits).
    unclean: u32,
    /// Where the report stood when the group being read one value at a time started.
    group: Option<GroupStart>,
}

/// The counts at the start of a group read one value at a time: the group is clean when no
/// value of it had a hit or was cut.
#[derive(Clone, Copy)]
struct GroupStart {
    values: u32,
    bytes: usize,
    values_cut: u32,
    unclean: u32,
}

/// Where one request's findings go, and its report.
struct Found<'d, 'o> {
    out: &'o mut Vec<Finding>,
    /// Index in `out` of this request's first finding.
    first: usize,
    /// The allow rules that cover the request.
    allow: &'d [&'d Allow],
    report: &'o mut ScanReport,
    max_findings: usize,
}

impl Sink for ScanSink<'_, '_> {
    fn value(&mut self, kind: Kind, name: &Name<'_>, value: &[u8]) -> bool {
        if value.is_empty() {
            return true;
        }
        match self.count(value) {
            Some(raw) => {
                self.scan_value(kind, name, raw);
                true
            }
            None => false,
        }
    }

    fn group_start(&mut self, group: Group, bytes: &[u8]) -> Option<bool> {
        let cache = self.cache.as_deref()?;
        let report = &mut *self.found.report;
        let start = GroupStart {
            values: report.values,
            bytes: self.bytes,
            values_cut: report.values_cut,
            unclean: self.unclean,
        };
        let span = cache
            .key(Place::Group(group), &[], bytes)
            .and_then(|key| cache.clean(&key));
        match span {
            // Taken only when reading the values one by one would read them all: no budget
            // runs out inside the group.
            Some(span)
                if report.values as usize + span.values as usize <= self.det.max_fields
                    && self.bytes + span.bytes < self.det.max_request_scan_bytes =>
            {
                report.values += span.values;
                report.values_cached += span.values;
                self.bytes += span.bytes;
                Some(true)
            }
            _ => {
                self.group = Some(start);
                None
            }
        }
    }

    fn header_name(&mut self, name: &str) -> Option<HeaderRole> {
        let facts = match self.roles.as_deref_mut() {
            Some(roles) => roles.get(name.as_bytes(), || HeaderFacts::of(name)),
            None => HeaderFacts::of(name),
        };
        let raw = name.as_bytes();
        if !raw.is_empty() {
            let raw = self.count(raw)?;
            // The scanner's header names are the only ones a rule reads (`scan_value`, which
            // checks the part read again: a name cut short may be one).
            let cut = raw.len() < name.len();
            if facts.scanner_header || cut || !self.det.prefilter_on {
                self.scan_value(Kind::HeaderName, &Name::Header(name), raw);
            }
        }
        Some(facts.role)
    }

    fn group_end(&mut self, group: Group, bytes: &[u8], complete: bool) {
        let Some(start) = self.group.take() else {
            return;
        };
        let report = &mut *self.found.report;
        let clean =
            complete && report.values_cut == start.values_cut && self.unclean == start.unclean;
        let Some(cache) = self.cache.as_deref_mut().filter(|_| clean) else {
            return;
        };
        let span = Span {
            values: report.values - start.values,
            bytes: self.bytes - start.bytes,
        };
        if let Some(key) = cache.key(Place::Group(group), &[], bytes) {
            report.count(cache.remember(&key, span));
        }
    }
}

impl ScanSink<'_, '_> {
    /// Counts a (non-empty) value against the request's budgets: None when one is spent (the
    /// scan stops there), else the part of the value that is read (its first
    /// `max_value_bytes`).
    fn count<'v>(&mut self, value: &'v [u8]) -> Option<&'v [u8]> {
        let report = &mut *self.found.report;
        if report.values as usize >= self.det.max_fields
            || self.bytes >= self.det.max_request_scan_bytes
        {
            report.stopped_at_bound = true;
            return None;
        }
        report.values += 1;
        let raw = match value.get(..self.det.max_value_bytes) {
            Some(cut) if cut.len() < value.len() => {
                report.values_cut += 1;
                cut
            }
            _ => value,
        };
        self.bytes += raw.len();
        Some(raw)
    }

    /// Reads one value: first the scanner's memory of clean values (a value found clean
    /// before, of the same kind and, where a rule reads it, the same name, is not read
    /// again; plain words and numbers and the whole path skip it); then the cheap gates
    /// every value goes through, inline; then, for the few values a rule could hold on,
    /// [`ScanSink::read`]. A value found clean is remembered.
    fn scan_value(&mut self, kind: Kind, name: &Name<'_>, raw: &[u8]) {
        let det = self.det;
        let classes = kind_classes(kind).and(det.classes);
        if classes.is_empty() {
            return;
        }
        if det.prefilter_on && kind == Kind::HeaderName && !scanner::is_scanner_header(raw) {
            return; // the scanner's header names are the only ones a rule reads
        }
        // Not looked up nor kept:
        // - a plain word or number without a dot: its gates decide it in fewer steps than
        //   the memory's look-up (a hash, then a slot out of the caches for the values that
        //   never come back: ids, request ids, numbers);
        // - the whole path: it is read only when the path's group was not in the memory
        //   (`fields::target`), and the group and the whole path are kept together, on the
        //   path's second clean reading: when one is missing, so is the other, but for the
        //   rare eviction of one alone.
        let bytes = det.prefilter_on.then(|| ByteScan::of(raw));
        let skip_memory =
            kind == Kind::PathWhole || bytes.is_some_and(|b| b.is_plain(raw) && !b.has_dot());
        let key = match self.cache.as_deref().filter(|_| !skip_memory) {
            Some(cache) => cache.key(Place::Value(kind), det.verdict_name(kind, name), raw),
            None => None,
        };
        if let (Some(cache), Some(key)) = (self.cache.as_deref(), &key) {
            if cache.clean(key).is_some() {
                self.found.report.values_cached += 1;
                return;
            }
        }
        let clean = self.gates_then_read(kind, name, raw, bytes, classes);
        if !clean {
            self.unclean += 1;
            return;
        }
        if let (Some(cache), Some(key)) = (self.cache.as_deref_mut(), &key) {
            let span = Span {
                values: 1,
                bytes: raw.len(),
            };
            self.found.report.count(cache.remember(key, span));
        }
    }

    /// The gates, then the rules of the classes past them; whether the value is clean (no
    /// rule held, whatever allow rules and deduplication then made of the hits). `bytes` is
    /// the value's byte pass when the caller made it already.
    #[inline]
    fn gates_then_read(
        &mut self,
        kind: Kind,
        name: &Name<'_>,
        raw: &[u8],
        bytes: Option<ByteScan>,
        classes: ClassSet,
    ) -> bool {
        let det = self.det;
        let mut hint = UrlHint {
            name: last_name_part(name),
            memo: self.url_names.take(),
            known: None,
        };
        let clean = if det.prefilter_on {
            let bytes = bytes.unwrap_or_else(|| ByteScan::of(raw));
            let mut classes = classes.and(kind_gate(kind, bytes));
            if bytes.is_plain(raw) {
                classes = plain_classes(det, kind, &mut hint, raw, bytes, classes);
            }
            classes.is_empty() || self.read(kind, name, &mut hint, raw, bytes, classes)
        } else {
            self.read(kind, name, &mut hint, raw, ByteScan::of(raw), classes)
        };
        self.url_names = hint.memo;
        clean
    }

    /// Reads a value past the gates: normalisation, triggers, then the rules of `classes`
    /// that its triggers wake. Returns whether no rule held.
    #[inline(never)]
    fn read(
        &mut self,
        kind: Kind,
        name: &Name<'_>,
        hint: &mut UrlHint<'_, '_>,
        raw: &[u8],
        bytes: ByteScan,
        classes: ClassSet,
    ) -> bool {
        let det = self.det;
        let ValueScratch { norm, spare, lower } = &mut *self.scratch;
        let (norm, bytes): (&[u8], ByteScan) = if bytes.needs_normalizing() {
            normalize_into(raw, norm, spare);
            (norm, ByteScan::of(norm))
        } else {
            (raw, bytes)
        };
        let run = det.triggered(kind, hint, norm, bytes, classes);
        let mut clean = true;
        if !run.is_empty() {
            lower.clear();
            lower.extend(norm.iter().map(u8::to_ascii_lowercase));
            let v = Value {
                kind,
                name: last_name_part(name),
                norm,
                lower,
            };
            for class in Class::ALL.into_iter().filter(|c| run.contains(*c)) {
                if let Some(hit) = det.rules.detect(class, &v, det.paranoia) {
                    clean = false;
                    self.found.add(class, hit, name, norm);
                }
            }
        }
        clean
    }
}

impl Found<'_, '_> {
    /// A hit on the value named `name` (`norm` normalised) becomes a finding, unless an allow
    /// rule drops it, it repeats one already made for this request, or the request has
    /// `max_findings` already.
    fn add(&mut self, class: Class, hit: Hit, name: &Name<'_>, norm: &[u8]) {
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
        if ours.len() >= self.max_findings {
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
