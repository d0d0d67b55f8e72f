//! The keychain against a real Secret Service. These tests are `#[ignore]`d so that plain
//! `cargo test` stays hermetic; `make test` runs them by name with `--ignored` inside
//! `scripts/with-keyring.sh` (a private D-Bus session with an unlocked GNOME Keyring). Run
//! without one, they fail and say so rather than skipping.
//!
//! A secret set here is read back by a second process (this test binary run again as a
//! child), then deleted; the store's backend must be the Secret Service, not the keyutils
//! fallback.

use std::process::Command;

use hearth_secrets::{Keychain, Secret, SecretStore};

const SERVICE: &str = "hearth-test";
const CHILD: &str = "HEARTH_SECRETS_CHILD_READ";

fn keychain() -> Keychain {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the tests through scripts/with-keyring.sh (make test does)"
    );
    let keychain = Keychain::secret_service(SERVICE).unwrap_or_else(|e| panic!("the Secret Service is not usable: {e}"));
    assert_eq!(keychain.backend(), "secret-service");
    // With a Secret Service running, the default choice is it, not the keyutils fallback.
    assert_eq!(Keychain::open(SERVICE).unwrap().backend(), "secret-service");
    keychain
}

#[test]
#[ignore = "needs a real Secret Service: make test runs it in scripts/with-keyring.sh"]
fn a_secret_survives_a_process_restart_and_is_deleted() {
    // The child half: read what the parent stored, print it, exit.
    if let Ok(name) = std::env::var(CHILD) {
        let value = keychain().get(&name).unwrap().map(|s| s.expose().to_owned()).unwrap_or_default();
        println!("value={value}");
        return;
    }
    let keychain = keychain();
    let name = format!("provider/test-{}", std::process::id());
    let secret = Secret::new(format!("sk-test-{}-ü-✓", std::process::id()));
    assert_eq!(keychain.get(&name).unwrap(), None);
    keychain.set(&name, &secret).unwrap();
    assert_eq!(keychain.get(&name).unwrap().as_ref(), Some(&secret));

    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_secret_survives_a_process_restart_and_is_deleted", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD, &name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success(), "{stdout}{}", String::from_utf8_lossy(&child.stderr));
    assert!(stdout.contains(&format!("value={}", secret.expose())), "the second process read something else: {stdout}");

    assert!(keychain.delete(&name).unwrap());
    assert!(!keychain.delete(&name).unwrap());
    assert_eq!(keychain.get(&name).unwrap(), None);
}

/// Opening the keychain probes that it takes writes. Many Hearth processes open it at once
/// (the app, `hearth chat` in a terminal, a script's `hearth serve`); each probe must be its
/// own item, or one process deletes the item another is writing and the keychain looks
/// unavailable to it.
#[test]
#[ignore = "needs a real Secret Service: make test runs it in scripts/with-keyring.sh"]
fn many_processes_can_open_the_keychain_at_once() {
    keychain();
    let opens: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                (0..10).map(|_| Keychain::secret_service(SERVICE).map(|_| ()).map_err(|e| e.to_string())).collect::<Vec<_>>()
            })
        })
        .collect();
    let failures: Vec<String> = opens.into_iter().flat_map(|t| t.join().unwrap()).filter_map(Result::err).collect();
    assert_eq!(failures, Vec::<String>::new(), "opening the keychain failed while others opened it");
}
