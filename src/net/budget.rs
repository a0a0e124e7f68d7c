//! [`MemoryBudget`]: the bytes that half-received commands of all sessions
//! may hold together. A session takes from it as a large payload arrives
//! (a [`Lease`]) and gives back when the next packet is read or the
//! session ends; when the budget is spent the taker is refused at once
//! rather than left waiting with what it already holds.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A shared byte budget.
#[derive(Debug)]
pub struct MemoryBudget {
    total: usize,
    used: Mutex<usize>,
}

impl MemoryBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Arc<Self> {
        Arc::new(MemoryBudget { total, used: Mutex::new(0) })
    }

    fn used(&self) -> MutexGuard<'_, usize> {
        self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes taken now.
    pub fn in_use(&self) -> usize {
        *self.used()
    }

    /// The size of the budget.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Takes `n` bytes into `lease` if they are free; false (nothing
    /// taken) when they are not.
    pub fn take(self: &Arc<Self>, lease: &mut Lease, n: usize) -> bool {
        let mut used = self.used();
        match used.checked_add(n).filter(|&u| u <= self.total) {
            Some(u) => {
                *used = u;
                drop(used);
                lease.add(self, n);
                true
            }
            None => false,
        }
    }

    fn give(&self, n: usize) {
        let mut used = self.used();
        *used = used.saturating_sub(n);
    }
}

/// Bytes held from a [`MemoryBudget`]; given back on [`Lease::release`]
/// or drop.
#[derive(Debug, Default)]
pub struct Lease {
    from: Option<Arc<MemoryBudget>>,
    bytes: usize,
}

impl Lease {
    fn add(&mut self, budget: &Arc<MemoryBudget>, n: usize) {
        if self.from.is_none() {
            self.from = Some(Arc::clone(budget));
        }
        self.bytes += n;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Gives every held byte back.
    pub fn release(&mut self) {
        if let Some(budget) = &self.from {
            budget.give(std::mem::take(&mut self.bytes));
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_up_to_the_total_and_gets_it_back_on_release_and_drop() {
        let budget = MemoryBudget::new(100);
        let mut a = Lease::default();
        let mut b = Lease::default();
        assert!(budget.take(&mut a, 60));
        assert!(!budget.take(&mut b, 41), "only 40 left");
        assert_eq!((b.bytes(), budget.in_use()), (0, 60), "a refusal takes nothing");
        assert!(budget.take(&mut b, 40));
        assert!(!budget.take(&mut a, 1));
        a.release();
        assert_eq!((a.bytes(), budget.in_use()), (0, 40));
        drop(b);
        assert_eq!(budget.in_use(), 0);
        assert!(!budget.take(&mut a, usize::MAX), "no overflow");
        assert!(budget.take(&mut a, 100));
    }
}
