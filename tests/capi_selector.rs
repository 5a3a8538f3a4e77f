//! The Selector's C API called from Rust: key handles follow the core key's life, and
//! attachments are freed exactly once (the C tests in tests/c cover the rest).

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use nioxide::channel::tcp::*;
use nioxide::error::{NX_EBADHANDLE, NX_ECANCELLEDKEY, NX_EINVAL};
use nioxide::selector::*;
use nioxide::types::*;

unsafe extern "C" fn count_free(counter: *mut c_void) {
    // SAFETY: the tests pass a live AtomicUsize.
    unsafe { &*counter.cast::<AtomicUsize>() }.fetch_add(1, Ordering::SeqCst);
}

/// A non-blocking socket channel registered with a new selector, its attachment counted.
fn registered(
    freed: &AtomicUsize,
) -> (
    *mut nx_selector_t,
    *mut nx_socket_channel_t,
    *mut nx_selection_key_t,
) {
    let mut selector = ptr::null_mut();
    let mut channel = ptr::null_mut();
    let mut key = ptr::null_mut();
    assert_eq!(nx_selector_open(&mut selector), 0);
    assert_eq!(nx_socket_channel_open(&mut channel), 0);
    assert_eq!(nx_socket_channel_configure_blocking(channel, 0), 0);
    let counter = ptr::from_ref(freed).cast_mut().cast();
    let rc = nx_socket_channel_register(
        channel,
        selector,
        NX_OP_READ,
        counter,
        Some(count_free),
        &mut key,
    );
    assert_eq!(rc, 0);
    (selector, channel, key)
}

#[test]
fn key_handle_lives_until_the_select_after_cancel() {
    let freed = AtomicUsize::new(0);
    let (selector, channel, key) = registered(&freed);
    let mut again = ptr::null_mut();
    let rc = nx_socket_channel_register(
        channel,
        selector,
        NX_OP_READ,
        ptr::null_mut(),
        None,
        &mut again,
    );
    assert_eq!(rc, 0);
    assert_eq!(again, key, "one handle per registration");
    assert_eq!(
        freed.load(Ordering::SeqCst),
        1,
        "the replaced attachment was freed"
    );
    assert_eq!(nx_selection_key_cancel(key), 0);
    assert_eq!(nx_selection_key_is_valid(key), 0);
    let mut ops = 0;
    assert_eq!(
        nx_selection_key_interest_ops(key, &mut ops),
        NX_ECANCELLEDKEY
    );
    assert_eq!(nx_selector_select_now(selector, ptr::null_mut()), 0);
    assert_eq!(nx_selection_key_is_valid(key), NX_EBADHANDLE);
    assert_eq!(nx_socket_channel_free(channel), 0);
    assert_eq!(nx_selector_free(selector), 0);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}

#[test]
fn attach_hands_back_without_freeing() {
    let freed = AtomicUsize::new(0);
    let other = AtomicUsize::new(0);
    let (selector, channel, key) = registered(&freed);
    let mut previous = ptr::null_mut();
    let new = ptr::from_ref(&other).cast_mut().cast();
    assert_eq!(
        nx_selection_key_attach(key, new, Some(count_free), &mut previous),
        0
    );
    assert_eq!(previous, ptr::from_ref(&freed).cast_mut().cast());
    assert_eq!(freed.load(Ordering::SeqCst), 0, "handed back, not freed");
    assert_eq!(nx_selector_free(selector), 0);
    assert_eq!(other.load(Ordering::SeqCst), 1, "freed with the selector");
    assert_eq!(
        nx_selection_key_attachment(key, &mut previous),
        NX_EBADHANDLE
    );
    assert_eq!(nx_socket_channel_free(channel), 0);
    assert_eq!(freed.load(Ordering::SeqCst), 0);
}

#[test]
fn wrong_handle_types_are_invalid() {
    let freed = AtomicUsize::new(0);
    let (selector, channel, key) = registered(&freed);
    assert_eq!(nx_selector_wakeup(channel.cast()), NX_EINVAL);
    assert_eq!(nx_socket_channel_close(key.cast()), NX_EINVAL);
    assert_eq!(nx_selection_key_cancel(selector.cast()), NX_EINVAL);
    assert_eq!(nx_selector_free(selector), 0);
    assert_eq!(nx_socket_channel_free(channel), 0);
    assert_eq!(freed.load(Ordering::SeqCst), 1);
}
