//! One run inside QuickJS, on the sandbox thread: build a bare runtime, evaluate the code, call
//! `main`, settle its promise, and turn every way that can fail into a [`SandboxError`].
//!
//! QuickJS reports all its failures as exceptions, so the work here is telling them apart:
//! an interrupt is known by the flag our own handler sets (never by its message, which code
//! could imitate), memory and stack exhaustion by the exact errors QuickJS throws for them,
//! and everything else is the code's own doing.
//!
//! Also here, since it needs QuickJS too: `load_time_zone`, which the child calls before it
//! locks itself down.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use rquickjs::context::{EvalOptions, intrinsic};
use rquickjs::promise::PromiseState;
use rquickjs::{Coerced, Context, Ctx, Function, Runtime, Value};

use crate::{Cancel, Limits, SandboxError};

/// The name the code's stack frames carry, so we can tell its frames from native ones.
const FILE: &str = "code";

/// The standard ECMAScript intrinsics (on top of the base objects rquickjs always adds).
/// Left out on purpose: `performance` (a high-resolution clock, not ECMAScript) and
/// `DOMException` (a web API).
type Intrinsics = (
    intrinsic::Date,
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
    intrinsic::WeakRef,
);

/// Why the interrupt handler stopped the code. Recorded by the handler itself, so a thrown
/// "interrupted" is never confused with one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Deadline,
    Cancel,
}

/// Which step an exception came from: the same JavaScript error means different things there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Compile,
    Input,
    Call,
    Output,
}

/// Runs one sandboxed call. `started` is when the caller started the clock.
pub(crate) fn execute(
    code: &str,
    inputs_json: &str,
    limits: &Limits,
    cancel: &Cancel,
    started: Instant,
) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
    let deadline = started.checked_add(limits.timeout);
    let stop: Rc<Cell<Option<Stop>>> = Rc::default();

    let runtime = Runtime::new().map_err(|e| engine_error(e, limits))?;
    runtime.set_memory_limit(limits.memory());
    runtime.set_max_stack_size(limits.stack());
    runtime.set_interrupt_handler(Some(Box::new({
        let (stop, cancel) = (stop.clone(), cancel.clone());
        move || poll(&stop, &cancel, deadline)
    })));
    let context = Context::custom::<Intrinsics>(&runtime).map_err(|e| engine_error(e, limits))?;

    let run = Run { stop: &stop, cancel, deadline, limits };
    context.with(|ctx| run.call(&ctx, code, inputs_json))
    // The context and the runtime drop here, on this thread, freeing everything the code made.
}

/// Makes the C library load the local time zone now, for the child to call before it locks
/// itself down: QuickJS's `Date` asks `localtime_r`, which reads the zone once (from `TZ` or
/// `/etc/localtime`) and keeps it. Without this, a locked-down child could not read the zone
/// file and every `Date` would show UTC. Nothing here can fail in a way worth reporting: the
/// worst case is UTC.
pub(crate) fn load_time_zone() {
    let Ok(runtime) = Runtime::new() else { return };
    let Ok(context) = Context::custom::<(intrinsic::Eval, intrinsic::Date)>(&runtime) else { return };
    context.with(|ctx| {
        let _: rquickjs::Result<Value> = ctx.eval("new Date(0).getTimezoneOffset()");
    });
}

/// The interrupt handler: true stops the code with an uncatchable error.
fn poll(stop: &Cell<Option<Stop>>, cancel: &Cancel, deadline: Option<Instant>) -> bool {
    if stop.get().is_none() {
        if cancel.is_cancelled() {
            stop.set(Some(Stop::Cancel));
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            stop.set(Some(Stop::Deadline));
        }
    }
    stop.get().is_some()
}

struct Run<'a> {
    stop: &'a Cell<Option<Stop>>,
    cancel: &'a Cancel,
    deadline: Option<Instant>,
    limits: &'a Limits,
}

impl Run<'_> {
    fn call<'js>(&self, ctx: &Ctx<'js>, code: &str, inputs_json: &str) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
        let mut options = EvalOptions::default();
        // Ordinary script semantics, as in a browser's <script>; code may opt in to strict.
        options.strict = false;
        options.backtrace_barrier = true;
        options.filename = Some(FILE.into());
        let evaluated: rquickjs::Result<Value> = ctx.eval_with_options(code, options);
        self.check(ctx, evaluated, Step::Compile)?;

        // Asked of the global scope rather than read off `globalThis`, so that
        // `const main = ...` (a global lexical binding, not a property) counts too.
        let main: Value = self.check(ctx, ctx.eval("typeof main === 'function' ? main : undefined"), Step::Compile)?;
        let Some(main) = main.into_function() else {
            return Err(SandboxError::NoMain);
        };

        let inputs = self.check(ctx, ctx.json_parse(inputs_json), Step::Input)?;
        let returned: Value = self.check(ctx, Function::call(&main, (inputs,)), Step::Call)?;
        let result = match returned.as_promise() {
            Some(promise) => self.settle(ctx, promise)?,
            None => returned,
        };
        self.output(ctx, result)
    }

    /// Runs the job queue until `main`'s promise settles. The interrupt handler covers each
    /// job; the checks here cover the gaps between jobs.
    fn settle<'js>(&self, ctx: &Ctx<'js>, promise: &rquickjs::Promise<'js>) -> Result<Value<'js>, SandboxError> {
        loop {
            // A rejection comes back as the thrown reason, like a synchronous throw.
            if let Some(settled) = promise.result::<Value>() {
                return self.check(ctx, settled, Step::Call);
            }
            poll(self.stop, self.cancel, self.deadline);
            if let Some(stopped) = self.stopped() {
                return Err(stopped);
            }
            // A job that throws leaves its exception with the promise it belongs to; one
            // stopped by the interrupt is caught by the flag on the next turn.
            if !ctx.execute_pending_job() && promise.state() == PromiseState::Pending {
                return Err(match self.stopped() {
                    Some(stopped) => stopped,
                    None => SandboxError::BadResult("a Promise that never settles (nothing is left that could settle it)".into()),
                });
            }
        }
    }

    /// Checks that `main`'s result is a plain object and brings it out as JSON.
    fn output<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>) -> Result<serde_json::Map<String, serde_json::Value>, SandboxError> {
        if let Some(what) = not_an_object(&value) {
            return Err(SandboxError::BadResult(what));
        }
        let json = self.check(ctx, ctx.json_stringify(value), Step::Output)?;
        let json = match json.map(|s| s.to_string()) {
            Some(Ok(json)) => json,
            Some(Err(e)) => return Err(self.fail(ctx, e, Step::Output)),
            None => return Err(SandboxError::BadResult("an object JSON cannot represent".into())),
        };
        match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(other) => Err(SandboxError::BadResult(format!(
                "an object whose JSON form is {} (a Date, or an object with toJSON?)",
                json_kind(&other)
            ))),
            Err(e) => Err(SandboxError::BadResult(format!("an object that could not be read back from its JSON ({e})"))),
        }
    }

    /// Passes a success through and turns a failure into the error it stands for.
    fn check<T>(&self, ctx: &Ctx<'_>, result: rquickjs::Result<T>, step: Step) -> Result<T, SandboxError> {
        result.map_err(|e| self.fail(ctx, e, step))
    }

    fn fail(&self, ctx: &Ctx<'_>, error: rquickjs::Error, step: Step) -> SandboxError {
        if let Some(stopped) = self.stopped() {
            // Clear the "interrupted" exception; nothing in it is worth reading.
            ctx.catch();
            return stopped;
        }
        if !error.is_exception() {
            return engine_error(error, self.limits);
        }
        let value = ctx.catch();
        // When QuickJS runs out of memory so completely that it cannot allocate the
        // "out of memory" error itself, it throws a bare `null` instead. A script's own
        // `throw null` reads the same way; that is rare enough to accept.
        if value.is_null() {
            return SandboxError::OutOfMemory { limit_bytes: self.limits.memory() };
        }
        let thrown = Thrown::read(&value);
        // Reading the thrown value may run the code's getters, which the interrupt also covers.
        if let Some(stopped) = self.stopped() {
            return stopped;
        }
        if thrown.is_out_of_memory() {
            return SandboxError::OutOfMemory { limit_bytes: self.limits.memory() };
        }
        if thrown.is_stack_overflow() {
            return SandboxError::StackOverflow;
        }
        match step {
            Step::Compile if thrown.name.as_deref() == Some("SyntaxError") => SandboxError::Syntax(thrown.syntax_message()),
            Step::Compile | Step::Call => SandboxError::Thrown(thrown.to_string()),
            Step::Input => SandboxError::BadInput(thrown.to_string()),
            Step::Output => SandboxError::BadResult(format!("an object JSON cannot represent ({thrown})")),
        }
    }

    fn stopped(&self) -> Option<SandboxError> {
        self.stop.get().map(|stop| match stop {
            Stop::Deadline => SandboxError::Timeout(self.limits.timeout),
            Stop::Cancel => SandboxError::Cancelled,
        })
    }
}

/// Errors of rquickjs itself rather than of the code: an allocation that failed while
/// setting up (the memory limit), or something that should not happen.
fn engine_error(error: rquickjs::Error, limits: &Limits) -> SandboxError {
    match error {
        rquickjs::Error::Allocation => SandboxError::OutOfMemory { limit_bytes: limits.memory() },
        other => SandboxError::Crashed(other.to_string()),
    }
}

/// What `main` returned, in words, when it is not an object at all.
fn not_an_object(value: &Value<'_>) -> Option<String> {
    let what = if value.is_undefined() {
        "undefined (did main forget to return?)".into()
    } else if value.is_null() {
        "null".into()
    } else if value.is_array() {
        "an array".into()
    } else if value.is_function() {
        "a function".into()
    } else if let Some(b) = value.as_bool() {
        format!("the boolean {b}")
    } else if let Some(n) = value.as_number() {
        format!("the number {n}")
    } else if value.is_string() {
        "a string".into()
    } else if value.is_big_int() {
        "a BigInt".into()
    } else if value.is_symbol() {
        "a symbol".into()
    } else if value.is_object() {
        return None;
    } else {
        format!("a {}", value.type_name())
    };
    Some(what)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// What the code threw, read once: an Error's name, message and where in the code it came
/// from, or any other value as a string.
#[derive(Debug)]
struct Thrown {
    name: Option<String>,
    message: String,
    /// The first stack frame in the code: function name (if any), line, column.
    at: Option<(Option<String>, u32, u32)>,
}

impl Thrown {
    fn read(value: &Value<'_>) -> Self {
        let Some(object) = value.as_object().filter(|_| value.is_error()) else {
            let message =
                value.get::<Coerced<String>>().map(|s| s.0).unwrap_or_else(|_| format!("a {} that cannot be shown", value.type_name()));
            return Self { name: None, message, at: None };
        };
        let text = |key: &str| -> Option<String> { object.get::<_, Option<Coerced<String>>>(key).ok().flatten().map(|s| s.0) };
        Self { name: text("name"), message: text("message").unwrap_or_default(), at: text("stack").as_deref().and_then(first_frame) }
    }

    fn is_out_of_memory(&self) -> bool {
        self.name.as_deref() == Some("InternalError") && self.message == "out of memory"
    }

    /// quickjs-ng throws a RangeError for JavaScript recursion; the InternalError form comes
    /// from its bytecode compiler on very deep expressions.
    fn is_stack_overflow(&self) -> bool {
        match self.name.as_deref() {
            Some("RangeError") => self.message == "Maximum call stack size exceeded",
            Some("InternalError") => self.message.starts_with("stack overflow"),
            _ => false,
        }
    }

    /// "Unexpected token ';' (line 2, column 17)".
    fn syntax_message(&self) -> String {
        match &self.at {
            Some((_, line, column)) => format!("{} (line {line}, column {column})", self.message),
            None => self.message.clone(),
        }
    }
}

impl std::fmt::Display for Thrown {
    /// "TypeError: x is undefined (at main, line 3)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, self.message.is_empty()) {
            (Some(name), false) => write!(f, "{name}: {}", self.message)?,
            (Some(name), true) => f.write_str(name)?,
            (None, _) => f.write_str(&self.message)?,
        }
        match &self.at {
            Some((Some(function), line, _)) => write!(f, " (at {function}, line {line})"),
            Some((None, line, _)) => write!(f, " (line {line})"),
            None => Ok(()),
        }
    }
}

/// The first frame of a QuickJS stack that lies in the code: "    at main (code:3:11)" or
/// "    at code:3:11" gives (function, line, column).
fn first_frame(stack: &str) -> Option<(Option<String>, u32, u32)> {
    stack.lines().find_map(|line| {
        let frame = line.trim().strip_prefix("at ")?;
        let (function, place) = match frame.strip_suffix(')').and_then(|f| f.split_once(" (")) {
            Some((function, place)) => (Some(function), place),
            None => (None, frame),
        };
        let mut parts = place.rsplitn(3, ':');
        let column = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        (parts.next()? == FILE).then(|| {
            let function = function.filter(|f| !f.is_empty() && *f != "<eval>");
            (function.map(str::to_owned), line, column)
        })
    })
}
