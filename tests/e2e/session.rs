//! The first session of a new user, through the real binary, with the real default model
//! file in place: doctor, a workspace, a chat, a conversation with an edit, search.

use std::io::Read;

use hearth_e2e::{Hearth, default_model};
use sha2::{Digest, Sha256};

const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

#[test]
fn the_default_model_is_the_real_one() {
    let mut file = std::fs::File::open(default_model()).unwrap();
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    assert_eq!(format!("{:x}", hasher.finalize()), MODEL_SHA256);
}

#[test]
fn a_first_session() {
    let env = Hearth::new();
    let model = default_model();
    let report = env.json(&["doctor", "--default-model", model.to_str().unwrap()]);
    assert_eq!(report["database"]["ok"], true);
    assert_eq!(report["parts"][0]["name"], "model");
    assert_eq!(report["parts"][0]["present"], true, "{report}");
    assert!(report["parts"][0]["detail"].as_str().unwrap().contains("98362432 bytes"));

    env.json(&["workspaces", "create", "--name", "Home", "--handle", "home", "--timezone", "America/New_York"]);
    let chat = env.json(&["chats", "new", "--workspace", "home", "--title", "Trip"])["id"].as_str().unwrap().to_owned();
    let q = env.json(&["messages", "add", "--chat", &chat, "Where should we camp in Maine?"]);
    env.json(&["messages", "add", "--chat", &chat, "--role", "assistant", "Acadia has campgrounds near the coast."]);
    env.json(&["messages", "edit", q["id"].as_str().unwrap(), "Where should we camp in Vermont?"]);

    let text = String::from_utf8(env.run(&["chats", "show", &chat]).stdout).unwrap();
    assert!(text.contains("< 2/2 >") && text.contains("Vermont") && !text.contains("Acadia"), "{text}");
    let hits = env.json(&["search", "camp"]);
    assert_eq!(hits.as_array().unwrap().len(), 3, "both questions, and the prefix finds campgrounds");
    assert_eq!(env.json(&["search", "camp", "vermont"]).as_array().unwrap().len(), 1);
    assert_eq!(env.json(&["search", "acadia"]).as_array().unwrap().len(), 1);
    assert_eq!(env.json(&["chats", "list"]).as_array().unwrap()[0]["title"], "Trip");
}
