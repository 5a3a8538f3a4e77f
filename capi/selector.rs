//! Java NIO's Selector in C: `nx_selector_*` and `nx_selection_key_*` over
//! `nioxide_core::selector`.
//!
//! A selector is a checked handle the user owns (`nx_selector_open` ... `nx_selector_free`).
//! A selection key is a handle the *selector* owns: the user never frees it. It is a weak
//! entry of the handle table naming the core key's own allocation, and its number sits in the
//! core key's binding slot (no allocation), so the same `nx_selection_key_t *` comes back for
//! a channel every time; the key frees it when it dies, so it turns into `NX_EBADHANDLE` by
//! itself when core forgets the key (at the select after its cancellation,
//! or when the selector is closed). Between a cancellation and that select, calls on the key
//! return `NX_ECANCELLEDKEY`, except `nx_selection_key_is_valid`, `nx_selection_key_cancel`
//! and the accessors of its channel and selector, which work.
//!
//! Attachments are the user's `void *` with an optional `attachment_free`, kept in core's key
//! as a `CAttachment`, which calls the free function exactly once, on the thread that drops
//! it (the call that replaces the attachment by a register, cancels the key, or closes its
//! channel or selector).

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nioxide_core::ErrorKind;
use nioxide_core::channel::Channel;
use nioxide_core::selector::{OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE, SelectionKey, Selector};
use nioxide_core::sync::lock;

use crate::args::{OptOut, Out, code, predicate, status};
use crate::attachment::CAttachment;
use crate::error::{NX_EBADHANDLE, NX_EFORKED, NX_EINVAL, NX_EOF};
use crate::handle::{self, HANDLES, HandleType, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{
    nx_free_cb, nx_selection_key_t, nx_selector_t, nx_server_socket_channel_t, nx_socket_channel_t,
};

/// Interest in reading (Java's `OP_READ`): the channel has data, or the peer closed its side.
pub const NX_OP_READ: u32 = 1;
const _: () = assert!(NX_OP_READ == OP_READ);

/// Interest in writing (Java's `OP_WRITE`): a connected channel has room to send.
pub const NX_OP_WRITE: u32 = 4;
const _: () = assert!(NX_OP_WRITE == OP_WRITE);

/// Interest in connect completion (Java's `OP_CONNECT`): a pending connect finished or failed;
/// call `nx_socket_channel_finish_connect`.
pub const NX_OP_CONNECT: u32 = 8;
const _: () = assert!(NX_OP_CONNECT == OP_CONNECT);

/// Interest in accepting (Java's `OP_ACCEPT`): a server channel has a connection waiting.
pub const NX_OP_ACCEPT: u32 = 16;
const _: () = assert!(NX_OP_ACCEPT == OP_ACCEPT);

/// Every defined interest bit; ops with other bits set are `NX_EINVAL`.
const ALL_OPS: u32 = NX_OP_READ | NX_OP_WRITE | NX_OP_CONNECT | NX_OP_ACCEPT;

/// `nx_selector_counter`: `epoll_wait` calls made by the selector.
pub const NX_COUNTER_WAITS: c_int = 1;
/// `nx_selector_counter`: `epoll_ctl` calls (a channel's registration and deregistration;
/// interest changes cost none).
pub const NX_COUNTER_CTL: c_int = 2;
/// `nx_selector_counter`: events delivered by `epoll_wait` (the wakeup's included).
pub const NX_COUNTER_EVENTS: c_int = 3;
/// `nx_selector_counter`: `epoll_wait` calls that returned no event; a spinning loop shows
/// here.
pub const NX_COUNTER_EMPTY_WAITS: c_int = 4;

/// The selector behind a C handle (alive for the caller's whole call).
fn selector_of(selector: *mut nx_selector_t) -> Result<Arc<Selector>, c_int> {
    handle::get(selector)
}

/// The core key behind a key handle; `NX_EFORKED` in a forked child. A cancelled key is
/// returned: most key calls then fail in core with `NX_ECANCELLEDKEY`.
fn key_of(key: *mut nx_selection_key_t) -> Result<SelectionKey, c_int> {
    let key = SelectionKey::from(handle::get(key)?);
    match key.check() {
        Err(e) if e.kind() == Some(ErrorKind::Forked) => Err(NX_EFORKED),
        _ => Ok(key),
    }
}

/// The C handle of a core key, made on first use; its number is kept in the key's binding
/// slot, and the key frees it when it dies ([`release_key_handle`]).
fn key_handle(key: &SelectionKey) -> Result<*mut nx_selection_key_t, c_int> {
    let bound = |key: &SelectionKey| {
        key.bound_handle()
            .map(|raw| RawHandle::from_bits(raw).as_ptr())
    };
    if let Some(ptr) = bound(key) {
        return Ok(ptr);
    }
    // Two threads registering one channel at once must not both make a handle.
    static MAKING: Mutex<()> = Mutex::new(());
    let _serial = lock(&MAKING);
    if let Some(ptr) = bound(key) {
        return Ok(ptr);
    }
    let raw = HANDLES.insert_weak(nx_selection_key_t::KIND, key.downgrade().as_weak())?;
    key.set_bound_handle(raw.to_bits(), Some(release_key_handle));
    Ok(raw.as_ptr())
}

/// Frees a key's C handle when the core key dies (the key's binding slot calls it).
fn release_key_handle(raw: u64) {
    HANDLES.release(RawHandle::from_bits(raw));
}

/// The C handle recorded in a core object's binding slot, if it still names a live object of
/// type `H`: how a key gives back the very handle the user registered.
///
/// Errors: `NX_EBADHANDLE` when there is none, or the user has freed it.
fn live_handle<H: HandleType>(raw: Option<RawHandle>) -> Result<*mut H, c_int> {
    let raw = raw.ok_or(NX_EBADHANDLE)?;
    HANDLES.get::<H::Object>(raw, H::KIND)?;
    Ok(raw.as_ptr())
}

/// The user's handle of the key's channel, stored in `*channel_out`: the body of
/// `nx_selection_key_socket_channel` and `nx_selection_key_server_socket_channel`. A channel
/// of the other type has a handle of the other tag, which [`live_handle`] refuses with
/// `NX_EINVAL`.
fn channel_handle<H: HandleType>(
    key: *mut nx_selection_key_t,
    channel_out: *mut *mut H,
) -> Result<(), c_int> {
    let out = Out::new(channel_out)?;
    out.set(live_handle(
        key_of(key)?
            .channel()
            .bound_handle()
            .map(RawHandle::from_bits),
    )?);
    Ok(())
}

/// Checks interest ops from C: unknown bits are `NX_EINVAL` (core then refuses ops the channel
/// does not support with `NX_EOPS`).
fn checked_ops(ops: u32) -> Result<u32, c_int> {
    if ops & !ALL_OPS != 0 {
        Err(NX_EINVAL)
    } else {
        Ok(ops)
    }
}

/// Registers `channel` with the selector behind `selector`: the shared body of
/// `nx_socket_channel_register` and `nx_server_socket_channel_register`. On error nothing is
/// kept and `attachment_free` is not called.
pub(crate) fn register(
    channel: Channel,
    selector: *mut nx_selector_t,
    ops: u32,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    key_out: *mut *mut nx_selection_key_t,
) -> Result<(), c_int> {
    let ops = checked_ops(ops)?;
    let selector = selector_of(selector)?;
    let mut attachment = CAttachment::boxed(attachment, attachment_free);
    let key = match selector.register(channel, ops, &mut attachment) {
        Ok(key) => key,
        Err(e) => {
            CAttachment::give_back_boxed(attachment);
            return Err(code(e));
        }
    };
    let ptr = match key_handle(&key) {
        Ok(ptr) => ptr,
        Err(e) => {
            // Only a brand-new key can lack a handle: take the attachment back, and undo the
            // registration now (a cancel alone would leave it until the next select).
            CAttachment::give_back_boxed(key.attach(None).ok().flatten());
            key.cancel_now();
            return Err(e);
        }
    };
    OptOut::new(key_out).set(ptr);
    Ok(())
}

/// Opens a selector.
///
/// On success `*selector_out` is a new selector that the caller owns and must release with
/// `nx_selector_free` (which closes it first if needed). It holds two descriptors (an epoll
/// instance and its wakeup eventfd), both close-on-exec. On error `*selector_out` is left
/// unchanged.
///
/// Thread safety: safe from any thread; the selector may be used from any thread.
///
/// Errors: `NX_EINVAL` if `selector_out` is NULL; `-EMFILE`, `-ENFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_open(selector_out: *mut *mut nx_selector_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(selector_out)?;
            let selector = Selector::open().map_err(code)?;
            let ptr: *mut nx_selector_t = handle::insert(Arc::new(selector.clone()))?;
            selector.set_bound_handle(RawHandle::from_ptr(ptr).to_bits(), None);
            out.set(ptr);
            Ok(())
        })
    }
}

/// Closes the selector: every key is cancelled and becomes invalid (`NX_EBADHANDLE`), the
/// attachments' `attachment_free` functions run on this thread, a select blocked in another
/// thread returns 0, and the selector's epoll and wake-up descriptors are closed (once that
/// select has left its wait). Its channels stay open (deregistered).
///
/// Idempotent: returns 0 every time, also on a closed selector, and also in a forked child
/// (where it closes without touching the parent's epoll set). The handle stays valid until
/// `nx_selector_free`; every other call on it then returns `NX_ECLOSED`.
///
/// Thread safety: safe from any thread, also while another thread selects.
///
/// Errors: `NX_EINVAL` (NULL or not a selector), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_close(selector: *mut nx_selector_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            selector_of(selector)?.close();
            Ok(())
        })
    }
}

/// Frees the selector: closes it if needed (as `nx_selector_close`), then invalidates the
/// handle. Every later call with it, a second free included, returns `NX_EBADHANDLE`. The
/// descriptors are closed once no call in another thread still uses the selector.
///
/// A forked child may free a selector created before the fork: its descriptors are closed in
/// the child without touching the parent's epoll set.
///
/// Thread safety: safe from any thread; a select blocked in another thread returns 0.
///
/// Errors: `NX_EINVAL` (NULL or not a selector), `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_free(selector: *mut nx_selector_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            handle::remove(selector)?.close();
            Ok(())
        })
    }
}

/// Waits until at least one key is selected, `timeout_ms` milliseconds pass (negative: wait
/// forever; 0: do not wait), `nx_selector_wakeup` is called, or the selector is closed. Then
/// replaces the selected-key set (walk it with `nx_selector_next_selected`) and stores its
/// size in `*count_out` (which may be NULL).
///
/// A key is selected while its channel is ready for one of its interest ops
/// (level-triggered), or once per new readiness edge for an edge-triggered key. Interest
/// changes and cancellations made before the call take effect in it. A wakeup made before the
/// call makes it return at once (and is used up). Signals interrupting the wait are retried
/// with the remaining time. No user code runs inside. On error `*count_out` is unchanged.
///
/// Thread safety: safe from any thread; one thread selects at a time on a selector (others
/// wait their turn). Register, interest changes, cancel, close and wakeup work from other
/// threads during a select.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECLOSED` (closed before the call), `NX_EFORKED`,
/// other `-errno` from `epoll_wait`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_select(
    selector: *mut nx_selector_t,
    timeout_ms: i64,
    count_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let selector = selector_of(selector)?;
            let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
            let count = selector.select(timeout).map_err(code)?;
            OptOut::new(count_out).set(count);
            Ok(())
        })
    }
}

/// `nx_selector_select` without waiting; it also clears a pending wakeup. Stores the number
/// of selected keys in `*count_out` (which may be NULL; unchanged on error).
///
/// Thread safety: as `nx_selector_select`.
///
/// Errors: as `nx_selector_select`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_select_now(
    selector: *mut nx_selector_t,
    count_out: *mut usize,
) -> c_int {
    nx_selector_select(selector, 0, count_out)
}

/// Makes a select blocked in another thread return at once, or, if none is blocked, the next
/// select (`nx_selector_select_now` clears it). Cheap when a wakeup is already pending.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECLOSED`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_wakeup(selector: *mut nx_selector_t) -> c_int {
    nx_ffi_boundary! {
        status(|| selector_of(selector)?.wakeup().map_err(code))
    }
}

/// Walks the keys selected by the last select, allocating nothing:
///
/// ```c
/// size_t cursor = 0;
/// nx_selection_key_t *key;
/// while (nx_selector_next_selected(selector, &cursor, &key) == 0) {
///   if (nx_selection_key_is_acceptable(key) == 1) { ... }
/// }
/// ```
///
/// Set `*cursor` to 0 to start. Each call stores the next key in `*key_out` and advances
/// `*cursor`; past the last key it returns `NX_EOF` and leaves both unchanged. The key handle
/// is owned by the selector (never free it); it is the same handle the channel's register
/// returned. The set stays as it is until the next select, so a walk may go on while the
/// keys are used, cancelled or their channels closed.
///
/// Thread safety: safe from any thread; a select in another thread replaces the set under the
/// walk (the walk then goes on over the new set).
///
/// Errors: `NX_EOF` (no more keys), `NX_EINVAL` (a NULL pointer), `NX_EBADHANDLE`,
/// `NX_ECLOSED`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_next_selected(
    selector: *mut nx_selector_t,
    cursor: *mut usize,
    key_out: *mut *mut nx_selection_key_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (cursor, out) = (Out::new(cursor)?, Out::new(key_out)?);
            let selector = selector_of(selector)?;
            // SAFETY: checked non-NULL; the caller passes a valid `size_t`.
            let at = unsafe { cursor.get() };
            let key = selector.selected_key(at).map_err(code)?.ok_or(NX_EOF)?;
            out.set(key_handle(&key)?);
            cursor.set(at + 1);
            Ok(())
        })
    }
}

/// `nx_selector_next_selected` that also returns what a loop body needs first: the key's
/// ready ops (as `nx_selection_key_ready_ops`) and its attachment (as
/// `nx_selection_key_attachment`), in one call:
///
/// ```c
/// size_t cursor = 0;
/// nx_selection_key_t *key;
/// uint32_t ready;
/// void *conn;
/// while (nx_selector_next_ready(selector, &cursor, &key, &ready, &conn) == 0) {
///   if (ready & NX_OP_READ) { ... }
/// }
/// ```
///
/// `ready_ops_out` and `attachment_out` may be NULL. For a key cancelled since the select
/// (its channel closed by an earlier iteration, say) they are 0 and NULL. Allocates nothing;
/// `*cursor` and the out-parameters behave as in `nx_selector_next_selected`.
///
/// Thread safety: as `nx_selector_next_selected`.
///
/// Errors: `NX_EOF` (no more keys), `NX_EINVAL` (a NULL `cursor` or `key_out`),
/// `NX_EBADHANDLE`, `NX_ECLOSED`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_next_ready(
    selector: *mut nx_selector_t,
    cursor: *mut usize,
    key_out: *mut *mut nx_selection_key_t,
    ready_ops_out: *mut u32,
    attachment_out: *mut *mut c_void,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (cursor, out) = (Out::new(cursor)?, Out::new(key_out)?);
            let selector = selector_of(selector)?;
            // SAFETY: checked non-NULL; the caller passes a valid `size_t`.
            let at = unsafe { cursor.get() };
            let key = selector.selected_key(at).map_err(code)?.ok_or(NX_EOF)?;
            let handle = key_handle(&key)?;
            let ready = key.ready_ops().unwrap_or(0);
            let attachment = if ready == 0 {
                ptr::null_mut()
            } else {
                key.with_attachment(CAttachment::pointer)
            };
            out.set(handle);
            OptOut::new(ready_ops_out).set(ready);
            OptOut::new(attachment_out).set(attachment);
            cursor.set(at + 1);
            Ok(())
        })
    }
}

/// Walks the keys registered with the selector (including keys cancelled since the last
/// select), like `nx_selector_next_selected`: set `*cursor` to 0, call until `NX_EOF`. Keys
/// registered or forgotten during the walk may or may not be seen. Allocates nothing.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EOF` (no more keys), `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECLOSED`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_next_key(
    selector: *mut nx_selector_t,
    cursor: *mut usize,
    key_out: *mut *mut nx_selection_key_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (cursor, out) = (Out::new(cursor)?, Out::new(key_out)?);
            let selector = selector_of(selector)?;
            // SAFETY: checked non-NULL; the caller passes a valid `size_t`.
            let mut at = unsafe { cursor.get() };
            let key = selector.next_key(&mut at).map_err(code)?.ok_or(NX_EOF)?;
            out.set(key_handle(&key)?);
            cursor.set(at);
            Ok(())
        })
    }
}

/// Stores one of the selector's backend counters in `*value_out`: `NX_COUNTER_WAITS`,
/// `NX_COUNTER_CTL`, `NX_COUNTER_EVENTS` or `NX_COUNTER_EMPTY_WAITS`. They make "no system call
/// per event" checkable: a steady echo costs one wait per select and no control call.
/// On error `*value_out` is unchanged.
///
/// Thread safety: safe from any thread; the counters may move as soon as they are read.
///
/// Errors: `NX_EINVAL` (NULL `value_out`, unknown `which`), `NX_EBADHANDLE`, `NX_ECLOSED`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_counter(
    selector: *mut nx_selector_t,
    which: c_int,
    value_out: *mut u64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(value_out)?;
            let selector = selector_of(selector)?;
            selector.check().map_err(code)?;
            let counters = selector.counters();
            out.set(match which {
                NX_COUNTER_WAITS => counters.waits,
                NX_COUNTER_CTL => counters.ctl,
                NX_COUNTER_EVENTS => counters.events,
                NX_COUNTER_EMPTY_WAITS => counters.empty_waits,
                _ => return Err(NX_EINVAL),
            });
            Ok(())
        })
    }
}

/// Stores the selector's epoll descriptor in `*fd_out`, so a host loop can wait on it.
/// nioxide owns it: do not close it, and do not read from it. `nx_selector_close` closes it.
/// On error `*fd_out` is unchanged.
///
/// It polls readable when epoll has an event for a registered channel: any readiness edge,
/// also one for ops outside a key's interest (a connected socket is writable at once), so a
/// host may wake for a select that then selects nothing. And readiness a select has already
/// seen is kept by nioxide, not by epoll: a level-triggered key still ready (data left
/// unread) is selected again by the next select although the descriptor may not poll
/// readable. So a host polls it with a zero timeout while the last select selected a key or
/// after an interest change, and waits on it otherwise.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECLOSED`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selector_fd(selector: *mut nx_selector_t, fd_out: *mut c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(fd_out)?;
            let selector = selector_of(selector)?;
            selector.check().map_err(code)?;
            out.set(selector.fd());
            Ok(())
        })
    }
}

/// Stores the key's interest set (`NX_OP_*` bits) in `*ops_out` (unchanged on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE` (the key was forgotten), `NX_ECANCELLEDKEY`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_interest_ops(
    key: *mut nx_selection_key_t,
    ops_out: *mut u32,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(ops_out)?;
            out.set(key_of(key)?.interest_ops().map_err(code)?);
            Ok(())
        })
    }
}

/// Replaces the key's interest set; it takes effect at the next select (also one already
/// blocked in another thread is not disturbed: the change is seen when it next looks). Costs
/// no system call.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown bits), `NX_EOPS` (ops the channel does not support, such as
/// `NX_OP_ACCEPT` on a socket channel), `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_set_interest_ops(
    key: *mut nx_selection_key_t,
    ops: u32,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let ops = checked_ops(ops)?;
            key_of(key)?.set_interest_ops(ops).map_err(code)
        })
    }
}

/// Adds `ops` to the key's interest set in one atomic step (Java's `interestOpsOr`) and
/// stores the set before in `*previous_out` (if `previous_out` is not NULL). Atomic with
/// respect to `nx_selection_key_interest_ops_and` and `nx_selection_key_set_interest_ops`
/// from any thread; takes effect at the next select, as `nx_selection_key_set_interest_ops`.
/// On error nothing changes and `*previous_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown bits), `NX_EOPS` (ops the channel does not support),
/// `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_interest_ops_or(
    key: *mut nx_selection_key_t,
    ops: u32,
    previous_out: *mut u32,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let ops = checked_ops(ops)?;
            update_interest(key, previous_out, |k| k.interest_ops_or(ops))
        })
    }
}

/// The shared body of `nx_selection_key_interest_ops_or` and `_and`: `update` changes the
/// key's interest and returns the set before, stored in `*previous_out` unless it is NULL.
fn update_interest(
    key: *mut nx_selection_key_t,
    previous_out: *mut u32,
    update: impl FnOnce(&SelectionKey) -> nioxide_core::Result<u32>,
) -> Result<(), c_int> {
    let previous = update(&key_of(key)?).map_err(code)?;
    OptOut::new(previous_out).set(previous);
    Ok(())
}

/// Keeps only the interest ops also in `ops` (Java's `interestOpsAnd`), in one atomic step,
/// and stores the set before in `*previous_out` (if `previous_out` is not NULL). Any mask is
/// accepted, since the result is a subset of the interest set: `~NX_OP_WRITE` drops write
/// interest. Atomic and effective as `nx_selection_key_interest_ops_or`. On error nothing
/// changes and `*previous_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_interest_ops_and(
    key: *mut nx_selection_key_t,
    ops: u32,
    previous_out: *mut u32,
) -> c_int {
    nx_ffi_boundary! {
        status(|| update_interest(key, previous_out, |k| k.interest_ops_and(ops)))
    }
}

/// Stores the ops the last select that selected this key found ready in `*ops_out`
/// (unchanged on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_ready_ops(
    key: *mut nx_selection_key_t,
    ops_out: *mut u32,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(ops_out)?;
            out.set(key_of(key)?.ready_ops().map_err(code)?);
            Ok(())
        })
    }
}

/// Whether the last select found the key's channel readable: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_is_readable(key: *mut nx_selection_key_t) -> c_int {
    nx_ffi_boundary! { predicate(|| key_of(key)?.is_readable().map_err(code)) }
}

/// Whether the last select found the key's channel writable: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_is_writable(key: *mut nx_selection_key_t) -> c_int {
    nx_ffi_boundary! { predicate(|| key_of(key)?.is_writable().map_err(code)) }
}

/// Whether the last select found a connection to accept: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_is_acceptable(key: *mut nx_selection_key_t) -> c_int {
    nx_ffi_boundary! { predicate(|| key_of(key)?.is_acceptable().map_err(code)) }
}

/// Whether the last select found the channel's connect finished (or failed; then
/// `nx_socket_channel_finish_connect` returns the error): 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_is_connectable(key: *mut nx_selection_key_t) -> c_int {
    nx_ffi_boundary! { predicate(|| key_of(key)?.is_connectable().map_err(code)) }
}

/// Whether the key is valid: 1 until it is cancelled, its channel closed or its selector
/// closed; then 0 (until the key is forgotten at the next select: `NX_EBADHANDLE`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_is_valid(key: *mut nx_selection_key_t) -> c_int {
    nx_ffi_boundary! { predicate(|| Ok(key_of(key)?.is_valid())) }
}

/// Cancels the key: its attachment's `attachment_free` runs now, on this thread; the channel
/// is deregistered, and the key forgotten (its handle then `NX_EBADHANDLE`), at the
/// selector's next select. Until then the channel cannot be registered again with this
/// selector (`NX_ECANCELLEDKEY`). Idempotent: returns 0 on a cancelled key.
///
/// Thread safety: safe from any thread, also during a select (which sees the cancellation the
/// next time it looks).
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_cancel(key: *mut nx_selection_key_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            key_of(key)?.cancel();
            Ok(())
        })
    }
}

/// Stores the key's attachment in `*attachment_out` (NULL if it has none). The attachment
/// stays owned by the key. On error `*attachment_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY` (a cancelled key keeps no
/// attachment: it was freed at the cancellation), `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_attachment(
    key: *mut nx_selection_key_t,
    attachment_out: *mut *mut c_void,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(attachment_out)?;
            let key = key_of(key)?;
            key.check().map_err(code)?;
            out.set(key.with_attachment(CAttachment::pointer));
            Ok(())
        })
    }
}

/// Replaces the key's attachment with `attachment` and its `attachment_free` (both may be
/// NULL; NULL `attachment_free` means nioxide frees nothing). The key owns the new attachment:
/// `attachment_free(attachment)` is called exactly once, when the attachment is replaced by a
/// register, or the key is cancelled, its channel closed or its selector closed or freed, on
/// the thread that makes that call.
///
/// The previous attachment goes back to the caller, who owns it again: it is stored in
/// `*previous_out` (if not NULL) and its own `attachment_free` will NOT be called.
///
/// On error nioxide keeps nothing and frees nothing: `attachment_free` is not called, and
/// `*previous_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_attach(
    key: *mut nx_selection_key_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    previous_out: *mut *mut c_void,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let key = key_of(key)?;
            let mut new = CAttachment::boxed(attachment, attachment_free);
            match key.replace_attachment(&mut new) {
                Ok(previous) => {
                    OptOut::new(previous_out).set(CAttachment::give_back_boxed(previous));
                    Ok(())
                }
                Err(e) => {
                    CAttachment::give_back_boxed(new);
                    Err(code(e))
                }
            }
        })
    }
}

/// Switches the key to edge-triggered (`edge` non-zero) or level-triggered (0, the default)
/// reporting. An edge-triggered key is selected once per new readiness edge (or interest
/// change), not again while the readiness lasts. Takes effect at the next select.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_set_edge_triggered(
    key: *mut nx_selection_key_t,
    edge: c_int,
) -> c_int {
    nx_ffi_boundary! {
        status(|| key_of(key)?.set_edge_triggered(edge != 0).map_err(code))
    }
}

/// Whether the key is edge-triggered: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_ECANCELLEDKEY`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_is_edge_triggered(key: *mut nx_selection_key_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let key = key_of(key)?;
            key.check().map_err(code)?;
            Ok(key.is_edge_triggered())
        })
    }
}

/// Stores the key's channel in `*channel_out`: the very `nx_socket_channel_t *` the user
/// registered (still owned by the user). Works on a cancelled key too. On error
/// `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL, or the key's channel is a server socket channel),
/// `NX_EBADHANDLE` (the key was forgotten, or the channel's handle was freed), `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_socket_channel(
    key: *mut nx_selection_key_t,
    channel_out: *mut *mut nx_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| channel_handle(key, channel_out))
    }
}

/// Stores the key's channel in `*channel_out`: the very `nx_server_socket_channel_t *` the user
/// registered (still owned by the user). Works on a cancelled key too. On error
/// `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL, or the key's channel is a socket channel), `NX_EBADHANDLE` (the
/// key was forgotten, or the channel's handle was freed), `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_server_socket_channel(
    key: *mut nx_selection_key_t,
    channel_out: *mut *mut nx_server_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| channel_handle(key, channel_out))
    }
}

/// Stores the key's selector in `*selector_out`: the user's `nx_selector_t *` (still owned by
/// the user). Works on a cancelled key too. On error `*selector_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE` (the key was forgotten, or the selector freed),
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_selection_key_selector(
    key: *mut nx_selection_key_t,
    selector_out: *mut *mut nx_selector_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(selector_out)?;
            let selector = key_of(key)?.selector().ok_or(NX_EBADHANDLE)?;
            out.set(live_handle(selector.bound_handle().map(RawHandle::from_bits))?);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_checked() {
        assert_eq!(checked_ops(ALL_OPS), Ok(ALL_OPS));
        assert_eq!(checked_ops(2), Err(NX_EINVAL));
        assert_eq!(checked_ops(1 << 31), Err(NX_EINVAL));
        assert_eq!(OP_READ | OP_ACCEPT, NX_OP_READ | NX_OP_ACCEPT);
    }
}
