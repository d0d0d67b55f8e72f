//! The sandbox's contract, as tables: what code returns, what it cannot reach, and how each
//! kind of runaway ends. Every case runs twice, in process ([`run_in_process`], the engine
//! alone) and in the locked-down child ([`Sandbox::run`]), and both must come to the same
//! outcome: the child's lock-down takes nothing away that the language needs. Every bomb is
//! followed by an ordinary run, to show the process (and the next run) is unharmed. Nothing
//! here asserts how long a run took, only that it ended.

use std::thread;
use std::time::Duration;

use hearth_sandbox::{Cancel, Limits, SandboxError, run_in_process};
use serde_json::{Map, Value, json};

use crate::{MIB, sandbox};

/// Small limits so the bombs go off quickly: 300 ms, 16 MiB, the default stack.
fn test_limits() -> Limits {
    Limits { memory_bytes: 16 * MIB, timeout: Duration::from_millis(300), ..Limits::default() }
}

/// What a run should come to.
#[derive(Debug)]
enum Want {
    /// `main` returns this object.
    Returns(Value),
    /// The run fails with exactly this error.
    Fails(SandboxError),
    /// `main` throws, and the message contains this.
    Throws(&'static str),
    /// `main` returns a non-object, and the description contains this.
    BadResult(&'static str),
}

type Outcome = Result<Map<String, Value>, SandboxError>;

/// One way to run code with a given cancel switch: in process, or in the child.
type Runner<'a> = &'a dyn Fn(&str, &Cancel) -> Outcome;

/// Runs `code` both ways, with `limits` and `cancel`, and names each outcome.
fn both(code: &str, inputs: &Value, limits: &Limits, cancel: &Cancel) -> [(&'static str, Outcome); 2] {
    [("in process", run_in_process(code, inputs, limits, cancel)), ("in the child", sandbox().run(code, inputs, limits, cancel))]
}

fn check(code: &str, inputs: Value, want: Want) {
    for (how, got) in both(code, &inputs, &test_limits(), &Cancel::new()) {
        match (&want, &got) {
            (Want::Returns(expected), Ok(map)) => {
                assert_eq!(&Value::Object(map.clone()), expected, "{how}, code: {code}");
            }
            (Want::Fails(expected), Err(error)) => assert_eq!(error, expected, "{how}, code: {code}"),
            (Want::Throws(part), Err(SandboxError::Thrown(message))) => {
                assert!(message.contains(part), "{how}, code: {code}\nthrew: {message}\nwanted: {part}");
            }
            (Want::BadResult(part), Err(SandboxError::BadResult(what))) => {
                assert!(what.contains(part), "{how}, code: {code}\nreturned: {what}\nwanted: {part}");
            }
            _ => panic!("{how}, code: {code}\ngot: {got:?}\nwanted: {want:?}"),
        }
    }
}

/// An ordinary run, to show that whatever ran before left nothing broken.
fn still_works() {
    check("function main(inputs) { return { doubled: inputs.n * 2 }; }", json!({ "n": 21 }), Want::Returns(json!({ "doubled": 42 })));
}

#[test]
fn inputs_and_outputs_round_trip() {
    let inputs = json!({
        "text": "héllo wörld — 日本語 🌍 \u{0000} \"quoted\" \\ back",
        "numbers": [0, -1, 1.5, 9007199254740991_i64, 1e-7, 123456789.125],
        "nested": { "a": { "b": { "c": [1, { "d": null }, true, false] } } },
        "empty": {},
        "list": [],
    });
    check("function main(inputs) { return inputs; }", inputs.clone(), Want::Returns(inputs));
    check(
        "function main(inputs) {
            return {
                sum: inputs.xs.reduce((a, b) => a + b, 0),
                upper: inputs.name.toUpperCase(),
                length: [...inputs.name].length,
                nested: { deep: [1, { two: 2 }, [3]] },
                keys: Object.keys(inputs).sort(),
            };
        }",
        json!({ "xs": [1, 2, 3.5], "name": "zoë 🐱" }),
        Want::Returns(json!({
            "sum": 6.5,
            "upper": "ZOË 🐱",
            "length": 5,
            "nested": { "deep": [1, { "two": 2 }, [3]] },
            "keys": ["name", "xs"],
        })),
    );
    // What JSON cannot say is dropped or turned into null, exactly as JSON.stringify does.
    check(
        "function main() { return { gone: undefined, f() {}, nan: NaN, when: new Date(0) }; }",
        json!({}),
        Want::Returns(json!({ "nan": null, "when": "1970-01-01T00:00:00.000Z" })),
    );
}

#[test]
fn main_can_be_written_many_ways() {
    for code in [
        "function main(inputs) { return { v: inputs.x + 1 }; }",
        "const main = (inputs) => ({ v: inputs.x + 1 });",
        "let main = function (inputs) { return { v: inputs.x + 1 }; };",
        "var helper = (x) => x + 1; function main(inputs) { return { v: helper(inputs.x) }; }",
        "async function main(inputs) { await null; return { v: inputs.x + 1 }; }",
        "function main(inputs) { return Promise.resolve({ v: inputs.x + 1 }); }",
        "async function main(inputs) {
            const v = await new Promise((resolve) => queueMicrotask(() => resolve(inputs.x)));
            return { v: v + 1 };
        }",
        "'use strict'; function main(inputs) { return { v: inputs.x + 1 }; }",
    ] {
        check(code, json!({ "x": 1 }), Want::Returns(json!({ "v": 2 })));
    }
}

#[test]
fn results_that_are_not_plain_objects_are_refused() {
    for (code, want) in [
        ("function main() { return 42; }", "the number 42"),
        ("function main() { return null; }", "null"),
        ("function main() { return [1, 2]; }", "an array"),
        ("function main() { }", "undefined"),
        ("function main() { return undefined; }", "undefined"),
        ("function main() { return 'text'; }", "a string"),
        ("function main() { return true; }", "the boolean true"),
        ("function main() { return () => 1; }", "a function"),
        ("function main() { return 1n; }", "a BigInt"),
        ("async function main() { return 42; }", "the number 42"),
        ("function main() { return new Date(0); }", "JSON form is a string"),
        ("function main() { const o = {}; o.self = o; return o; }", "circular"),
        ("function main() { return { big: 1n }; }", "BigInt"),
        ("async function main() { await new Promise(() => {}); }", "never settles"),
    ] {
        check(code, json!({}), Want::BadResult(want));
    }
}

#[test]
fn broken_code_is_reported() {
    for (code, want) in [
        (
            "function main(inputs) {\n  return { a: 1 ;\n}",
            Want::Fails(SandboxError::Syntax("Unexpected token ';' (line 2, column 17)".into())),
        ),
        ("function helper() { return {}; }", Want::Fails(SandboxError::NoMain)),
        ("", Want::Fails(SandboxError::NoMain)),
        ("var main = 5;", Want::Fails(SandboxError::NoMain)),
        ("function main() { throw new Error('boom'); }", Want::Throws("Error: boom")),
        (
            "function main(inputs) {\n  let x;\n  return x.y;\n}",
            Want::Throws("TypeError: cannot read property 'y' of undefined (at main, line 3)"),
        ),
        ("async function main() { await null; throw new RangeError('late'); }", Want::Throws("RangeError: late")),
        ("function main() { return Promise.reject(new Error('no')); }", Want::Throws("Error: no")),
        ("function main() { throw 'just a string'; }", Want::Throws("just a string")),
        ("throw new Error('at the top');", Want::Throws("Error: at the top (line 1)")),
    ] {
        check(code, json!({}), want);
    }
}

#[test]
fn the_host_is_out_of_reach() {
    for (code, want) in [
        ("function main() { return require('fs'); }", "ReferenceError: require is not defined"),
        ("function main() { return fetch('http://x'); }", "ReferenceError: fetch is not defined"),
        ("function main() { process.exit(1); }", "ReferenceError: process is not defined"),
        ("async function main() { return await import('std'); }", "could not load module 'std'"),
        ("async function main() { return await import('os'); }", "could not load module 'os'"),
        ("async function main() { return await import('./x.js'); }", "could not load module"),
        ("function main() { return std.open('/etc/passwd'); }", "ReferenceError: std is not defined"),
        ("function main() { return os.exec(['ls']); }", "ReferenceError: os is not defined"),
        ("function main() { return Deno.readTextFile('x'); }", "ReferenceError: Deno is not defined"),
        ("function main() { return new XMLHttpRequest(); }", "ReferenceError: XMLHttpRequest is not defined"),
        ("function main() { console.log('x'); }", "ReferenceError: console is not defined"),
        ("function main() { setTimeout(() => {}, 1); }", "ReferenceError: setTimeout is not defined"),
        // A wait that cannot be interrupted would outlive every limit; QuickJS refuses it.
        ("function main() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }", "cannot block"),
    ] {
        check(code, json!({}), Want::Throws(want));
    }
    // Module syntax itself is not available: the code is a script.
    for (how, got) in both("import * as std from 'std'; function main() { return {}; }", &json!({}), &test_limits(), &Cancel::new()) {
        assert!(matches!(got, Err(SandboxError::Syntax(_))), "{how}: {got:?}");
    }
    check(
        "function main() { return { std: typeof globalThis.std, os: typeof globalThis.os }; }",
        json!({}),
        Want::Returns(json!({ "std": "undefined", "os": "undefined" })),
    );
}

#[test]
fn the_global_object_holds_only_the_language() {
    // The ECMAScript built-ins (with Annex B's escape/unescape), plus QuickJS's InternalError
    // and queueMicrotask, which only schedules JavaScript on the run's own job queue.
    const ALLOWED: &[&str] = &[
        "AggregateError",
        "Array",
        "ArrayBuffer",
        "AsyncDisposableStack",
        "Atomics",
        "BigInt",
        "BigInt64Array",
        "BigUint64Array",
        "Boolean",
        "DataView",
        "Date",
        "decodeURI",
        "decodeURIComponent",
        "DisposableStack",
        "encodeURI",
        "encodeURIComponent",
        "Error",
        "escape",
        "eval",
        "EvalError",
        "FinalizationRegistry",
        "Float16Array",
        "Float32Array",
        "Float64Array",
        "Function",
        "globalThis",
        "Infinity",
        "Int16Array",
        "Int32Array",
        "Int8Array",
        "InternalError",
        "isFinite",
        "isNaN",
        "Iterator",
        "JSON",
        "Map",
        "Math",
        "NaN",
        "Number",
        "Object",
        "parseFloat",
        "parseInt",
        "Promise",
        "Proxy",
        "queueMicrotask",
        "RangeError",
        "ReferenceError",
        "Reflect",
        "RegExp",
        "Set",
        "SharedArrayBuffer",
        "String",
        "SuppressedError",
        "Symbol",
        "SyntaxError",
        "TypeError",
        "Uint16Array",
        "Uint32Array",
        "Uint8Array",
        "Uint8ClampedArray",
        "undefined",
        "unescape",
        "URIError",
        "WeakMap",
        "WeakRef",
        "WeakSet",
    ];
    // What other JavaScript hosts put there, each a way out of the sandbox or a clock.
    const DENIED: &[&str] = &[
        "require",
        "module",
        "exports",
        "process",
        "global",
        "Buffer",
        "fetch",
        "XMLHttpRequest",
        "WebSocket",
        "console",
        "print",
        "std",
        "os",
        "bjson",
        "scriptArgs",
        "gc",
        "Deno",
        "Bun",
        "window",
        "self",
        "navigator",
        "performance",
        "setTimeout",
        "setInterval",
        "importScripts",
        "atob",
        "btoa",
        "DOMException",
    ];
    // A lexical `main`, so that it is not itself a property of the global object.
    let code = "const main = () => ({ names: Object.getOwnPropertyNames(globalThis) });";
    for (how, names) in both(code, &json!({}), &test_limits(), &Cancel::new()) {
        let names = names.expect("listing the globals works");
        let names: Vec<&str> = names["names"].as_array().expect("an array of names").iter().map(|n| n.as_str().expect("a name")).collect();
        assert!(names.contains(&"JSON") && names.contains(&"Promise"), "{how}: {names:?}");
        let denied: Vec<_> = names.iter().filter(|n| DENIED.contains(n)).collect();
        assert!(denied.is_empty(), "{how}: host objects in the sandbox: {denied:?}");
        let unknown: Vec<_> = names.iter().filter(|n| !ALLOWED.contains(n)).collect();
        assert!(unknown.is_empty(), "{how}: globals outside the allow-list: {unknown:?}");
    }
}

#[test]
fn an_endless_loop_times_out() {
    for code in [
        "function main() { while (true) {} }",
        "function main() { for (;;) { JSON.stringify({ a: [1, 2, 3] }); } }",
        "async function main() { for (;;) await null; }",
        "while (true) {} function main() { return {}; }",
        // Catastrophic backtracking: the regexp engine polls the interrupt too.
        "function main() { return { m: /^(a+)+$/.test('a'.repeat(40) + 'b') }; }",
    ] {
        check(code, json!({}), Want::Fails(SandboxError::Timeout(Duration::from_millis(300))));
        still_works();
    }
}

#[test]
fn running_out_of_memory_is_reported() {
    let oom = SandboxError::OutOfMemory { limit_bytes: 16 * MIB };
    for code in [
        "function main() { const a = []; for (let i = 0; ; i++) a.push('item ' + i); }",
        // So full that QuickJS cannot allocate its "out of memory" error and throws null.
        "function main() { const a = []; while (true) a.push('x' + a.length); }",
        "function main() { const a = []; for (;;) a.push(new Array(1024).fill(1.5)); }",
        "function main() { return { s: 'x'.repeat(64 * 1024 * 1024) }; }",
        "function main() { let s = 'x'; for (;;) s = (s + s).split('').join(''); }",
        "function main() { return { b: new ArrayBuffer(64 * 1024 * 1024) }; }",
    ] {
        check(code, json!({}), Want::Fails(oom.clone()));
        still_works();
    }
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    for code in [
        "function f(n) { return f(n + 1) + 1; } function main() { return f(0); }",
        "function main() { const o = {}; o.toString = function () { return '' + this; }; return { s: '' + o }; }",
        "async function main() { const f = async (n) => (await f(n + 1)) + 1; return { v: await f(0) }; }",
    ] {
        check(code, json!({}), Want::Fails(SandboxError::StackOverflow));
        still_works();
    }
}

#[test]
fn cancelling_from_another_thread_ends_the_run() {
    let limits = Limits { timeout: Duration::from_secs(60), ..test_limits() };
    let child = sandbox();
    let runs: [(&str, Runner); 2] = [
        ("in process", &|code, cancel| run_in_process(code, &json!({}), &limits, cancel)),
        ("in the child", &|code, cancel| child.run(code, &json!({}), &limits, cancel)),
    ];
    for (how, run) in runs {
        let cancel = Cancel::new();
        let canceller = {
            let cancel = cancel.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(100));
                cancel.cancel();
            })
        };
        // Cancelled whenever the switch is thrown: the timeout is a minute away.
        let got = run("function main() { while (true) {} }", &cancel);
        canceller.join().expect("the canceller ran");
        assert_eq!(got, Err(SandboxError::Cancelled), "{how}");
        assert!(cancel.is_cancelled());
        // A switch already thrown stops the next run before it starts.
        let got = run("function main() { return {}; }", &cancel);
        assert_eq!(got, Err(SandboxError::Cancelled), "{how}");
    }
    still_works();
}

#[test]
fn limits_out_of_range_are_made_safe() {
    // Zero is "unlimited" to QuickJS; here it is a small, working limit.
    let limits = Limits { memory_bytes: 0, stack_bytes: 0, timeout: Duration::from_secs(5) };
    for (how, got) in both("function main() { return { ok: true }; }", &json!({}), &limits, &Cancel::new()) {
        assert_eq!(got, Ok(json!({ "ok": true }).as_object().cloned().expect("an object")), "{how}");
    }
    let code = "function f(n) { return f(n + 1) + 1; } function main() { return f(0); }";
    for (how, got) in both(code, &json!({}), &Limits { stack_bytes: 1 << 30, ..test_limits() }, &Cancel::new()) {
        assert_eq!(got, Err(SandboxError::StackOverflow), "{how}");
    }
}

/// `Date` keeps the host's local time zone in the child, which can no longer open a zone file
/// once locked down: it loads the zone first, and the parent passes `TZ` on. Run in a child of
/// this test binary with `TZ` set, since a test cannot change its own environment.
#[test]
fn dates_keep_the_local_time_zone() {
    crate::run_inner("semantics::inner_dates_keep_the_local_time_zone", &[("TZ", "Asia/Kathmandu")]);
}

#[test]
#[ignore = "run by dates_keep_the_local_time_zone, in a child process"]
fn inner_dates_keep_the_local_time_zone() {
    if !crate::inner() {
        return;
    }
    // Kathmandu has been UTC+5:45 all year since 1986; this needs the system's zone data (tzdata).
    let code =
        "function main() { const d = new Date(Date.UTC(2024, 0, 1)); return { offset: d.getTimezoneOffset(), hours: d.getHours() }; }";
    for (how, got) in both(code, &json!({}), &test_limits(), &Cancel::new()) {
        assert_eq!(got, Ok(json!({ "offset": -345, "hours": 5 }).as_object().cloned().expect("an object")), "{how}");
    }
}
