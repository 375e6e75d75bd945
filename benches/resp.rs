//! Parse and encode costs of the RESP hot paths: client commands in, backend replies out.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use slotgate::resp::{Command, Frame, FrameScanner, Limits, RequestParser};
use slotgate::slot::Slot;

fn pipeline(n: usize) -> Vec<u8> {
    let value = vec![b'x'; 64];
    let mut wire = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:06}");
        let cmd = if i % 2 == 0 {
            Command::from_args([&b"SET"[..], key.as_bytes(), &value])
        } else {
            Command::from_args([&b"GET"[..], key.as_bytes()])
        };
        wire.extend_from_slice(cmd.raw());
    }
    wire
}

fn parse_requests(c: &mut Criterion) {
    let wire = pipeline(1000);
    let mut g = c.benchmark_group("request_parser");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000 SET/GET, one buffer", |b| {
        b.iter(|| {
            let mut parser = RequestParser::new(Limits::default());
            let mut buf = BytesMut::from(&wire[..]);
            let mut n = 0;
            while let Some(cmd) = parser.parse(&mut buf).unwrap() {
                n += cmd.argc();
            }
            black_box(n)
        })
    });
    g.bench_function("1000 SET/GET, 1460-byte reads", |b| {
        b.iter(|| {
            let mut parser = RequestParser::new(Limits::default());
            let mut buf = BytesMut::new();
            let mut n = 0;
            for chunk in wire.chunks(1460) {
                buf.extend_from_slice(chunk);
                while let Some(cmd) = parser.parse(&mut buf).unwrap() {
                    n += cmd.argc();
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn scan_replies(c: &mut Criterion) {
    let mut wire = BytesMut::new();
    for i in 0..1000 {
        if i % 2 == 0 {
            wire.extend_from_slice(b"+OK\r\n");
        } else {
            Frame::Bulk(Bytes::from(vec![b'v'; 64])).encode(&mut wire);
        }
    }
    let array = Frame::Array(
        (0..100)
            .map(|i| Frame::Bulk(Bytes::from(format!("v{i}"))))
            .collect(),
    )
    .to_bytes();
    let mut g = c.benchmark_group("frame_scanner");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000 replies", |b| {
        b.iter(|| {
            let mut s = FrameScanner::new(Limits::default());
            let mut at = 0;
            while let Some(len) = s.scan(&wire[at..]).unwrap() {
                at += len;
            }
            black_box(at)
        })
    });
    g.finish();
    c.bench_function("frame_decode/100-element array", |b| {
        b.iter(|| black_box(Frame::decode(&array, Limits::default()).unwrap()))
    });
}

fn encode(c: &mut Criterion) {
    let frame = Frame::Array(
        (0..10)
            .map(|i| Frame::Bulk(Bytes::from(format!("value-{i}"))))
            .collect(),
    );
    c.bench_function("encode/10-element array", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            frame.encode(&mut out);
            black_box(out.len())
        })
    });
    c.bench_function("command/from_args MGET 10 keys", |b| {
        let keys: Vec<String> = (0..10).map(|i| format!("key:{i}")).collect();
        b.iter(|| {
            black_box(Command::from_args(
                std::iter::once("MGET").chain(keys.iter().map(String::as_str)),
            ))
        })
    });
}

fn slots(c: &mut Criterion) {
    c.bench_function("slot/of_key 16 bytes", |b| {
        b.iter(|| black_box(Slot::of_key(black_box(b"user:1000:profile"))))
    });
}

criterion_group!(benches, parse_requests, scan_replies, encode, slots);
criterion_main!(benches);
