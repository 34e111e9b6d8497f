//! The process's allocator and how it trades memory for speed.
//!
//! mimalloc keeps freed memory for `purge_delay` milliseconds (1,000 by default in the
//! version built here) before it returns it to the system, so that the next allocations
//! reuse it. Typed ingest allocates a batch on one thread while the ledger frees the
//! previous batch on another, and runs a third faster with mimalloc than with glibc's
//! malloc (BENCHMARKS.md). Queries free in bursts, and a one-second delay lets a report
//! hold on to far more than its working set, so query work shortens the delay to 10 ms: a
//! report then peaks within a third of what it does with glibc's malloc, and runs as fast
//! (purging at once would cost it a tenth more time). Forwarded Akeyless ingest frees a
//! batch's storage (tens of MB in a few buffers) every fraction of a second; with the
//! 10 ms delay it peaks at ~400 MiB instead of ~650 MiB on 1M records, at the same speed.
//! The delay is set before the runtime starts, so that no thread's heap starts with the
//! default.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t`; libmimalloc-sys does not name it.
/// The test below fails if the number ever stops meaning the purge delay.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// From now on, freed memory goes back to the system after 10 ms.
pub fn favour_memory() {
    // SAFETY: mi_option_set only stores an option value; any thread may call it any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn option_15_is_the_purge_delay() {
        // SAFETY: reading an option has no preconditions.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        // The default in mimalloc's options table (src/options.c): no other option has it.
        assert_eq!(default, 1000, "mimalloc's default purge delay is 1000 ms");
        super::favour_memory();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 10);
    }
}
