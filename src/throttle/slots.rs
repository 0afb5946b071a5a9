//! The cap on requests in flight, with a queue that lets creates go first: a create is the
//! last step of a report whose failure is about to reach Jira, while reads (the settings
//! screen's lists, the next reports' searches) can wait a little longer (issue 9).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Who goes first when requests wait for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    /// Creates: before anything else that waits.
    First,
    /// Everything else, in arrival order.
    Normal,
}

#[derive(Debug)]
struct State {
    free: usize,
    first: VecDeque<oneshot::Sender<()>>,
    normal: VecDeque<oneshot::Sender<()>>,
}

/// Slots for requests in flight.
#[derive(Debug)]
pub(crate) struct Slots {
    state: Mutex<State>,
}

/// A slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.release();
    }
}

/// A place in the queue; if the wait is dropped after a slot was handed to it, the slot
/// goes back, so that a cancelled report never leaks one.
struct Waiting<'a> {
    slots: &'a Slots,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.slots.release();
            }
        }
    }
}

impl Slots {
    pub(crate) fn new(n: usize) -> Self {
        Slots {
            state: Mutex::new(State {
                free: n.max(1),
                first: VecDeque::new(),
                normal: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot: creates before the rest, each kind in arrival order.
    pub(crate) async fn acquire(&self, priority: Priority) -> Slot<'_> {
        let rx = {
            let mut st = self.lock();
            let ahead = match priority {
                Priority::First => !st.first.is_empty(),
                Priority::Normal => !st.first.is_empty() || !st.normal.is_empty(),
            };
            if st.free > 0 && !ahead {
                st.free -= 1;
                return Slot { slots: self };
            }
            let (tx, rx) = oneshot::channel();
            match priority {
                Priority::First => st.first.push_back(tx),
                Priority::Normal => st.normal.push_back(tx),
            }
            rx
        };
        let mut waiting = Waiting {
            slots: self,
            rx: Some(rx),
        };
        if let Some(rx) = waiting.rx.as_mut() {
            // The sender is only dropped after a send: a slot is ours.
            let _ = rx.await;
        }
        waiting.rx = None;
        Slot { slots: self }
    }

    /// Hands a slot to the first waiter still waiting, creates first; or frees it.
    fn release(&self) {
        let mut st = self.lock();
        loop {
            let next = st.first.pop_front().or_else(|| st.normal.pop_front());
            match next {
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    st.free += 1;
                    // A storm leaves queues sized for its peak: give the room back once
                    // it has passed, so that what the notifier keeps does not grow with it.
                    let State { first, normal, .. } = &mut *st;
                    for queue in [first, normal] {
                        if queue.capacity() > 64 {
                            queue.shrink_to(8);
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Slots free right now.
    #[cfg(test)]
    pub(crate) fn free(&self) -> usize {
        self.lock().free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn creates_go_before_reads_that_waited_longer() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.acquire(Priority::Normal).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, pri) in [
            ("read-1", Priority::Normal),
            ("read-2", Priority::Normal),
            ("create", Priority::First),
        ] {
            let (slots, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire(pri).await;
                order.lock().unwrap().push(name);
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["create", "read-1", "read-2"]);
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_slot_back() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.acquire(Priority::Normal).await;
        let s2 = slots.clone();
        let waiter = tokio::spawn(async move {
            let _slot = s2.acquire(Priority::Normal).await;
            std::future::pending::<()>().await;
        });
        let s3 = slots.clone();
        let cancelled = tokio::spawn(async move {
            let _slot = s3.acquire(Priority::First).await;
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        cancelled.abort();
        let _ = cancelled.await;
        drop(held);
        tokio::time::sleep(Duration::from_millis(5)).await;
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(slots.free(), 1);
        let _a = slots.acquire(Priority::Normal).await;
        assert_eq!(slots.free(), 0);
    }
}
