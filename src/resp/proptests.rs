//! Property tests: round trips, arbitrary splits, arbitrary bytes.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::{Command, Frame, FrameScanner, Limits, RequestParser};

fn line_text() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..20,
    )
    .prop_map(Bytes::from)
}

fn blob() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn scalar() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_text().prop_map(Frame::Simple),
        line_text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        blob().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |d| !d.is_nan())
            .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        "-?[1-9][0-9]{0,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        blob().prop_map(Frame::BulkError),
        blob().prop_map(|text| Frame::Verbatim {
            format: *b"txt",
            text
        }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Frame::Map),
            (
                proptest::collection::vec((inner.clone(), inner.clone()), 1..3),
                inner
            )
                .prop_map(|(attributes, value)| Frame::Attribute {
                    attributes,
                    value: Box::new(value)
                }),
        ]
    })
}

fn command_args() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 1..8)
}

/// Feeds `input` to the request parser in pieces cut at `cuts`.
fn parse_in_pieces(input: &[u8], cuts: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(input.len());
    for end in ends {
        buf.extend_from_slice(&input[start..end.max(start)]);
        start = end.max(start);
        while let Some(c) = parser.parse(&mut buf).expect("valid input") {
            out.push(c.args().map(<[u8]>::to_vec).collect());
        }
    }
    out
}

proptest! {
    #[test]
    fn frames_round_trip(f in frame()) {
        let bytes = f.to_bytes();
        let (decoded, len) = Frame::decode(&bytes, Limits::default()).unwrap().unwrap();
        prop_assert_eq!(len, bytes.len());
        prop_assert_eq!(decoded, f);
    }

    #[test]
    fn scanner_finds_every_frame_of_a_pipeline_however_split(
        frames in proptest::collection::vec(frame(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = BytesMut::new();
        let mut lens = Vec::new();
        for f in &frames {
            let before = wire.len();
            f.encode(&mut wire);
            lens.push(wire.len() - before);
        }
        let wire = wire.freeze();
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        ends.sort_unstable();
        ends.push(wire.len());
        let mut scanner = FrameScanner::new(Limits::default());
        let (mut frame_start, mut found) = (0, Vec::new());
        for end in ends {
            while let Some(len) = scanner.scan(&wire[frame_start..end]).unwrap() {
                found.push(len);
                frame_start += len;
            }
        }
        prop_assert_eq!(found, lens);
    }

    #[test]
    fn commands_round_trip_however_split(
        cmds in proptest::collection::vec(command_args(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = Vec::new();
        for c in &cmds {
            wire.extend_from_slice(Command::from_args(c).raw());
        }
        prop_assert_eq!(parse_in_pieces(&wire, &cuts), cmds);
    }

    #[test]
    fn every_split_point_gives_the_same_commands(cmds in proptest::collection::vec(command_args(), 1..4)) {
        let mut wire = Vec::new();
        for c in &cmds {
            wire.extend_from_slice(Command::from_args(c).raw());
        }
        for cut in 0..=wire.len() {
            prop_assert_eq!(&parse_in_pieces(&wire, &[cut]), &cmds);
        }
    }

    #[test]
    fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = parser.parse(&mut buf) {}
        let _ = FrameScanner::new(Limits::default()).scan(&input);
        let _ = Frame::decode(&Bytes::from(input), Limits::default());
    }

    #[test]
    fn resp_shaped_garbage_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"%".to_vec()), Just(b"|".to_vec()),
                Just(b"\r\n".to_vec()), Just(b"-1".to_vec()), Just(b"3".to_vec()), Just(b"=".to_vec()),
                Just(b">".to_vec()), Just(b",".to_vec()), Just(b"#".to_vec()), Just(b"abc".to_vec()),
            ],
            0..40,
        )
    ) {
        let input: Vec<u8> = parts.concat();
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = parser.parse(&mut buf) {}
        let _ = FrameScanner::new(Limits::default()).scan(&input);
        let _ = Frame::decode(&Bytes::from(input), Limits::default());
    }
}
