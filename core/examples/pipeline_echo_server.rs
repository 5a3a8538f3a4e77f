//! The benchmark's (l): the channel pipeline echo server of `bench/pipeline_echo.c`, written
//! on the core alone, with no C boundary: what the pipeline itself costs per request, the
//! floor under the C server's figure (their difference is what the checked C API's rules
//! cost: handle lookups, lent messages, the FFI boundary).
//!
//! Usage: `pipeline_echo_server [PORT]` (0 or nothing: the OS chooses). The same frame as
//! `bench/pipeline_server.h`: one loop thread serving both the server channel and the
//! connections, `TCP_NODELAY`, backlog 1024; prints `listening on 127.0.0.1:PORT`, and on
//! SIGUSR1 (and, before it exits, on SIGTERM or SIGINT) the line
//! `rusage user_us=U sys_us=S bytes=B` that `bench/run.sh` reads.
//!
//! The handler does what the C server's does: counts the bytes of each read (the C server's
//! `nx_message_bytes`), writes the message back in `channel_read`, flushes in
//! `channel_read_complete`, pauses reads while the channel is not writable, and closes the
//! channel on an exception.

mod bench_server;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use bench_server::BYTES;

use nioxide_core::event_loop::EventLoopGroup;
use nioxide_core::pipeline::{
    ChannelHandler, ChannelOption, Context, HandlerResult, Mask, Message, ServerBootstrap,
};

/// Netty's `EchoServerHandler`, as the C server's table.
struct Echo;

impl ChannelHandler for Echo {
    fn mask(&self) -> Mask {
        Mask::READ | Mask::READ_COMPLETE | Mask::WRITABILITY_CHANGED | Mask::EXCEPTION
    }

    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        if let Some(bytes) = msg.as_buffer() {
            BYTES.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        ctx.write(msg, None);
        Ok(())
    }

    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        ctx.flush();
        Ok(())
    }

    fn channel_writability_changed(&self, ctx: &Context) -> HandlerResult {
        let channel = ctx.channel();
        let _ = channel.set_option(ChannelOption::AutoRead(channel.is_writable()));
        ctx.fire_channel_writability_changed();
        Ok(())
    }

    fn exception_caught(
        &self,
        ctx: &Context,
        _failure: nioxide_core::event_loop::Failure,
    ) -> HandlerResult {
        ctx.close(None);
        Ok(())
    }
}

fn main() -> nioxide_core::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(0, |p| p.parse().expect("a port number"));
    // Blocked here, so in the loop thread too; this thread takes them with sigwait below.
    let set = bench_server::block_report_signals();

    let group = EventLoopGroup::new(1)?;
    let bootstrap = ServerBootstrap::new()
        .group(group.clone(), group)
        .option(ChannelOption::SoBacklog(1024))
        .child_option(ChannelOption::TcpNoDelay(true))
        .child_handler(|ch| {
            ch.pipeline()
                .add_last("echo", Box::new(Echo))
                .map(|_| ())
                .map_err(Into::into)
        });
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let bound = bootstrap.bind(addr.into())?;
    bound.future.wait(None)?;
    if !bound.future.is_success() {
        eprintln!("pipeline_echo_server: bind: {:?}", bound.future.cause());
        std::process::exit(1);
    }
    match bound.channel.local_address() {
        Some(nioxide_core::pipeline::ChannelAddress::Inet(local)) => bench_server::listening(local),
        other => {
            eprintln!("pipeline_echo_server: no local address: {other:?}");
            std::process::exit(1);
        }
    }
    bench_server::serve_signals(set)
}
