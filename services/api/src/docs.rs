//! `/docs`: the API's documentation as one page that needs nothing but this server.
//!
//! The page (`docs.html`, built into the binary) fetches `/openapi.json` and renders the
//! tags, every operation (method, path, summary and description, parameters, request body,
//! responses, security), the security schemes and the schemas, with a small form to try a
//! request. Its CSS and script are inline and it loads nothing from anywhere else: whistle
//! runs in government networks that often cannot reach a CDN. A Content-Security-Policy
//! pins that down: only the page's own script and style (by hash) run, and the only
//! connections allowed go back to this server.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{Html, IntoResponse};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The page, as committed.
pub const PAGE: &str = include_str!("docs.html");

/// The page's Content-Security-Policy: its inline script and style by hash, requests to
/// this server only, nothing else.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hashes_of(PAGE, "script"),
        hashes_of(PAGE, "style"),
    )
});

/// `'sha256-…'` of the content of every inline `<tag>` element of `page`, or `'none'`.
fn hashes_of(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut hashes = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        let digest = Sha256::digest(&after.as_bytes()[..end]);
        hashes.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &after[end + close.len()..];
    }
    if hashes.is_empty() {
        "'none'".to_owned()
    } else {
        hashes.join(" ")
    }
}

/// The API documentation page (HTML; renders `/openapi.json`).
#[tracing::instrument(skip_all)]
pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, POLICY.as_str()),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(PAGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_renders_the_served_document_and_loads_nothing_from_elsewhere() {
        assert!(PAGE.contains("<meta charset=\"utf-8\">"));
        assert!(PAGE.contains("\"/openapi.json\""));
        for outside in [
            "http://", "https://", "src=", "<link", "@import", "url(", "//cdn",
        ] {
            assert!(!PAGE.contains(outside), "the page holds `{outside}`");
        }
        // Chinese text survives the build (the file is UTF-8).
        assert!(PAGE.contains("文档"));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script_and_style() {
        let policy = POLICY.as_str();
        assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
        assert!(policy.contains("connect-src 'self'"));
        assert!(!policy.contains("unsafe-inline"));
        assert_eq!(hashes_of("<p>no script</p>", "script"), "'none'");
    }
}
