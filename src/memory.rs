//! The process's allocator and how it trades memory for speed.
//!
//! mimalloc keeps freed memory for `purge_delay` milliseconds (1,000 by default in the
//! version built here) before it returns it to the system, so that the next allocations
//! reuse it. Typed ingest allocates a batch's records on one thread while the ledger frees
//! the previous batch on another, and runs a third faster with mimalloc than with glibc's
//! malloc (BENCHMARKS.md). Queries free
//! in bursts, and a one-second delay lets a report hold on to far more than its working set,
//! so query work shortens the delay to 10 ms: a report then peaks within a third of what it
//! does with glibc's malloc, and runs as fast (purging at once would cost it a tenth more
//! time). Typed ingest goes the other way: memory purged after 1 s was faulted back in
//! (zeroed huge pages) by the next batches. A 10 s delay cut page faults from ~110k to ~18k
//! and CPU by ~5% on average on 1M forwarded records (of the order of the machine's noise),
//! for 60–100 MiB more peak memory at 10M (BENCHMARKS.md). It is set before the runtime starts: set later, it saved only half the
//! page faults.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t`; libmimalloc-sys does not name it.
/// The test below fails if the number ever stops meaning the purge delay.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// From now on, freed memory goes back to the system after 10 ms (for queries and reports).
pub fn favour_memory() {
    set_purge_delay_ms(10);
}

/// From now on, freed memory goes back to the system after 10 s (for typed file ingest,
/// whose next batch reuses it).
pub fn favour_speed() {
    set_purge_delay_ms(10_000);
}

fn set_purge_delay_ms(ms: std::ffi::c_long) {
    // SAFETY: mi_option_set only stores an option value; any thread may call it any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn option_15_is_the_purge_delay() {
        // SAFETY: reading an option has no preconditions.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        // The default in mimalloc's options table (src/options.c): no other option has it.
        assert_eq!(default, 1000, "mimalloc's default purge delay is 1000 ms");
        super::favour_speed();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 10_000);
        super::favour_memory();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 10);
    }
}
