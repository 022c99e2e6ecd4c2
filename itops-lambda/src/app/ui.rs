//! The web UI: static files embedded in the binary (no CDN; the machine may be offline):
//! `index.html`, `style.css`, and the ES modules under `js/` (`js/main.js` the entry), served
//! from the table [`MODULES`] and never read from the file system.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../../ui/index.html");
const STYLE_CSS: &str = include_str!("../../ui/style.css");

/// `(name, include_str!("../../ui/js/name"))` for each name.
macro_rules! modules {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../ui/js/", $name)))),*]
    };
}

/// The UI's JavaScript modules (`ui/js/`), by file name, as `GET /js/{file}` serves them.
pub(crate) const MODULES: &[(&str, &str)] = modules![
    "api.js",
    "approval-card.js",
    "banner.js",
    "charts.js",
    "dom.js",
    "format.js",
    "incident-form.js",
    "incident-live.js",
    "incident-render.js",
    "incident-workflow.js",
    "main.js",
    "router.js",
    "session.js",
    "shell.js",
    "view-approval-link.js",
    "view-approvals.js",
    "view-incident.js",
    "view-list.js",
    "view-login.js",
    "view-simulator.js",
    "workflow-sections.js",
];

/// The module called `name` (a file name of [`MODULES`]), if there is one.
pub(crate) fn module(name: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| *body)
}

/// A strict content security policy: only this server's own scripts, styles and API.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`.
pub(crate) async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// `GET /js/{file}`: one of the UI's modules; any other name is not found.
pub(crate) async fn js(Path(file): Path<String>) -> Response {
    match module(&file) {
        Some(body) => asset(body, "text/javascript; charset=utf-8"),
        None => super::routes::incidents::not_found().await.into_response(),
    }
}

/// `GET /style.css`.
pub(crate) async fn style_css() -> Response {
    asset(STYLE_CSS, "text/css; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ui_dir() -> std::path::PathBuf {
        itops_core::testing::workspace_root().join("itops-lambda/ui")
    }

    /// Every file of `ui/js/` is in the table (a module added there and not here would 404
    /// in the browser), and every relative import names a module of the table.
    #[test]
    fn the_table_holds_every_module_and_every_import_resolves() {
        let on_disk: BTreeSet<String> = std::fs::read_dir(ui_dir().join("js"))
            .expect("ui/js")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        let table: BTreeSet<String> = MODULES.iter().map(|(n, _)| (*n).to_string()).collect();
        assert_eq!(on_disk, table, "ui/js and MODULES differ");
        for (name, body) in MODULES {
            for (i, _) in body.match_indices(" from './") {
                let rest = &body[i + " from './".len()..];
                let target = &rest[..rest.find('\'').expect("closing quote")];
                assert!(
                    module(target).is_some(),
                    "{name} imports ./{target}, not a module"
                );
            }
            assert!(!body.contains("eval("), "{name} calls eval");
        }
        let index = std::fs::read_to_string(ui_dir().join("index.html")).expect("index.html");
        assert!(index.contains(r#"<script type="module" src="js/main.js"></script>"#));
        assert!(module("main.js").is_some());
    }

    #[tokio::test]
    async fn modules_are_served_as_javascript_and_unknown_names_are_not_found() {
        let response = js(Path("main.js".to_string())).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        for name in [
            "app.js",
            "missing.js",
            "..",
            "../index.html",
            "main.js/",
            "MAIN.JS",
            "",
        ] {
            let response = js(Path(name.to_string())).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        }
    }
}
