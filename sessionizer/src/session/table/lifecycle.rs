//! The session lifecycle on packet time: idle ends, max-duration splits into linked parts,
//! periodic updates, LRU eviction at `max_sessions`, flush; and the session records they
//! write.

use smallvec::SmallVec;

use super::{Session, Sessionizer, LRU, SPLIT, UPDATE};
use crate::session::secret::{Domain, HashId};
use crate::session::summary::{EndReason, Phase, SessionRecord, SessionSummary};

impl Sessionizer {
    /// Advance packet time: idle ends, max-duration splits, periodic updates, in that order.
    /// O(expired): each list is walked from its oldest entry and stops at the first that is
    /// not due.
    pub fn expire(&mut self, now_us: u64, out: &mut Vec<SessionRecord>) {
        self.now_us = self.now_us.max(now_us);
        let now = self.now_us;
        while let Some(i) = self.table.head(LRU) {
            let deadline = self.session(i).touch_us.saturating_add(self.limits.idle_us);
            if deadline > now {
                break;
            }
            self.end_slot(i, deadline, EndReason::Idle, out);
        }
        while let Some(i) = self.table.head(SPLIT) {
            let s = self.session(i);
            let deadline = s.part_start_us.saturating_add(self.limits.max_duration_us);
            if deadline > now {
                break;
            }
            self.split(i, deadline, now, out);
        }
        if self.limits.update_us > 0 {
            while let Some(i) = self.table.head(UPDATE) {
                let s = self.session(i);
                if s.update_us.saturating_add(self.limits.update_us) > now {
                    break;
                }
                if s.started && s.dirty {
                    let rec = self.record(i, Phase::Update, now, None);
                    out.push(rec);
                    self.stats.updates += 1;
                }
                let s = self.session_mut(i);
                s.dirty = false;
                s.update_us = now;
                self.table.move_to_back(UPDATE, i);
            }
        }
        self.check_invariants();
    }

    /// End every open session with `reason`, least recently active first.
    pub fn flush(&mut self, now_us: u64, reason: EndReason, out: &mut Vec<SessionRecord>) {
        self.now_us = self.now_us.max(now_us);
        while let Some(i) = self.table.head(LRU) {
            self.end_slot(i, self.now_us, reason, out);
        }
        self.check_invariants();
    }

    /// Open a session for `base`, evicting the least recently active one at the bound.
    #[cold]
    #[inline(never)]
    pub(super) fn open(
        &mut self,
        base: HashId,
        key_idx: usize,
        carrier: Option<HashId>,
        now: u64,
        out: &mut Vec<SessionRecord>,
    ) -> u32 {
        if self.table.len() >= self.limits.max_sessions {
            if let Some(victim) = self.table.head(LRU) {
                self.end_slot(victim, now, EndReason::Evicted, out);
            }
        }
        let linked_from = carrier
            .and_then(|c| self.bindings.get(&c))
            .filter(|s| *s != base);
        if linked_from.is_some() {
            self.stats.sessions_linked += 1;
        }
        // A session opened by a login inherits who logged in (the login form or token request
        // was seen in the part it is linked from), until its own transactions say otherwise.
        let mut summary = SessionSummary::default();
        if let Some(from) = linked_from
            .and_then(|lf| self.table.find(&lf))
            .and_then(|slot| self.table.get(slot))
        {
            summary.user.clone_from(&from.summary.user);
            summary.role.clone_from(&from.summary.role);
        }
        self.stats.sessions_started += 1;
        let session = Session {
            base,
            id: base,
            part: 1,
            previous_part: None,
            linked_from,
            key_idx,
            verified: None,
            started: false,
            touch_us: now,
            part_start_us: now,
            update_us: now,
            dirty: false,
            summary,
            endpoint_ids: SmallVec::new(),
        };
        // Cannot fail: `max_sessions` is validated far below the table's slot limit.
        let i = self
            .table
            .insert(session)
            .expect("max_sessions below the slot limit");
        self.table.push_back(LRU, i);
        self.table.push_back(SPLIT, i);
        if self.limits.update_us > 0 {
            self.table.push_back(UPDATE, i);
        }
        i
    }

    /// End the current part at `at` (if it had transactions) and continue as the next part,
    /// empty until its first transaction.
    #[cold]
    #[inline(never)]
    pub(super) fn split(&mut self, i: u32, at: u64, now: u64, out: &mut Vec<SessionRecord>) {
        if self.session(i).started {
            let rec = self.take_record(i, at, EndReason::MaxDuration);
            out.push(rec);
            self.stats.ended_max_duration += 1;
            let keyed = self.keyed.clone();
            let s = self.session_mut(i);
            s.previous_part = Some(s.id);
            s.part += 1;
            s.id = keyed.hash(Domain::Part, &[&s.base.0, &s.part.to_le_bytes()]);
            s.started = false;
            s.dirty = false;
            s.linked_from = None;
        }
        let s = self.session_mut(i);
        s.part_start_us = now;
        s.update_us = now;
        self.table.move_to_back(SPLIT, i);
        if self.limits.update_us > 0 {
            self.table.move_to_back(UPDATE, i);
        }
    }

    /// Remove session `i`, emitting its end record at `at` when it had transactions.
    #[cold]
    #[inline(never)]
    pub(super) fn end_slot(
        &mut self,
        i: u32,
        at: u64,
        reason: EndReason,
        out: &mut Vec<SessionRecord>,
    ) {
        match reason {
            EndReason::Idle => self.stats.ended_idle += 1,
            EndReason::MaxDuration => self.stats.ended_max_duration += 1,
            EndReason::Evicted => self.stats.ended_evicted += 1,
            EndReason::EndOfInput => self.stats.ended_end_of_input += 1,
            EndReason::Shutdown => self.stats.ended_shutdown += 1,
        }
        if self.session(i).started {
            let rec = self.take_record(i, at, reason);
            out.push(rec);
        } else {
            self.stats.empty_parts_dropped += 1;
        }
        self.table.remove(i);
    }

    /// The end record of session `i`, moving its summary out.
    #[cold]
    #[inline(never)]
    fn take_record(&mut self, i: u32, at: u64, reason: EndReason) -> SessionRecord {
        let s = self.session_mut(i);
        let summary = std::mem::take(&mut s.summary);
        s.endpoint_ids.clear();
        let mut r = self.record_header(i, Phase::End, at, Some(reason));
        r.summary = Box::new(summary);
        r
    }

    /// A record of session `i` with a copy of its summary.
    #[cold]
    #[inline(never)]
    pub(super) fn record(
        &self,
        i: u32,
        phase: Phase,
        at: u64,
        reason: Option<EndReason>,
    ) -> SessionRecord {
        let mut r = self.record_header(i, phase, at, reason);
        r.summary = Box::new(self.session(i).summary.clone());
        r
    }

    /// A record of session `i` with an empty summary.
    fn record_header(
        &self,
        i: u32,
        phase: Phase,
        at: u64,
        reason: Option<EndReason>,
    ) -> SessionRecord {
        let s = self.session(i);
        SessionRecord {
            phase,
            ts_us: at,
            session_id: s.id,
            part: s.part,
            previous_part: s.previous_part,
            linked_from: s.linked_from,
            key_source: self.keys[s.key_idx].label.clone(),
            anonymous: self.keys[s.key_idx].is_fallback(),
            verified: s.verified,
            reason,
            summary: Box::default(),
        }
    }
}
