//! What the behaviours remember per session, client address, user, User-Agent and endpoint.
//! Every collection in here is bounded by a config field; the kinds' files read and update
//! these through the stage.

use std::collections::VecDeque;

use apitap_sessionizer::prefetch;
use apitap_sessionizer::session::TransactionId;

use super::state::{Distinct, HeapBytes, IdSet, Read, Ring};

/// Distinct endpoints counted per session or client for the endpoint ratio; more are taken
/// as this many (the ratio is then a lower bound, which only makes `scraping` more eager
/// for clients that use hundreds of endpoints, and those are not scrapers by this test).
pub const MAX_ENDPOINTS_COUNTED: usize = 256;

/// Requests and endpoints of a session or a client.
#[derive(Debug, Default)]
pub struct Activity {
    /// Requests.
    pub requests: u64,
    /// Distinct endpoints, at most [`MAX_ENDPOINTS_COUNTED`].
    pub endpoints: IdSet,
}

impl Activity {
    /// Count one request to the endpoint with fingerprint `fp`.
    pub fn add(&mut self, fp: Option<u64>) {
        self.requests += 1;
        if let Some(fp) = fp {
            self.endpoints.insert(fp, MAX_ENDPOINTS_COUNTED);
        }
    }
}

/// One object endpoint of a session or client: the distinct ids read on it, and the
/// evidence of the kinds that look at objects.
#[derive(Debug)]
pub struct ObjectTrack {
    /// Fingerprint of the endpoint name (the name is the transaction's when a kind decides:
    /// the track is found by it).
    pub endpoint_fp: u64,
    /// Distinct ids answered 2xx, at most `max_ids_per_endpoint`.
    pub ids: IdSet,
    /// Of those, ids the session owned (issued to it), counted as first read.
    pub owned: u64,
    /// `bola`: distinct foreign ids, each with `owned` before it.
    pub bola: Ring<Read>,
    /// `scraping`: distinct ids, each with the entity's request count before it.
    pub scraping: Ring<Read>,
}

/// The object endpoints of a session or client, at most `max_endpoints_per_entity`.
///
/// Invariant: `tracks_bytes` is the sum of the tracks' [`HeapBytes::heap_bytes`]: every
/// change to a track goes through [`Objects::read`], which measures the track before and
/// after (its own few words, in cache as it is changed), so that the byte account reads one
/// field where it walked every track.
#[derive(Debug, Default)]
pub struct Objects {
    /// In first-seen order (a handful: a scan beats a map).
    tracks: Vec<ObjectTrack>,
    /// What the tracks' sets and rings own.
    tracks_bytes: usize,
}

impl Objects {
    /// Run `f` on the track of endpoint `fp`, created when there is room; `None` at the
    /// bound (`f` not run).
    pub fn read<R>(
        &mut self,
        fp: u64,
        max: usize,
        f: impl FnOnce(&mut ObjectTrack) -> R,
    ) -> Option<R> {
        let track = self.track(fp, max)?;
        let before = track.heap_bytes();
        let r = f(track);
        let after = track.heap_bytes();
        self.tracks_bytes = self.tracks_bytes - before + after;
        Some(r)
    }

    /// The track of endpoint `fp`, created when there is room; `None` at the bound.
    fn track(&mut self, fp: u64, max: usize) -> Option<&mut ObjectTrack> {
        if let Some(i) = self.tracks.iter().position(|t| t.endpoint_fp == fp) {
            return self.tracks.get_mut(i);
        }
        if self.tracks.len() >= max {
            return None;
        }
        // Entities read a handful of object endpoints: room for one more at a time (a track
        // is 120 bytes; doubling left a session reading 3 endpoints with room for 4).
        self.tracks.reserve_exact(1);
        self.tracks.push(ObjectTrack {
            endpoint_fp: fp,
            ids: IdSet::default(),
            owned: 0,
            bola: Ring::default(),
            scraping: Ring::default(),
        });
        self.tracks.last_mut()
    }
}

/// Failed lookups of a session or client (`enumeration`), over all its endpoints.
#[derive(Debug, Default)]
pub struct Failures {
    /// Distinct failing objects (endpoint and id, or path), at most `max_ids_per_endpoint`.
    pub seen: IdSet,
    /// Evidence: each new failing object, with the entity's request count before it and the
    /// numeric id it named (`i64::MIN`: none).
    pub ring: Ring,
}

/// Login attempts of a client or a User-Agent (`credential_stuffing`).
#[derive(Debug, Default)]
pub struct Logins {
    /// Distinct usernames that failed, at most `max_ids_per_endpoint`.
    pub usernames: IdSet,
    /// Attempts.
    pub attempts: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Evidence: each new failing username, with `attempts` and `failures` before it (aux).
    pub ring: Ring,
}

/// A session's state. In C order: what every transaction's update reads first (requests,
/// endpoints, issued ids, object tracks), within the slot's first two lines
/// (`state::Slot`).
#[derive(Debug, Default)]
#[repr(C)]
pub struct SessionState {
    /// Requests and endpoints.
    pub activity: Activity,
    /// Ids issued to the session (ownership), at most `max_known_ids_per_session`.
    pub known: IdSet,
    /// Object endpoints.
    pub objects: Objects,
    /// Failed lookups.
    pub failures: Failures,
    /// Totals of the volume parameter.
    pub volume: Volume,
}

/// A client address's state. In C order: what every transaction's update reads first
/// (requests, endpoints, object tracks), within the slot's first two lines (`state::Slot`).
#[derive(Debug, Default)]
#[repr(C)]
pub struct ClientState {
    /// Requests and endpoints.
    pub activity: Activity,
    /// Object endpoints.
    pub objects: Objects,
    /// Failed lookups.
    pub failures: Failures,
    /// Login attempts.
    pub logins: Logins,
}

/// A user's (or login username's) state.
#[derive(Debug, Default)]
pub struct UserState {
    /// `brute_force`: failed logins, each with the client's fingerprint (aux).
    pub failed_logins: Ring,
    /// Totals of the volume parameter.
    pub volume: Volume,
}

/// A User-Agent's login attempts across client addresses.
#[derive(Debug, Default)]
pub struct AgentState {
    /// Login attempts.
    pub logins: Logins,
    /// Distinct client addresses it logged in from, at most `max_ids_per_endpoint`.
    pub clients: IdSet,
}

/// An endpoint's populations over everyone.
#[derive(Debug, Default)]
pub struct EndpointState {
    /// Distinct object ids read on it (2xx), estimated.
    pub objects: Distinct,
    /// Sessions' window totals of the volume parameter.
    pub sessions: Population,
    /// Users' window totals.
    pub users: Population,
}

/// One value of the volume parameter.
#[derive(Clone, Copy, Debug)]
pub struct VolumeEvent {
    /// Packet time.
    pub ts_us: u64,
    /// The value (1 for `count`).
    pub value: f64,
    /// The transaction.
    pub tx: TransactionId,
}

/// A session's or user's values of the volume parameter in the window.
#[derive(Debug, Default)]
pub struct Volume {
    /// Oldest first, at most `max_events`.
    pub events: VecDeque<VolumeEvent>,
    /// Their sum.
    pub total: f64,
    /// Packet time before which `volume_spike` does not fire again for it.
    pub quiet_until_us: u64,
}

impl Volume {
    /// Add `e`, dropping the values older than `window_us` and, at `max` values, the oldest
    /// (returned: how many were dropped early).
    pub fn add(&mut self, e: VolumeEvent, window_us: u64, max: usize) -> u64 {
        let mut early = 0;
        while self
            .events
            .front()
            .is_some_and(|o| e.ts_us.saturating_sub(o.ts_us) > window_us)
        {
            self.pop();
        }
        while self.events.len() >= max.max(1) {
            self.pop();
            early += 1;
        }
        self.events.push_back(e);
        self.total += e.value;
        early
    }

    /// Drop the oldest value.
    fn pop(&mut self) {
        if let Some(o) = self.events.pop_front() {
            self.total -= o.value;
        }
        if self.events.is_empty() {
            // Floating-point sums drift: an empty window is exactly zero.
            self.total = 0.0;
        }
    }
}

/// Window totals of the other sessions (users) on an endpoint, by entity fingerprint, at
/// most `max_population`, least recently updated forgotten first.
#[derive(Debug, Default)]
pub struct Population {
    /// Least recently updated first.
    entries: VecDeque<(u64, f64)>,
}

impl Population {
    /// Set entity `key`'s total.
    pub fn set(&mut self, key: u64, total: f64, max: usize) {
        if let Some(i) = self.entries.iter().position(|(k, _)| *k == key) {
            self.entries.remove(i);
        }
        while self.entries.len() >= max.max(1) {
            self.entries.pop_front();
        }
        self.entries.push_back((key, total));
    }

    /// The totals of every entity but `key`.
    pub fn others(&self, key: u64) -> Vec<f64> {
        self.entries
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(_, t)| *t)
            .collect()
    }
}

impl Objects {
    /// Request the tracks (a batch's prefetch pass; their ids: [`Objects::prefetch_track`]).
    #[inline]
    pub fn prefetch(&self) {
        prefetch::slice(&self.tracks);
    }

    /// Request the ids of endpoint `fp`'s track, once the tracks have arrived.
    #[inline]
    pub fn prefetch_track(&self, fp: u64) {
        if let Some(t) = self.tracks.iter().find(|t| t.endpoint_fp == fp) {
            t.ids.prefetch();
        }
    }
}

impl SessionState {
    /// Request the memory a transaction's update reads beyond the entry: the endpoints, the
    /// issued ids and the object tracks (a batch's prefetch pass).
    #[inline]
    pub fn prefetch(&self) {
        self.activity.endpoints.prefetch();
        self.known.prefetch();
        self.objects.prefetch();
    }
}

impl ClientState {
    /// Request the memory a transaction's update reads beyond the entry: the endpoints and
    /// the object tracks (a batch's prefetch pass).
    #[inline]
    pub fn prefetch(&self) {
        self.activity.endpoints.prefetch();
        self.objects.prefetch();
    }
}

impl HeapBytes for Activity {
    fn heap_bytes(&self) -> usize {
        self.endpoints.heap_bytes()
    }
}

impl HeapBytes for ObjectTrack {
    fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes() + self.bola.heap_bytes() + self.scraping.heap_bytes()
    }
}

impl HeapBytes for Objects {
    fn heap_bytes(&self) -> usize {
        debug_assert_eq!(
            self.tracks_bytes,
            self.tracks.iter().map(HeapBytes::heap_bytes).sum::<usize>()
        );
        self.tracks.capacity() * std::mem::size_of::<ObjectTrack>() + self.tracks_bytes
    }
}

impl HeapBytes for Failures {
    fn heap_bytes(&self) -> usize {
        self.seen.heap_bytes() + self.ring.heap_bytes()
    }
}

impl HeapBytes for Logins {
    fn heap_bytes(&self) -> usize {
        self.usernames.heap_bytes() + self.ring.heap_bytes()
    }
}

impl HeapBytes for SessionState {
    fn heap_bytes(&self) -> usize {
        self.activity.heap_bytes()
            + self.known.heap_bytes()
            + self.objects.heap_bytes()
            + self.failures.heap_bytes()
            + self.volume.heap_bytes()
    }
}

impl HeapBytes for ClientState {
    fn heap_bytes(&self) -> usize {
        self.activity.heap_bytes()
            + self.objects.heap_bytes()
            + self.failures.heap_bytes()
            + self.logins.heap_bytes()
    }
}

impl HeapBytes for UserState {
    fn heap_bytes(&self) -> usize {
        self.failed_logins.heap_bytes() + self.volume.heap_bytes()
    }
}

impl HeapBytes for AgentState {
    fn heap_bytes(&self) -> usize {
        self.logins.heap_bytes() + self.clients.heap_bytes()
    }
}

impl HeapBytes for EndpointState {
    fn heap_bytes(&self) -> usize {
        self.objects.heap_bytes() + self.sessions.heap_bytes() + self.users.heap_bytes()
    }
}

impl HeapBytes for Volume {
    fn heap_bytes(&self) -> usize {
        self.events.capacity() * std::mem::size_of::<VolumeEvent>()
    }
}

impl HeapBytes for Population {
    fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(u64, f64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts_us: u64, value: f64) -> VolumeEvent {
        VolumeEvent {
            ts_us,
            value,
            tx: TransactionId { conn: 1, depth: 1 },
        }
    }

    /// The window drops values older than it, at its edge included, and the bound drops the
    /// oldest early.
    #[test]
    fn volume_window_and_bound() {
        let mut v = Volume::default();
        assert_eq!(v.add(ev(0, 5.0), 100, 3), 0);
        assert_eq!(v.add(ev(100, 1.0), 100, 3), 0);
        assert_eq!(v.total, 6.0, "100 µs old: still in the window");
        v.add(ev(101, 2.0), 100, 3);
        assert_eq!(v.total, 3.0, "the first value left the window");
        v.add(ev(102, 4.0), 100, 3);
        assert_eq!(
            v.add(ev(103, 8.0), 100, 3),
            1,
            "at 3 values the oldest goes early"
        );
        assert_eq!(v.total, 14.0);
    }

    #[test]
    fn populations_are_bounded_and_exclude_the_asker() {
        let mut p = Population::default();
        p.set(1, 10.0, 2);
        p.set(2, 20.0, 2);
        p.set(1, 11.0, 2);
        p.set(3, 30.0, 2);
        assert_eq!(
            p.others(0),
            vec![11.0, 30.0],
            "2 was the least recently updated"
        );
        assert_eq!(p.others(3), vec![11.0]);
    }

    #[test]
    fn object_tracks_are_bounded() {
        let mut o = Objects::default();
        assert!(o.read(1, 1, |_| ()).is_some());
        assert!(o.read(2, 1, |_| ()).is_none());
        assert!(o.read(1, 1, |_| ()).is_some());
    }

    /// The tracks' bytes kept as they change are what walking them adds up, as sets and
    /// rings grow on several tracks.
    #[test]
    fn object_bytes_follow_their_tracks() {
        let mut o = Objects::default();
        let walked = |o: &Objects| {
            o.tracks.capacity() * std::mem::size_of::<ObjectTrack>()
                + o.tracks.iter().map(HeapBytes::heap_bytes).sum::<usize>()
        };
        assert_eq!(o.heap_bytes(), 0);
        for i in 0..600u64 {
            let tx = TransactionId { conn: 1, depth: 1 };
            o.read(i % 3, 16, |t| {
                t.ids.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), 1000);
                t.scraping.push(Read::new(i, tx, i), 100);
                if i % 2 == 0 {
                    t.bola.push(Read::new(i, tx, i), 50);
                }
            });
            assert_eq!(o.heap_bytes(), walked(&o), "after read {i}");
        }
        assert!(o.heap_bytes() > 600 * 8, "{}", o.heap_bytes());
    }
}
