//! whistle's web consoles: the pages people use (the complaint form and the resident's
//! status page, the community, street and liaison consoles, the supervisor's dashboard,
//! one ticket's timeline), served by the `whistle` binary itself.
//!
//! Every page is static: HTML, CSS and JavaScript modules that talk to the HTTP API with
//! the caller's token. The files are built into the binary (see `build.rs`), ECharts
//! included, so the consoles work on a network with no internet. For work on the pages,
//! [`Assets::from_dir`] serves them from a folder instead, read on every request.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One built-in file.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `/assets/` (`js/common.js`).
    pub path: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    /// A strong entity tag of its bytes.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The pages: the address, and the file under `/assets/` that is the page.
pub const PAGES: &[(&str, &str)] = &[
    ("/", "index.html"),
    ("/report", "report.html"),
    ("/track", "track.html"),
    ("/sign-in", "sign-in.html"),
    ("/console/supervisor", "supervisor.html"),
    ("/console/liaison", "liaison.html"),
    ("/console/community", "community.html"),
    ("/console/street", "street.html"),
    ("/console/ticket", "ticket.html"),
];

/// Scripts come from this server only, never inline; ECharts sets inline styles.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Where the files come from.
#[derive(Debug, Clone)]
pub enum Assets {
    /// Built into the binary.
    BuiltIn,
    /// Read from a folder on every request (for work on the pages). ECharts still comes
    /// from the binary.
    Dir(Arc<PathBuf>),
}

impl Assets {
    /// The files in `dir`, read on every request.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self::Dir(Arc::new(dir.into()))
    }

    fn built_in(path: &str) -> Option<&'static Asset> {
        ASSETS.iter().find(|a| a.path == path)
    }

    fn respond(&self, path: &str, request: &HeaderMap) -> Response {
        if let Self::Dir(dir) = self
            && !path.starts_with("vendor/")
        {
            let Some(file) = inside(dir, path) else {
                return not_found(path);
            };
            return match std::fs::read(&file) {
                Ok(bytes) => serve(path, bytes, None, request),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => not_found(path),
                Err(e) => {
                    tracing::error!(file = %file.display(), error = %e, "reading a console file");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the console file could not be read",
                    )
                        .into_response()
                }
            };
        }
        match Self::built_in(path) {
            Some(asset) => serve(path, asset.body.to_vec(), Some(asset.etag), request),
            None => not_found(path),
        }
    }
}

/// `path` under `dir`, if it stays inside it.
fn inside(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(relative))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str, body: Vec<u8>, etag: Option<&'static str>, request: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    // Revalidate every time: a new binary must never run with an old page's scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(etag) = etag {
        headers.insert(header::ETAG, HeaderValue::from_static(etag));
        let matches = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|tag| tag.trim() == etag || tag.trim() == "*");
        if matches {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
    }
    (StatusCode::OK, headers, body).into_response()
}

fn not_found(path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("no console file `{path}`; the consoles start at /"),
    )
        .into_response()
}

/// The pages at their addresses and the files under `/assets/`.
pub fn routes(assets: Assets) -> Router {
    let mut router =
        Router::new().route(
            "/assets/{*path}",
            get(
                |State(assets): State<Assets>,
                 UrlPath(path): UrlPath<String>,
                 headers: HeaderMap| async move { assets.respond(&path, &headers) },
            ),
        );
    for &(address, file) in PAGES {
        router = router.route(
            address,
            get(
                move |State(assets): State<Assets>, headers: HeaderMap| async move {
                    assets.respond(file, &headers)
                },
            ),
        );
    }
    router.with_state(assets)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    async fn get(
        router: Router,
        path: &str,
        etag: Option<&str>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::get(path);
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let response = router
            .oneshot(request.body(Body::empty()).expect("a request"))
            .await
            .expect("an answer");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    #[tokio::test]
    async fn every_page_is_built_in_and_answers_with_its_headers() {
        for &(address, file) in PAGES {
            let (status, headers, body) = get(routes(Assets::BuiltIn), address, None).await;
            assert_eq!(status, StatusCode::OK, "{address} ({file})");
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert!(
                headers[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .is_ok_and(|csp| csp.contains("script-src 'self'")),
                "{address}"
            );
            let page = String::from_utf8(body).expect("UTF-8");
            assert!(page.contains("<html"), "{address} is a page");
        }
    }

    #[tokio::test]
    async fn echarts_is_built_in_and_revalidates_by_its_tag() {
        let (status, headers, body) = get(
            routes(Assets::BuiltIn),
            "/assets/vendor/echarts.min.js",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.len() > 500_000,
            "the whole library, {} bytes",
            body.len()
        );
        assert!(String::from_utf8_lossy(&body[..2000]).contains("echarts"));
        let etag = headers[header::ETAG].to_str().expect("ASCII").to_owned();
        let (status, _, body) = get(
            routes(Assets::BuiltIn),
            "/assets/vendor/echarts.min.js",
            Some(&etag),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn no_page_loads_anything_from_another_host() {
        for asset in ASSETS.iter().filter(|a| !a.path.starts_with("vendor/")) {
            // The SVG namespace is a name, not an address anything is loaded from.
            let text = String::from_utf8_lossy(asset.body)
                .replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            for needle in ["http://", "https://", "//cdn", "@import url("] {
                assert!(
                    !text.contains(needle),
                    "{} refers to another host ({needle})",
                    asset.path
                );
            }
        }
    }

    #[tokio::test]
    async fn a_folder_serves_its_files_and_nothing_outside_it() {
        let dir = std::env::temp_dir().join(format!("whistle-web-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("js")).expect("a folder");
        std::fs::write(dir.join("js/x.js"), "export const x = 1;").expect("a file");
        let assets = Assets::from_dir(&dir);
        let (status, headers, body) = get(routes(assets.clone()), "/assets/js/x.js", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(body, b"export const x = 1;");
        let (status, _, _) = get(routes(assets.clone()), "/assets/js/missing.js", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = get(
            routes(assets.clone()),
            "/assets/..%2F..%2Fetc%2Fpasswd",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, body) = get(routes(assets), "/assets/vendor/echarts.min.js", None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "ECharts still comes from the binary"
        );
        assert!(body.len() > 500_000);
        std::fs::remove_dir_all(dir).ok();
    }
}
