//! Hearth's desktop shell: the app `hearth serve` runs (Core, the local engine, the API and
//! UI, the sync loop; `hearth-host`), in a window of its own. Wiring only.
//!
//! At start it opens Core in the data folder the CLI uses too (`HEARTH_DATA_DIR`, else the
//! platform's, e.g. `~/.local/share/hearth`), starts the API on the configured port
//! (`HEARTH_PORT`, else the `api_port` setting, else 7337) or on a free one when that is
//! taken, and opens a window on the UI the API serves, handing it the token through an
//! initialization script that runs only for that origin (so the token never appears in an
//! address or in browser storage). The window is the same page a browser gets from
//! `hearth serve`: one bundle, one origin, no CORS exception and no mixed content.
//!
//! (`splash/` is only the page Tauri's build requires; the window never shows it, and the CSP
//! in `tauri.conf.json` covers only it: the UI's own policy comes with it from the server.)
//!
//! The shell adds only what a desktop app needs: one instance (a second launch shows the
//! first window), the window's size and position remembered, a tray icon (show, new chat,
//! quit), links in replies opened in the user's browser, a native file dialog for importing a model (the one command the page may call,
//! granted in `capabilities/main.json`), and a clean stop: on exit (Quit, closing the window,
//! SIGTERM or SIGINT), replies in flight are saved and the sync loop ends before the process
//! does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hearth_core::Core;
use hearth_host::{Host, Options, Running};
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_dialog::{DialogExt, MessageDialogKind};

/// The setting that holds the API's port for the desktop app.
const PORT_SETTING: &str = "api_port";
const DEFAULT_PORT: u16 = 7337;

/// The running app, stopped on exit.
struct Served(Mutex<Option<Running>>);

/// Runs the desktop app until the user quits.
pub fn run() {
    // GTK would abort with a bare "cannot open display" (or a panic) on a machine with no
    // graphical session, such as a server the package was installed on: say what to do.
    #[cfg(target_os = "linux")]
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) && std::env::var_os("WAYLAND_DISPLAY").is_none_or(|d| d.is_empty()) {
        eprintln!(
            "hearth-desktop: there is no graphical session here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the \
             window cannot open. Run `hearth serve --app-link` and open the address it prints in a browser, or \
             use `hearth chat`."
        );
        std::process::exit(2);
    }
    tauri::Builder::default()
        // First, so a second launch hands over before it opens anything.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| show(app)))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![choose_model_file])
        .setup(|app| {
            let handle = app.handle().clone();
            match start() {
                Ok((running, log_guard)) => {
                    open_window(&handle, &running)?;
                    if let Err(e) = tray(&handle) {
                        // A desktop without a tray (no status notifier host) still has the window.
                        tracing::warn!(error = %e, "no tray icon");
                    }
                    app.manage(Served(Mutex::new(Some(running))));
                    app.manage(LogGuard(Mutex::new(log_guard)));
                    quit_on_signals(&handle);
                }
                Err(message) => {
                    eprintln!("hearth-desktop: {message}");
                    let quit = handle.clone();
                    handle
                        .dialog()
                        .message(message)
                        .kind(MessageDialogKind::Error)
                        .title("Hearth cannot start")
                        .show(move |_| quit.exit(1));
                }
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("building the Tauri app")
        .run(|app, event| {
            if let RunEvent::Exit = event {
                tracing::info!("quitting");
                stop(app);
            }
        });
}

/// SIGTERM (a logout, `kill`) and SIGINT quit the app the way its Quit does, so replies in
/// flight are saved and the window's size and place are kept, rather than the process
/// vanishing mid-write.
fn quit_on_signals(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::warn!("cannot listen for SIGTERM and SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("asked to quit by a signal");
        app.exit(0);
        // A second signal while the stop runs means now.
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        std::process::exit(130);
    });
}

/// Keeps the log file writer alive until the app stops (dropping it flushes the file).
struct LogGuard(Mutex<Option<hearth_host::logging::WorkerGuard>>);

/// Opens Core and serves the app; the error is a sentence for the user.
fn start() -> Result<(Running, Option<hearth_host::logging::WorkerGuard>), String> {
    let data_dir = match std::env::var_os("HEARTH_DATA_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => hearth_host::default_data_dir().ok_or("cannot find a home folder for Hearth's data; set HEARTH_DATA_DIR")?,
    };
    let guard = hearth_host::logging::init(&data_dir.join("logs"), None);
    let default_model = match std::env::var_os("HEARTH_DEFAULT_MODEL").filter(|m| !m.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => hearth_host::default_model_file(&data_dir),
    };
    let core = Arc::new(hearth_host::open_core(&data_dir).map_err(|e| e.to_string())?);
    let mut options = Options { port: port(&core), any_port_if_taken: true, ..Options::default() };
    // A mirror of the default model's download (the file's hash is checked either way).
    if let Some(url) = std::env::var("HEARTH_MODEL_URL").ok().filter(|u| !u.is_empty()) {
        options.model_url = url;
    }
    let app = Host::new(core, &data_dir, &default_model, options).map_err(|e| e.to_string())?;
    let running = hearth_host::spawn(app).map_err(|e| e.to_string())?;
    tracing::info!(url = %running.url, data_dir = %data_dir.display(), "desktop app serving");
    Ok((running, guard))
}

/// `HEARTH_PORT`, else the `api_port` setting, else 7337.
fn port(core: &Core) -> u16 {
    let env = std::env::var("HEARTH_PORT").ok().and_then(|p| p.trim().parse().ok());
    let setting = || core.settings().ok()?.get(PORT_SETTING)?.as_u64().and_then(|p| u16::try_from(p).ok());
    env.or_else(setting).unwrap_or(DEFAULT_PORT)
}

/// The main window, on the UI the API serves, with the token handed over for that origin only.
fn open_window(app: &AppHandle, running: &Running) -> tauri::Result<()> {
    let url = tauri::Url::parse(&running.url).expect("the host's address is http://IP:PORT");
    let origin = url.origin().ascii_serialization();
    let script = format!(
        "if (window.location.origin === {origin}) {{ Object.defineProperty(window, '__HEARTH__', {{ value: Object.freeze({{ token: {token} }}) }}); }}",
        origin = serde_json::Value::from(origin.clone()),
        token = serde_json::Value::from(running.token.clone()),
    );
    let ours = origin.clone();
    WebviewWindowBuilder::new(app, "main", WebviewUrl::External(url))
        .title("Hearth")
        .inner_size(1100.0, 760.0)
        .min_inner_size(420.0, 360.0)
        .initialization_script(&script)
        // The window shows the app and nothing else: a link elsewhere (a reply's, in a new tab
        // or not) opens in the user's browser.
        .on_navigation(move |to| {
            let inside = to.origin().ascii_serialization() == ours;
            if !inside {
                open_outside(to);
            }
            inside
        })
        .on_new_window(|to, _| {
            open_outside(&to);
            tauri::webview::NewWindowResponse::Deny
        })
        .build()?;
    Ok(())
}

/// Hands a web or mail link to the system's browser or mail program; anything else is dropped.
fn open_outside(url: &tauri::Url) {
    if matches!(url.scheme(), "http" | "https" | "mailto")
        && let Err(e) = tauri_plugin_opener::open_url(url.as_str(), None::<&str>)
    {
        tracing::warn!(error = %e, "cannot open a link outside the app");
    }
}

/// The tray icon: show the window, start a new chat, quit.
fn tray(app: &AppHandle) -> tauri::Result<()> {
    let show_item = MenuItem::with_id(app, "show", "Show Hearth", true, None::<&str>)?;
    let new_chat = MenuItem::with_id(app, "new-chat", "New chat", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show_item, &new_chat, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main").tooltip("Hearth").menu(&menu).on_menu_event(|app, event| match event.id.as_ref() {
        "show" => show(app),
        "new-chat" => {
            show(app);
            if let Some(window) = app.get_webview_window("main") {
                // The UI listens for this and opens a new chat, as Ctrl+N does.
                let _ = window.eval("window.dispatchEvent(new Event('hearth:new-chat'))");
            }
        }
        "quit" => app.exit(0),
        _ => {}
    });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Brings the main window to the front.
fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Ends the app: replies in flight are saved and the sync loop stops before the process does;
/// then the log is flushed (the process exits without dropping managed state).
fn stop(app: &AppHandle) {
    if let Some(served) = app.try_state::<Served>() {
        let running = served.0.lock().map(|mut r| r.take()).unwrap_or(None);
        if let Some(running) = running
            && let Err(e) = running.stop()
        {
            tracing::warn!(error = %e, "stopping the API");
        }
    }
    if let Some(guard) = app.try_state::<LogGuard>() {
        drop(guard.0.lock().map(|mut g| g.take()));
    }
}

/// The file dialog for importing a GGUF model: the chosen path, or nothing when cancelled.
#[tauri::command]
async fn choose_model_file(app: AppHandle) -> Option<String> {
    let picked = app.dialog().file().set_title("Import a GGUF model").add_filter("GGUF model", &["gguf"]).blocking_pick_file()?;
    picked.into_path().ok().map(|p| p.display().to_string())
}
