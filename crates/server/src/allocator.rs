//! Tuning of mimalloc, the global allocator of the `mspbridge` binary (and of the benchmarks that
//! measure it as shipped).

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (`mimalloc.h`): how many milliseconds
/// freed memory is kept before it is given back to the system.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc give freed memory back to the system at once instead of after its default
/// delay (a second in mimalloc 3). Memory a thread freed is otherwise only given back when that
/// thread allocates again after the delay, and the threads of `serve` (a store connection's
/// worker, a runtime worker between pages) often do not: with a million queued alerts that kept
/// about 7 MB of the resident memory of `serve` (BENCHMARKS.md §4), for no measurable speed.
/// Call it first thing in `main`.
#[allow(unsafe_code)]
pub fn give_freed_memory_back_at_once() {
    // SAFETY: `mi_option_set` stores a value into mimalloc's option table and may be called at
    // any time; 0 is a documented value of this option ("use 0 for immediate purging").
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
}
