//! Software prefetch: a hint that memory is about to be read, so that the misses of a batch
//! of independent lookups overlap instead of stalling one after the other.
//!
//! The session table and the claims cache are touched once per transaction at addresses
//! scattered over megabytes (thousands of open sessions): a batch's lookups are known before
//! they run, so their cache lines are requested together first.

/// Bytes per cache line on the targets we build for.
pub const CACHE_LINE_BYTES: usize = 64;

/// Lines a single [`bytes`] call requests at most (bounds the hint's cost on long values).
pub const MAX_PREFETCH_LINES: usize = 16;

/// Hint that the cache line holding `p` is about to be read. A no-op where unsupported.
#[inline(always)]
pub fn line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults nor changes memory, whatever the address; SSE is part of
    // the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Hint that `len` bytes from `p` are about to be read: up to [`MAX_PREFETCH_LINES`] lines.
#[inline]
pub fn bytes<T>(p: *const T, len: usize) {
    let start = p.cast::<u8>();
    let lines = len.div_ceil(CACHE_LINE_BYTES).min(MAX_PREFETCH_LINES);
    for i in 0..lines {
        line(start.wrapping_add(i * CACHE_LINE_BYTES));
    }
}

/// Hint that `v` is about to be read.
#[inline]
pub fn value<T>(v: &T) {
    bytes(v as *const T, std::mem::size_of::<T>());
}

/// Hint that the elements of `s` are about to be read (up to [`MAX_PREFETCH_LINES`] lines).
#[inline]
pub fn slice<T>(s: &[T]) {
    bytes(s.as_ptr(), std::mem::size_of_val(s));
}
