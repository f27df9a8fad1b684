//! The table against an obviously correct model: a map of keys and a `Vec` per list.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

/// An entry keyed by a small number (so that keys collide in the index often enough).
#[derive(Debug, Clone, PartialEq)]
struct E {
    key: u16,
    value: u32,
}

impl Keyed for E {
    type Key = u16;
    fn key(&self) -> &u16 {
        &self.key
    }
}

/// A hasher that maps every key to one of four hashes: long probe chains.
#[derive(Debug, Clone, Copy)]
struct Crowded;

impl KeyHash<u16> for Crowded {
    fn hash_key(&self, key: &u16) -> u64 {
        u64::from(*key % 4)
    }
}

/// Lists in the model and the table.
const LISTS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Insert(u16),
    Remove(u16),
    PushBack(usize, u16),
    Unlink(usize, u16),
    MoveToBack(usize, u16),
    PopHead(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u16..24;
    let list = 0usize..LISTS;
    prop_oneof![
        key.clone().prop_map(Op::Insert),
        key.clone().prop_map(Op::Remove),
        (list.clone(), key.clone()).prop_map(|(l, k)| Op::PushBack(l, k)),
        (list.clone(), key.clone()).prop_map(|(l, k)| Op::Unlink(l, k)),
        (list.clone(), key).prop_map(|(l, k)| Op::MoveToBack(l, k)),
        list.prop_map(Op::PopHead),
    ]
}

/// The model: which keys are held, and each list as keys oldest first.
#[derive(Default)]
struct Model {
    held: HashMap<u16, u32>,
    lists: [Vec<u16>; LISTS],
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sequence of operations leaves the table agreeing with the model: the same keys,
    /// the same entries, the same list orders, and the invariant checked after every step.
    #[test]
    fn matches_a_map_and_vec_model(ops in proptest::collection::vec(op(), 0..200)) {
        let mut t: SlabTable<E, Crowded, LISTS> = SlabTable::new(Crowded);
        let mut m = Model::default();
        for (n, op) in ops.into_iter().enumerate() {
            let value = n as u32;
            match op {
                Op::Insert(k) => {
                    if let std::collections::hash_map::Entry::Vacant(e) = m.held.entry(k) {
                        let slot = t.insert(E { key: k, value });
                        prop_assert!(slot.is_some());
                        e.insert(value);
                    }
                }
                Op::Remove(k) => {
                    let got = t.find(&k).and_then(|s| t.remove(s));
                    prop_assert_eq!(got.map(|e| e.value), m.held.remove(&k));
                    for l in &mut m.lists {
                        l.retain(|&x| x != k);
                    }
                }
                Op::PushBack(l, k) => {
                    if let Some(s) = t.find(&k) {
                        if !m.lists[l].contains(&k) {
                            prop_assert!(!t.is_linked(l, s));
                            t.push_back(l, s);
                            m.lists[l].push(k);
                        } else {
                            prop_assert!(t.is_linked(l, s));
                        }
                    }
                }
                Op::Unlink(l, k) => {
                    if let (Some(s), true) = (t.find(&k), m.lists[l].contains(&k)) {
                        t.unlink(l, s);
                        m.lists[l].retain(|&x| x != k);
                    }
                }
                Op::MoveToBack(l, k) => {
                    if let (Some(s), true) = (t.find(&k), m.lists[l].contains(&k)) {
                        t.move_to_back(l, s);
                        m.lists[l].retain(|&x| x != k);
                        m.lists[l].push(k);
                    }
                }
                Op::PopHead(l) => {
                    let got = t.head(l).and_then(|s| t.remove(s)).map(|e| e.key);
                    let want = m.lists[l].first().copied();
                    prop_assert_eq!(got, want);
                    if let Some(k) = want {
                        m.held.remove(&k);
                        for l in &mut m.lists {
                            l.retain(|&x| x != k);
                        }
                    }
                }
            }
            prop_assert_eq!(t.check(), Ok(()));
            prop_assert_eq!(t.len(), m.held.len());
            for (k, v) in &m.held {
                let e = t.find(k).and_then(|s| t.get(s));
                prop_assert_eq!(e.map(|e| e.value), Some(*v));
            }
            for (l, want) in m.lists.iter().enumerate() {
                let got: Vec<u16> = t.list(l).filter_map(|s| t.get(s)).map(|e| e.key).collect();
                prop_assert_eq!(&got, want);
            }
        }
    }
}

/// Freed slots are reused, newest freed first: slot numbers depend on the order of inserts
/// and removes only, never on the index's hash.
#[test]
fn slots_are_reused_whatever_the_hash() {
    let mut t: SlabTable<E, Crowded, 1> = SlabTable::new(Crowded);
    let a = t.insert(E { key: 1, value: 0 }).unwrap();
    let b = t.insert(E { key: 5, value: 0 }).unwrap();
    assert_eq!((a, b), (0, 1));
    assert_eq!(t.remove(a).map(|e| e.key), Some(1));
    assert_eq!(t.remove(a), None);
    assert_eq!(t.insert(E { key: 9, value: 0 }), Some(a));
    assert_eq!(t.find(&9), Some(a));
    assert_eq!(t.find(&1), None);
}

/// A slot alone on a list is linked; removing it empties the list.
#[test]
fn a_single_entry_list() {
    let mut t: SlabTable<E, Crowded, 1> = SlabTable::new(Crowded);
    let a = t.insert(E { key: 3, value: 0 }).unwrap();
    assert!(!t.is_linked(0, a));
    t.push_back(0, a);
    assert!(t.is_linked(0, a));
    assert_eq!(t.head(0), Some(a));
    t.remove(a);
    assert_eq!(t.head(0), None);
    assert_eq!(t.check(), Ok(()));
}

/// Every slot that may hold a key is offered to a prefetch pass, the one holding it among
/// them.
#[test]
fn candidates_include_the_holder() {
    let mut t: SlabTable<E, Crowded, 1> = SlabTable::new(Crowded);
    for k in 0..12 {
        t.insert(E { key: k, value: 0 });
    }
    let holder = t.find(&6).unwrap();
    let mut seen = Vec::new();
    t.candidates(&6, |p| seen.push(p));
    let want = t.slots.get(holder as usize).unwrap() as *const Option<E>;
    assert!(seen.contains(&want));
}

/// A table sized for its bound never moves its slab, links or index while it fills up to it
/// (a copy would hold the old and the new arrays at once: twice the memory at the peak).
#[test]
fn a_table_with_capacity_does_not_grow_up_to_it() {
    let mut t: SlabTable<E, std::hash::RandomState, 1> =
        SlabTable::with_capacity(std::hash::RandomState::new(), 100);
    let (slots, links) = (t.slots.as_ptr(), t.links.as_ptr());
    let index = t.index.capacity();
    assert!(index >= 100);
    for k in 0..100 {
        let s = t.insert(E { key: k, value: 0 }).unwrap();
        t.push_back(0, s);
    }
    assert_eq!((t.slots.as_ptr(), t.links.as_ptr()), (slots, links));
    assert_eq!(t.index.capacity(), index);
    assert_eq!(t.check(), Ok(()));
}

/// An entry's cost counts its slot and its links, whatever the lists.
#[test]
fn entry_bytes_count_slot_links_and_index() {
    type One = SlabTable<E, Crowded, 1>;
    type Three = SlabTable<E, Crowded, 3>;
    assert!(One::ENTRY_BYTES > std::mem::size_of::<Option<E>>() + 8);
    assert_eq!(Three::ENTRY_BYTES - One::ENTRY_BYTES, 16);
}

/// A bound far beyond the machine (a typo in a config) does not abort: what cannot be
/// reserved is not, and the table works as one built with `new`.
#[test]
fn a_capacity_beyond_the_machine_is_not_reserved() {
    let mut t: SlabTable<E, std::hash::RandomState, 1> =
        SlabTable::with_capacity(std::hash::RandomState::new(), usize::MAX);
    let s = t.insert(E { key: 1, value: 2 }).unwrap();
    t.push_back(0, s);
    assert_eq!(t.find(&1), Some(s));
    assert_eq!(t.check(), Ok(()));
}
