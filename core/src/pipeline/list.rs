//! [`Pipeline`]: a channel's ordered list of named handler contexts between its head and
//! tail (Netty's `ChannelPipeline`).
//!
//! Changes may come from any thread and from inside a handler. The names and the order are
//! decided at the call, under the list's lock (so a duplicate name fails at once, from any
//! thread); the links that events follow, `handler_added` and `handler_removed` follow on
//! the loop's thread (inside the call there, queued from elsewhere). An added handler gets
//! `handler_added` before any event; a removed one gets no event after `handler_removed`.

use std::sync::Arc;

use super::channel::Channel;
use super::context::{Context, Inbound, Outbound};
use super::handler::ChannelHandler;
use super::message::{ChannelAddress, Message, UserEvent};
use crate::event_loop::{Failure, Promise};
use crate::sync::lock;
use crate::{ErrorKind, Result};

/// A channel's pipeline. A cheap handle (the channel's); thread-safe.
#[derive(Clone, Debug)]
pub struct Pipeline {
    channel: Channel,
}

/// Where [`Pipeline::add`] puts a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position<'a> {
    /// Right after the head.
    First,
    /// Right before the tail.
    Last,
    /// Before the handler of this name.
    Before(&'a str),
    /// After the handler of this name.
    After(&'a str),
}

impl Pipeline {
    pub(crate) fn new(channel: Channel) -> Pipeline {
        Pipeline { channel }
    }

    /// The channel.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Adds `handler` named `name` at `position`; returns its context.
    ///
    /// # Errors
    /// `InvalidArgument` (the name is taken, or the named base handler is not there),
    /// `Closed` (the channel is torn down), `Rejected` (the loop refuses work from this
    /// thread).
    pub fn add(
        &self,
        position: Position<'_>,
        name: &str,
        handler: Box<dyn ChannelHandler>,
    ) -> Result<Context> {
        if self.channel.is_torn_down() {
            return Err(ErrorKind::Closed.into());
        }
        let ctx = Context::new(Arc::from(name), handler, self.channel.clone());
        {
            let mut list = lock(&self.channel.inner.handlers);
            if list.iter().any(|c| c.name() == name) {
                return Err(ErrorKind::InvalidArgument.into());
            }
            let find = |base: &str| {
                list.iter()
                    .position(|c| c.name() == base)
                    .ok_or(crate::Error::Kind(ErrorKind::InvalidArgument))
            };
            let at = match position {
                Position::First => 0,
                Position::Last => list.len(),
                Position::Before(base) => find(base)?,
                Position::After(base) => find(base)? + 1,
            };
            list.insert(at, ctx.clone());
        }
        let added = ctx.clone();
        let ch = self.channel.clone();
        let linked = self.channel.on_loop_checked(move || {
            ch.relink();
            added.call_handler_added();
        });
        if let Err(e) = linked {
            // The loop refused: the list is as it was.
            lock(&self.channel.inner.handlers).retain(|c| !c.same(&ctx));
            return Err(e);
        }
        Ok(ctx)
    }

    /// Adds `handler` right after the head.
    ///
    /// # Errors
    /// As [`add`](Self::add).
    pub fn add_first(&self, name: &str, handler: Box<dyn ChannelHandler>) -> Result<Context> {
        self.add(Position::First, name, handler)
    }

    /// Adds `handler` right before the tail.
    ///
    /// # Errors
    /// As [`add`](Self::add).
    pub fn add_last(&self, name: &str, handler: Box<dyn ChannelHandler>) -> Result<Context> {
        self.add(Position::Last, name, handler)
    }

    /// Adds `handler` before the handler named `base`.
    ///
    /// # Errors
    /// As [`add`](Self::add).
    pub fn add_before(
        &self,
        base: &str,
        name: &str,
        handler: Box<dyn ChannelHandler>,
    ) -> Result<Context> {
        self.add(Position::Before(base), name, handler)
    }

    /// Adds `handler` after the handler named `base`.
    ///
    /// # Errors
    /// As [`add`](Self::add).
    pub fn add_after(
        &self,
        base: &str,
        name: &str,
        handler: Box<dyn ChannelHandler>,
    ) -> Result<Context> {
        self.add(Position::After(base), name, handler)
    }

    /// Removes the handler named `name`; its `handler_removed` runs (on the loop). Returns
    /// its context.
    ///
    /// # Errors
    /// `InvalidArgument` (no such handler), `Rejected` (the loop refuses work from this
    /// thread: the handler stays).
    pub fn remove(&self, name: &str) -> Result<Context> {
        self.remove_where(|c| c.name() == name)
    }

    /// Removes the handler of `ctx`.
    ///
    /// # Errors
    /// `InvalidArgument` (not in this pipeline any more), `Rejected` (as
    /// [`remove`](Self::remove)).
    pub fn remove_context(&self, ctx: &Context) -> Result<()> {
        self.remove_where(|c| c.same(ctx)).map(|_| ())
    }

    /// Takes the first context `which` picks out of the list; its `handler_removed` follows
    /// on the loop. If the loop refuses that work, the context goes back where it was.
    fn remove_where(&self, which: impl Fn(&Context) -> bool) -> Result<Context> {
        let (at, ctx) = {
            let mut list = lock(&self.channel.inner.handlers);
            let at = list
                .iter()
                .position(which)
                .ok_or(crate::Error::Kind(ErrorKind::InvalidArgument))?;
            (at, list.remove(at))
        };
        let removed = ctx.clone();
        let ch = self.channel.clone();
        let unlinked = self.channel.on_loop_checked(move || {
            ch.relink();
            if let Some(failure) = removed.call_handler_removed() {
                ch.pipeline().fire_exception_caught(failure);
            }
        });
        if let Err(e) = unlinked {
            let mut list = lock(&self.channel.inner.handlers);
            let at = at.min(list.len());
            list.insert(at, ctx);
            return Err(e);
        }
        Ok(ctx)
    }

    /// Replaces the handler named `old` with `handler` named `name`, in the same place; the
    /// old one's `handler_removed` runs after the new one's `handler_added`, and what the old
    /// handler passes on from then on (a decoder's leftover) goes through the new one.
    ///
    /// # Errors
    /// `InvalidArgument` (no handler named `old`, or `name` is taken by another one),
    /// `Rejected` (the loop refuses work from this thread: the old handler stays).
    pub fn replace(
        &self,
        old: &str,
        name: &str,
        handler: Box<dyn ChannelHandler>,
    ) -> Result<Context> {
        let ctx = Context::new(Arc::from(name), handler, self.channel.clone());
        let old_ctx = {
            let mut list = lock(&self.channel.inner.handlers);
            let at = list
                .iter()
                .position(|c| c.name() == old)
                .ok_or(crate::Error::Kind(ErrorKind::InvalidArgument))?;
            if name != old && list.iter().any(|c| c.name() == name) {
                return Err(ErrorKind::InvalidArgument.into());
            }
            std::mem::replace(&mut list[at], ctx.clone())
        };
        let (added, ch, old_handle) = (ctx.clone(), self.channel.clone(), old_ctx.clone());
        let swapped = self.channel.on_loop_checked(move || {
            ch.relink();
            // What the old handler still passes on (a decoder handing on its leftover as it
            // is removed) goes through its replacement, as in Netty.
            let old_links = old_handle.links().with(|l| {
                std::mem::replace(
                    l,
                    super::context::Links {
                        prev: Some(added.clone()),
                        next: Some(added.clone()),
                    },
                )
            });
            drop(old_links);
            added.call_handler_added();
            if let Some(failure) = old_handle.call_handler_removed() {
                ch.pipeline().fire_exception_caught(failure);
            }
        });
        if let Err(e) = swapped {
            // The loop refused: the old handler goes back in its place.
            let mut list = lock(&self.channel.inner.handlers);
            if let Some(slot) = list.iter_mut().find(|c| c.same(&ctx)) {
                *slot = old_ctx;
            }
            return Err(e);
        }
        Ok(ctx)
    }

    /// The context of the handler named `name`.
    pub fn get(&self, name: &str) -> Option<Context> {
        lock(&self.channel.inner.handlers)
            .iter()
            .find(|c| c.name() == name)
            .cloned()
    }

    /// The names of the handlers, head to tail (the head and tail themselves not included).
    pub fn names(&self) -> Vec<String> {
        lock(&self.channel.inner.handlers)
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }

    /// The first handler's context.
    pub fn first(&self) -> Option<Context> {
        lock(&self.channel.inner.handlers).first().cloned()
    }

    /// The last handler's context.
    pub fn last(&self) -> Option<Context> {
        lock(&self.channel.inner.handlers).last().cloned()
    }

    // ---- inbound events, from the head ----

    /// Fires `channel_registered` from the head.
    pub fn fire_channel_registered(&self) {
        self.channel.inbound_from_head(Inbound::Registered);
    }

    /// Fires `channel_unregistered` from the head.
    pub fn fire_channel_unregistered(&self) {
        self.channel.inbound_from_head(Inbound::Unregistered);
    }

    /// Fires `channel_active` from the head.
    pub fn fire_channel_active(&self) {
        self.channel.inbound_from_head(Inbound::Active);
    }

    /// Fires `channel_inactive` from the head.
    pub fn fire_channel_inactive(&self) {
        self.channel.inbound_from_head(Inbound::Inactive);
    }

    /// Fires `channel_read` from the head.
    pub fn fire_channel_read(&self, msg: Message) {
        self.channel.inbound_from_head(Inbound::Read(msg));
    }

    /// Fires `channel_read_complete` from the head.
    pub fn fire_channel_read_complete(&self) {
        self.channel.inbound_from_head(Inbound::ReadComplete);
    }

    /// Fires a user event from the head.
    pub fn fire_user_event_triggered(&self, event: UserEvent) {
        self.channel.inbound_from_head(Inbound::UserEvent(event));
    }

    /// Fires `channel_writability_changed` from the head.
    pub fn fire_channel_writability_changed(&self) {
        self.channel.inbound_from_head(Inbound::WritabilityChanged);
    }

    /// Fires an exception from the head.
    pub fn fire_exception_caught(&self, failure: Failure) {
        self.channel.inbound_from_head(Inbound::Exception(failure));
    }

    // ---- outbound operations, from the tail ----

    /// Binds, from the tail.
    pub fn bind(&self, local: ChannelAddress, promise: Option<Promise>) {
        self.channel
            .outbound_from_tail(Outbound::Bind(local, promise));
    }

    /// Connects, from the tail.
    pub fn connect(
        &self,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    ) {
        self.channel
            .outbound_from_tail(Outbound::Connect(Box::new((remote, local)), promise));
    }

    /// Disconnects, from the tail.
    pub fn disconnect(&self, promise: Option<Promise>) {
        self.channel
            .outbound_from_tail(Outbound::Disconnect(promise));
    }

    /// Closes, from the tail.
    pub fn close(&self, promise: Option<Promise>) {
        self.channel.outbound_from_tail(Outbound::Close(promise));
    }

    /// Asks for a read batch, from the tail.
    pub fn read(&self) {
        self.channel.outbound_from_tail(Outbound::Read);
    }

    /// Writes, from the tail.
    pub fn write(&self, msg: Message, promise: Option<Promise>) {
        self.channel
            .outbound_from_tail(Outbound::Write(msg, promise));
    }

    /// Flushes, from the tail.
    pub fn flush(&self) {
        self.channel.outbound_from_tail(Outbound::Flush);
    }

    /// Writes and flushes, from the tail.
    pub fn write_and_flush(&self, msg: Message, promise: Option<Promise>) {
        self.write(msg, promise);
        self.flush();
    }
}
