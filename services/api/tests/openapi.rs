//! The committed OpenAPI document (`schemas/openapi.json`) is the one the code generates.
//! After changing a route, regenerate it with
//! `WHISTLE_WRITE_SCHEMAS=1 cargo test -p whistle-api --test openapi`.

use std::path::PathBuf;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/openapi.json")
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = whistle_api::openapi_json();
    if std::env::var_os("WHISTLE_WRITE_SCHEMAS").is_some() {
        std::fs::write(committed(), &generated).expect("write schemas/openapi.json");
    }
    let on_disk = std::fs::read_to_string(committed()).expect("schemas/openapi.json exists");
    assert!(
        on_disk == generated,
        "schemas/openapi.json is out of date; regenerate it with WHISTLE_WRITE_SCHEMAS=1 cargo test -p whistle-api --test openapi"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_documents_every_role() {
    let document: serde_json::Value =
        serde_json::from_str(&whistle_api::openapi_json()).expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/api/complaints",
        "/api/receipts/{token}",
        "/api/tickets/{ticket}/acknowledge",
        "/api/tickets/{ticket}/whistle",
        "/api/tickets/{ticket}/summons/{department}/claim",
        "/api/sla/board",
        "/api/sla/ranking",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert!(schemes.contains_key("bearer") && schemes.contains_key("api_key"));
}
