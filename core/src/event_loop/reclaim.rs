//! Reclaims: the second step of freeing what a loop owns.
//!
//! An object that belongs to a loop (a C timer's or watch's handle slot, and the channels of the
//! models built on the loop) may be used without any reference count by the thread running the
//! loop. So freeing it has two steps: any thread may retire it (later calls fail at once), but
//! only the loop's running thread reclaims it (drops what is left), at the end of a turn, when
//! no callback or call on it can be on the stack. [`EventLoop::reclaim_later`] hands a reclaim
//! to the loop. It is never rejected and runs exactly once: on the loop at the end of its
//! current or next turn, during its termination, or, once the termination has taken the last
//! ones, on the caller.

use std::sync::atomic::Ordering;

use super::EventLoop;
use crate::sync::lock;
use crate::sys::fork;

/// A reclaim handed to a loop.
pub(super) type Reclaim = Box<dyn FnOnce() + Send>;

impl EventLoop {
    /// Hands `reclaim` to the loop (see the module docs): it runs on the loop's running thread
    /// at the end of the current turn (from a callback) or of the next one (from another thread,
    /// which wakes a waiting loop), during the termination, or on this thread now if the loop
    /// has terminated or this is a forked child. Never fails; `reclaim` runs exactly once. A panic in it is caught and
    /// counted as a loop callback's.
    pub fn reclaim_later(&self, reclaim: impl FnOnce() + Send + 'static) {
        if fork::is_forked(self.inner.generation) {
            // A forked child runs none of its parent's loops (and must not lock or wake them).
            reclaim();
            return;
        }
        let wake = {
            let mut reclaims = lock(&self.inner.reclaims);
            match reclaims.as_mut() {
                Some(list) => {
                    list.push(Box::new(reclaim));
                    self.inner.reclaims_pending.store(true, Ordering::Release);
                    list.len() == 1 && !self.in_run()
                }
                None => {
                    drop(reclaims);
                    self.guard(reclaim);
                    return;
                }
            }
        };
        if wake {
            self.wake_if_idle();
        }
    }

    /// Runs the reclaims handed to the loop so far; on the loop's running thread, where no
    /// callback is on the stack. `last`: the termination's, after which reclaims run on their
    /// callers.
    pub(super) fn run_reclaims(&self, last: bool) {
        if !last && !self.inner.reclaims_pending.load(Ordering::Acquire) {
            return;
        }
        loop {
            let batch = {
                let mut reclaims = lock(&self.inner.reclaims);
                self.inner.reclaims_pending.store(false, Ordering::Relaxed);
                match reclaims.as_mut() {
                    Some(list) if !list.is_empty() => std::mem::take(list),
                    Some(_) if last => {
                        *reclaims = None;
                        return;
                    }
                    _ => return,
                }
            };
            for reclaim in batch {
                self.guard(reclaim);
            }
        }
    }
}
