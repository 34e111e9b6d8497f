//! The process's allocator and how it trades memory for speed.
//!
//! mimalloc keeps freed memory for `purge_delay` milliseconds (1,000 by default in the
//! version built here) before it returns it to the system, so that the next allocations
//! reuse it. keytrail's work frees in large pieces: a committed batch's storage (tens of
//! MB in a few buffers), a query operator's buffers. With a one-second delay a process
//! holds on to several of those at once, so keytrail shortens it to 10 ms for every
//! command but `verify`, whose decode batches are all the same size and reused: there the
//! short delay cost ~15% of speed, and verify's memory is small and fixed anyway.
//! Measured on this repository's benchmarks (BENCHMARKS.md): a report peaks within
//! a third of what it does with glibc's malloc and runs as fast; forwarded Akeyless ingest
//! and Kubernetes collect keep their speed at 50–60% of the memory; generic ingest and Log
//! Analytics collect give up 5–10% of speed (far above their targets) for 25–35% less
//! memory. mimalloc itself is kept because typed ingest, which allocates on one thread
//! and frees on another, ran a third faster with it than with glibc's malloc. The delay is
//! set before the runtime starts, so that no thread's heap starts with the default.

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
