//! Open311 GeoReport v2 under `/open311/v2/`: the standard 311 API that city apps and
//! other cities' systems already speak, in JSON (`.json`) and XML (`.xml`).
//!
//! | route | what |
//! | --- | --- |
//! | `GET services.{json,xml}` | the categories, one service each (`service_code` = the category's code) |
//! | `GET services/{code}.{json,xml}` | a service definition: no extra attributes (`metadata` is `false`) |
//! | `POST requests.{json,xml}` | a complaint, form-encoded, from an integration holding an API key |
//! | `GET requests.{json,xml}` | tickets, newest first, at most 1,000, at most 90 days at a time |
//! | `GET requests/{id}.{json,xml}` | one ticket (in a list of one, as the standard says) |
//! | `GET tokens/{token}.{json,xml}` | the ticket of a receipt token |
//!
//! Failures are a list of `{code, description}` (`<errors><error>…</error></errors>` in XML)
//! with the HTTP status as `code`, as the standard has it, instead of whistle's usual
//! problem documents. `jurisdiction_id` is accepted and ignored: one whistle serves one
//! jurisdiction.
//!
//! **Posting** needs an integration's API key (`whistle api-key create`), in the `api_key`
//! field, the query string or the `X-Api-Key` header; a missing or unknown key is a 403.
//! The complaint takes the same path as `POST /api/complaints`: a `Received` event through
//! the ticket executor, on the `external_system` channel, recorded by the integration's
//! actor. whistle has no geocoder, so a location is a community:
//! - `address_id`: the community's code (`hongqili`; see `/api/jurisdiction`) or its name
//!   (`红旗里社区`) — the standard's "id of the location in the jurisdiction's own system";
//! - else `address_string`, which must contain exactly one community's name
//!   (`红旗里社区3号楼`).
//!
//! `address_string` becomes the ticket's place (compound and building). `lat` and `long`
//! alone are refused with a 400 that says what to send instead; beside a community they
//! are ignored. `first_name`, `last_name` and `phone` become the resident's contact
//! (sealed at rest like every contact). `email`, `device_id` and `account_id` are accepted
//! and **dropped**: whistle keeps no e-mail addresses and no client accounts, and nobody
//! will write to the address given. `media_url` (http or https) is appended to the
//! description, since whistle stores no media. Every complaint starts as `minor`.
//!
//! **Reading** is public, as in the standard, so it shows nothing of the resident: no
//! name, phone or contact address, no receipt token, and neither the resident's own words
//! (`description`) nor the place they typed (either may name their home); `address` is
//! the street office and community. Lists and single requests come from the SLA read
//! model (`sla_tickets`), whose facts hold no personal data; a request read a moment after
//! it was posted, before that model caught up, is folded from its own events.
//!
//! What a request's fields say:
//! - `status`: `closed` once resolved, closed or merged, else `open`; `status_notes`
//!   names the stage in Chinese and `service_notice` what happens next.
//! - `agency_responsible`: the departments summoned in the current round (not those that
//!   declined), else the community.
//! - `expected_datetime`: when the completion clock falls due, under the SLA policy the
//!   ticket is timed under.
//! - `zipcode`, `lat`, `long` and `media_url` are always null.
//!
//! These routes are plain axum routes, outside the OpenAPI document: one handler answers
//! both suffixes, which the generated document cannot describe without listing every
//! route twice.

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use whistle_events::ticket::{Received, SlaClock};
use whistle_events::{
    Category, Channel, CommunityId, DepartmentId, ReporterContact, Text, TicketEvent, TicketId,
    Urgency,
};
use whistle_sla::facts::TicketFacts;
use whistle_sla::stats::Stage;

use crate::access::{Duty, Target, authorize};
use crate::error::ApiError;
use crate::state::ApiState;

/// The longest span of `requested_datetime` one list covers, and the default span
/// (the last 90 days), as the standard says.
const WINDOW_DAYS: i64 = 90;

/// The most requests one list answers with.
const MAX_REQUESTS: usize = 1_000;

/// The GeoReport v2 routes, to merge into the application's router.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/open311/v2/services.json",
            get(services).fallback(wrong_method),
        )
        .route(
            "/open311/v2/services.xml",
            get(services).fallback(wrong_method),
        )
        .route(
            "/open311/v2/services/{code}",
            get(service_definition).fallback(wrong_method),
        )
        .route(
            "/open311/v2/requests.json",
            get(list_requests)
                .post(create_request)
                .fallback(wrong_method),
        )
        .route(
            "/open311/v2/requests.xml",
            get(list_requests)
                .post(create_request)
                .fallback(wrong_method),
        )
        .route(
            "/open311/v2/requests/{id}",
            get(one_request).fallback(wrong_method),
        )
        .route(
            "/open311/v2/tokens/{token}",
            get(token).fallback(wrong_method),
        )
        .route("/open311/v2/{*rest}", any(no_such_resource))
}

// ---------------------------------------------------------------- formats and errors

/// The answer's format, from the suffix of the path's last segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json`: `application/json`.
    Json,
    /// `.xml`: `text/xml`, the standard's required format.
    Xml,
}

impl Format {
    /// Splits `name.json` or `name.xml` into the name and the format.
    pub fn split(segment: &str) -> Option<(&str, Format)> {
        if let Some(name) = segment.strip_suffix(".json") {
            Some((name, Format::Json))
        } else {
            segment.strip_suffix(".xml").map(|name| (name, Format::Xml))
        }
    }

    /// The format a path asks for: the suffix of its last segment.
    pub fn of_path(path: &str) -> Option<Format> {
        let last = path.rsplit('/').next().unwrap_or_default();
        Self::split(last).map(|(_, format)| format)
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = Open311Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Open311Error> {
        Format::of_path(parts.uri.path()).ok_or_else(no_format)
    }
}

fn no_format() -> Open311Error {
    Open311Error::new(
        Format::Json,
        StatusCode::NOT_FOUND,
        "GeoReport resources end in .json or .xml (e.g. /open311/v2/services.json)",
    )
}

/// A GeoReport error answer: `[{"code": <status>, "description": …}]`.
#[derive(Debug)]
pub struct Open311Error {
    format: Format,
    status: StatusCode,
    description: String,
}

impl Open311Error {
    /// An error with `status`, saying what was wrong and what to do.
    pub fn new(format: Format, status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            format,
            status,
            description: description.into(),
        }
    }

    fn bad_request(format: Format, description: impl Into<String>) -> Self {
        Self::new(format, StatusCode::BAD_REQUEST, description)
    }

    /// whistle's own error, in GeoReport's shape. A credential refused (401 elsewhere in
    /// the API) is a 403 here: the standard answers a bad `api_key` with 403. 5xx causes
    /// were logged when the [`ApiError`] was made; only its safe detail is sent.
    pub fn api(format: Format, error: ApiError) -> Self {
        let status = match error.status() {
            StatusCode::UNAUTHORIZED => StatusCode::FORBIDDEN,
            status => status,
        };
        Self::new(format, status, error.detail())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What was wrong.
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let error = Record::default()
            .with("code", Value::Int(i64::from(self.status.as_u16())))
            .with("description", self.description);
        Document::List {
            root: "errors",
            item: "error",
            records: vec![error],
        }
        .respond(self.format, self.status)
    }
}

/// A path segment whose extraction failed (it cannot, for a plain string; kept total).
fn bad_segment(format: Format, rejection: PathRejection) -> Open311Error {
    Open311Error::bad_request(format, rejection.body_text())
}

async fn wrong_method(uri: Uri) -> Open311Error {
    Open311Error::new(
        Format::of_path(uri.path()).unwrap_or(Format::Json),
        StatusCode::METHOD_NOT_ALLOWED,
        "this GeoReport resource does not take this method: only POST requests.{json,xml} changes anything; everything else is GET",
    )
}

async fn no_such_resource(uri: Uri) -> Open311Error {
    match Format::of_path(uri.path()) {
        Some(format) => Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            "no such GeoReport resource; they are services, services/{code}, requests, requests/{id} and tokens/{token}",
        ),
        None => no_format(),
    }
}

// ---------------------------------------------------------------- documents

/// A field's value. JSON and XML are written from the same records, so the two formats
/// cannot drift apart.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
    /// A nested list: each record becomes an `item` element in XML.
    List {
        item: &'static str,
        records: Vec<Record>,
    },
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_owned())
    }
}

impl From<Option<String>> for Value {
    fn from(text: Option<String>) -> Self {
        text.map_or(Value::Null, Value::Text)
    }
}

/// One object (JSON) or element (XML): named fields, in order.
#[derive(Debug, Clone, Default, PartialEq)]
struct Record(Vec<(&'static str, Value)>);

impl Record {
    fn with(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.0.push((name, value.into()));
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.json()))
                .collect(),
        )
    }

    fn xml(&self, out: &mut String) {
        for (name, value) in &self.0 {
            value.xml(name, out);
        }
    }
}

impl Value {
    fn json(&self) -> serde_json::Value {
        match self {
            Value::Text(text) => serde_json::Value::String(text.clone()),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Null => serde_json::Value::Null,
            Value::List { records, .. } => {
                serde_json::Value::Array(records.iter().map(Record::json).collect())
            }
        }
    }

    fn xml(&self, name: &str, out: &mut String) {
        match self {
            Value::Null => element_empty(name, out),
            Value::Text(text) => element(name, text, out),
            Value::Int(n) => element(name, &n.to_string(), out),
            Value::Bool(b) => element(name, if *b { "true" } else { "false" }, out),
            Value::List { item, records } => list_xml(name, item, records, out),
        }
    }
}

/// `<name><item>…</item>…</name>`, or `<name/>` when there is nothing in it.
fn list_xml(name: &str, item: &str, records: &[Record], out: &mut String) {
    if records.is_empty() {
        return element_empty(name, out);
    }
    out.push_str(&format!("<{name}>"));
    for record in records {
        out.push_str(&format!("<{item}>"));
        record.xml(out);
        out.push_str(&format!("</{item}>"));
    }
    out.push_str(&format!("</{name}>"));
}

fn element(name: &str, text: &str, out: &mut String) {
    out.push_str(&format!("<{name}>"));
    escape_xml(text, out);
    out.push_str(&format!("</{name}>"));
}

fn element_empty(name: &str, out: &mut String) {
    out.push_str(&format!("<{name}/>"));
}

/// Writes `text` as XML character data. The five markup characters become entities;
/// control characters that XML 1.0 cannot carry at all (anything below U+0020 but tab,
/// line feed and carriage return) are dropped rather than making the document
/// unreadable. Everything else, Chinese included, is written as UTF-8.
pub fn escape_xml(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// A whole answer.
#[derive(Debug)]
enum Document {
    /// A JSON array; in XML, `root` holding one `item` element per record.
    List {
        root: &'static str,
        item: &'static str,
        records: Vec<Record>,
    },
    /// A JSON object; in XML, the `root` element.
    One { root: &'static str, record: Record },
}

impl Document {
    fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let value = match self {
                    Document::List { records, .. } => {
                        serde_json::Value::Array(records.iter().map(Record::json).collect())
                    }
                    Document::One { record, .. } => record.json(),
                };
                value.to_string()
            }
            Format::Xml => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
                match self {
                    Document::List {
                        root,
                        item,
                        records,
                    } => list_xml(root, item, records, &mut out),
                    Document::One { root, record } => {
                        out.push_str(&format!("<{root}>"));
                        record.xml(&mut out);
                        out.push_str(&format!("</{root}>"));
                    }
                }
                out.push('\n');
                out
            }
        }
    }

    fn respond(self, format: Format, status: StatusCode) -> Response {
        (
            status,
            [(header::CONTENT_TYPE, format.content_type())],
            self.render(format),
        )
            .into_response()
    }
}

fn requests_document(records: Vec<Record>) -> Document {
    Document::List {
        root: "service_requests",
        item: "request",
        records,
    }
}

// ---------------------------------------------------------------- services

/// A category's service code: its snake_case name (`street_lighting`).
pub fn service_code(category: Category) -> String {
    serde_json::to_value(category)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The category of a service code.
fn category_of(format: Format, code: &str) -> Result<Category, Open311Error> {
    serde_json::from_value(serde_json::Value::String(code.trim().to_owned())).map_err(|_| {
        Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            format!("no service `{code}`; see /open311/v2/services.json for the service codes"),
        )
    })
}

/// The group a service is listed under, what it covers, and words people search it by.
fn service_text(category: Category) -> (&'static str, &'static str, &'static str) {
    match category {
        Category::WaterPowerPipes => (
            "水电气热",
            "停水、停电、水管爆裂或漏水等水电管网问题",
            "停水,停电,水管,漏水,爆管",
        ),
        Category::Gas => (
            "水电气热",
            "燃气停供、漏气、燃气管道问题",
            "燃气,煤气,漏气,天然气",
        ),
        Category::Heating => (
            "水电气热",
            "暖气不热、停暖、供暖管道问题",
            "暖气,供暖,不热,停暖",
        ),
        Category::Drains => (
            "市容环境",
            "下水道堵塞、污水外溢、积水内涝",
            "下水道,堵塞,积水,内涝,化粪池",
        ),
        Category::Sanitation => (
            "市容环境",
            "垃圾未清运、环境脏乱、卫生死角",
            "垃圾,卫生,清运,脏乱",
        ),
        Category::StreetLighting => (
            "市容环境",
            "背街小巷、楼道路灯不亮或损坏",
            "路灯,照明,不亮,楼道灯",
        ),
        Category::PublicSecurity => (
            "社会治理",
            "治安隐患、可疑情况（紧急情况请拨打 110）",
            "治安,安全,盗窃,隐患",
        ),
        Category::PropertyManagement => (
            "房屋物业",
            "物业服务、电梯、公共设施维修",
            "物业,电梯,维修,公共设施",
        ),
        Category::Parking => (
            "社会治理",
            "乱停车、占道停车、停车难",
            "停车,占道,车辆,挪车",
        ),
        Category::Noise => (
            "社会治理",
            "施工、商铺、邻里噪音扰民",
            "噪音,扰民,施工,夜间",
        ),
        Category::BuildingSafety => (
            "房屋物业",
            "房屋裂缝、危房、外墙脱落等安全隐患",
            "房屋,裂缝,危房,外墙,安全",
        ),
        Category::Other => ("其他", "其他问题，由街道决定召集哪些部门", "其他"),
    }
}

fn service_record(category: Category) -> Record {
    let (group, description, keywords) = service_text(category);
    Record::default()
        .with("service_code", service_code(category))
        .with("service_name", category.label_zh())
        .with("description", description)
        .with("metadata", Value::Bool(false))
        .with("type", "realtime")
        .with("keywords", keywords)
        .with("group", group)
}

/// `GET services.{json,xml}`: every category.
#[tracing::instrument(skip_all)]
async fn services(format: Format) -> Response {
    Document::List {
        root: "services",
        item: "service",
        records: Category::ALL.into_iter().map(service_record).collect(),
    }
    .respond(format, StatusCode::OK)
}

/// `GET services/{code}.{json,xml}`: a service definition, with no extra attributes.
#[tracing::instrument(skip_all)]
async fn service_definition(
    format: Format,
    segment: Result<Path<String>, PathRejection>,
) -> Result<Response, Open311Error> {
    let Path(segment) = segment.map_err(|e| bad_segment(format, e))?;
    let (code, _) = Format::split(&segment).ok_or_else(no_format)?;
    let category = category_of(format, code)?;
    Ok(Document::One {
        root: "service_definition",
        record: Record::default()
            .with("service_code", service_code(category))
            .with(
                "attributes",
                Value::List {
                    item: "attribute",
                    records: Vec::new(),
                },
            ),
    }
    .respond(format, StatusCode::OK))
}

// ---------------------------------------------------------------- POST requests

/// The fields of `POST requests`, form-encoded, that whistle uses. Every other field is
/// accepted and ignored: `jurisdiction_id` (one whistle, one jurisdiction), `email`
/// (whistle keeps no e-mail addresses, so it is never stored nor written to),
/// `device_id` and `account_id` (no client accounts), and the standard's
/// `attribute[…]` (no service has attributes).
#[derive(Debug, Default, Deserialize)]
struct RequestIn {
    api_key: Option<String>,
    service_code: Option<String>,
    lat: Option<String>,
    long: Option<String>,
    address_string: Option<String>,
    address_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    description: Option<String>,
    media_url: Option<String>,
}

/// What `POST requests` reads from the query string: some clients put the key there.
#[derive(Debug, Default, Deserialize)]
struct KeyQuery {
    api_key: Option<String>,
}

/// A value given and not blank, trimmed and cut to 200 characters (as intake does).
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|s| s.trim().chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty())
}

/// The community a request is about: `address_id` (code or name), else the one community
/// whose name `address_string` contains.
fn community_of(
    state: &ApiState,
    format: Format,
    request: &RequestIn,
) -> Result<CommunityId, Open311Error> {
    let hint = "whistle has no geocoder: send address_id=<community code> (see /api/jurisdiction), or an address_string that names the community (e.g. 红旗里社区3号楼)";
    if let Some(id) = given(request.address_id.clone()) {
        let found = state
            .catalogue
            .communities()
            .find(|c| c.code.as_str() == id || c.name == id);
        return found.map(|c| c.code.clone()).ok_or_else(|| {
            Open311Error::bad_request(
                format,
                format!("address_id `{id}` is no community of this jurisdiction; {hint}"),
            )
        });
    }
    if let Some(address) = given(request.address_string.clone()) {
        let named: Vec<_> = state
            .catalogue
            .communities()
            .filter(|c| address.contains(c.name.as_str()))
            .collect();
        return match named.as_slice() {
            [one] => Ok(one.code.clone()),
            [] => Err(Open311Error::bad_request(
                format,
                format!(
                    "address_string `{address}` names no community of this jurisdiction; {hint}"
                ),
            )),
            several => Err(Open311Error::bad_request(
                format,
                format!(
                    "address_string `{address}` names several communities ({}); send address_id=<community code>",
                    several
                        .iter()
                        .map(|c| c.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        };
    }
    if given(request.lat.clone()).is_some() || given(request.long.clone()).is_some() {
        return Err(Open311Error::bad_request(
            format,
            format!("lat/long alone cannot place a request here; {hint}"),
        ));
    }
    Err(Open311Error::bad_request(
        format,
        format!("a request needs a location; {hint}"),
    ))
}

/// The resident's name from the standard's two fields: family name first, without a
/// space, when either is not ASCII (李 + 娜 = 李娜); `first last` otherwise.
fn full_name(first: Option<String>, last: Option<String>) -> Option<String> {
    match (given(first), given(last)) {
        (Some(first), Some(last)) if !first.is_ascii() || !last.is_ascii() => {
            Some(format!("{last}{first}"))
        }
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (one, other) => one.or(other),
    }
}

/// The ticket's description: the resident's words (or the service's name when they gave
/// none), and the photo's address, since whistle stores no media.
fn description_of(
    format: Format,
    category: Category,
    description: Option<String>,
    media_url: Option<String>,
) -> Result<Text, Open311Error> {
    let mut text = description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("{}（未填写描述）", category.label_zh()));
    if let Some(url) = media_url
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
    {
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.contains(char::is_whitespace)
        {
            return Err(Open311Error::bad_request(
                format,
                "media_url must be one http:// or https:// address",
            ));
        }
        text.push_str("\n照片：");
        text.push_str(&url);
    }
    Text::description(text)
        .map_err(|e| Open311Error::bad_request(format, format!("description: {e}")))
}

/// `POST requests.{json,xml}`: a complaint from an integration.
#[tracing::instrument(skip_all)]
async fn create_request(
    State(state): State<ApiState>,
    format: Format,
    headers: HeaderMap,
    query: Result<Query<KeyQuery>, QueryRejection>,
    form: Result<Form<RequestIn>, FormRejection>,
) -> Result<Response, Open311Error> {
    let Form(request) = form.map_err(|e| {
        Open311Error::new(
            format,
            e.status(),
            format!(
                "{}; send the fields form-encoded (Content-Type: application/x-www-form-urlencoded)",
                e.body_text()
            ),
        )
    })?;
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.api_key.clone())
        .or_else(|| query.ok().and_then(|Query(q)| q.api_key))
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            Open311Error::new(
                format,
                StatusCode::FORBIDDEN,
                "api_key is required to post a request; ask an operator for one (`whistle api-key create`)",
            )
        })?;
    let principal = state
        .auth
        .api_key(&key)
        .await
        .map_err(|e| Open311Error::api(format, e))?;
    authorize(
        &principal,
        Duty::PublishIncident,
        Target::Anywhere,
        &state.catalogue,
    )
    .map_err(|e| Open311Error::api(format, e))?;

    let code = given(request.service_code.clone()).ok_or_else(|| {
        Open311Error::bad_request(
            format,
            "service_code is required; see /open311/v2/services.json",
        )
    })?;
    let category =
        category_of(format, &code).map_err(|e| Open311Error::bad_request(format, e.description))?;
    let community = community_of(&state, format, &request)?;
    let Some(mut location) = state.catalogue.location_of(&community) else {
        return Err(Open311Error::bad_request(
            format,
            format!("community `{community}` is not in the jurisdiction tree"),
        ));
    };
    location.place = match given(request.address_string.clone()) {
        Some(place) => Some(
            whistle_events::Text::parse("address_string", place, 200)
                .map_err(|e| Open311Error::bad_request(format, e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    let description = description_of(
        format,
        category,
        request.description.clone(),
        request.media_url.clone(),
    )?;
    let received = Received {
        channel: Channel::ExternalSystem,
        reporter: ReporterContact {
            name: full_name(request.first_name.clone(), request.last_name.clone()),
            phone: given(request.phone.clone()),
            address: None,
        },
        location,
        category,
        urgency: Urgency::Minor,
        description,
        source: None,
        sealed_reporter: None,
    };
    let (ticket, token) =
        crate::routes::tickets::receive(&state, principal.actor().clone(), received)
            .await
            .map_err(|e| Open311Error::api(format, e))?;
    let community_name = state
        .catalogue
        .name_of(community.as_str())
        .unwrap_or(community.as_str());
    let notice = format!(
        "已收到，转{community_name}受理；凭 token 在 /open311/v2/tokens/{token}.json 或 /api/receipts/{token} 查询办理进度"
    );
    Ok(requests_document(vec![
        Record::default()
            .with("service_request_id", ticket.to_string())
            .with("token", token)
            .with("service_notice", notice)
            .with("account_id", Value::Null),
    ])
    .respond(format, StatusCode::CREATED))
}

// ---------------------------------------------------------------- GET requests

/// The filters of `GET requests`.
#[derive(Debug, Default, Deserialize)]
struct RequestsQuery {
    /// Comma-separated ticket ids; when given, the other filters are ignored.
    service_request_id: Option<String>,
    /// Comma-separated service codes.
    service_code: Option<String>,
    /// The earliest `requested_datetime`, RFC 3339 with a zone.
    start_date: Option<String>,
    /// The latest `requested_datetime`, RFC 3339 with a zone.
    end_date: Option<String>,
    /// Comma-separated `open`, `closed`.
    status: Option<String>,
}

/// A ticket as the GeoReport routes read it.
#[derive(Debug)]
struct Known {
    facts: TicketFacts,
    policy_version: String,
}

/// One ticket's facts: from the SLA read model, or, when the read model has not caught
/// up with a ticket posted a moment ago, folded from the ticket's own events exactly as
/// the read model will fold them.
async fn ticket_facts(state: &ApiState, ticket: TicketId) -> Result<Option<Known>, ApiError> {
    if let Some(record) = whistle_sla::projection::ticket_record(&state.store, &ticket.to_string())
        .await
        .map_err(ApiError::unavailable)?
    {
        return Ok(Some(Known {
            facts: record.facts,
            policy_version: record.policy_version,
        }));
    }
    let timeline = state.tickets.timeline(ticket).await?;
    let mut entries = timeline.iter();
    let Some(first) = entries.next() else {
        return Ok(None);
    };
    let TicketEvent::Received(received) = &first.event else {
        return Ok(None);
    };
    let mut facts = TicketFacts::received(ticket, first.recorded_at, received);
    for entry in entries {
        facts.apply(&entry.event, entry.recorded_at);
    }
    let policy = state
        .policies
        .in_force(facts.received_at)
        .map_err(ApiError::internal)?;
    Ok(Some(Known {
        facts,
        policy_version: policy.version.clone(),
    }))
}

/// Whether the standard calls the ticket closed: resolved, closed or merged.
fn is_closed(stage: Stage) -> bool {
    matches!(stage, Stage::Resolved | Stage::Closed | Stage::Merged)
}

/// Where the ticket stands, and what happens next (`status_notes`, `service_notice`).
fn stage_notes(stage: Stage) -> (&'static str, &'static str) {
    match stage {
        Stage::Received => ("待社区受理", "社区将在服务时间内尽快受理并回复"),
        Stage::Acknowledged => ("社区已受理", "社区将自行办理，或呼叫街道召集职能部门"),
        Stage::HandledLocally => ("社区办理中", "社区正在自行办理"),
        Stage::CalledUp => ("已呼叫街道", "街道正在召集职能部门（吹哨）"),
        Stage::Whistled => ("部门办理中", "职能部门已被召集，报到后上门办理"),
        Stage::Reopened => ("重办中", "居民反馈未解决，正在重新办理"),
        Stage::Resolved => ("已办结，待评价", "已办结，请居民评价办理结果"),
        Stage::Closed => ("已关闭", "已办结并关闭"),
        Stage::Merged => ("已合并", "与同一事件的其他诉求合并办理"),
    }
}

/// The last instant anything happened to the ticket.
fn updated_at(facts: &TicketFacts) -> DateTime<Utc> {
    let summonses = facts.summonses.iter().flat_map(|s| {
        [
            Some(s.summoned_at),
            s.reported_in_at,
            s.declined_at,
            s.finished_at,
            s.withdrawn_at,
        ]
    });
    let pauses = facts.pauses.iter().flat_map(|p| [Some(p.from), p.until]);
    [
        Some(facts.received_at),
        Some(facts.round_started_at),
        facts.acknowledged_at,
        facts.handled_locally_at,
        facts.called_up_at,
        facts.whistled_at,
        facts.resolved_at,
        facts.closed_at,
        facts.merged_at,
        facts.rating.map(|r| r.at),
    ]
    .into_iter()
    .chain(summonses)
    .chain(pauses)
    .flatten()
    .max()
    .unwrap_or(facts.received_at)
}

/// When the completion clock falls due (the latest, when several run), under the policy
/// the ticket is timed under. A policy or calendar that cannot time it gives no date
/// rather than failing a whole list; the fault is logged.
fn expected_at(state: &ApiState, known: &Known) -> Option<DateTime<Utc>> {
    let policy = state.policies.version(&known.policy_version).ok()?;
    match whistle_sla::clocks::clocks(&known.facts, policy, &state.calendar) {
        Ok(clocks) => clocks
            .iter()
            .filter(|c| c.clock == SlaClock::Completion)
            .filter_map(|c| c.due_at)
            .max(),
        Err(error) => {
            tracing::warn!(ticket = %known.facts.ticket, error = %error, "cannot time a ticket for Open311");
            None
        }
    }
}

fn w3c(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A ticket as a GeoReport service request: nothing of the resident in it.
fn request_record(
    state: &ApiState,
    departments: &HashMap<&DepartmentId, &str>,
    known: &Known,
) -> Record {
    let facts = &known.facts;
    let stage = whistle_sla::stats::stage(facts);
    let (status_notes, notice) = stage_notes(stage);
    let community_name = state
        .catalogue
        .name_of(facts.location.community.as_str())
        .unwrap_or(facts.location.community.as_str());
    let street_name = state
        .catalogue
        .name_of(facts.location.street.as_str())
        .unwrap_or(facts.location.street.as_str());
    let mut agencies: Vec<&str> = Vec::new();
    for summons in facts
        .summonses
        .iter()
        .filter(|s| s.round == facts.round && s.declined_at.is_none())
    {
        let name = departments
            .get(&summons.department)
            .copied()
            .unwrap_or(summons.department.as_str());
        if !agencies.contains(&name) {
            agencies.push(name);
        }
    }
    let agency = if agencies.is_empty() {
        community_name.to_owned()
    } else {
        agencies.join("、")
    };
    Record::default()
        .with("service_request_id", facts.ticket.to_string())
        .with("status", if is_closed(stage) { "closed" } else { "open" })
        .with("status_notes", status_notes)
        .with("service_name", facts.category.label_zh())
        .with("service_code", service_code(facts.category))
        .with("description", Value::Null)
        .with("agency_responsible", agency)
        .with("service_notice", notice)
        .with("requested_datetime", w3c(facts.received_at))
        .with("updated_datetime", w3c(updated_at(facts)))
        .with("expected_datetime", expected_at(state, known).map(w3c))
        .with("address", format!("{street_name}{community_name}"))
        .with("address_id", facts.location.community.to_string())
        .with("zipcode", Value::Null)
        .with("lat", Value::Null)
        .with("long", Value::Null)
        .with("media_url", Value::Null)
}

fn department_names(state: &ApiState) -> HashMap<&DepartmentId, &str> {
    state.catalogue.departments().collect()
}

/// The values of a comma-separated parameter, blanks dropped.
fn listed(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty())
}

fn ticket_id(format: Format, id: &str) -> Result<TicketId, Open311Error> {
    TicketId::parse(id.trim()).map_err(|e| {
        Open311Error::bad_request(
            format,
            format!("service_request_id `{id}` is not a whistle ticket id ({e})"),
        )
    })
}

/// A W3C / RFC 3339 datetime with its zone. A `+` that reached us as a space (the
/// client did not escape it in the query string) is read back as `+`.
fn datetime(format: Format, field: &str, text: &str) -> Result<DateTime<Utc>, Open311Error> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|e| match text.split_once('T') {
            Some((date, time)) if time.contains(' ') => {
                DateTime::parse_from_rfc3339(&format!("{date}T{}", time.replace(' ', "+")))
            }
            _ => Err(e),
        })
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| {
            Open311Error::bad_request(
                format,
                format!(
                    "{field} `{text}` is not a W3C datetime with a zone ({e}); write e.g. 2026-03-01T00:00:00Z or 2026-03-01T08:00:00+08:00"
                ),
            )
        })
}

/// The span of `requested_datetime` a list covers: both ends given, one end and 90 days
/// from it, or the last 90 days.
fn window(
    format: Format,
    now: DateTime<Utc>,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Open311Error> {
    let span = Duration::days(WINDOW_DAYS);
    let start = start
        .filter(|s| !s.trim().is_empty())
        .map(|s| datetime(format, "start_date", s))
        .transpose()?;
    let end = end
        .filter(|s| !s.trim().is_empty())
        .map(|s| datetime(format, "end_date", s))
        .transpose()?;
    let (start, end) = match (start, end) {
        (Some(start), Some(end)) => (start, end),
        (Some(start), None) => (start, start + span),
        (None, Some(end)) => (end - span, end),
        (None, None) => (now - span, now),
    };
    if end < start {
        return Err(Open311Error::bad_request(
            format,
            "end_date is before start_date",
        ));
    }
    if end - start > span {
        return Err(Open311Error::bad_request(
            format,
            format!(
                "start_date to end_date spans more than {WINDOW_DAYS} days; ask for {WINDOW_DAYS} days at a time"
            ),
        ));
    }
    Ok((start, end))
}

/// `GET requests.{json,xml}`: tickets, newest first.
#[tracing::instrument(skip_all)]
async fn list_requests(
    State(state): State<ApiState>,
    format: Format,
    query: Result<Query<RequestsQuery>, QueryRejection>,
) -> Result<Response, Open311Error> {
    let Query(query) = query.map_err(|e| Open311Error::bad_request(format, e.body_text()))?;
    let departments = department_names(&state);

    // Ids given: exactly those tickets, every other filter ignored (as the standard says).
    if let Some(ids) = query
        .service_request_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        let ids = listed(ids)
            .map(|id| ticket_id(format, id))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.len() > MAX_REQUESTS {
            return Err(Open311Error::bad_request(
                format,
                format!("ask for at most {MAX_REQUESTS} service_request_id at once"),
            ));
        }
        let mut records = Vec::new();
        for id in ids {
            if let Some(known) = ticket_facts(&state, id)
                .await
                .map_err(|e| Open311Error::api(format, e))?
            {
                records.push(request_record(&state, &departments, &known));
            }
        }
        return Ok(requests_document(records).respond(format, StatusCode::OK));
    }

    let categories = match query.service_code.as_deref() {
        Some(codes) => listed(codes)
            .map(|code| {
                category_of(format, code)
                    .map_err(|e| Open311Error::bad_request(format, e.description))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let mut want_open = true;
    let mut want_closed = true;
    if let Some(statuses) = query.status.as_deref().filter(|s| !s.trim().is_empty()) {
        want_open = false;
        want_closed = false;
        for status in listed(statuses) {
            match status {
                "open" => want_open = true,
                "closed" => want_closed = true,
                other => {
                    return Err(Open311Error::bad_request(
                        format,
                        format!("status `{other}` is neither open nor closed"),
                    ));
                }
            }
        }
    }
    let (start, end) = window(
        format,
        state.clock.now(),
        query.start_date.as_deref(),
        query.end_date.as_deref(),
    )?;

    let records = whistle_sla::projection::ticket_records(&state.store)
        .await
        .map_err(|e| Open311Error::api(format, ApiError::unavailable(e)))?;
    let mut matching: Vec<Known> = records
        .into_iter()
        .filter(|r| {
            let facts = &r.facts;
            let closed = is_closed(whistle_sla::stats::stage(facts));
            (start..=end).contains(&facts.received_at)
                && (categories.is_empty() || categories.contains(&facts.category))
                && if closed { want_closed } else { want_open }
        })
        .map(|r| Known {
            facts: r.facts,
            policy_version: r.policy_version,
        })
        .collect();
    matching.sort_by_key(|k| std::cmp::Reverse(k.facts.received_at));
    matching.truncate(MAX_REQUESTS);
    let records = matching
        .iter()
        .map(|known| request_record(&state, &departments, known))
        .collect();
    Ok(requests_document(records).respond(format, StatusCode::OK))
}

/// `GET requests/{id}.{json,xml}`: one ticket, in a list of one.
#[tracing::instrument(skip_all)]
async fn one_request(
    State(state): State<ApiState>,
    format: Format,
    segment: Result<Path<String>, PathRejection>,
) -> Result<Response, Open311Error> {
    let Path(segment) = segment.map_err(|e| bad_segment(format, e))?;
    let (id, _) = Format::split(&segment).ok_or_else(no_format)?;
    let ticket = ticket_id(format, id)?;
    let known = ticket_facts(&state, ticket)
        .await
        .map_err(|e| Open311Error::api(format, e))?
        .ok_or_else(|| {
            Open311Error::new(
                format,
                StatusCode::NOT_FOUND,
                format!("no service request {ticket}; check the id"),
            )
        })?;
    let departments = department_names(&state);
    Ok(
        requests_document(vec![request_record(&state, &departments, &known)])
            .respond(format, StatusCode::OK),
    )
}

/// `GET tokens/{token}.{json,xml}`: the ticket a receipt token is for.
#[tracing::instrument(skip_all)]
async fn token(
    State(state): State<ApiState>,
    format: Format,
    segment: Result<Path<String>, PathRejection>,
) -> Result<Response, Open311Error> {
    let Path(segment) = segment.map_err(|e| bad_segment(format, e))?;
    let (token, _) = Format::split(&segment).ok_or_else(no_format)?;
    let ticket = state
        .receipts
        .open(token)
        .map_err(|e| Open311Error::api(format, e))?;
    // A token only this server could have made, for a ticket that does not exist (its
    // receipt was refused), answers as any unknown token.
    if ticket_facts(&state, ticket)
        .await
        .map_err(|e| Open311Error::api(format, e))?
        .is_none()
    {
        return Err(Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            "no request has this token; check that you copied all of it",
        ));
    }
    Ok(requests_document(vec![
        Record::default()
            .with("service_request_id", ticket.to_string())
            .with("token", token.trim()),
    ])
    .respond(format, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_chinese_kept() {
        let mut out = String::new();
        escape_xml("红旗里 <3号楼> & \"东\" 'x'\u{1}\n", &mut out);
        assert_eq!(
            out,
            "红旗里 &lt;3号楼&gt; &amp; &quot;东&quot; &apos;x&apos;\n"
        );
    }

    #[test]
    fn json_and_xml_come_from_the_same_records() {
        let document = Document::List {
            root: "errors",
            item: "error",
            records: vec![
                Record::default()
                    .with("code", Value::Int(403))
                    .with("description", "坏的 <key>"),
            ],
        };
        let json: serde_json::Value =
            serde_json::from_str(&document.render(Format::Json)).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!([{"code": 403, "description": "坏的 <key>"}])
        );
        assert_eq!(
            document.render(Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors><error><code>403</code><description>坏的 &lt;key&gt;</description></error></errors>\n"
        );
        let empty = Document::One {
            root: "service_definition",
            record: Record::default()
                .with("service_code", "gas")
                .with(
                    "attributes",
                    Value::List {
                        item: "attribute",
                        records: vec![],
                    },
                )
                .with("account_id", Value::Null),
        };
        let json: serde_json::Value =
            serde_json::from_str(&empty.render(Format::Json)).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!({"service_code": "gas", "attributes": [], "account_id": null})
        );
        assert!(empty.render(Format::Xml).contains(
            "<service_definition><service_code>gas</service_code><attributes/><account_id/></service_definition>"
        ));
    }

    #[test]
    fn the_suffix_picks_the_format() {
        assert_eq!(Format::split("gas.json"), Some(("gas", Format::Json)));
        assert_eq!(Format::split("abc.xml"), Some(("abc", Format::Xml)));
        assert_eq!(Format::split("abc"), None);
        assert_eq!(
            Format::of_path("/open311/v2/requests.xml"),
            Some(Format::Xml)
        );
        assert_eq!(Format::of_path("/open311/v2/requests.csv"), None);
    }

    #[test]
    fn every_category_is_a_service_that_reads_back() {
        for category in Category::ALL {
            let code = service_code(category);
            assert!(!code.is_empty());
            assert_eq!(
                category_of(Format::Json, &code).expect("reads back"),
                category
            );
        }
        assert_eq!(
            category_of(Format::Json, "potholes")
                .expect_err("unknown")
                .status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_window_is_at_most_ninety_days() {
        let now: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().expect("instant");
        let (start, end) = window(Format::Json, now, None, None).expect("default");
        assert_eq!((end - start).num_days(), 90);
        assert_eq!(end, now);
        let (start, _) = window(
            Format::Json,
            now,
            Some("2026-03-01T08:00:00 08:00"),
            Some("2026-03-02T00:00:00Z"),
        )
        .expect("an unescaped + reads as +");
        assert_eq!(
            start,
            "2026-03-01T00:00:00Z"
                .parse::<DateTime<Utc>>()
                .expect("instant")
        );
        for (start, end) in [
            (Some("2026-01-01T00:00:00Z"), Some("2026-06-01T00:00:00Z")),
            (Some("2026-06-01T00:00:00Z"), Some("2026-01-01T00:00:00Z")),
            (Some("yesterday"), None),
            (Some("2026-01-01"), None),
        ] {
            assert_eq!(
                window(Format::Json, now, start, end)
                    .expect_err("refused")
                    .status(),
                StatusCode::BAD_REQUEST
            );
        }
    }

    #[test]
    fn names_follow_their_script() {
        assert_eq!(
            full_name(Some("娜".into()), Some("李".into())).as_deref(),
            Some("李娜")
        );
        assert_eq!(
            full_name(Some("Ada".into()), Some("Lovelace".into())).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(full_name(None, Some(" 王 ".into())).as_deref(), Some("王"));
        assert_eq!(full_name(Some(" ".into()), None), None);
    }
}
