//! Tests for handle, timezone and enum parsing.

use super::*;

fn check_handle(input: &str, ok: bool) {
    assert_eq!(Handle::parse(input).is_ok(), ok, "Handle::parse({input:?})");
}

#[test]
fn handles() {
    for good in ["a", "notes", "my-notes", "a1-b2-c3", "2026", &"x".repeat(64)] {
        check_handle(good, true);
    }
    for bad in ["", "-a", "a-", "a--b", "My-Notes", "a_b", "a b", "é", &"x".repeat(65)] {
        check_handle(bad, false);
    }
}

#[test]
fn handle_error_names_the_field_and_the_rule() {
    let err = Handle::parse("Bad Handle").unwrap_err();
    assert_eq!(err.field, "handle");
    assert!(err.to_string().starts_with("handle: \"Bad Handle\""), "{err}");
}

#[test]
fn timezones() {
    assert_eq!(Timezone::parse("Europe/Paris").unwrap().as_str(), "Europe/Paris");
    assert_eq!(Timezone::parse("UTC").unwrap().as_str(), "UTC");
    assert_eq!(Timezone::parse("America/Argentina/Buenos_Aires").unwrap().as_str(), "America/Argentina/Buenos_Aires");
    for bad in ["", "Mars/Olympus", "+02:00", "EST5EDT,M3.2.0,M11.1.0", "Europe/"] {
        let err = Timezone::parse(bad).unwrap_err();
        assert_eq!(err.field, "timezone", "{bad:?}");
    }
}

#[test]
fn enums_round_trip_their_spelling() {
    for r in Role::ALL {
        assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
    }
    for s in MessageStatus::ALL {
        assert_eq!(s.as_str().parse::<MessageStatus>().unwrap(), *s);
    }
    assert_eq!("robot".parse::<Role>().unwrap_err().field, "role");
}

/// serde, `Display`, `FromStr` and `as_str` give one spelling for every variant of every
/// `text_enum!` here.
#[test]
fn every_text_enum_has_one_spelling() {
    fn check<T>(all: &[T])
    where
        T: Copy + std::fmt::Debug + PartialEq + std::fmt::Display + std::str::FromStr + serde::Serialize + serde::de::DeserializeOwned,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for v in all {
            let text = v.to_string();
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(text.clone()));
            assert_eq!(serde_json::from_value::<T>(serde_json::Value::String(text.clone())).unwrap(), *v);
            assert_eq!(text.parse::<T>().unwrap(), *v);
        }
    }
    check(Role::ALL);
    check(MessageStatus::ALL);
    check(crate::ModelSource::ALL);
    check(crate::RunStatus::ALL);
    check(crate::NodeStatus::ALL);
    check(crate::CallOutcome::ALL);
    assert_eq!(crate::NodeStatus::Skipped.as_str(), "skipped");
    assert!("Skipped".parse::<crate::NodeStatus>().is_err(), "spellings are exact");
}
