//! The core's cost of framing lines, per line, without sockets: the same reads (4 KiB
//! buffers of 30-byte lines, so lines span reads) go through one of
//!
//! - `raw`: a plain memchr split over each read with the leftover copied into a vector (what
//!   a hand-written epoll line server does; the baseline);
//! - `pass`: a pipeline whose handler only counts the read buffers (what a read costs in the
//!   pipeline without framing);
//! - `split`: a pipeline whose first handler splits each read itself (memchr, lines as slices
//!   of the read, the leftover copied) and fires each line to a counting handler: framing by
//!   hand with the same per-message pipeline cost, the baseline for the decoder's own cost;
//! - `decoder`: a pipeline with `LineBasedFrameDecoder` and a handler that counts the lines.
//!
//! Usage: `cargo run --release -p nioxide-core --example line_decode -- MODE READS`. Prints
//! `lines N` (in the reads) and `messages M` (lines split, reads counted, or lines decoded). Under `valgrind --tool=callgrind`, two runs of different READS, differenced,
//! give the instructions per line (`bench/codec/run.sh` does that for each mode).

use std::hint::black_box;

use bytes::Bytes;
use nioxide_core::pipeline::codec::{Decoder, LineBasedFrameDecoder};
use nioxide_core::pipeline::{
    ChannelHandler, Context, EmbeddedChannel, HandlerResult, Mask, Message,
};

/// The bytes of one read.
const READ: usize = 4096;
/// A line's length with its `\n`.
const LINE: usize = 30;
/// Distinct reads cycled through (their lines continue from one to the next).
const DISTINCT: usize = LINE;

/// Counts the messages that reach it.
struct Count(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl ChannelHandler for Count {
    fn mask(&self) -> Mask {
        Mask::READ
    }
    fn channel_read(&self, _: &Context, msg: Message) -> HandlerResult {
        black_box(&msg);
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Splits each read at `\n` by hand and fires the lines (the leftover kept in a vector).
struct HandSplit(std::sync::Mutex<Vec<u8>>);

impl ChannelHandler for HandSplit {
    fn mask(&self) -> Mask {
        Mask::READ
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let Message::Buffer(read) = msg else {
            return Ok(());
        };
        let mut leftover = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut at = 0;
        while let Some(end) = memchr::memchr(b'\n', &read[at..]) {
            if leftover.is_empty() {
                ctx.fire_channel_read(Message::Buffer(read.slice(at..at + end)));
            } else {
                leftover.extend_from_slice(&read[at..at + end]);
                ctx.fire_channel_read(Message::copy_from_slice(&leftover));
                leftover.clear();
            }
            at += end + 1;
        }
        leftover.extend_from_slice(&read[at..]);
        Ok(())
    }
}

/// `DISTINCT` reads whose concatenation is whole lines (30 reads of 4096 bytes = 4096 lines).
fn reads() -> Vec<Bytes> {
    let mut stream = Vec::with_capacity(READ * DISTINCT);
    let mut i = 0u64;
    while stream.len() < READ * DISTINCT {
        let line = format!("{:0width$}\n", i, width = LINE - 1);
        stream.extend_from_slice(line.as_bytes());
        i += 1;
    }
    let stream = Bytes::from(stream);
    (0..DISTINCT)
        .map(|k| stream.slice(k * READ..(k + 1) * READ))
        .collect()
}

fn raw(reads: &[Bytes], n: usize) -> u64 {
    let mut leftover: Vec<u8> = Vec::new();
    let mut lines = 0u64;
    for read in reads.iter().cycle().take(n) {
        let data = read.clone();
        let mut at = 0;
        while let Some(end) = memchr::memchr(b'\n', &data[at..]) {
            if leftover.is_empty() {
                black_box(&data[at..at + end]);
            } else {
                leftover.extend_from_slice(&data[at..at + end]);
                black_box(&leftover);
                leftover.clear();
            }
            lines += 1;
            at += end + 1;
        }
        leftover.extend_from_slice(&data[at..]);
    }
    lines
}

fn pipeline(reads: &[Bytes], n: usize, framing: &str) -> u64 {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut handlers: Vec<Box<dyn ChannelHandler>> = Vec::new();
    match framing {
        "decoder" => {
            let decoder = LineBasedFrameDecoder::new(1024).expect("a decoder");
            handlers.push(decoder.into_handler().boxed());
        }
        "split" => handlers.push(Box::new(HandSplit(Default::default()))),
        _ => {}
    }
    handlers.push(Box::new(Count(count.clone())));
    let channel = EmbeddedChannel::new(handlers).expect("a channel");
    let pipeline = channel.pipeline();
    for read in reads.iter().cycle().take(n) {
        pipeline.fire_channel_read(Message::from(read.clone()));
        pipeline.fire_channel_read_complete();
    }
    let seen = count.load(std::sync::atomic::Ordering::Relaxed);
    let _ = channel.finish();
    seen
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "decoder".into());
    let n: usize = args.next().map_or(30_000, |a| a.parse().expect("READS"));
    let reads = reads();
    let messages = match mode.as_str() {
        "raw" => raw(&reads, n),
        "pass" | "split" | "decoder" => pipeline(&reads, n, &mode),
        other => panic!("unknown mode {other}: raw, pass, split or decoder"),
    };
    // The lines in the reads (whole ones: `n` is a multiple of DISTINCT for an exact count).
    println!("lines {}", n * READ / LINE);
    println!("messages {messages}");
}
