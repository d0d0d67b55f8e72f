//! Property tests: stamps are monotonic, observing moves past the remote stamp, and the text
//! form sorts exactly like the stamps themselves.

use proptest::prelude::*;

use super::*;

fn hlc() -> impl Strategy<Value = Hlc> {
    (0..=Hlc::MAX_WALL_MS - 1, 0..=Hlc::MAX_COUNTER, any::<u64>()).prop_map(|(wall_ms, counter, node)| Hlc {
        wall_ms,
        counter,
        node: NodeId(node),
    })
}

proptest! {
    #[test]
    fn text_round_trips(h in hlc()) {
        let text = h.to_string();
        prop_assert_eq!(text.len(), 13 + 1 + 5 + 1 + 16);
        prop_assert_eq!(text.parse::<Hlc>().unwrap(), h);
    }

    #[test]
    fn text_order_is_stamp_order(a in hlc(), b in hlc()) {
        prop_assert_eq!(a.to_string().cmp(&b.to_string()), a.cmp(&b));
    }

    #[test]
    fn tick_is_strictly_monotonic_whatever_the_wall_clock_does(
        start in hlc(), clocks in proptest::collection::vec(0..=Hlc::MAX_WALL_MS - 1, 1..50), node in any::<u64>()
    ) {
        let mut last = start;
        for now in clocks {
            let next = Hlc::tick(Some(last), now, NodeId(node));
            prop_assert!(next > last, "{next} after {last}");
            prop_assert!(next.wall_ms >= now.min(Hlc::MAX_WALL_MS));
            last = next;
        }
    }

    #[test]
    fn observe_passes_both_clocks(last in hlc(), remote in hlc(), now in 0..=Hlc::MAX_WALL_MS - 1, node in any::<u64>()) {
        let next = Hlc::observe(Some(last), remote, now, NodeId(node));
        prop_assert!(next > last);
        prop_assert!(next > remote);
        prop_assert!(next.wall_ms >= now);
    }
}

#[test]
fn a_fresh_clock_follows_the_wall() {
    let node = NodeId(0xab);
    assert_eq!(Hlc::tick(None, 1_700_000_000_000, node).to_string(), "1700000000000:00000:00000000000000ab");
}

#[test]
fn counter_overflow_borrows_a_millisecond() {
    let node = NodeId(1);
    let full = Hlc { wall_ms: 5, counter: Hlc::MAX_COUNTER, node };
    assert_eq!(Hlc::tick(Some(full), 5, node), Hlc { wall_ms: 6, counter: 0, node });
}

#[test]
fn malformed_text_is_rejected() {
    for bad in [
        "",
        "1:2:3",
        "170000000000:00000:ab",
        "1700000000000:0000:ab",
        "1700000000000:00000:AB",
        "1700000000000:00000:",
        "1700000000000:00000:ab:cd",
        "1700000000000:00000:12345678901234567",
    ] {
        assert_eq!(bad.parse::<Hlc>().unwrap_err().field, "hlc", "{bad:?}");
    }
}
