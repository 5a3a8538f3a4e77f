//! A loop's run right: which thread, if any, is running the loop now.
//!
//! The thread inside a run (a turn of a caller-driven loop, a library loop's thread, the thread
//! that closes a loop nobody runs) holds the loop's run right. Only that thread touches what
//! the loop owns without a lock: the objects that belong to the loop (timers, watches, and the
//! channels of the models built on the loop) are checked with plain loads there, and freed
//! for good only there. A caller-driven loop's owner does not hold the right between runs:
//! another thread may start a run in the middle of its call.
//!
//! The right lives in a [`RunRight`] cell whose memory is never freed (cells are reused by
//! later loops under a new, never reused loop id), so a table that names an object's loop by
//! its cell can check "is the caller running this loop?" with loads alone, even after the loop
//! is gone: a cell of a dead loop names another id, or no holder.
//!
//! A forked child holds no run right: the child's fork handler clears every cell, so a call
//! in the child of a fork made from inside a loop callback takes the checked path.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crate::sys::{fork, thread};

/// The run right of one loop (see the module docs). Lives for the whole process.
#[derive(Debug)]
pub struct RunRight {
    /// The [`thread::token`] of the thread running the loop, or 0.
    holder: AtomicUsize,
    /// The id of the loop that has this cell, or 0 while the cell is free.
    loop_id: AtomicU64,
    /// Whether a loop has this cell.
    in_use: AtomicBool,
    /// The next cell ever made (cells are only added, at the head).
    next: AtomicPtr<RunRight>,
}

/// The newest cell; the list holds every cell ever made.
static CELLS: AtomicPtr<RunRight> = AtomicPtr::new(ptr::null_mut());
/// The last loop id handed out (ids start at 1 and are never reused).
static LAST_LOOP_ID: AtomicU64 = AtomicU64::new(0);

/// Every cell ever made, newest first.
fn cells() -> impl Iterator<Item = &'static RunRight> {
    let mut next = CELLS.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        // SAFETY: cells are leaked boxes, never freed, and published with Release.
        let cell = unsafe { next.as_ref() }?;
        next = cell.next.load(Ordering::Acquire);
        Some(cell)
    })
}

/// In a forked child: nobody runs any loop (the child's copy of a running thread is not
/// running anything). Takes no lock and allocates nothing.
unsafe extern "C" fn forget_holders() {
    for cell in cells() {
        cell.holder.store(0, Ordering::Relaxed);
    }
}

impl RunRight {
    /// A cell for a new loop, with that loop's fresh id: a free cell of a dead loop, or a new
    /// one (allocated once, kept for the process's life).
    pub(crate) fn claim() -> &'static RunRight {
        static FORK_HANDLER: std::sync::Once = std::sync::Once::new();
        FORK_HANDLER.call_once(|| fork::on_child(forget_holders));
        let id = LAST_LOOP_ID.fetch_add(1, Ordering::Relaxed) + 1;
        let reused = cells().find(|cell| {
            cell.in_use
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        });
        let cell = reused.unwrap_or_else(|| {
            let cell: &'static RunRight = Box::leak(Box::new(RunRight {
                holder: AtomicUsize::new(0),
                loop_id: AtomicU64::new(0),
                in_use: AtomicBool::new(true),
                next: AtomicPtr::new(ptr::null_mut()),
            }));
            let mut head = CELLS.load(Ordering::Relaxed);
            loop {
                cell.next.store(head, Ordering::Relaxed);
                let new = ptr::from_ref(cell).cast_mut();
                match CELLS.compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed) {
                    Ok(_) => break cell,
                    Err(seen) => head = seen,
                }
            }
        });
        cell.loop_id.store(id, Ordering::Release);
        cell
    }

    /// Gives the cell back when its loop is dropped.
    pub(crate) fn release(&self) {
        self.holder.store(0, Ordering::Relaxed);
        self.loop_id.store(0, Ordering::Release);
        self.in_use.store(false, Ordering::Release);
    }

    /// The id of the loop this cell belongs to (0: none). A loop's id is never reused.
    pub fn loop_id(&self) -> u64 {
        self.loop_id.load(Ordering::Acquire)
    }

    /// Whether the calling thread holds the run right of the loop with id `loop_id`: it runs
    /// that loop now. Two loads and a compare; never a false yes (a false no only for a loop
    /// the caller does not run).
    #[inline]
    pub fn held_for(&self, loop_id: u64) -> bool {
        // The holder first: if it is the caller, the caller is inside a run of this cell's
        // loop, which therefore cannot be dropped (nor the cell reused) during this check.
        self.holder.load(Ordering::Relaxed) == thread::token()
            && self.loop_id.load(Ordering::Relaxed) == loop_id
    }

    /// Whether the calling thread holds this loop's run right.
    #[inline]
    pub fn held(&self) -> bool {
        self.holder.load(Ordering::Relaxed) == thread::token()
    }

    /// Takes the run right for the calling thread until the returned guard drops. The caller
    /// has made sure that no other thread runs the loop (its `running` flag).
    pub(crate) fn hold(&self) -> Held<'_> {
        let previous = self.holder.swap(thread::token(), Ordering::Relaxed);
        Held(self, previous)
    }
}

/// The run right, held by the calling thread until drop (which gives back what was there
/// before: a nested hold by the same thread, as a close from inside a run, keeps the right).
#[derive(Debug)]
pub(crate) struct Held<'a>(&'a RunRight, usize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.holder.store(self.1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_holding_thread_holds_it() {
        let cell = RunRight::claim();
        let id = cell.loop_id();
        assert!(!cell.held_for(id));
        {
            let _held = cell.hold();
            assert!(cell.held_for(id));
            assert!(!cell.held_for(id + 1), "another loop's id");
            std::thread::scope(|s| {
                s.spawn(|| assert!(!cell.held_for(id)));
            });
        }
        assert!(!cell.held_for(id));
        cell.release();
    }

    #[test]
    fn a_reused_cell_has_a_new_id_and_no_holder() {
        let cell = RunRight::claim();
        let id = cell.loop_id();
        cell.release();
        let mut claimed = Vec::new();
        // Claim until the freed cell comes back (other tests may claim cells meanwhile).
        let again = loop {
            let c = RunRight::claim();
            claimed.push(c);
            if std::ptr::eq(c, cell) || claimed.len() > 1000 {
                break c;
            }
        };
        assert!(std::ptr::eq(again, cell), "a free cell is reused");
        assert_ne!(again.loop_id(), id, "loop ids are never reused");
        assert!(!again.held_for(id));
        for c in claimed {
            c.release();
        }
    }
}
