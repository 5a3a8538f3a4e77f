//! Bootstraps (Netty's `ServerBootstrap` and `Bootstrap`): set a channel up on a loop of a
//! group with options and an initializer, then bind or connect.

use std::net::ToSocketAddrs;
use std::sync::Arc;

use super::channel::{Channel, ChannelKind, CloseWhen};
use super::config::ChannelOption;
use super::context::Context;
use super::handler::{ChannelHandler, HandlerResult, Mask};
use super::initializer::{ChannelInitializer, InitFn};
use super::message::{ChannelAddress, Message};
use super::tcp::{TcpChannel, TcpServerChannel};
use crate::event_loop::{EventLoopGroup, Failure, Future};
use crate::{Error, ErrorKind, Result};

/// Applies `options` to a new channel and adds `init` under `name` (the server's setup
/// passes its own); on failure the channel is closed and the error returned.
fn set_up(
    channel: &Channel,
    options: &[ChannelOption],
    name: &str,
    init: Option<Box<dyn ChannelHandler>>,
) -> Result<()> {
    let setup = (|| {
        for option in options {
            channel.set_option(*option)?;
        }
        if let Some(init) = init {
            channel.pipeline().add_last(name, init)?;
        }
        Ok::<(), Error>(())
    })();
    if setup.is_err() {
        channel.close();
    }
    setup
}

/// A channel and the future of the operation started on it (Netty's `ChannelFuture`).
#[derive(Clone, Debug)]
pub struct ChannelFuture {
    /// The channel.
    pub channel: Channel,
    /// The bind's or connect's future.
    pub future: Future,
}

/// Sets server channels up: a parent group whose loops accept, a child group whose loops
/// serve the accepted channels, options for each, a server initializer and a child
/// initializer (run on each accepted channel's loop, on several loops at once). Cloning
/// shares the settings' initializers.
#[derive(Clone)]
pub struct ServerBootstrap {
    parent: Option<EventLoopGroup>,
    child: Option<EventLoopGroup>,
    kind: ChannelKind,
    options: Vec<ChannelOption>,
    child_options: Vec<ChannelOption>,
    handler: Option<InitFn>,
    child_handler: Option<InitFn>,
}

impl std::fmt::Debug for ServerBootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBootstrap")
            .field("kind", &self.kind)
            .field("options", &self.options)
            .field("child_options", &self.child_options)
            .finish_non_exhaustive()
    }
}

impl Default for ServerBootstrap {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBootstrap {
    /// A bootstrap for TCP servers, with nothing set yet.
    pub fn new() -> ServerBootstrap {
        ServerBootstrap {
            parent: None,
            child: None,
            kind: ChannelKind::TcpServer,
            options: Vec::new(),
            child_options: Vec::new(),
            handler: None,
            child_handler: None,
        }
    }

    /// The groups: `parent` accepts, `child` serves accepted channels.
    pub fn group(mut self, parent: EventLoopGroup, child: EventLoopGroup) -> Self {
        self.parent = Some(parent);
        self.child = Some(child);
        self
    }

    /// Whether a server bootstrap makes channels of `kind`: `TcpServer` or `LocalServer`.
    pub fn makes(kind: ChannelKind) -> bool {
        matches!(kind, ChannelKind::TcpServer | ChannelKind::LocalServer)
    }

    /// The server channel's kind: [`ChannelKind::TcpServer`] (the default) or
    /// [`ChannelKind::LocalServer`] (see [`makes`](Self::makes)).
    pub fn channel(mut self, kind: ChannelKind) -> Self {
        self.kind = kind;
        self
    }

    /// An option for the server channel.
    pub fn option(mut self, option: ChannelOption) -> Self {
        self.options.push(option);
        self
    }

    /// An option for each accepted channel.
    pub fn child_option(mut self, option: ChannelOption) -> Self {
        self.child_options.push(option);
        self
    }

    /// Sets the server channel's pipeline up (runs once, on its loop).
    pub fn handler(
        mut self,
        init: impl Fn(&Channel) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.handler = Some(Arc::new(init));
        self
    }

    /// Sets each accepted channel's pipeline up (on that channel's loop).
    pub fn child_handler(
        mut self,
        init: impl Fn(&Channel) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.child_handler = Some(Arc::new(init));
        self
    }

    /// Makes, sets up, registers and binds a server channel. The future completes once it is
    /// bound (and active).
    ///
    /// # Errors
    /// `InvalidArgument` (no groups, a kind that is no server, an address of the wrong
    /// kind), errors opening the channel or setting an option (nothing is left open then).
    pub fn bind(&self, local: ChannelAddress) -> Result<ChannelFuture> {
        let (Some(parent), Some(child)) = (&self.parent, &self.child) else {
            return Err(ErrorKind::InvalidArgument.into());
        };
        let event_loop = parent.next();
        let server = match self.kind {
            ChannelKind::TcpServer => TcpServerChannel::open(event_loop, Some(child.clone()))?,
            ChannelKind::LocalServer => {
                super::local::LocalServerChannel::open(event_loop, Some(child.clone()))
            }
            _ => return Err(ErrorKind::InvalidArgument.into()),
        };
        let acceptor = Acceptor {
            child_options: self.child_options.clone(),
            child_handler: self.child_handler.clone(),
        };
        let handler = self.handler.clone();
        let acceptor = std::sync::Mutex::new(Some(acceptor));
        let init = ChannelInitializer::new(move |ch: &Channel| {
            if let Some(init) = &handler {
                init(ch)?;
            }
            if let Some(acceptor) = crate::sync::lock(&acceptor).take() {
                ch.pipeline()
                    .add_last("ServerBootstrapAcceptor", Box::new(acceptor))
                    .map_err(Failure::new)?;
            }
            Ok(())
        });
        set_up(
            &server,
            &self.options,
            "ServerBootstrap",
            Some(Box::new(init)),
        )?;
        let _ = server.register();
        let future = server.bind(local);
        server.close_when(&future, CloseWhen::OnFailure);
        Ok(ChannelFuture {
            channel: server,
            future,
        })
    }
}

/// Sets each accepted channel up (options, the child initializer) and registers it on its
/// loop (Netty's `ServerBootstrapAcceptor`).
struct Acceptor {
    child_options: Vec<ChannelOption>,
    child_handler: Option<InitFn>,
}

impl ChannelHandler for Acceptor {
    fn mask(&self) -> Mask {
        Mask::READ
    }

    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let Some(child) = msg.downcast_ref::<Channel>().cloned() else {
            ctx.fire_channel_read(msg);
            return Ok(());
        };
        drop(msg);
        for option in &self.child_options {
            if let Err(e) = child.set_option(*option) {
                child.close();
                return Err(Failure::new(e));
            }
        }
        if let Some(init) = &self.child_handler {
            if let Err(e) = child.pipeline().add_last(
                "ChildInitializer",
                Box::new(ChannelInitializer::from_shared(init.clone())),
            ) {
                child.close();
                return Err(Failure::new(e));
            }
        }
        let registered = child.register();
        child.close_when(&registered, CloseWhen::OnFailure);
        Ok(())
    }
}

/// Sets client channels up: a group, the kind, options and an initializer; then connects.
#[derive(Clone)]
pub struct Bootstrap {
    group: Option<EventLoopGroup>,
    kind: ChannelKind,
    options: Vec<ChannelOption>,
    handler: Option<InitFn>,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field("kind", &self.kind)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self::new()
    }
}

impl Bootstrap {
    /// A bootstrap for TCP clients, with nothing set yet.
    pub fn new() -> Bootstrap {
        Bootstrap {
            group: None,
            kind: ChannelKind::Tcp,
            options: Vec::new(),
            handler: None,
        }
    }

    /// The group whose next loop each channel gets.
    pub fn group(mut self, group: EventLoopGroup) -> Self {
        self.group = Some(group);
        self
    }

    /// Whether a bootstrap makes channels of `kind`: `Tcp` or `Local`.
    pub fn makes(kind: ChannelKind) -> bool {
        matches!(kind, ChannelKind::Tcp | ChannelKind::Local)
    }

    /// The channel's kind: [`ChannelKind::Tcp`] (the default) or [`ChannelKind::Local`] (see
    /// [`makes`](Self::makes)).
    pub fn channel(mut self, kind: ChannelKind) -> Self {
        self.kind = kind;
        self
    }

    /// An option for the channel.
    pub fn option(mut self, option: ChannelOption) -> Self {
        self.options.push(option);
        self
    }

    /// Sets each channel's pipeline up (on its loop, before it connects).
    pub fn handler(
        mut self,
        init: impl Fn(&Channel) -> HandlerResult + Send + Sync + 'static,
    ) -> Self {
        self.handler = Some(Arc::new(init));
        self
    }

    /// Makes, sets up and registers a channel (not connected yet).
    fn new_channel(&self) -> Result<Channel> {
        let Some(group) = &self.group else {
            return Err(ErrorKind::InvalidArgument.into());
        };
        let event_loop = group.next();
        let channel = match self.kind {
            ChannelKind::Tcp => TcpChannel::open(event_loop)?,
            ChannelKind::Local => super::local::LocalChannel::open(event_loop),
            _ => return Err(ErrorKind::InvalidArgument.into()),
        };
        let init = self
            .handler
            .clone()
            .map(|init| Box::new(ChannelInitializer::from_shared(init)) as Box<dyn ChannelHandler>);
        set_up(&channel, &self.options, "Bootstrap", init)?;
        let _ = channel.register();
        Ok(channel)
    }

    /// Connects a new channel to `remote`. The future completes once connected (the channel
    /// is active then); a refused or timed-out connect (`CONNECT_TIMEOUT_MILLIS`) fails it
    /// with the OS error, and the channel closes without ever becoming active (any failed
    /// connect closes it, as Netty's `CLOSE_ON_FAILURE` does).
    ///
    /// # Errors
    /// As [`ServerBootstrap::bind`].
    pub fn connect(&self, remote: ChannelAddress) -> Result<ChannelFuture> {
        let channel = self.new_channel()?;
        let future = channel.connect(remote);
        channel.close_when(&future, CloseWhen::OnFailure);
        Ok(ChannelFuture { channel, future })
    }

    /// Connects a new TCP channel to `host:port`, resolving the name on a short-lived thread
    /// of its own (never on a loop thread). A name that does not resolve fails the future
    /// (`EHOSTUNREACH`, or the resolver's OS error) and closes the channel.
    ///
    /// # Errors
    /// As [`connect`](Self::connect); OS errors starting the thread.
    pub fn connect_host(&self, host: &str, port: u16) -> Result<ChannelFuture> {
        let channel = self.new_channel()?;
        let future = channel.new_promise();
        let (ch, promise, host) = (channel.clone(), future.clone(), host.to_string());
        let started = std::thread::Builder::new()
            .name("nioxide-resolve".into())
            .spawn(move || match (host.as_str(), port).to_socket_addrs() {
                Ok(mut addrs) => match addrs.next() {
                    Some(addr) => ch.pipeline().connect(addr.into(), None, Some(promise)),
                    None => {
                        promise.try_failure(Failure::new(Error::Os(libc::EHOSTUNREACH)));
                        ch.close();
                    }
                },
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(libc::EHOSTUNREACH);
                    promise.try_failure(Failure::new(Error::Os(errno)));
                    ch.close();
                }
            });
        if let Err(e) = started {
            channel.close();
            return Err(Error::Os(e.raw_os_error().unwrap_or(libc::EAGAIN)));
        }
        channel.close_when(&future, CloseWhen::OnFailure);
        Ok(ChannelFuture { channel, future })
    }
}
