//! Which bodies are stored beyond `max_body_capture_bytes`: those later stages read, chosen
//! from the request line (and the response's status) before any byte of the body arrives.
//!
//! Storing every body costs a copy of most of the traffic; the stages after the sessions read
//! few of them: login forms and their responses, and the responses that give a client the ids
//! of objects (a listing of a collection whose objects are read by id, a `201 Created`).
//! Which collections have objects read by id is learned here, from the request paths this
//! tracker parses ([`ObjectNouns`]): a listing of products is stored once some client has
//! read `/products/<id>`, never when no one reads products by id.

use hashbrown::HashSet;

use apitap_inventory::ascii::lower;

use crate::text::contains_ignore_case;

/// Collection names remembered ([`ObjectNouns`]); more are not learned (counted in
/// `HttpStats::object_nouns_dropped`).
pub const MAX_OBJECT_NOUNS: usize = 4096;

/// Shortest run of hex digits and dashes taken for an id in a path segment (a short hex word
/// such as `cafe` or `added` is a name).
const MIN_HEX_ID_CHARS: usize = 8;

/// `201 Created` (RFC 9110 section 15.3.2): the response names the object it made.
const STATUS_CREATED: u16 = 201;

/// Bodies that later stages read, stored even when `max_body_capture_bytes` stores none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectedCapture {
    /// Words (ASCII case ignored): both bodies of a request whose path contains one are stored
    /// (login forms, and the tokens or errors their responses carry).
    pub path_keywords: PathKeywords,
    /// Also the 2xx responses that give a client object ids: a `GET` of a collection whose
    /// objects are read by id ([`ObjectNouns`]), and `201 Created`.
    pub object_responses: bool,
    /// Also every request's body: attack detection reads every request.
    pub all_requests: bool,
    /// Also the responses whose request the tracker's response gate (`ResponseGate`) asks
    /// for: attack detection reads a response only to judge the outcome of an attack in its
    /// request.
    pub gated_responses: bool,
    /// Bytes stored of a selected body.
    pub max_bytes: usize,
}

/// Path keywords (login paths: `session.login.path_keywords`), looked for in a path in one
/// pass whatever their number, ASCII case ignored: the HTTP stage checks every request's path
/// and every response's, the sessions every successful JSON response's; a scan per keyword
/// cost about 500 instructions a bench transaction. An empty keyword is in every path.
///
/// Most paths contain no keyword, and most are short: the automaton's search of an 18-byte
/// path cost about 370 instructions (its fast prefilters need longer texts). A path is first
/// reduced to the set of its letters (a bit per letter, about 5 instructions a byte); the
/// automaton searches only a path that holds every letter of some keyword.
#[derive(Clone, Debug, Default)]
pub struct PathKeywords {
    /// The automaton; `None` if it could not be built (or there are no keywords), when the
    /// keywords are scanned one by one.
    automaton: Option<aho_corasick::AhoCorasick>,
    /// The keywords, lower case.
    keywords: Vec<String>,
    /// Each keyword's [`letter_set`].
    letters: Vec<u32>,
}

impl PathKeywords {
    /// The matcher of `keywords`.
    pub fn new(keywords: &[String]) -> Self {
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_ascii_lowercase()).collect();
        let automaton = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&keywords)
            .ok()
            .filter(|_| !keywords.is_empty());
        let letters = keywords.iter().map(|k| letter_set(k.as_bytes())).collect();
        PathKeywords {
            automaton,
            keywords,
            letters,
        }
    }

    /// Whether `path` contains one of the keywords.
    pub fn matches(&self, path: &str) -> bool {
        // A path that lacks a letter of every keyword contains none of them.
        let held = letter_set(path.as_bytes());
        if !self.letters.iter().any(|&k| k & !held == 0) {
            return false;
        }
        match &self.automaton {
            Some(a) => a.is_match(path),
            None => self.keywords.iter().any(|k| contains_ignore_case(path, k)),
        }
    }
}

/// The letters of `text` as a set of 32 bits, ASCII case ignored: byte `b` sets bit
/// `(b | 0x20) % 32`, the same bit for a letter's two cases (and some other bytes share a
/// letter's bit: the set only ever says "maybe"). A text that contains a keyword holds every
/// bit of the keyword's set.
fn letter_set(text: &[u8]) -> u32 {
    text.iter()
        .fold(0, |set, &b| set | 1u32 << ((b | 0x20) & 31))
}

/// Two matchers are equal when their keywords are.
impl PartialEq for PathKeywords {
    fn eq(&self, other: &Self) -> bool {
        self.keywords == other.keywords
    }
}

impl Eq for PathKeywords {}

/// Collections whose objects were requested by id (`orders` after `GET /api/orders/42`),
/// by fingerprint, at most [`MAX_OBJECT_NOUNS`].
#[derive(Debug, Default)]
pub struct ObjectNouns {
    /// Fingerprints of the collection segments.
    set: HashSet<u64, foldhash::fast::FixedState>,
}

impl ObjectNouns {
    /// Read a request's path (its target without query and fragment): the segment before a
    /// final id is a collection of objects read by id, learned; a `GET` (`lists`) of such a
    /// collection lists its objects.
    fn read(&mut self, path: &str, lists: bool) -> TargetRead {
        let (noun, last) = tail_segments(path);
        let mut read = TargetRead::default();
        if looks_like_id(last) {
            read.noun_dropped = !noun.is_empty() && !looks_like_id(noun) && !self.learn(noun);
        } else if lists && !last.is_empty() {
            read.lists_objects = self.set.contains(&noun_fingerprint(last));
        }
        read
    }

    /// Remember collection `noun`; `false` when it is new and not remembered at the bound.
    fn learn(&mut self, noun: &str) -> bool {
        let fp = noun_fingerprint(noun);
        if self.set.contains(&fp) {
            return true;
        }
        if self.set.len() >= MAX_OBJECT_NOUNS {
            return false;
        }
        self.set.insert(fp);
        true
    }
}

/// What a request's target told the selection ([`SelectedCapture::read_request`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetRead {
    /// A `GET` of a collection whose objects are read by id: its 2xx response issues ids.
    pub lists_objects: bool,
    /// The collection the target reads an object of was new and not remembered at
    /// [`MAX_OBJECT_NOUNS`].
    pub noun_dropped: bool,
}

/// The last two non-empty `/`-separated segments of a target's path, in one pass that stops
/// at the query or fragment: `(before, last)` (empty when missing). One scan of a short
/// target, where a search for its end and two searches back cost a call each.
fn tail_segments(target: &str) -> (&str, &str) {
    let b = target.as_bytes();
    let (mut before, mut last) = ((0, 0), (0, 0));
    let mut start = 0;
    let mut end = b.len();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'/' => {
                if i > start {
                    (before, last) = (last, (start, i));
                }
                start = i + 1;
            }
            b'?' | b'#' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    if end > start {
        (before, last) = (last, (start, end));
    }
    let seg = |(a, z): (usize, usize)| target.get(a..z).unwrap_or("");
    (seg(before), seg(last))
}

/// Bytes read at a time by [`noun_fingerprint`].
const WORD_BYTES: usize = 8;

/// A collection segment's fingerprint, ASCII case folded: read a word at a time, each word
/// lowered (`apitap_inventory::ascii::lower`, as header names are) and mixed in with a
/// multiply. Folding a copy and hashing it cost
/// about 115 instructions a segment, on every request by id.
fn noun_fingerprint(noun: &str) -> u64 {
    let b = noun.as_bytes();
    let mut h = NOUN_SEED ^ b.len() as u64;
    let mut words = b.chunks_exact(WORD_BYTES);
    for chunk in &mut words {
        h = mix(
            h,
            lower(u64::from_le_bytes(
                chunk.try_into().unwrap_or([0; WORD_BYTES]),
            )),
        );
    }
    let mut last = [0u8; WORD_BYTES];
    for (w, &c) in last.iter_mut().zip(words.remainder()) {
        *w = c;
    }
    let h = mix(h, lower(u64::from_le_bytes(last)));
    // The high bits of the last product, spread over the low ones (hash sets read both).
    h ^ (h >> 32)
}

/// Seed of [`noun_fingerprint`] (any odd constant).
const NOUN_SEED: u64 = 0x243f_6a88_85a3_08d3;

/// One step of [`noun_fingerprint`]: a word mixed into the state.
#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(27)
}

/// True when a path segment reads as an object id: all digits, or a run of hex digits and
/// dashes with a digit (numeric ids, UUIDs, object ids).
pub fn looks_like_id(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    b.len() >= MIN_HEX_ID_CHARS
        && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-')
        && b.iter().any(u8::is_ascii_digit)
}

/// The path of a request target: before `?` and `#`.
pub fn target_path(target: &str) -> &str {
    let end = memchr::memchr2(b'?', b'#', target.as_bytes()).unwrap_or(target.len());
    target.get(..end).unwrap_or(target)
}

impl SelectedCapture {
    /// True when some body is selected beyond `base` bytes.
    fn raises(&self, base: usize) -> bool {
        self.max_bytes > base
    }

    /// True when the request path contains a keyword (ASCII case-insensitive).
    fn keyword_path(&self, path: &str) -> bool {
        self.path_keywords.matches(path)
    }

    /// Read a request's target once, at its head: learn which collections are read by id,
    /// and whether it lists one (when object responses are selected).
    pub fn read_request(&self, method: &str, target: &str, nouns: &mut ObjectNouns) -> TargetRead {
        if !self.object_responses {
            return TargetRead::default();
        }
        nouns.read(target, method == "GET")
    }

    /// Bytes of a request body to store, from its target; `base` otherwise.
    pub fn request_bytes(&self, base: usize, target: &str) -> usize {
        if !self.raises(base) {
            return base;
        }
        if self.all_requests || self.keyword_path(target_path(target)) {
            self.max_bytes
        } else {
            base
        }
    }

    /// Whether a response's body issues object ids (when object responses are selected): a
    /// 2xx `GET` of a collection whose objects are read by id (`read`, its request's
    /// [`Self::read_request`]), or `201 Created`. `read` is `None` for an unmatched response.
    pub fn issues_ids(&self, read: Option<TargetRead>, status: u16) -> bool {
        let Some(read) = read.filter(|_| self.object_responses) else {
            return false;
        };
        (200..300).contains(&status) && (status == STATUS_CREATED || read.lists_objects)
    }

    /// Bytes of a response body to store, from its request's target (none: an unmatched
    /// response) and its [`Self::issues_ids`] verdict (the HTTP connection works it out once,
    /// for the record and for this); `base` otherwise.
    pub fn response_bytes(&self, base: usize, target: Option<&str>, issues_ids: bool) -> usize {
        let Some(target) = target.filter(|_| self.raises(base)) else {
            return base;
        };
        if issues_ids || self.keyword_path(target_path(target)) {
            self.max_bytes
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selected() -> SelectedCapture {
        SelectedCapture {
            path_keywords: PathKeywords::new(&["login".into()]),
            object_responses: true,
            max_bytes: 100,
            ..SelectedCapture::default()
        }
    }

    /// Bytes of a response body stored: its request read at its head, then its status.
    fn stored(
        s: &SelectedCapture,
        n: &mut ObjectNouns,
        req: Option<(&str, &str)>,
        status: u16,
    ) -> usize {
        let read = req.map(|(method, target)| s.read_request(method, target, n));
        s.response_bytes(0, req.map(|(_, t)| t), s.issues_ids(read, status))
    }

    #[test]
    fn login_bodies_are_chosen_by_their_path() {
        let (s, mut n) = (selected(), ObjectNouns::default());
        assert_eq!(s.request_bytes(0, "/api/LOGIN?next=/"), 100);
        assert_eq!(s.request_bytes(0, "/api/orders"), 0);
        assert_eq!(
            s.request_bytes(0, "/x?login=1"),
            0,
            "the query is not the path"
        );
        assert_eq!(stored(&s, &mut n, Some(("POST", "/login")), 401), 100);
        assert_eq!(s.request_bytes(500, "/login"), 500, "never lowered");
    }

    /// A listing is stored once its collection's objects were requested by id.
    #[test]
    fn listings_are_stored_once_their_objects_are_read_by_id() {
        let (s, mut n) = (selected(), ObjectNouns::default());
        let listing = Some(("GET", "/api/v1/orders?page=2"));
        assert_eq!(stored(&s, &mut n, listing, 200), 0, "not learned yet");
        let read = s.read_request("PUT", "/api/v1/Orders/42?full=1", &mut n);
        assert_eq!(read, TargetRead::default(), "learned, not a listing");
        assert_eq!(stored(&s, &mut n, listing, 200), 100);
        let nested = Some(("GET", "/api/v1/users/7/orders/"));
        assert_eq!(stored(&s, &mut n, nested, 200), 100);
        assert_eq!(stored(&s, &mut n, listing, 404), 0, "only successes");
        assert_eq!(stored(&s, &mut n, Some(("HEAD", "/api/v1/orders")), 200), 0);
        let one = Some(("GET", "/api/v1/orders/42"));
        assert_eq!(stored(&s, &mut n, one, 200), 0);
        let products = Some(("GET", "/api/v1/products"));
        assert_eq!(stored(&s, &mut n, products, 200), 0);
        let creation = Some(("POST", "/api/v1/carts"));
        assert_eq!(stored(&s, &mut n, creation, 201), 100);
        let update = Some(("PUT", "/api/v1/carts/9"));
        assert_eq!(stored(&s, &mut n, update, 200), 0);
        assert_eq!(stored(&s, &mut n, None, 200), 0, "an unmatched response");
        assert_eq!(stored(&s, &mut n, None, 201), 0, "an unmatched response");
        let off = SelectedCapture {
            object_responses: false,
            ..selected()
        };
        assert_eq!(stored(&off, &mut n, listing, 200), 0);
        assert_eq!(stored(&off, &mut n, creation, 201), 0);
    }

    #[test]
    fn nouns_are_bounded() {
        let (s, mut n) = (selected(), ObjectNouns::default());
        let dropped = (0..MAX_OBJECT_NOUNS + 3)
            .filter(|i| {
                s.read_request("GET", &format!("/c{i}x/42"), &mut n)
                    .noun_dropped
            })
            .count();
        assert_eq!(dropped, 3);
        let again = s.read_request("GET", "/c0x/43", &mut n);
        assert!(!again.noun_dropped, "a known noun is not dropped again");
    }

    /// A collection read by id is listed in any case, shorter or longer than a word.
    #[test]
    fn nouns_are_case_folded_at_any_length() {
        let long = "Orders".repeat(11);
        let lists = |n: &mut ObjectNouns, path: &str| n.read(path, true).lists_objects;
        for noun in ["Orders", long.as_str()] {
            let mut n = ObjectNouns::default();
            assert!(!n.read(&format!("/api/{noun}/42"), true).noun_dropped);
            assert!(lists(
                &mut n,
                &format!("/api/{}", noun.to_ascii_uppercase())
            ));
            assert!(lists(
                &mut n,
                &format!("/api/{}/", noun.to_ascii_lowercase())
            ));
            assert!(!lists(&mut n, "/api/users"));
        }
    }

    proptest::proptest! {
        /// The automaton finds what comparing every window with every keyword finds.
        #[test]
        fn keyword_scan_matches_every_window(
            path in "[a-zA-Z/_@`~^\\-é0-9]{0,24}",
            keywords in proptest::collection::vec("[a-zA-Z_@`~^\\-é0-9]{0,4}", 0..4),
        ) {
            let s = SelectedCapture {
                path_keywords: PathKeywords::new(&keywords),
                ..SelectedCapture::default()
            };
            let slow = keywords.iter().any(|k| {
                k.is_empty()
                    || path.as_bytes().windows(k.len()).any(|w| w.eq_ignore_ascii_case(k.as_bytes()))
            });
            proptest::prop_assert_eq!(s.keyword_path(&path), slow);
        }
    }

    proptest::proptest! {
        /// Segments have the fingerprint of their lower-case spelling, and (but for a
        /// collision, unlikely) different spellings have different ones.
        #[test]
        fn noun_fingerprints_fold_ascii_case(a in "[a-zA-Z@\\[`{_0-9é]{0,20}", b in "[a-zA-Z@\\[`{_0-9é]{0,20}") {
            proptest::prop_assert_eq!(noun_fingerprint(&a), noun_fingerprint(&a.to_ascii_lowercase()));
            proptest::prop_assert_eq!(noun_fingerprint(&a), noun_fingerprint(&a.to_ascii_uppercase()));
            let same = a.eq_ignore_ascii_case(&b);
            proptest::prop_assert_eq!(noun_fingerprint(&a) == noun_fingerprint(&b), same);
        }
    }

    /// Every pair of ASCII bytes, at each place of a word: the same fingerprint exactly when
    /// the bytes are one letter's two cases.
    #[test]
    fn noun_fingerprints_fold_exactly_the_letters() {
        for at in 0..WORD_BYTES {
            let spell = |c: u8| {
                let mut s = vec![b'x'; WORD_BYTES];
                s[at] = c;
                noun_fingerprint(std::str::from_utf8(&s).unwrap_or_default())
            };
            let fps: Vec<u64> = (0..128u8).map(spell).collect();
            for a in 0..128u8 {
                for b in 0..128u8 {
                    let same = fps[usize::from(a)] == fps[usize::from(b)];
                    assert_eq!(same, a.eq_ignore_ascii_case(&b), "{a} {b} at {at}");
                }
            }
        }
    }

    #[test]
    fn tail_segments_of_targets() {
        assert_eq!(tail_segments("/api/orders/42/"), ("orders", "42"));
        assert_eq!(
            tail_segments("/api//orders//42?x=/a/b#/c"),
            ("orders", "42")
        );
        assert_eq!(tail_segments("/o#x/y"), ("", "o"));
        assert_eq!(tail_segments("orders"), ("", "orders"));
        assert_eq!(tail_segments("///"), ("", ""));
        assert_eq!(tail_segments(""), ("", ""));
    }

    proptest::proptest! {
        /// One pass finds the last two non-empty segments of the path before `?` and `#`.
        #[test]
        fn tail_segments_are_the_paths_last_two(target in "[a/é1?#.o\\x00]{0,40}") {
            let path = target_path(&target);
            let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let want = match segs.as_slice() {
                [.., a, b] => (*a, *b),
                [b] => ("", *b),
                [] => ("", ""),
            };
            proptest::prop_assert_eq!(tail_segments(&target), want);
        }
    }

    #[test]
    fn ids_in_path_segments() {
        for (seg, want) in [
            ("42", true),
            ("8d1c2f0e-aaaa-4bbb-8ccc-0123456789ab", true),
            ("507f1f77bcf86cd799439011", true),
            ("deadbeef", false),
            ("cafe1", false),
            ("orders", false),
            ("", false),
        ] {
            assert_eq!(looks_like_id(seg), want, "{seg}");
        }
    }
}
