//! The process's allocator: glibc's malloc, with one arena per core, freed memory given
//! back to the system every 200 ms, and for `collect` a fixed mmap threshold.
//!
//! glibc gives a process up to eight arenas per core, and each keeps the memory its
//! threads freed. keytrail's threads (tokio's workers, DataFusion's partitions, the
//! ledger's encoders) free large buffers all the time, so with the default a process
//! holds several times what it uses; one arena per core holds much less and is no slower.
//! mimalloc held more still, and its returning freed memory to the system soon after
//! every free cost system time (page faults) in queries and reports (BENCHMARKS.md says
//! how much). `MALLOC_ARENA_MAX` in the environment still wins.

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
/// soon come from the heap, which keeps them, and the resident set grows with the events
/// collected. A fixed threshold keeps it flat at some CPU (page faults), which a collector
/// waiting on remote APIs can spend; `ingest` of local files, CPU-bound, and the queries,
/// which gain nothing from it, keep glibc's default (BENCHMARKS.md).
/// `MALLOC_MMAP_THRESHOLD_` in the environment still wins.
pub fn map_large_buffers() -> bool {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return true;
    }
    // SAFETY: mallopt only sets a malloc tunable; it is called before other threads exist.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 }
}

/// How often [`release_free_memory_periodically`] gives freed memory back, unless
/// `KEYTRAIL_TRIM_INTERVAL_MS` says otherwise (0 turns it off).
const TRIM_INTERVAL_MS: u64 = 200;

/// Gives the memory malloc holds free back to the system every 200 ms, on a thread of its
/// own, so that what the process holds follows what it uses.
///
/// glibc returns freed memory only from the top of a heap; what is freed below a buffer
/// still in use stays resident, and a longer run leaves more of it: with this alone, the
/// resident set of forwarded ingest, verify and the report still rose with the records
/// while the memory in use stayed flat. `malloc_trim` also releases
/// the free pages in the middle of every arena. It costs system time, as the pages are
/// faulted in again when reused (BENCHMARKS.md measures both); an allocator setting, the
/// fixed mmap threshold above or one arena, either held more or cost more.
pub fn release_free_memory_periodically() {
    let interval_ms = std::env::var("KEYTRAIL_TRIM_INTERVAL_MS").ok().and_then(|ms| ms.trim().parse().ok()).unwrap_or(TRIM_INTERVAL_MS);
    if interval_ms == 0 {
        return;
    }
    let interval = std::time::Duration::from_millis(interval_ms);
    // Without the thread the process only holds more memory; nothing to report.
    let _ = std::thread::Builder::new().name("keytrail-trim".into()).spawn(move || {
        loop {
            std::thread::sleep(interval);
            release_free_memory();
        }
    });
}

/// Returns every whole free page of malloc's arenas to the system.
fn release_free_memory() {
    // SAFETY: malloc_trim takes each arena's lock and only unmaps or discards free pages;
    // it may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_arena_limit_and_the_mmap_threshold() {
        assert!(super::limit_arenas(), "mallopt(M_ARENA_MAX) was refused");
        assert!(super::map_large_buffers(), "mallopt(M_MMAP_THRESHOLD) was refused");
    }

    fn resident_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
        let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("resident pages in statm");
        // SAFETY: sysconf only reads a system constant.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        pages * u64::try_from(page_size).expect("a page size")
    }

    /// Memory freed below a block still in use stays resident until it is released.
    #[test]
    fn freed_memory_in_the_middle_of_the_heap_is_given_back() {
        const BLOCK: usize = 64 << 10; // below glibc's default mmap threshold (128 KiB): from the heap
        const BLOCKS: usize = 1024; // 64 MiB
        let mut blocks: Vec<Vec<u8>> = (0..BLOCKS).map(|i| vec![i as u8 | 1; BLOCK]).collect();
        // Keep every 16th block, so no free stretch reaches the top of the heap.
        let mut kept = 0;
        blocks.retain(|_| {
            kept += 1;
            kept % 16 == 0
        });
        let before = resident_bytes();
        super::release_free_memory();
        let after = resident_bytes();
        assert!(blocks.iter().all(|b| b[0] != 0 && b[BLOCK - 1] == b[0]), "the kept blocks are intact");
        assert!(
            before.saturating_sub(after) >= 32 << 20,
            "release_free_memory gave back {} bytes of the ~60 MiB freed (resident {before} -> {after})",
            before.saturating_sub(after)
        );
    }
}
