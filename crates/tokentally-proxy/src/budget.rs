//! Process-wide budgets of bytes held at once (`max_buffered_request_bytes`,
//! `max_buffered_capture_bytes`): each body or capture takes its share as it
//! grows, in KiB, and gives it back when dropped. A share that cannot grow is
//! refused at once, never waited for, so nothing queues behind a full budget.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone)]
pub struct Budget(Arc<Semaphore>);

/// The budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted;

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(
            bytes.div_ceil(1024).min(Semaphore::MAX_PERMITS),
        )))
    }

    /// An empty share, to grow with [`Share::cover`].
    pub fn share(&self) -> Share {
        Share {
            budget: Arc::clone(&self.0),
            permit: None,
            kib: 0,
        }
    }
}

/// What one body or capture holds of a budget.
#[derive(Debug)]
pub struct Share {
    budget: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
    kib: usize,
}

impl Share {
    /// Grows the share to cover `bytes`, or refuses (and keeps what it had).
    pub fn cover(&mut self, bytes: usize) -> Result<(), Exhausted> {
        let need = bytes.div_ceil(1024);
        if need <= self.kib {
            return Ok(());
        }
        let more = u32::try_from(need - self.kib).map_err(|_| Exhausted)?;
        let permit = Arc::clone(&self.budget)
            .try_acquire_many_owned(more)
            .map_err(|_| Exhausted)?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        self.kib = need;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_grow_until_the_budget_is_spent_and_give_it_back_when_dropped() {
        let budget = Budget::new(10 << 10);
        let mut a = budget.share();
        assert_eq!(a.cover(6 << 10), Ok(()));
        let mut b = budget.share();
        assert_eq!(b.cover(5 << 10), Err(Exhausted));
        assert_eq!(b.cover(4 << 10), Ok(()));
        assert_eq!(a.cover(7 << 10), Err(Exhausted), "a keeps its 6 KiB");
        drop(a);
        assert_eq!(b.cover(10 << 10), Ok(()));
    }
}
