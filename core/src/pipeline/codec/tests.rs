//! Tests of the codecs, from the behaviours Netty's codec tests check: fragmented input,
//! many frames per read, frames at the maximum, too-long frames in both fail modes with
//! bounded memory, corrupted length fields, removal and replacement inside decode,
//! re-entrant reads, end of input, malformed UTF-8, the prepender's round trip, refused
//! configurations; on an EmbeddedChannel and over TCP. Each test checks that its buffers
//! are all released.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::ErrorKind;
use crate::event_loop::{EventLoopGroup, Promise};
use crate::pipeline::tests::support::{BufferCheck, adding, connected, shut_down, wait_until};
use crate::pipeline::{
    Bootstrap, Buffer, Channel, ChannelAddress, ChannelHandler, ChannelOption, Context,
    EmbeddedChannel, HandlerResult, Mask, Message, ServerBootstrap, UserEvent,
};

/// What reached the end of the pipeline, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Frame(Vec<u8>),
    Text(String),
    Error(ErrorKind),
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// The last handler: records frames, texts and exceptions (and releases the messages).
struct Sink(Log);

impl ChannelHandler for Sink {
    fn mask(&self) -> Mask {
        Mask::READ | Mask::EXCEPTION
    }
    fn channel_read(&self, _: &Context, msg: Message) -> HandlerResult {
        let seen = match (&msg, msg.as_str()) {
            (_, Some(s)) => Seen::Text(s.to_owned()),
            (Message::Buffer(b), _) => Seen::Frame(b.to_vec()),
            _ => panic!("unexpected message {msg:?}"),
        };
        self.0.lock().unwrap().push(seen);
        Ok(())
    }
    fn exception_caught(&self, _: &Context, failure: crate::event_loop::Failure) -> HandlerResult {
        let kind = match failure.error {
            crate::Error::Kind(kind) => kind,
            other => panic!("unexpected error {other:?}"),
        };
        assert!(
            failure_message(&failure).is_some(),
            "a codec failure says why"
        );
        self.0.lock().unwrap().push(Seen::Error(kind));
        Ok(())
    }
}

/// Wraps a decoder and records the largest memory its cumulation held.
struct Watch<D> {
    inner: D,
    peak: Arc<AtomicUsize>,
}

impl<D: Decoder> Decoder for Watch<D> {
    fn decode(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        self.peak.fetch_max(input.capacity(), Ordering::SeqCst);
        self.inner.decode(ctx, input, out)
    }
    fn decode_last(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        self.inner.decode_last(ctx, input, out)
    }
}

/// An embedded channel with `handlers` then a [`Sink`].
fn channel(mut handlers: Vec<Box<dyn ChannelHandler>>) -> (EmbeddedChannel, Log) {
    let log: Log = Arc::default();
    handlers.push(Box::new(Sink(log.clone())));
    (EmbeddedChannel::new(handlers).unwrap(), log)
}

fn with_decoder<D: Decoder>(decoder: D) -> (EmbeddedChannel, Log) {
    channel(vec![decoder.into_handler().boxed()])
}

fn take(log: &Log) -> Vec<Seen> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn frame(data: &[u8]) -> Seen {
    Seen::Frame(data.to_vec())
}

fn feed(ch: &EmbeddedChannel, data: &[u8]) {
    ch.write_inbound([Message::copy_from_slice(data)]).unwrap();
}

fn feed_bytewise(ch: &EmbeddedChannel, data: &[u8]) {
    for b in data {
        feed(ch, std::slice::from_ref(b));
    }
}

/// What a too-long frame shows while it is being skipped: its error with fail fast,
/// nothing otherwise.
fn reported_early(fail_fast: bool) -> Vec<Seen> {
    if fail_fast {
        vec![Seen::Error(ErrorKind::FrameTooLong)]
    } else {
        vec![]
    }
}

/// Checks a too-long frame's one error: `early` (while skipping) with fail fast, otherwise
/// in `late` just before the frame `next` that follows it.
fn assert_reported(fail_fast: bool, early: Vec<Seen>, late: Vec<Seen>, next: &[u8]) {
    assert_eq!(early, reported_early(fail_fast));
    let mut want = reported_early(!fail_fast);
    want.push(frame(next));
    assert_eq!(late, want);
}

fn close(ch: EmbeddedChannel) {
    assert!(!ch.finish().unwrap());
}

// ---- cumulation ----

#[test]
fn a_cumulation_takes_a_read_without_copying_and_copies_only_leftovers() {
    let check = BufferCheck::start();
    let mut c = Cumulation::new();
    let read = Bytes::from_static(b"one\ntwo\nthr");
    c.append_bytes(read.clone());
    let one = c.take(4);
    assert_eq!(
        one.as_slice().as_ptr(),
        read.as_ptr(),
        "a frame is a slice of the read"
    );
    c.skip(4);
    assert_eq!(c.as_slice(), b"thr");
    c.append(Buffer::copy_from_slice(b"ee\nfour"));
    assert_eq!(c.as_slice(), b"three\nfour");
    assert_eq!(c.find_byte(b'\n', 0), Some(5));
    assert_eq!(c.find_byte(b'\n', 6), None);
    assert_eq!(c.find(b"fo", 0), Some(6));
    assert_eq!(c.find(b"fo", 7), None);
    assert_eq!(c.find_byte(b'x', 99), None);
    let three = c.take(6);
    assert_eq!(three.as_slice(), b"three\n");
    c.clear();
    assert!(c.is_empty());
    drop((one, three));
    check.finish();
}

#[test]
fn a_cumulation_searches_and_copies_across_the_leftover_and_the_newest_read() {
    let check = BufferCheck::start();
    let mut c = Cumulation::new();
    c.append_bytes(Bytes::from_static(b"xxab"));
    c.skip(2);
    let newest = Bytes::from_static(b"cd\r\nef\r\n");
    c.append_bytes(newest.clone());
    assert_eq!(c.slices(), (&b"ab"[..], &b"cd\r\nef\r\n"[..]));
    assert_eq!(c.find(b"bc", 0), Some(1), "a needle spanning the two");
    assert_eq!(c.find(b"\r\n", 0), Some(4));
    assert_eq!(c.find(b"\r\n", 5), Some(8));
    assert_eq!(c.find(b"", 10), Some(10));
    assert_eq!(c.find(b"", 11), None);
    assert_eq!(c.find_byte(b'b', 0), Some(1));
    assert_eq!(c.find_byte(b'e', 1), Some(6));
    assert_eq!(
        (c.get(1), c.get(2), c.get(10)),
        (Some(b'b'), Some(b'c'), None)
    );
    let mut out = [0u8; 4];
    assert!(c.copy_out(1, &mut out));
    assert_eq!(&out, b"bcd\r");
    assert!(!c.copy_out(8, &mut out));
    // A frame spanning the two is copied; the next one, in the newest read, is not.
    let first = c.take(4);
    assert_eq!(first.as_slice(), b"abcd");
    c.skip(2);
    let second = c.take(2);
    assert_eq!(second.as_ptr(), newest[4..].as_ptr());
    assert_eq!(c.as_slice(), b"\r\n");
    drop((first, second));
    check.finish();
}

#[test]
fn a_cumulation_reuses_its_consumed_front_and_stays_bounded() {
    let check = BufferCheck::start();
    let mut c = Cumulation::new();
    c.append(Buffer::copy_from_slice(&[1; 100]));
    for _ in 0..10_000 {
        c.append(Buffer::copy_from_slice(&[2; 1000]));
        c.skip(1000);
    }
    assert_eq!(c.len(), 100);
    assert!(c.capacity() < 16 * 1024, "capacity {}", c.capacity());
    // A large leftover, drained: its storage is given back.
    c.append(Buffer::copy_from_slice(&vec![3; 1 << 20]));
    c.clear();
    assert!(c.capacity() <= KEEP_CAPACITY, "capacity {}", c.capacity());
    check.finish();
}

#[test]
fn a_partial_frame_left_after_a_read_does_not_keep_the_read_buffer_alive() {
    /// Memory whose drop is seen: the read buffer of the test.
    struct Watched(Vec<u8>, Arc<AtomicUsize>);
    impl AsRef<[u8]> for Watched {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Watched {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    let check = BufferCheck::start();
    let (ch, log) = with_decoder(LineBasedFrameDecoder::new(1024).unwrap());
    let dropped = Arc::new(AtomicUsize::new(0));
    let read = Buffer::from_owner(Watched(b"one\ntw".to_vec(), dropped.clone()));
    ch.write_inbound([Message::Buffer(read)]).unwrap();
    assert_eq!(take(&log), vec![frame(b"one")]);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the leftover was copied out of the read buffer"
    );
    feed(&ch, b"o\n");
    assert_eq!(take(&log), vec![frame(b"two")]);
    close(ch);
    check.finish();
}

// ---- line decoder ----

#[test]
fn lines_arriving_byte_by_byte_decode_with_and_without_stripping() {
    let check = BufferCheck::start();
    for strip in [true, false] {
        let (ch, log) = with_decoder(
            LineBasedFrameDecoder::new(8)
                .unwrap()
                .with_strip_delimiter(strip),
        );
        feed_bytewise(&ch, b"first\r\nsecond\n\nx\r");
        let expected = if strip {
            vec![frame(b"first"), frame(b"second"), frame(b"")]
        } else {
            vec![frame(b"first\r\n"), frame(b"second\n"), frame(b"\n")]
        };
        assert_eq!(take(&log), expected);
        feed(&ch, b"\n");
        let last = if strip { frame(b"x") } else { frame(b"x\r\n") };
        assert_eq!(take(&log), vec![last]);
        close(ch);
    }
    check.finish();
}

/// Takes frames and checks they point into `read`.
struct PointsInto(Arc<Mutex<Vec<(usize, usize)>>>);

impl ChannelHandler for PointsInto {
    fn mask(&self) -> Mask {
        Mask::READ
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let b = msg.as_buffer().unwrap();
        self.0.lock().unwrap().push((b.as_ptr() as usize, b.len()));
        ctx.fire_channel_read(msg);
        Ok(())
    }
}

#[test]
fn many_lines_in_one_read_decode_as_slices_of_that_read() {
    let check = BufferCheck::start();
    let spots = Arc::new(Mutex::new(Vec::new()));
    let (ch, log) = channel(vec![
        LineBasedFrameDecoder::new(64)
            .unwrap()
            .into_handler()
            .boxed(),
        Box::new(PointsInto(spots.clone())),
    ]);
    let mut data = Vec::new();
    for i in 0..100 {
        data.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    let read = Bytes::from(data);
    let (start, end) = (read.as_ptr() as usize, read.as_ptr() as usize + read.len());
    ch.write_inbound([Message::from(read)]).unwrap();
    let seen = take(&log);
    assert_eq!(seen.len(), 100);
    assert_eq!(seen[42], frame(b"line 42"));
    for (at, len) in spots.lock().unwrap().iter() {
        assert!(*at >= start && at + len <= end, "a frame was copied");
    }
    close(ch);
    check.finish();
}

#[test]
fn a_line_at_exactly_the_maximum_decodes_and_one_byte_more_fails_once() {
    let check = BufferCheck::start();
    for fail_fast in [false, true] {
        let (ch, log) = with_decoder(
            LineBasedFrameDecoder::new(4)
                .unwrap()
                .with_fail_fast(fail_fast),
        );
        feed(&ch, b"abcd\r\nabcde\nok\n");
        assert_eq!(
            take(&log),
            vec![
                frame(b"abcd"),
                Seen::Error(ErrorKind::FrameTooLong),
                frame(b"ok")
            ]
        );
        // Without a line end in sight: fail fast reports on detection, the other mode once
        // the line has been skipped.
        feed(&ch, b"abcdef");
        let early = take(&log);
        feed(&ch, b"gh\nnext\n");
        let late = take(&log);
        assert_reported(fail_fast, early, late, b"next");
        close(ch);
    }
    check.finish();
}

/// Feeds 10 MiB without a delimiter in 64 KiB reads to a decoder with a 1 MiB maximum, then
/// a good frame; checks one error, the good frame, and the cumulation's peak memory.
fn ten_mebibytes_of_garbage<D: Decoder>(decoder: D, fail_fast: bool, good: &[u8], want: &[u8]) {
    let peak = Arc::new(AtomicUsize::new(0));
    let (ch, log) = with_decoder(Watch {
        inner: decoder,
        peak: peak.clone(),
    });
    let chunk = vec![b'x'; 64 * 1024];
    for i in 0..160 {
        feed(&ch, &chunk);
        if i == 20 {
            // Past the maximum: fail fast has reported it, the other mode not yet.
            let seen = take(&log);
            assert_eq!(seen, reported_early(fail_fast));
        }
    }
    feed(&ch, good);
    let mut expected = reported_early(!fail_fast);
    expected.push(frame(want));
    assert_eq!(take(&log), expected);
    // Below the maximum plus a read of readable bytes; the storage doubles as it grows.
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        peak <= (2 << 20) + 2 * 64 * 1024,
        "the cumulation held {peak} bytes"
    );
    close(ch);
}

#[test]
fn ten_mebibytes_without_a_line_end_keep_memory_bounded_in_both_fail_modes() {
    let check = BufferCheck::start();
    for fail_fast in [false, true] {
        let decoder = LineBasedFrameDecoder::new(1 << 20)
            .unwrap()
            .with_fail_fast(fail_fast);
        ten_mebibytes_of_garbage(decoder, fail_fast, b"\nhello\n", b"hello");
    }
    check.finish();
}

#[test]
fn ten_mebibytes_without_a_delimiter_keep_memory_bounded_in_both_fail_modes() {
    let check = BufferCheck::start();
    for fail_fast in [false, true] {
        let decoder = DelimiterBasedFrameDecoder::new(1 << 20, &[b"--".as_slice(), b"##"])
            .unwrap()
            .with_fail_fast(fail_fast);
        ten_mebibytes_of_garbage(decoder, fail_fast, b"--hello##", b"hello");
    }
    check.finish();
}

#[test]
fn a_partial_line_at_end_of_input_is_released() {
    let check = BufferCheck::start();
    let (ch, log) = with_decoder(LineBasedFrameDecoder::new(16).unwrap());
    feed(&ch, b"one\npart");
    assert_eq!(take(&log), vec![frame(b"one")]);
    close(ch);
    assert_eq!(take(&log), vec![]);
    check.finish();
}

// ---- delimiter decoder ----

#[test]
fn the_shortest_frame_wins_and_split_delimiters_are_found() {
    let check = BufferCheck::start();
    let (ch, log) =
        with_decoder(DelimiterBasedFrameDecoder::new(16, &[b"XY".as_slice(), b"Z"]).unwrap());
    feed(&ch, b"aZbXYc");
    assert_eq!(take(&log), vec![frame(b"a"), frame(b"b")]);
    feed(&ch, b"dX");
    feed(&ch, b"Ye");
    assert_eq!(take(&log), vec![frame(b"cd")]);
    feed_bytewise(&ch, b"fgXYhZ");
    assert_eq!(take(&log), vec![frame(b"efg"), frame(b"h")]);
    close(ch);

    let (ch, log) = with_decoder(
        DelimiterBasedFrameDecoder::new(16, &[b"XY"])
            .unwrap()
            .with_strip_delimiter(false),
    );
    feed(&ch, b"aXYb");
    feed(&ch, b"XY");
    assert_eq!(take(&log), vec![frame(b"aXY"), frame(b"bXY")]);
    close(ch);
    check.finish();
}

#[test]
fn a_delimiter_frame_at_the_maximum_decodes_and_a_longer_one_fails_once() {
    let check = BufferCheck::start();
    for fail_fast in [false, true] {
        let (ch, log) = with_decoder(
            DelimiterBasedFrameDecoder::new(3, &[b";"])
                .unwrap()
                .with_fail_fast(fail_fast),
        );
        feed(&ch, b"abc;abcd;ok;");
        assert_eq!(
            take(&log),
            vec![
                frame(b"abc"),
                Seen::Error(ErrorKind::FrameTooLong),
                frame(b"ok")
            ]
        );
        close(ch);
    }
    check.finish();
}

#[test]
fn line_delimiters_decode_as_lines() {
    let check = BufferCheck::start();
    let (ch, log) =
        with_decoder(DelimiterBasedFrameDecoder::new(16, &[b"\n".as_slice(), b"\r\n"]).unwrap());
    feed_bytewise(&ch, b"a\r\nb\n");
    assert_eq!(take(&log), vec![frame(b"a"), frame(b"b")]);
    close(ch);
    check.finish();
}

// ---- length field decoder and prepender ----

#[test]
fn length_fields_of_every_size_and_order_decode_byte_by_byte() {
    let check = BufferCheck::start();
    for size in [1usize, 2, 3, 4, 8] {
        for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            let (ch, log) = with_decoder(
                LengthFieldBasedFrameDecoder::new(64, 0, size, 0, size)
                    .unwrap()
                    .with_byte_order(order),
            );
            let prepender = LengthFieldPrepender::new(size)
                .unwrap()
                .with_byte_order(order);
            let mut data = Vec::new();
            for body in [&b"hello"[..], b"", b"x"] {
                data.extend_from_slice(&prepender.header(body.len()).unwrap());
                data.extend_from_slice(body);
            }
            feed_bytewise(&ch, &data);
            assert_eq!(
                take(&log),
                vec![frame(b"hello"), frame(b""), frame(b"x")],
                "size {size} {order:?}"
            );
            close(ch);
        }
    }
    check.finish();
}

#[test]
fn length_field_layouts_with_offset_adjustment_and_strip() {
    let check = BufferCheck::start();
    // A 2-byte tag, a 3-byte length counting the whole frame, strip the header.
    let (ch, log) = with_decoder(LengthFieldBasedFrameDecoder::new(64, 2, 3, -5, 5).unwrap());
    feed(&ch, b"\xca\xfe\x00\x00\x08abc\xca\xfe\x00\x00\x05");
    assert_eq!(take(&log), vec![frame(b"abc"), frame(b"")]);
    close(ch);
    // A length, then a 1-byte header extension before the body; keep everything.
    let (ch, log) = with_decoder(LengthFieldBasedFrameDecoder::new(64, 0, 2, 1, 0).unwrap());
    feed(&ch, b"\x00\x02Hhi\x00\x00H");
    assert_eq!(take(&log), vec![frame(b"\x00\x02Hhi"), frame(b"\x00\x00H")]);
    close(ch);
    check.finish();
}

#[test]
fn a_frame_at_the_maximum_decodes_and_longer_ones_are_skipped_in_both_fail_modes() {
    let check = BufferCheck::start();
    for fail_fast in [false, true] {
        let peak = Arc::new(AtomicUsize::new(0));
        let (ch, log) = with_decoder(Watch {
            inner: LengthFieldBasedFrameDecoder::new(1 << 20, 0, 4, 0, 4)
                .unwrap()
                .with_fail_fast(fail_fast),
            peak: peak.clone(),
        });
        // Exactly the maximum (header included), then 3 MiB in 64 KiB reads, then a frame.
        let body = vec![7u8; (1 << 20) - 4];
        let mut data = ((1u32 << 20) - 4).to_be_bytes().to_vec();
        data.extend_from_slice(&body);
        feed(&ch, &data);
        assert_eq!(take(&log), vec![Seen::Frame(body)]);
        feed(&ch, &(3u32 << 20).to_be_bytes());
        let early = take(&log);
        let chunk = vec![1u8; 64 * 1024];
        for _ in 0..48 {
            feed(&ch, &chunk);
        }
        feed(&ch, b"\x00\x00\x00\x02ok");
        let late = take(&log);
        assert_reported(fail_fast, early, late, b"ok");
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= (1 << 20) + 128 * 1024, "held {peak}");
        close(ch);
    }
    check.finish();
}

#[test]
fn a_two_gibibyte_length_field_with_a_one_mebibyte_maximum_allocates_nothing() {
    let check = BufferCheck::start();
    let peak = Arc::new(AtomicUsize::new(0));
    let (ch, log) = with_decoder(Watch {
        inner: LengthFieldBasedFrameDecoder::new(1 << 20, 0, 4, 0, 4).unwrap(),
        peak: peak.clone(),
    });
    feed(&ch, b"\x7f\xff\xff\xffsome of it");
    assert_eq!(take(&log), vec![Seen::Error(ErrorKind::FrameTooLong)]);
    feed(&ch, &[0; 4096]);
    assert_eq!(take(&log), vec![]);
    assert!(
        peak.load(Ordering::SeqCst) < 8192,
        "held {}",
        peak.load(Ordering::SeqCst)
    );
    close(ch);
    check.finish();
}

#[test]
fn negative_and_short_length_fields_are_corrupted_frames_and_decoding_goes_on() {
    let check = BufferCheck::start();
    // An 8-byte field of 2^63 or more is negative.
    let (ch, log) = with_decoder(LengthFieldBasedFrameDecoder::new(64, 0, 8, 0, 8).unwrap());
    let mut data = vec![0x80, 0, 0, 0, 0, 0, 0, 0];
    data.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
    data.extend_from_slice(b"ok");
    feed(&ch, &data);
    assert_eq!(
        take(&log),
        vec![Seen::Error(ErrorKind::CorruptedFrame), frame(b"ok")]
    );
    close(ch);
    // An adjustment that makes the frame shorter than its header.
    let (ch, log) = with_decoder(LengthFieldBasedFrameDecoder::new(64, 0, 2, -4, 0).unwrap());
    feed(&ch, b"\x00\x01\x00\x04");
    assert_eq!(
        take(&log),
        vec![Seen::Error(ErrorKind::CorruptedFrame), frame(b"\x00\x04")]
    );
    close(ch);
    // A frame shorter than the bytes to strip.
    let (ch, log) = with_decoder(LengthFieldBasedFrameDecoder::new(64, 0, 1, 0, 3).unwrap());
    feed(&ch, b"\x01a\x02bc");
    assert_eq!(
        take(&log),
        vec![Seen::Error(ErrorKind::CorruptedFrame), frame(b"")]
    );
    close(ch);
    check.finish();
}

#[test]
fn random_bytes_never_break_the_length_field_decoder() {
    let check = BufferCheck::start();
    for seed in 1..20u64 {
        let data = crate::pipeline::tests::support::random_bytes(4096, seed);
        let size = [1usize, 2, 3, 4, 8][seed as usize % 5];
        let (ch, log) = with_decoder(
            LengthFieldBasedFrameDecoder::new(512, seed as usize % 3, size, seed as i64 % 7 - 3, 1)
                .unwrap()
                .with_fail_fast(seed % 2 == 0),
        );
        for piece in data.chunks(1 + seed as usize * 13 % 97) {
            feed(&ch, piece);
        }
        take(&log);
        close(ch);
    }
    check.finish();
}

#[test]
fn the_prepender_writes_header_and_body_and_round_trips() {
    let check = BufferCheck::start();
    let writer = EmbeddedChannel::new(vec![
        LengthFieldPrepender::new(2)
            .unwrap()
            .with_length_includes_length_field_length(true)
            .into_handler()
            .boxed(),
    ])
    .unwrap();
    let body = Buffer::copy_from_slice(b"payload");
    let body_at = body.as_ptr();
    writer.write_outbound([Message::Buffer(body)]).unwrap();
    let header = writer.read_outbound().unwrap();
    assert_eq!(header.as_buffer().unwrap().as_slice(), b"\x00\x09");
    let written = writer.read_outbound().unwrap();
    assert_eq!(
        written.as_buffer().unwrap().as_ptr(),
        body_at,
        "the body is not copied"
    );
    let (reader, log) = with_decoder(LengthFieldBasedFrameDecoder::new(64, 0, 2, -2, 2).unwrap());
    reader.write_inbound([header, written]).unwrap();
    assert_eq!(take(&log), vec![frame(b"payload")]);
    // A length that does not fit fails the write's promise.
    let small = EmbeddedChannel::new(vec![
        LengthFieldPrepender::new(1).unwrap().into_handler().boxed(),
    ])
    .unwrap();
    let failed = small
        .write_outbound([Message::copy_from_slice(&[0; 256])])
        .unwrap_err();
    assert_eq!(failed.error, ErrorKind::InvalidArgument.into());
    assert_eq!(small.outbound_len(), 0);
    // Adjustment and little endian in the header.
    let p = LengthFieldPrepender::new(3)
        .unwrap()
        .with_byte_order(ByteOrder::LittleEndian)
        .with_length_adjustment(-1);
    assert_eq!(&p.header(0x10001).unwrap()[..], b"\x00\x00\x01");
    assert!(p.header(0).is_err());
    close(writer);
    close(reader);
    close(small);
    check.finish();
}

/// Encodes messages that start with `+` (without it) and gives the others back to pass by:
/// an encoder that can only tell by trying.
struct PlusOnly;

impl Encoder for PlusOnly {
    fn encode(&mut self, ctx: &Context, msg: Message, out: &mut Vec<Buffer>) -> HandlerResult {
        self.encode_or_pass(ctx, msg, out).map(|_| ())
    }

    fn encode_or_pass(
        &mut self,
        _: &Context,
        msg: Message,
        out: &mut Vec<Buffer>,
    ) -> Result<Option<Message>, crate::event_loop::Failure> {
        let Some(bytes) = msg.as_buffer().map(|b| b.as_slice().to_vec()) else {
            return Ok(Some(msg));
        };
        // A pass after pushing: what was pushed must be dropped.
        out.push(Buffer::copy_from_slice(b"dropped"));
        match bytes.strip_prefix(b"+") {
            Some(rest) => {
                out.clear();
                out.push(Buffer::copy_from_slice(rest));
                Ok(None)
            }
            None => Ok(Some(msg)),
        }
    }
}

#[test]
fn an_encoder_that_passes_by_trying_writes_the_message_unchanged() {
    let check = BufferCheck::start();
    let ch = EmbeddedChannel::new(vec![PlusOnly.into_handler().boxed()]).unwrap();
    let plain = Message::copy_from_slice(b"plain");
    let plain_at = plain.as_buffer().unwrap().as_ptr();
    ch.write_outbound([Message::copy_from_slice(b"+coded"), plain])
        .unwrap();
    let coded = ch.read_outbound().unwrap();
    assert_eq!(coded.as_buffer().unwrap().as_slice(), b"coded");
    let passed = ch.read_outbound().unwrap();
    assert_eq!(
        passed.as_buffer().unwrap().as_ptr(),
        plain_at,
        "the passed message is the one written"
    );
    assert!(ch.read_outbound().is_none());
    drop((coded, passed));
    close(ch);
    check.finish();
}

// ---- fixed length ----

#[test]
fn fixed_length_frames_decode_from_any_fragments() {
    let check = BufferCheck::start();
    let (ch, log) = with_decoder(FixedLengthFrameDecoder::new(3).unwrap());
    feed_bytewise(&ch, b"abcde");
    feed(&ch, b"fghijkl");
    assert_eq!(
        take(&log),
        vec![frame(b"abc"), frame(b"def"), frame(b"ghi"), frame(b"jkl")]
    );
    close(ch);
    check.finish();
}

// ---- configuration ----

#[test]
fn bad_configurations_are_refused_with_a_message() {
    let refused = |r: Result<(), crate::event_loop::Failure>| {
        let failure = r.unwrap_err();
        assert_eq!(failure.error, ErrorKind::InvalidArgument.into());
        assert!(!failure_message(&failure).unwrap().is_empty());
    };
    refused(LineBasedFrameDecoder::new(0).map(drop));
    refused(DelimiterBasedFrameDecoder::new(0, &[b"x"]).map(drop));
    refused(DelimiterBasedFrameDecoder::new(8, &[] as &[&[u8]]).map(drop));
    refused(DelimiterBasedFrameDecoder::new(8, &[b"x".as_slice(), b""]).map(drop));
    refused(LengthFieldBasedFrameDecoder::new(0, 0, 4, 0, 0).map(drop));
    refused(LengthFieldBasedFrameDecoder::new(64, 0, 5, 0, 0).map(drop));
    refused(LengthFieldBasedFrameDecoder::new(64, 61, 4, 0, 0).map(drop));
    refused(LengthFieldBasedFrameDecoder::new(64, usize::MAX, 4, 0, 0).map(drop));
    refused(LengthFieldBasedFrameDecoder::new(64, 0, 4, 0, 65).map(drop));
    refused(LengthFieldPrepender::new(0).map(drop));
    refused(FixedLengthFrameDecoder::new(0).map(drop));
    assert!(LengthFieldBasedFrameDecoder::new(64, 60, 4, 0, 64).is_ok());
}

// ---- the decoder base ----

/// Reads 1-byte frames; `S` switches: the decoder replaces itself with a line decoder (`S`
/// consumed), or removes itself (`S` passed on as a frame).
struct Switch {
    replace: bool,
}

impl Decoder for Switch {
    fn decode(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        let command = input.take(1);
        match command[0] {
            b'S' => {
                if self.replace {
                    let lines = LineBasedFrameDecoder::new(64)?.into_handler().boxed();
                    ctx.pipeline().replace(ctx.name(), "lines", lines)?;
                } else {
                    out.push(Message::Buffer(command));
                    ctx.pipeline().remove(ctx.name())?;
                }
            }
            _ => out.push(Message::Buffer(command)),
        }
        Ok(())
    }
}

#[test]
fn a_decoder_replaced_or_removed_inside_decode_hands_the_rest_on_once() {
    let check = BufferCheck::start();
    // Replaced: the line decoder gets the rest of the same read.
    let (ch, log) = with_decoder(Switch { replace: true });
    feed(&ch, b"abSone\ntwo\nthr");
    feed(&ch, b"ee\n");
    assert_eq!(
        take(&log),
        vec![
            frame(b"a"),
            frame(b"b"),
            frame(b"one"),
            frame(b"two"),
            frame(b"three")
        ]
    );
    assert_eq!(ch.pipeline().names().len(), 2);
    close(ch);
    // Removed: the rest goes on as one buffer, later reads pass by.
    let (ch, log) = with_decoder(Switch { replace: false });
    feed(&ch, b"aSrest");
    feed(&ch, b"more");
    assert_eq!(
        take(&log),
        vec![frame(b"a"), frame(b"S"), frame(b"rest"), frame(b"more")]
    );
    close(ch);
    check.finish();
}

#[test]
fn a_decoder_removed_between_reads_hands_on_its_leftover() {
    let check = BufferCheck::start();
    let (ch, log) = with_decoder(LineBasedFrameDecoder::new(64).unwrap());
    feed(&ch, b"one\npart");
    ch.pipeline().remove("handler-0").unwrap();
    ch.run_pending_tasks();
    assert_eq!(take(&log), vec![frame(b"one"), frame(b"part")]);
    close(ch);
    check.finish();
}

/// On its first frame, fires more bytes into the pipeline from the head (a read that
/// re-enters the decoder while it decodes).
struct Reenter {
    done: std::sync::atomic::AtomicBool,
}

impl ChannelHandler for Reenter {
    fn mask(&self) -> Mask {
        Mask::READ
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        ctx.fire_channel_read(msg);
        if !self.done.swap(true, Ordering::SeqCst) {
            ctx.pipeline()
                .fire_channel_read(Message::copy_from_slice(b"in\nside\n"));
        }
        Ok(())
    }
}

#[test]
fn a_read_that_reenters_the_decoder_is_decoded_after_the_current_bytes() {
    let check = BufferCheck::start();
    let (ch, log) = channel(vec![
        LineBasedFrameDecoder::new(64)
            .unwrap()
            .into_handler()
            .boxed(),
        Box::new(Reenter {
            done: Default::default(),
        }),
    ]);
    feed(&ch, b"a\nb\nc");
    assert_eq!(
        take(&log),
        vec![frame(b"a"), frame(b"b"), frame(b"cin"), frame(b"side")]
    );
    close(ch);
    check.finish();
}

/// Produces a message without consuming anything.
struct Stuck;

impl Decoder for Stuck {
    fn decode(&mut self, _: &Context, _: &mut Cumulation, out: &mut Vec<Message>) -> HandlerResult {
        out.push(Message::text("stuck"));
        Ok(())
    }
}

#[test]
fn a_decode_that_produces_without_consuming_fails_instead_of_spinning() {
    let check = BufferCheck::start();
    let (ch, log) = with_decoder(Stuck);
    feed(&ch, b"x");
    assert_eq!(
        take(&log),
        vec![
            Seen::Text("stuck".into()),
            Seen::Error(ErrorKind::InvalidArgument)
        ]
    );
    drop(ch.finish());
    take(&log);
    check.finish();
}

#[test]
fn single_decode_takes_one_frame_per_read() {
    let check = BufferCheck::start();
    let (ch, log) = channel(vec![
        LineBasedFrameDecoder::new(64)
            .unwrap()
            .into_handler()
            .with_single_decode(true)
            .boxed(),
    ]);
    feed(&ch, b"a\nb\n");
    assert_eq!(take(&log), vec![frame(b"a")]);
    feed(&ch, b"c\n");
    assert_eq!(take(&log), vec![frame(b"b")]);
    close(ch);
    check.finish();
}

/// Emits what is left at the end of input as a frame of its own.
struct Rest;

impl Decoder for Rest {
    fn decode(&mut self, _: &Context, _: &mut Cumulation, _: &mut Vec<Message>) -> HandlerResult {
        Ok(())
    }
    fn decode_last(
        &mut self,
        _: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        if !input.is_empty() {
            out.push(Message::Buffer(input.take_all()));
        }
        Ok(())
    }
}

#[test]
fn decode_last_sees_the_leftover_at_inactive_and_at_input_shutdown() {
    let check = BufferCheck::start();
    let (ch, log) = with_decoder(Rest);
    feed(&ch, b"par");
    feed(&ch, b"tial");
    assert_eq!(take(&log), vec![]);
    ch.pipeline()
        .fire_user_event_triggered(UserEvent::InputShutdown);
    ch.run_pending_tasks();
    assert_eq!(take(&log), vec![frame(b"partial")]);
    feed(&ch, b"end");
    close(ch);
    assert_eq!(take(&log), vec![frame(b"end")]);
    check.finish();
}

/// Counts `read` operations reaching it.
struct CountReads(Arc<AtomicUsize>);

impl ChannelHandler for CountReads {
    fn mask(&self) -> Mask {
        Mask::READ_OP
    }
    fn read(&self, ctx: &Context) -> HandlerResult {
        self.0.fetch_add(1, Ordering::SeqCst);
        ctx.read();
        Ok(())
    }
}

#[test]
fn with_auto_read_off_a_batch_without_a_frame_asks_for_another_read() {
    let check = BufferCheck::start();
    let reads = Arc::new(AtomicUsize::new(0));
    let (ch, log) = channel(vec![
        Box::new(CountReads(reads.clone())),
        LineBasedFrameDecoder::new(64)
            .unwrap()
            .into_handler()
            .boxed(),
    ]);
    ch.channel()
        .set_option(ChannelOption::AutoRead(false))
        .unwrap();
    ch.run_pending_tasks();
    let before = reads.load(Ordering::SeqCst);
    feed(&ch, b"par");
    assert_eq!(reads.load(Ordering::SeqCst), before + 1);
    feed(&ch, b"t\n");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        before + 1,
        "a frame came: the user reads"
    );
    assert_eq!(take(&log), vec![frame(b"part")]);
    close(ch);
    check.finish();
}

// ---- strings ----

#[test]
fn malformed_utf8_is_replaced_or_refused() {
    let check = BufferCheck::start();
    let cases: [(&[u8], &str); 4] = [
        (b"ok \xc3\xa9", "ok \u{e9}"),
        (b"overlong \xc0\xaf", "overlong \u{fffd}\u{fffd}"),
        (b"lone \x80 byte", "lone \u{fffd} byte"),
        (b"cut \xe2\x82", "cut \u{fffd}"),
    ];
    for strict in [false, true] {
        let (ch, log) = channel(vec![Box::new(StringDecoder::with_strict(strict))]);
        for (input, lossy) in cases {
            feed(&ch, input);
            let seen = take(&log);
            if strict && lossy.contains('\u{fffd}') {
                assert_eq!(seen, vec![Seen::Error(ErrorKind::MalformedInput)]);
            } else {
                assert_eq!(seen, vec![Seen::Text(lossy.into())]);
            }
        }
        close(ch);
    }
    check.finish();
}

#[test]
fn a_valid_frame_becomes_text_without_a_copy_and_encodes_back_without_one() {
    let check = BufferCheck::start();
    let decoder = StringDecoder::new();
    let read = Bytes::from_static("h\u{e9}llo".as_bytes());
    let text = decoder.decode(Buffer::from_bytes(read.clone())).unwrap();
    assert_eq!(text.as_str().as_ptr(), read.as_ptr());
    let msg = Message::text(text);
    assert_eq!(msg.as_str(), Some("h\u{e9}llo"));
    assert_eq!(Message::user(String::from("s")).as_str(), Some("s"));
    assert_eq!(Message::copy_from_slice(b"b").as_str(), None);

    let ch = EmbeddedChannel::new(vec![StringEncoder::new().into_handler().boxed()]).unwrap();
    ch.write_outbound([msg, Message::user("static"), Message::user(5u32)])
        .unwrap();
    let first = ch.read_outbound().unwrap();
    assert_eq!(first.as_buffer().unwrap().as_ptr(), read.as_ptr());
    assert_eq!(
        ch.read_outbound().unwrap().as_buffer().unwrap().as_slice(),
        b"static"
    );
    assert!(
        ch.read_outbound().unwrap().downcast_ref::<u32>().is_some(),
        "passed by"
    );
    drop(first);
    close(ch);
    check.finish();
}

/// Fails every encode.
struct Failing;

impl Encoder for Failing {
    fn encode(&mut self, _: &Context, _: Message, out: &mut Vec<Buffer>) -> HandlerResult {
        out.push(Buffer::copy_from_slice(b"half"));
        Err(failure(ErrorKind::MalformedInput, "no".into()))
    }
}

#[test]
fn a_failing_encode_fails_the_write_promise_and_writes_nothing() {
    let check = BufferCheck::start();
    let ch = EmbeddedChannel::new(vec![Failing.into_handler().boxed()]).unwrap();
    let promise: Promise = ch.channel().new_promise();
    ch.channel()
        .write_and_flush(Message::copy_from_slice(b"x"), Some(promise.clone()));
    ch.run_pending_tasks();
    assert_eq!(promise.cause(), Some(ErrorKind::MalformedInput.into()));
    assert_eq!(ch.outbound_len(), 0);
    close(ch);
    check.finish();
}

// ---- over TCP ----

#[test]
fn a_tcp_server_decodes_lines_written_in_odd_fragments() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(2).unwrap();
    let log: Log = Arc::default();
    let server_log = log.clone();
    let bound = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .child_handler(move |ch: &Channel| {
            let p = ch.pipeline();
            p.add_last(
                "frames",
                LineBasedFrameDecoder::new(256)?.into_handler().boxed(),
            )?;
            p.add_last("text", Box::new(StringDecoder::new()))?;
            p.add_last("sink", Box::new(Sink(server_log.clone())))?;
            Ok(())
        })
        .bind(ChannelAddress::Inet("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    connected(&bound);
    let address = bound.channel.local_address().unwrap();
    let client = Bootstrap::new()
        .group(group.clone())
        .handler(adding("nothing", || Box::new(Nothing)))
        .connect(address)
        .unwrap();
    connected(&client);
    let mut data = Vec::new();
    let mut want = Vec::new();
    for i in 0..200 {
        let line = format!("line {i} \u{e9}{}", "x".repeat(i % 37));
        data.extend_from_slice(line.as_bytes());
        data.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
        want.push(Seen::Text(line));
    }
    let mut at = 0;
    let mut step = 1;
    while at < data.len() {
        let end = (at + step).min(data.len());
        client
            .channel
            .write_and_flush(Message::copy_from_slice(&data[at..end]), None);
        at = end;
        step = step % 11 + 3;
        if at % 7 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(wait_until(Duration::from_secs(20), || log
        .lock()
        .unwrap()
        .len()
        >= want.len()));
    assert_eq!(*log.lock().unwrap(), want);
    client
        .channel
        .close()
        .wait(Some(Duration::from_secs(20)))
        .unwrap();
    bound
        .channel
        .close()
        .wait(Some(Duration::from_secs(20)))
        .unwrap();
    shut_down(&group);
    check.finish();
}

/// A client handler that takes nothing.
struct Nothing;

impl ChannelHandler for Nothing {
    fn mask(&self) -> Mask {
        Mask::NONE
    }
}

/// Removes the handler named `target` when it reads its first message.
struct RemoveOnFirst {
    target: &'static str,
    done: std::sync::atomic::AtomicBool,
}

impl ChannelHandler for RemoveOnFirst {
    fn mask(&self) -> Mask {
        Mask::READ
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        ctx.fire_channel_read(msg);
        if !self.done.swap(true, Ordering::SeqCst) {
            ctx.pipeline().remove(self.target)?;
        }
        Ok(())
    }
}

#[test]
fn a_decoder_removed_by_a_later_handler_mid_batch_hands_the_rest_on_once() {
    let check = BufferCheck::start();
    let (ch, log) = channel(vec![
        LineBasedFrameDecoder::new(64)
            .unwrap()
            .into_handler()
            .boxed(),
        Box::new(RemoveOnFirst {
            target: "handler-0",
            done: Default::default(),
        }),
    ]);
    feed(&ch, b"one\ntwo\nthree");
    feed(&ch, b"\n");
    assert_eq!(
        take(&log),
        vec![frame(b"one"), frame(b"two\nthree"), frame(b"\n")]
    );
    assert_eq!(ch.pipeline().names().len(), 2);
    close(ch);
    check.finish();
}

/// Random draws for the randomized cross-checks, reproducible per seed.
struct Draws(std::vec::IntoIter<u8>);

impl Draws {
    fn new(seed: u64) -> Draws {
        Draws(crate::pipeline::tests::support::random_bytes(1024, seed | 1).into_iter())
    }
    /// A number below `n` (at most 256).
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.0.next().expect("enough draws")) % n
    }
}

/// What a fresh channel with `decoder` passes on when `data` arrives in random reads.
fn decode_in_random_reads<D: Decoder>(decoder: D, data: &[u8], draws: &mut Draws) -> Vec<Seen> {
    let (ch, log) = with_decoder(decoder);
    let mut at = 0;
    while at < data.len() {
        let n = 1 + draws.below(data.len() - at);
        feed(&ch, &data[at..at + n]);
        at += n;
    }
    ch.finish_and_release_all().unwrap();
    take(&log)
}

/// What a delimiter decoder should see in `data`, by brute force: at each step the earliest
/// delimiter (the first listed on a tie) ends the frame; a frame over `max` is an error.
fn reference_split(data: &[u8], delimiters: &[&[u8]], max: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut start = 0;
    'outer: for at in 0..data.len() {
        if at < start {
            continue;
        }
        for d in delimiters {
            if data[at..].starts_with(d) {
                let frame_len = at - start;
                if frame_len > max {
                    seen.push(Seen::Error(ErrorKind::FrameTooLong));
                } else {
                    seen.push(frame(&data[start..at]));
                }
                start = at + d.len();
                continue 'outer;
            }
        }
    }
    seen
}

/// One round of a split cross-check: random bytes of `alphabet`, a random maximum and fail
/// mode; the decoder `make` builds from those must pass on what the brute-force split of
/// `delimiters` finds, whatever the reads.
fn split_round<D: Decoder>(
    seed: u64,
    alphabet: &[u8],
    delimiters: &[&[u8]],
    make: impl Fn(usize, bool) -> D,
) {
    let mut draws = Draws::new(seed);
    let data: Vec<u8> = (0..1 + draws.below(60))
        .map(|_| alphabet[draws.below(alphabet.len())])
        .collect();
    let max = 1 + draws.below(6);
    let fail_fast = draws.below(2) == 0;
    let want = reference_split(&data, delimiters, max);
    let mut got = decode_in_random_reads(make(max, fail_fast), &data, &mut draws);
    // A too-long frame still being skipped at the end was reported early (fail fast); the
    // brute-force split reports a frame once it ends.
    if got.len() == want.len() + 1 && got.last() == Some(&Seen::Error(ErrorKind::FrameTooLong)) {
        got.pop();
    }
    assert_eq!(
        got,
        want,
        "{:?} max {max} fail_fast {fail_fast} delimiters {delimiters:?}",
        String::from_utf8_lossy(&data)
    );
}

#[test]
fn delimiter_frames_match_a_brute_force_split_over_random_reads() {
    let check = BufferCheck::start();
    // No delimiter is a prefix of another (then what a split read decodes depends on where
    // the read ends, in Netty too).
    let sets: [&[&[u8]]; 4] = [
        &[b"ab", b"b"],
        &[b"aab", b"ab", b"c"],
        &[b"abc", b"bc", b"cab"],
        &[b"aa", b"ba", b"dcd"],
    ];
    for round in 0..4000 {
        let delimiters = sets[round as usize % sets.len()];
        split_round(round, b"abcd", delimiters, |max, fail_fast| {
            DelimiterBasedFrameDecoder::new(max, delimiters)
                .unwrap()
                .with_fail_fast(fail_fast)
        });
    }
    check.finish();
}

#[test]
fn lines_match_a_brute_force_split_over_random_reads() {
    let check = BufferCheck::start();
    for round in 0..4000 {
        let ends: &[&[u8]] = &[b"\r\n", b"\n"];
        split_round(round << 8, b"a\r\n\r", ends, |max, fail_fast| {
            LineBasedFrameDecoder::new(max)
                .unwrap()
                .with_fail_fast(fail_fast)
        });
    }
    check.finish();
}

#[test]
fn many_small_frames_in_one_read_search_each_byte_a_bounded_number_of_times() {
    let check = BufferCheck::start();
    // A rare delimiter besides a frequent one: each frame's search for the rare one must not
    // rescan the rest of the read (a hostile peer's tiny frames would make a read quadratic).
    let data: Vec<u8> = b"a\n".iter().copied().cycle().take(1 << 14).collect();
    for delimiters in [[b"\0".as_slice(), b"\n"], [b"\n".as_slice(), b"\0"]] {
        let (ch, log) = with_decoder(DelimiterBasedFrameDecoder::new(64, &delimiters).unwrap());
        cumulation::SCANNED.with(|s| s.set(0));
        feed(&ch, &data);
        let scanned = cumulation::SCANNED.with(|s| s.get());
        assert_eq!(take(&log).len(), data.len() / 2);
        assert!(
            scanned <= 4 * data.len(),
            "{scanned} bytes searched for a {}-byte read",
            data.len()
        );
        close(ch);
    }
    check.finish();
}

#[test]
fn reads_after_an_input_shutdown_frame_afresh() {
    let check = BufferCheck::start();
    // The partial frame released at the input's end leaves no search state behind.
    let decoders: Vec<Box<dyn ChannelHandler>> = vec![
        LineBasedFrameDecoder::new(64)
            .unwrap()
            .into_handler()
            .boxed(),
        DelimiterBasedFrameDecoder::new(64, &[b"\n"])
            .unwrap()
            .into_handler()
            .boxed(),
        LengthFieldBasedFrameDecoder::new(64, 0, 1, 0, 1)
            .unwrap()
            .into_handler()
            .boxed(),
    ];
    let inputs: [(&[u8], &[u8]); 3] = [
        (b"abc", b"x\ny\n"),
        (b"abc", b"x\ny\n"),
        (b"\x05ab", b"\x01x\x01y"),
    ];
    for (decoder, (partial, after)) in decoders.into_iter().zip(inputs) {
        let (ch, log) = channel(vec![decoder]);
        feed(&ch, partial);
        ch.pipeline()
            .fire_user_event_triggered(UserEvent::InputShutdown);
        ch.run_pending_tasks();
        feed(&ch, after);
        assert_eq!(take(&log), vec![frame(b"x"), frame(b"y")]);
        close(ch);
    }
    check.finish();
}

/// Closes the channel at the frame `quit` and records what it sees after that.
struct QuitOn(Log);

impl ChannelHandler for QuitOn {
    fn mask(&self) -> Mask {
        Mask::READ | Mask::INACTIVE
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let quit = msg.as_buffer().is_some_and(|b| b.as_slice() == b"quit");
        ctx.fire_channel_read(msg);
        if quit {
            ctx.close(None);
        }
        Ok(())
    }
    fn channel_inactive(&self, ctx: &Context) -> HandlerResult {
        self.0.lock().unwrap().push(Seen::Text("inactive".into()));
        ctx.fire_channel_inactive();
        Ok(())
    }
}

#[test]
fn a_close_from_a_handler_inside_a_decode_run_ends_the_input_after_the_run() {
    let check = BufferCheck::start();
    let log: Log = Arc::default();
    let ch = EmbeddedChannel::new(vec![
        LineBasedFrameDecoder::new(64)
            .unwrap()
            .into_handler()
            .boxed(),
        Box::new(QuitOn(log.clone())),
        Box::new(Sink(log.clone())),
    ])
    .unwrap();
    feed(&ch, b"quit\nmore\npartial");
    ch.run_pending_tasks();
    // The frames of the read go on, then the channel goes inactive once; the partial frame
    // is released, not handed on as raw bytes.
    assert_eq!(
        take(&log),
        vec![
            frame(b"quit"),
            frame(b"more"),
            Seen::Text("inactive".into())
        ]
    );
    assert!(!ch.finish_and_release_all().unwrap());
    assert_eq!(take(&log), vec![]);
    check.finish();
}

/// What a length-field decoder should see in `data` (one big-endian field of `size` bytes at
/// `offset`), by brute force; also whether it ends inside a too-long frame being skipped.
fn reference_length_fields(
    data: &[u8],
    (max, offset, size, adjustment, strip): (usize, usize, usize, i64, usize),
) -> (Vec<Seen>, bool) {
    let mut seen = Vec::new();
    let mut at = 0;
    let end = offset + size;
    while data.len() - at >= end {
        let field = data[at + offset..at + end]
            .iter()
            .fold(0i128, |v, b| (v << 8) | i128::from(*b));
        let length = field + i128::from(adjustment) + end as i128;
        if length < end as i128 {
            seen.push(Seen::Error(ErrorKind::CorruptedFrame));
            at += end;
            continue;
        }
        let length = length as usize;
        if length > max {
            seen.push(Seen::Error(ErrorKind::FrameTooLong));
            if length > data.len() - at {
                return (seen, true);
            }
            at += length;
            continue;
        }
        if length > data.len() - at {
            break;
        }
        if strip > length {
            seen.push(Seen::Error(ErrorKind::CorruptedFrame));
        } else {
            seen.push(frame(&data[at + strip..at + length]));
        }
        at += length;
    }
    (seen, false)
}

#[test]
fn length_fields_match_a_brute_force_decode_over_random_reads() {
    let check = BufferCheck::start();
    for round in 0..4000 {
        let mut draws = Draws::new(round << 16);
        let offset = draws.below(3);
        let size = 1 + draws.below(2);
        let adjustment = draws.below(7) as i64 - 3;
        let max = offset + size + draws.below(16);
        let strip = draws.below(max.min(5) + 1);
        let fail_fast = draws.below(2) == 0;
        let layout = (max, offset, size, adjustment, strip);
        // Mostly small field values (frames that fit), some larger ones (too long).
        let data: Vec<u8> = (0..1 + draws.below(80))
            .map(|_| match draws.below(20) {
                0 => 200,
                1..=9 => 0,
                n => n as u8,
            })
            .collect();
        let (mut want, discarding) = reference_length_fields(&data, layout);
        if discarding && !fail_fast {
            want.pop();
        }
        let decoder = LengthFieldBasedFrameDecoder::new(max, offset, size, adjustment, strip)
            .unwrap()
            .with_fail_fast(fail_fast);
        let got = decode_in_random_reads(decoder, &data, &mut draws);
        assert_eq!(got, want, "{data:?} {layout:?} fail_fast {fail_fast}");
    }
    check.finish();
}
