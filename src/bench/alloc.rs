//! predial's global allocator: jemalloc, which can count the bytes in use, so benchmarks can
//! report memory per lead exactly (the live heap, not the process's resident pages). Until a
//! benchmark starts counting it only reads one flag per allocation; while counting it adds one
//! relaxed atomic add.
//!
//! Why jemalloc: the SIP side allocates on one thread and frees on another all the time (a
//! message parsed by the transport, dropped by the call's task). glibc's malloc then contends
//! on its arena locks: at 8,000 calls/s, 43% of predial's CPU time was in the kernel, most of it
//! futex wake-ups from those locks. With jemalloc the same run needs about a third less CPU and
//! the calls-per-second ceiling rises from about 8,000 to 12,000 (docs/benchmarks.md).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

// SAFETY: every call is passed to the system allocator unchanged; the counters are only
// statistics and never affect what is allocated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { tikv_jemallocator::Jemalloc.alloc(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { tikv_jemallocator::Jemalloc.alloc_zeroed(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { tikv_jemallocator::Jemalloc.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { tikv_jemallocator::Jemalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            IN_USE.fetch_add(new_size, Ordering::Relaxed);
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

/// Starts counting (for the rest of the process) and returns the count now, or `None` when
/// this allocator is not the global one. The count only means something as a difference of two
/// readings taken while counting: blocks allocated before and freed after make it wrap.
pub fn start_counting() -> Option<usize> {
    COUNTING.store(true, Ordering::Relaxed);
    // An allocation that must go through the global allocator tells whether it is this one.
    let before = IN_USE.load(Ordering::Relaxed);
    let probe = std::hint::black_box(Box::new([0u64; 4]));
    let during = IN_USE.load(Ordering::Relaxed);
    drop(probe);
    (during != before).then(|| IN_USE.load(Ordering::Relaxed))
}

/// Heap bytes counted now (see `start_counting`), or `None` when not counting.
pub fn in_use() -> Option<usize> {
    COUNTING
        .load(Ordering::Relaxed)
        .then(|| IN_USE.load(Ordering::Relaxed))
}
