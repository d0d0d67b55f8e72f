//! Unit tests: redaction, names, and the store contract on the memory store (the keychain
//! runs the same contract against a real Secret Service in `tests/keychain.rs`).

use super::*;

#[test]
fn a_secret_never_prints_its_value() {
    let s = Secret::new("sk-live-abcdefghijklmnop1234");
    assert_eq!(format!("{s:?}"), "Secret(redacted)");
    assert_eq!(format!("{s}"), "••••");
    assert!(!format!("{:?}", Some(&s)).contains("abcdef"));
    assert_eq!(s.hint().as_deref(), Some("1234"));
    assert_eq!(Secret::new("short").hint(), None);
    assert_eq!(s.expose(), "sk-live-abcdefghijklmnop1234");
}

#[test]
fn names_are_checked() {
    let store = MemoryStore::new();
    for bad in ["", "  ", "a\nb", &"x".repeat(300)] {
        assert!(matches!(store.get(bad), Err(SecretError::InvalidName(_))), "{bad:?}");
    }
}

#[test]
fn the_memory_store_keeps_the_contract() {
    let store = MemoryStore::new();
    assert_eq!(store.get("provider/openai").unwrap(), None);
    store.set("provider/openai", &Secret::new("one")).unwrap();
    store.set("provider/openai", &Secret::new("two")).unwrap();
    assert_eq!(store.get("provider/openai").unwrap(), Some(Secret::new("two")));
    assert!(store.delete("provider/openai").unwrap());
    assert!(!store.delete("provider/openai").unwrap());
    assert_eq!(store.get("provider/openai").unwrap(), None);
    assert_eq!(store.backend(), "memory");
}
