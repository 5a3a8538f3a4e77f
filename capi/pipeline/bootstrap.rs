//! Bootstraps in C: `nx_server_bootstrap_*` and `nx_bootstrap_*` over
//! `nioxide_core::pipeline::{ServerBootstrap, Bootstrap}` (Netty's).
//!
//! Set a bootstrap up (groups, kind, options by `NX_OPTION_*`, initializers), then bind or
//! connect as often as needed: each call makes a channel on the next loop of the group and
//! returns its handle (the caller's) and the future of the bind or connect. An initializer is
//! a C function run with each new channel on that channel's loop, before any event reaches
//! the handlers it adds; the child initializer runs for each accepted channel, on several
//! loops at once.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Arc, Mutex};

use libc::{sockaddr, socklen_t};
use nioxide_core::pipeline::{
    Bootstrap, Channel, ChannelFuture, ChannelOption, DEFAULT_HIGH_WATER_MARK,
    DEFAULT_LOW_WATER_MARK, HandlerResult, ServerBootstrap,
};
use nioxide_core::sync::lock;

use super::channel::{kind_of, store_future};
use super::{address_in, binding, config, failure, handle_of};
use crate::args::{Out, code, status};
use crate::attachment::CAttachment;
use crate::error::NX_EINVAL;
use crate::handle::{self, HandleType};
use crate::nx_ffi_boundary;
use crate::types::{
    BootstrapState, nx_bootstrap_t, nx_channel_t, nx_free_cb, nx_loop_group_t, nx_promise_t,
    nx_server_bootstrap_t,
};

/// An initializer: sets a new channel's pipeline up (typically `nx_pipeline_add_last`), on
/// that channel's loop thread. `channel`'s handle belongs to nioxide unless it is the one a
/// bootstrap returned to you. A negative return fires the exception event and closes the
/// channel.
#[allow(non_camel_case_types)]
pub type nx_channel_init_cb =
    Option<unsafe extern "C" fn(channel: *mut nx_channel_t, attachment: *mut c_void) -> c_int>;

impl<B: Default> BootstrapState<B> {
    fn new() -> Mutex<BootstrapState<B>> {
        Mutex::new(BootstrapState {
            builder: B::default(),
            marks: [(DEFAULT_LOW_WATER_MARK, DEFAULT_HIGH_WATER_MARK); 2],
        })
    }

    /// Runs one step of the builder.
    fn step(&mut self, f: impl FnOnce(B) -> B) {
        self.builder = f(std::mem::take(&mut self.builder));
    }

    /// Adds a C option with `apply` (the builder's `option` or `child_option`; `child` says
    /// which), tracking the water marks.
    fn add_option(
        &mut self,
        child: bool,
        number: c_int,
        value: i64,
        apply: fn(B, ChannelOption) -> B,
    ) -> Result<(), c_int> {
        let marks = &mut self.marks[usize::from(child)];
        let option = config::option(number, value, *marks)?;
        if let ChannelOption::WriteBufferWaterMark { low, high } = option {
            *marks = (low, high);
        }
        self.step(|b| apply(b, option));
        Ok(())
    }
}

/// Runs `f` with the state behind a bootstrap handle of either kind.
fn configure<H, B>(
    bootstrap: *mut H,
    f: impl FnOnce(&mut BootstrapState<B>) -> Result<(), c_int>,
) -> Result<(), c_int>
where
    H: HandleType<Object = Mutex<BootstrapState<B>>>,
{
    f(&mut lock(&*handle::get(bootstrap)?))
}

/// Makes a bootstrap handle of either kind, with nothing set.
fn new_bootstrap<H, B>(out: *mut *mut H) -> c_int
where
    H: HandleType<Object = Mutex<BootstrapState<B>>>,
    B: Default + Send + 'static,
{
    status(|| {
        let out = Out::new(out)?;
        out.set(handle::insert(Arc::new(BootstrapState::<B>::new()))?);
        Ok(())
    })
}

/// Frees a bootstrap handle of either kind.
fn free_bootstrap<H: HandleType>(bootstrap: *mut H) -> c_int {
    status(|| {
        handle::remove(bootstrap)?;
        Ok(())
    })
}

/// The core initializer for a C one: the function with its attachment, which is freed when
/// the last channel set up by it (and the bootstrap) no longer needs it, on that thread.
fn initializer(
    init: nx_channel_init_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> Result<impl Fn(&Channel) -> HandlerResult + Send + Sync + 'static, c_int> {
    let init = init.ok_or(NX_EINVAL)?;
    let attachment = CAttachment::new(attachment, attachment_free);
    Ok(move |channel: &Channel| {
        let handle = handle_of(channel).map_err(failure)?;
        // SAFETY: the user gave us this function to call with this attachment on the
        // channel's loop thread.
        let rc = unsafe { init(handle, attachment.ptr()) };
        if rc < 0 { Err(failure(rc)) } else { Ok(()) }
    })
}

/// The channel a bind or connect made, as the caller's handle, and its future.
fn started(
    started: ChannelFuture,
    channel_out: Out<*mut nx_channel_t>,
    future: *mut *mut nx_promise_t,
) -> Result<(), c_int> {
    let ChannelFuture { channel, future: f } = started;
    let made = binding(&channel)
        .user_handle(&channel, None)
        .and_then(|raw| store_future(f, future).map(|()| raw));
    match made {
        Ok(raw) => {
            channel_out.set(raw.as_ptr());
            Ok(())
        }
        Err(e) => {
            let _ = channel.close();
            Err(e)
        }
    }
}

/// The group behind a C handle.
fn group_of(
    group: *mut nx_loop_group_t,
) -> Result<nioxide_core::event_loop::EventLoopGroup, c_int> {
    handle::with(group, |g| g.group.clone())
}

/// Makes a server bootstrap (TCP by default, nothing else set). On success `*bootstrap_out`
/// is the caller's until `nx_server_bootstrap_free`; on error it is unchanged.
///
/// Thread safety: safe from any thread; a bootstrap may be used from any thread.
///
/// Errors: `NX_EINVAL`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_new(bootstrap_out: *mut *mut nx_server_bootstrap_t) -> c_int {
    nx_ffi_boundary! { new_bootstrap::<_, ServerBootstrap>(bootstrap_out) }
}

/// Sets the groups: `parent`'s loops accept, `child`'s serve the accepted channels (they may
/// be the same group). The bootstrap keeps the groups (not their handles): free it before or
/// after the groups, as you like; channels on a group that shut down are closed.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_group(
    bootstrap: *mut nx_server_bootstrap_t,
    parent: *mut nx_loop_group_t,
    child: *mut nx_loop_group_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (parent, child) = (group_of(parent)?, group_of(child)?);
            configure(bootstrap, |s| {
                s.step(|b| b.group(parent, child));
                Ok(())
            })
        })
    }
}

/// Sets the server channel's kind: `NX_CHANNEL_TCP_SERVER` (the default) or
/// `NX_CHANNEL_LOCAL_SERVER`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (another kind), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_channel(
    bootstrap: *mut nx_server_bootstrap_t,
    kind: c_int,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let kind = kind_of(kind)?;
            if !ServerBootstrap::makes(kind) {
                return Err(NX_EINVAL);
            }
            configure(bootstrap, |s| {
                s.step(|b| b.channel(kind));
                Ok(())
            })
        })
    }
}

/// Adds an option (`NX_OPTION_*`) for the server channel, applied in order when it is made.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown option, value out of range), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_option(
    bootstrap: *mut nx_server_bootstrap_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| configure(bootstrap, |s| s.add_option(false, option, value, |b, o| b.option(o))))
    }
}

/// Adds an option (`NX_OPTION_*`) for each accepted channel, as
/// `nx_server_bootstrap_option`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_server_bootstrap_option`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_child_option(
    bootstrap: *mut nx_server_bootstrap_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| configure(bootstrap, |s| s.add_option(true, option, value, ServerBootstrap::child_option)))
    }
}

/// Sets the server channel's initializer (Netty's `handler`): `init(channel, attachment)`
/// runs once per bound server channel, on its loop, before it binds.
///
/// Ownership: the bootstrap owns `attachment`: `attachment_free(attachment)` (if not NULL)
/// runs once, when neither the bootstrap nor a channel it set up needs it any more (on the
/// thread that lets go last: `nx_server_bootstrap_free`, or a loop thread). On error nioxide
/// keeps nothing and frees nothing.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `init`), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_handler(
    bootstrap: *mut nx_server_bootstrap_t,
    init: nx_channel_init_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        status(|| configure(bootstrap, |s| {
            let init = initializer(init, attachment, attachment_free)?;
            s.step(|b| b.handler(init));
            Ok(())
        }))
    }
}

/// Sets the child initializer (Netty's `childHandler`): `init(channel, attachment)` runs for
/// each accepted channel, on that channel's loop thread, before its first event: several
/// loops run it at once. Ownership and errors as `nx_server_bootstrap_handler`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `init`), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_child_handler(
    bootstrap: *mut nx_server_bootstrap_t,
    init: nx_channel_init_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        status(|| configure(bootstrap, |s| {
            let init = initializer(init, attachment, attachment_free)?;
            s.step(|b| b.child_handler(init));
            Ok(())
        }))
    }
}

/// Makes a server channel on the next loop of the parent group, sets it up (options,
/// initializer), registers it and binds it to `local` (borrowed during the call:
/// `AF_INET`/`AF_INET6` with port 0 for any, or `AF_UNIX` naming a local server). On success
/// `*channel_out` is the server channel's handle (the caller's, `nx_channel_free`) and, if
/// `future_out` is not NULL, `*future_out` a new handle (the caller's) for the bind's future:
/// it completes once the channel is bound and active, or fails (the channel is closed then).
/// On error nothing is left open and the out-parameters are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (no groups set, a bad address, the wrong address family for the kind),
/// errors opening the channel or setting an option, `NX_EBADHANDLE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_bind(
    bootstrap: *mut nx_server_bootstrap_t,
    local: *const sockaddr,
    local_len: socklen_t,
    channel_out: *mut *mut nx_channel_t,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            let local = address_in(local, local_len)?;
            let b = handle::get(bootstrap)?;
            let bound = lock(&b).builder.bind(local).map_err(code)?;
            started(bound, out, future_out)
        })
    }
}

/// Frees the bootstrap. Channels it made live on.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE` (freed already).
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_bootstrap_free(bootstrap: *mut nx_server_bootstrap_t) -> c_int {
    nx_ffi_boundary! { free_bootstrap(bootstrap) }
}

/// Makes a client bootstrap (TCP by default, nothing else set). On success `*bootstrap_out`
/// is the caller's until `nx_bootstrap_free`; on error it is unchanged.
///
/// Thread safety: safe from any thread; a bootstrap may be used from any thread.
///
/// Errors: `NX_EINVAL`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_new(bootstrap_out: *mut *mut nx_bootstrap_t) -> c_int {
    nx_ffi_boundary! { new_bootstrap::<_, Bootstrap>(bootstrap_out) }
}

/// Sets the group whose next loop each new channel gets (see `nx_server_bootstrap_group`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_group(
    bootstrap: *mut nx_bootstrap_t,
    group: *mut nx_loop_group_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let group = group_of(group)?;
            configure(bootstrap, |s| {
                s.step(|b| b.group(group));
                Ok(())
            })
        })
    }
}

/// Sets the channel's kind: `NX_CHANNEL_TCP` (the default) or `NX_CHANNEL_LOCAL`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (another kind), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_channel(bootstrap: *mut nx_bootstrap_t, kind: c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let kind = kind_of(kind)?;
            if !Bootstrap::makes(kind) {
                return Err(NX_EINVAL);
            }
            configure(bootstrap, |s| {
                s.step(|b| b.channel(kind));
                Ok(())
            })
        })
    }
}

/// Adds an option (`NX_OPTION_*`) for each new channel, applied in order.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown option, value out of range), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_option(
    bootstrap: *mut nx_bootstrap_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| configure(bootstrap, |s| s.add_option(false, option, value, |b, o| b.option(o))))
    }
}

/// Sets the initializer: `init(channel, attachment)` runs for each new channel on its loop
/// thread, before it connects. Ownership as `nx_server_bootstrap_handler`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `init`), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_handler(
    bootstrap: *mut nx_bootstrap_t,
    init: nx_channel_init_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        status(|| configure(bootstrap, |s| {
            let init = initializer(init, attachment, attachment_free)?;
            s.step(|b| b.handler(init));
            Ok(())
        }))
    }
}

/// Makes a channel on the next loop of the group, sets it up, registers it and connects it
/// to `remote` (borrowed during the call; `AF_UNIX` for a local server's name). On success
/// `*channel_out` is its handle (the caller's, `nx_channel_free`) and, if `future_out` is not
/// NULL, `*future_out` a new handle (the caller's) for the connect's future: it completes
/// once connected (the channel is active then), or fails with the OS error (`-ECONNREFUSED`,
/// `-ETIMEDOUT` after `NX_OPTION_CONNECT_TIMEOUT_MILLIS`) and the channel closes without ever
/// becoming active. On error nothing is left open and the out-parameters are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (no group, a bad address), errors opening the channel or setting an
/// option, `NX_EBADHANDLE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_connect(
    bootstrap: *mut nx_bootstrap_t,
    remote: *const sockaddr,
    remote_len: socklen_t,
    channel_out: *mut *mut nx_channel_t,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            let remote = address_in(remote, remote_len)?;
            let b = handle::get(bootstrap)?;
            let connected = lock(&b).builder.connect(remote).map_err(code)?;
            started(connected, out, future_out)
        })
    }
}

/// Connects a new TCP channel to `host` (a name or a numeric address, borrowed during the
/// call) and `port`, as `nx_bootstrap_connect`; the name is resolved on a short-lived thread
/// of its own, never on a loop thread. A name that does not resolve fails the future.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_bootstrap_connect`; OS errors starting the thread.
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_connect_host(
    bootstrap: *mut nx_bootstrap_t,
    host: *const c_char,
    port: u16,
    channel_out: *mut *mut nx_channel_t,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            if host.is_null() {
                return Err(NX_EINVAL);
            }
            // SAFETY: the caller passes a NUL-terminated string, read during the call only.
            let host = unsafe { CStr::from_ptr(host) }.to_str().map_err(|_| NX_EINVAL)?;
            let b = handle::get(bootstrap)?;
            let connected = lock(&b).builder.connect_host(host, port).map_err(code)?;
            started(connected, out, future_out)
        })
    }
}

/// Frees the bootstrap. Channels it made live on.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE` (freed already).
#[unsafe(no_mangle)]
pub extern "C" fn nx_bootstrap_free(bootstrap: *mut nx_bootstrap_t) -> c_int {
    nx_ffi_boundary! { free_bootstrap(bootstrap) }
}
