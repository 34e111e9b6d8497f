//! The process's allocator: glibc's malloc, with one arena per core.
//!
//! glibc gives a process up to eight arenas per core, and each keeps the memory its
//! threads freed. keytrail's threads (tokio's workers, DataFusion's partitions, the
//! ledger's encoders) free large buffers all the time, so with the default a process
//! held several times what it used: the 10M-row report with a 512 MiB query pool peaked
//! at 0.95 GB (heaptrack: 0.50 GB in use at the peak); with one arena per core, 0.66 GB
//! and no slower. mimalloc, used before, held more (1.0–1.55 GB there; the UNION of every
//! control at 10M rows 0.7–2.5 GB against glibc's 0.3 GB) and its returning freed memory
//! to the system after 10 ms cost 3× the system time (page faults) in queries and
//! reports; ingest and verify ran as fast with glibc (BENCHMARKS.md). `MALLOC_ARENA_MAX`
//! in the environment still wins.

/// Limits malloc to one arena per core (at least two). Call it before any thread starts;
/// returns whether glibc took the setting.
pub fn limit_arenas() -> bool {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return true;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets a malloc tunable; it is called before other threads exist.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) == 1 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_arena_limit() {
        assert!(super::limit_arenas(), "mallopt(M_ARENA_MAX) was refused");
    }
}
