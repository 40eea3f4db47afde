//! The per-thread front of the [`TokenCache`](super::TokenCache): the
//! credentials a thread sees again and again, found without a lock.
//!
//! A hit in the shared cache takes a read lock on a shard (two atomic
//! read-modify-writes on a line every core shares), hashes, probes and
//! clones: about a third of what tokenguard adds to a request. Here a hit
//! is a direct-mapped slot of this thread, compared in full, and nothing
//! is written that another thread reads.
//!
//! A credential gets a slot only after the shared cache found it (it was
//! verified) and when it misses here twice in a row: a thread serving many
//! distinct callers in turn keeps finding them in the shared cache,
//! paying one comparison of a tag here and never a copy, while a caller
//! that comes back gets its slot on its second request. An entry here dies
//! exactly when its shared twin does (expiry, signing key gone from the
//! JWKS); when the shared cache evicts a credential for room, the copy
//! here stays valid and only bounded: [`SLOTS`] entries of at most
//! [`LONGEST`] bytes per thread.

use std::cell::RefCell;

use super::{CoarseInstant, Lifetime};
use crate::credential::Scheme;
use crate::principal::Principal;

/// Slots per thread, a power of two.
pub(super) const SLOTS: usize = 64;

/// Longer credentials are only ever looked up in the shared cache.
pub(super) const LONGEST: usize = 4096;

/// A credential the shared cache verified, copied for this thread.
pub(super) struct Entry {
    /// The [`TokenCache`](super::TokenCache) it came from: a thread serves
    /// every authenticator of the process.
    pub(super) cache_id: u64,
    pub(super) token: Box<[u8]>,
    pub(super) scheme: Scheme,
    pub(super) principal: Principal,
    /// The shared entry's: this copy dies with it.
    pub(super) lifetime: Lifetime,
}

struct Slot {
    entry: Option<Entry>,
    /// The tag of the last credential that missed here.
    last_miss: u64,
}

thread_local! {
    static FRONT: RefCell<[Slot; SLOTS]> = const { RefCell::new([const { Slot { entry: None, last_miss: 0 } }; SLOTS]) };
}

/// Where a credential that missed the front goes, and whether it earned its
/// slot (its second miss in a row there).
pub(super) struct Miss {
    slot: usize,
    pub(super) promote: bool,
}

/// A credential's tag: its last bytes (random, as verified credentials'
/// tails are: see [`TokenKey`](super::TokenKey)) with its length.
fn tag(token: &[u8]) -> u64 {
    let tail = match token.last_chunk::<8>() {
        Some(tail) => u64::from_le_bytes(*tail),
        None => token.iter().fold(0, |acc, &byte| acc << 8 | u64::from(byte)),
    };
    tail ^ token.len() as u64
}

fn slot_of(tag: u64) -> usize {
    // Fibonacci hashing: the top bits of the product depend on every bit of the tag.
    (tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// The principal of `token` if this thread holds it, live, from cache `cache_id`.
#[inline]
pub(super) fn get(cache_id: u64, token: &[u8], scheme: Scheme, now: CoarseInstant) -> Result<Principal, Miss> {
    let tag = tag(token);
    let slot = slot_of(tag);
    if token.len() > LONGEST {
        return Err(Miss { slot, promote: false });
    }
    let found = FRONT.try_with(|front| {
        let Ok(mut front) = front.try_borrow_mut() else { return Err(false) };
        let slot = &mut front[slot];
        if let Some(entry) = &slot.entry
            && entry.cache_id == cache_id
            && *entry.token == *token
        {
            if !entry.lifetime.is_live(now) {
                // Dead here means dead in the shared cache, which removes its
                // own. Dropping it touches no thread's front.
                slot.entry = None;
                return Err(false);
            }
            // Another scheme is another credential: the shared cache answers it.
            return if entry.scheme == scheme { Ok(entry.principal.clone()) } else { Err(false) };
        }
        let again = slot.last_miss == tag;
        slot.last_miss = tag;
        Err(again)
    });
    match found {
        Ok(Ok(principal)) => Ok(principal),
        Ok(Err(again)) => Err(Miss { slot, promote: again }),
        Err(_) => Err(Miss { slot, promote: false }),
    }
}

/// Gives a credential the shared cache just found the slot it missed.
pub(super) fn promote(miss: Miss, entry: Entry) {
    // The evicted entry is dropped with the slots borrowed: dropping an
    // entry touches no thread's front.
    let _ = FRONT.try_with(|front| {
        if let Ok(mut front) = front.try_borrow_mut() {
            front[miss.slot].entry = Some(entry);
        }
    });
}

/// Whether this thread's front holds `token` for cache `cache_id`, dead or alive.
#[cfg(test)]
pub(super) fn holds(cache_id: u64, token: &[u8]) -> bool {
    FRONT.with_borrow(|front| {
        front[slot_of(tag(token))]
            .entry
            .as_ref()
            .is_some_and(|entry| entry.cache_id == cache_id && *entry.token == *token)
    })
}
