//! The query memory pool: DataFusion's fair spilling pool, except that spilling consumers
//! leave a quarter of it to the consumers that cannot spill.
//!
//! DataFusion's `FairSpillPool` lets the spilling consumers (sorts, aggregations) fill the
//! whole pool between them; a consumer that cannot spill then finds nothing left, and its
//! query fails. The final merge of a sort's partitions is one: a large report failed that
//! way now and then; with a quarter kept for them it runs every time, as fast. DataFusion
//! has no pool with such a limit, hence this one.

use std::sync::Mutex;

use datafusion::common::{Result, resources_datafusion_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation};

#[derive(Debug, Default)]
struct Held {
    spillers: usize,
    spillable: usize,
    unspillable: usize,
}

/// Spilling consumers share three quarters of the pool, less what unspilling ones hold,
/// equally; consumers that cannot spill may take whatever is free.
#[derive(Debug)]
pub(crate) struct HeadroomPool {
    size: usize,
    held: Mutex<Held>,
}

impl HeadroomPool {
    pub(crate) fn new(size: usize) -> Self {
        Self { size, held: Mutex::default() }
    }

    fn spill_limit(&self) -> usize {
        self.size - self.size / 4
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().expect("no panic while holding the lock")
    }
}

impl std::fmt::Display for HeadroomPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "query memory of {} MiB", self.size >> 20)
    }
}

impl MemoryPool for HeadroomPool {
    fn name(&self) -> &str {
        "headroom"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            self.held().spillers += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            self.held().spillers -= 1;
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        let mut held = self.held();
        if reservation.consumer().can_spill() {
            held.spillable += additional;
        } else {
            held.unspillable += additional;
        }
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut held = self.held();
        if reservation.consumer().can_spill() {
            held.spillable -= shrink;
        } else {
            held.unspillable -= shrink;
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut held = self.held();
        let consumer = reservation.consumer();
        if consumer.can_spill() {
            let share = self.spill_limit().saturating_sub(held.unspillable) / held.spillers.max(1);
            if reservation.size() + additional > share {
                // The consumer spills and tries again; this text is seen only if it cannot.
                return Err(resources_datafusion_err!(
                    "{} holds {} bytes and needs {additional} more, beyond its share ({share} bytes) of the {self}; \
                     raise query_memory_mb (--query-memory-mb)",
                    consumer.name(),
                    reservation.size()
                ));
            }
            held.spillable += additional;
        } else {
            let free = self.size.saturating_sub(held.spillable + held.unspillable);
            if additional > free {
                return Err(resources_datafusion_err!(
                    "{} needs {additional} bytes and cannot spill, but only {free} bytes of the {self} are free; \
                     raise query_memory_mb (--query-memory-mb)",
                    consumer.name()
                ));
            }
            held.unspillable += additional;
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        let held = self.held();
        held.spillable + held.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn spillers_share_three_quarters_and_the_rest_stays_for_consumers_that_cannot_spill() {
        let pool: Arc<dyn MemoryPool> = Arc::new(HeadroomPool::new(1000));
        let sort_a = MemoryConsumer::new("sort a").with_can_spill(true).register(&pool);
        let sort_b = MemoryConsumer::new("sort b").with_can_spill(true).register(&pool);
        let merge = MemoryConsumer::new("merge").register(&pool);

        // Two spillers: 750 / 2 each.
        sort_a.try_grow(375).unwrap();
        assert!(sort_a.try_grow(1).is_err(), "a spiller stops at its share");
        sort_b.try_grow(375).unwrap();
        // The quarter left is there for the merge, which cannot spill.
        merge.try_grow(250).unwrap();
        let refused = merge.try_grow(1).unwrap_err().to_string();
        assert!(refused.contains("merge") && refused.contains("--query-memory-mb"), "{refused}");
        assert_eq!(pool.reserved(), 1000);

        // What unspilling consumers hold comes off the spillers' shares.
        sort_a.free();
        sort_b.free();
        assert!(sort_a.try_grow(251).is_err(), "(750 - 250) / 2 = 250");
        sort_a.try_grow(250).unwrap();
        drop(sort_b);
        sort_a.try_grow(250).unwrap();
        assert!(sort_a.try_grow(1).is_err(), "one spiller left: 750 - 250");
        drop(merge);
        sort_a.try_grow(250).unwrap();
        assert_eq!(pool.reserved(), 750);
    }
}
