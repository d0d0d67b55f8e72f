//! Streams of token pieces: what is emitted when, and where a stop string ends it.

use super::*;

/// Feeds `pieces`, returns everything emitted (joined with `|` between steps that emitted
/// something) and whether a stop string ended it.
fn check(stops: &[&str], pieces: &[&[u8]], expected: &str, expect_stop: bool) {
    let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
    let mut t = TextStream::new(&stops);
    let mut out: Vec<String> = Vec::new();
    let mut stopped = false;
    for p in pieces {
        let step = t.push(p);
        if !step.emit.is_empty() {
            out.push(step.emit);
        }
        if step.stopped {
            stopped = true;
            break;
        }
    }
    if !stopped {
        let rest = t.finish();
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    assert_eq!((out.join("|").as_str(), stopped), (expected, expect_stop), "stops {stops:?}, pieces {pieces:?}");
}

#[test]
fn plain_text_flows_through() {
    check(&[], &[b"Hello", b", ", b"world"], "Hello|, |world", false);
}

#[test]
fn characters_split_across_tokens_are_held_until_whole() {
    let kan = "漢".as_bytes(); // 3 bytes
    check(&[], &[&kan[..1], &kan[1..2], &kan[2..], b"!"], "漢|!", false);
    let emoji = "🔥".as_bytes(); // 4 bytes
    check(&[], &[b"a", &emoji[..1], &emoji[1..], b"b"], "a|🔥|b", false);
    check(&[], &[&emoji[..3]], "\u{FFFD}", false);
}

#[test]
fn invalid_bytes_become_replacement_characters() {
    check(&[], &[b"a\xffb"], "a\u{FFFD}b", false);
}

#[test]
fn stop_strings_end_the_text_and_are_never_emitted() {
    check(&["END"], &[b"one two END three"], "one two ", true);
    check(&["END"], &[b"one E", b"N", b"D more"], "one ", true);
    check(&["\n\n"], &[b"line\n", b"\nnext"], "line", true);
    // The earliest of several stops wins, wherever it is in the list.
    check(&["zz", "b"], &[b"abczz"], "a", true);
}

#[test]
fn nothing_follows_a_stop() {
    let mut t = TextStream::new(&["END".to_string()]);
    let cut = "ENDé".as_bytes();
    assert_eq!(t.push(&cut[..4]), Step { emit: String::new(), stopped: true });
    assert_eq!(t.push(b"more"), Step { emit: String::new(), stopped: true });
    assert_eq!(t.finish(), "");
}

#[test]
fn a_partial_match_is_released_when_it_fails() {
    check(&["END"], &[b"the E", b"NTRY"], "the |ENTRY", false);
    check(&["<stop>"], &[b"a <s", b"to", b"p and more"], "a |<stop and more", false);
    check(&["END"], &[b"ends with E"], "ends with |E", false);
}

#[test]
fn stops_work_across_multibyte_characters() {
    let text = "答案：好。结束";
    let bytes = text.as_bytes();
    let pieces: Vec<&[u8]> = bytes.chunks(2).collect();
    let stops = ["结束"];
    let mut t = TextStream::new(&stops.map(String::from));
    let mut out = String::new();
    let mut stopped = false;
    for p in pieces {
        let step = t.push(p);
        out.push_str(&step.emit);
        if step.stopped {
            stopped = true;
            break;
        }
    }
    assert!(stopped);
    assert_eq!(out, "答案：好。");
}
