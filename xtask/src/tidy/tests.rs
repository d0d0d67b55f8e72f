//! The tidy checks pass on this repository, and each one catches what it is meant to catch.

use super::*;

#[test]
fn the_repository_is_tidy() {
    let problems = check(&crate::project_root()).unwrap();
    assert!(problems.is_empty(), "tidy problems:\n{}", problems.join("\n"));
}

#[test]
fn headers_are_required() {
    assert_eq!(check_header("a.rs", "//! Does a thing.\nfn main() {}"), None);
    assert_eq!(check_header("a.rs", "\n\n//! After blank lines.\n"), None);
    assert!(check_header("a.rs", "// a plain comment\n").is_some());
    assert!(check_header("a.rs", "use std::io;\n").is_some());
    assert!(check_header("a.rs", "").is_some());
}

#[test]
fn lints_must_be_inherited_except_by_the_native_crate() {
    assert_eq!(check_lints("hearth-core", "[package]\n\n[lints]\nworkspace = true\n"), None);
    assert!(check_lints("hearth-core", "[package]\n").is_some());
    assert_eq!(check_lints(NATIVE, "[lints.rust]\nunsafe_code = \"deny\"\n"), None);
}

fn edges(list: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    list.iter().map(|(p, d)| (p.to_string(), d.iter().map(|s| s.to_string()).collect())).collect()
}

#[test]
fn dependencies_point_toward_the_types() {
    let ok = edges(&[
        ("hearth-types", &["serde"]),
        ("hearth-store", &["hearth-types", "rusqlite"]),
        ("hearth-core", &["hearth-types", "hearth-store"]),
        ("hearth-e2e", &["hearth-store", "rusqlite"]),
    ]);
    assert_eq!(check_edges(&ok), Vec::<String>::new());

    let upward = edges(&[("hearth-types", &["hearth-store"]), ("hearth-store", &[])]);
    assert_eq!(check_edges(&upward), ["hearth-types depends on hearth-store, which its layer does not allow"]);

    let core_names_sqlite = edges(&[("hearth-core", &["rusqlite"])]);
    assert_eq!(
        check_edges(&core_names_sqlite),
        ["hearth-core depends on rusqlite; only hearth-store may (one adapter per foreign system)"]
    );

    let unknown = edges(&[("hearth-newthing", &[])]);
    assert!(check_edges(&unknown)[0].contains("not in xtask's LAYERS"));
}

#[test]
fn crate_paths_are_read_from_paths_and_use_groups() {
    let text =
        "use crate::a::X;\nuse crate::{b, c::Y, d::{E, F}};\n// crate::commented\nlet x = hearth_crate::z;\nfn f() { crate::g::h() }";
    let found: Vec<String> = crate_paths(text).into_iter().collect();
    assert_eq!(found, ["a", "b", "c", "d", "g"]);
}

#[test]
fn modules_that_use_each_other_are_caught() {
    let uses = |list: &[(&str, &[&str])]| -> BTreeMap<String, BTreeSet<String>> {
        list.iter().map(|(m, u)| (m.to_string(), u.iter().map(|s| s.to_string()).collect())).collect()
    };
    let one_way = uses(&[("cli", &["failure", "serve"]), ("serve", &["failure"]), ("failure", &[])]);
    assert_eq!(check_module_cycles("hearth-cli", &one_way), Vec::<String>::new());

    let both_ways = uses(&[("cli", &["serve"]), ("serve", &["cli"])]);
    assert_eq!(
        check_module_cycles("hearth-cli", &both_ways),
        ["hearth-cli: modules `cli` and `serve` use each other; move what they share into a module of its own"]
    );
}
