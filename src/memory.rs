//! The process's allocator: glibc's malloc, with one arena per core, and for `collect` a
//! fixed mmap threshold.
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

/// Buffers of at least this size are mapped for themselves and unmapped when freed.
const MMAP_THRESHOLD_BYTES: libc::c_int = 4 << 20;

/// Gives every buffer of 4 MiB or more back to the system when it is freed, for `collect`.
///
/// glibc raises its mmap threshold (up to 32 MiB) each time a mapped buffer is freed, so a
/// collector's batches, whose buffers grow to tens of MiB and are freed at every commit,
/// soon come from the heap, which keeps them: `collect` of 1M ESO events held 290–305 MiB
/// against 190–230 MiB for 100k, and 176 MiB against 138 MiB with a fixed 4 MiB threshold,
/// as fast. Log Analytics collect held 292–312 MiB instead of ~400 MiB but took ~8% more
/// CPU (page faults), which a collector waiting on remote APIs can spend; `ingest` of local
/// files, CPU-bound, and the queries, which gained nothing from it, keep glibc's default
/// (BENCHMARKS.md). `MALLOC_MMAP_THRESHOLD_` in the environment still wins.
pub fn map_large_buffers() -> bool {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return true;
    }
    // SAFETY: mallopt only sets a malloc tunable; it is called before other threads exist.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_arena_limit_and_the_mmap_threshold() {
        assert!(super::limit_arenas(), "mallopt(M_ARENA_MAX) was refused");
        assert!(super::map_large_buffers(), "mallopt(M_MMAP_THRESHOLD) was refused");
    }
}
