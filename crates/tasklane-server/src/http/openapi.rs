//! The OpenAPI document, assembled from each resource's description (their handlers and
//! domain types) and completed in one place with what every route shares: the problem
//! body of every error, the answers every `/v1` route may give, and the limits the
//! server enforces, written from the constants that enforce them. Also the
//! interactive documentation page that renders it (served from the binary itself).

mod bounds;

use axum::Router;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::changes::ChangesApi;
use super::health::OperationsApi;
use super::stream::StreamApi;
use super::tasks::TasksApi;
use super::tokens::TokensApi;
use super::webhooks::WebhooksApi;
use super::{AppState, MAX_BODY_BYTES, ProblemBody};
use crate::server::{MAX_HEAD_BYTES, MAX_HEADERS};

/// Tasklane's API, as served at `/openapi.json`: each resource's own description,
/// merged into the `Frame`, then completed with what the routes share.
pub struct ApiDoc;

impl OpenApi for ApiDoc {
    fn openapi() -> utoipa::openapi::OpenApi {
        let mut document = Frame::openapi();
        document.merge(TasksApi::openapi());
        document.merge(ChangesApi::openapi());
        document.merge(StreamApi::openapi());
        document.merge(TokensApi::openapi());
        document.merge(WebhooksApi::openapi());
        document.merge(OperationsApi::openapi());
        let completions: [&dyn Modify; 5] = [
            &ProblemBodies,
            &BearerAuth,
            &EveryApiRoute,
            &EnforcedLimits,
            &bounds::Bounds,
        ];
        for completion in completions {
            completion.modify(&mut document);
        }
        document
    }
}

/// What the document says of the API as a whole.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tasklane",
        description = "A task-management API whose cache never serves a stale list: once a write \
                       has been acknowledged, every read that starts afterwards reflects it. \
                       Errors are RFC 9457 problem details."
    ),
    components(schemas(ProblemBody)),
    security(("bearer" = []))
)]
struct Frame;

/// Gives every error response a handler declares (by its status and description only)
/// the problem-details body, so that no annotation repeats it.
struct ProblemBodies;

impl Modify for ProblemBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let RefOr::T(response) = response
                        && status.starts_with(['4', '5'])
                        && response.content.is_empty()
                    {
                        response
                            .content
                            .insert(PROBLEM_JSON.to_owned(), problem_body());
                    }
                }
            }
        }
    }
}

/// Declares the bearer token every `/v1` route takes (unless the server runs with
/// `--auth none`, on loopback only).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `tasklane token create` or `POST /v1/tokens`",
                    ))
                    .build(),
            ),
        );
    }
}

/// `/openapi.json` and the documentation page at `/docs`.
pub(super) fn router() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}

/// The answers every `/v1` route may give whatever it does: no valid token, a token
/// over its rate, the database or the time limit failing.
struct EveryApiRoute;

impl Modify for EveryApiRoute {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let common = [
            ("401", "No valid bearer token (`WWW-Authenticate: Bearer`)"),
            (
                "429",
                "Over a rate limit: this token's requests, or this address's unknown or revoked tokens; see `Retry-After`",
            ),
            (
                "503",
                "The database is unavailable or the request ran out of time; see `Retry-After`",
            ),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            for operation in operations(item) {
                for (status, description) in common {
                    answers(operation, status, description);
                }
            }
        }
    }
}

/// The operations of a path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// Declares that `operation` may answer `status` with a problem, unless it already
/// declares that status.
fn answers(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| problem(description).into());
}

/// The limits on a whole request that the server enforces, written from the constants
/// themselves: the body size, the request head, the framing rules.
struct EnforcedLimits;

impl Modify for EnforcedLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let body = format!(
            "The body is over {} MiB ({MAX_BODY_BYTES} bytes), by its Content-Length (refused before it is sent) or as it arrives",
            MAX_BODY_BYTES >> 20
        );
        let head = format!(
            "More than {MAX_HEADERS} header fields, or a request head over {} KiB",
            MAX_HEAD_BYTES >> 10
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let framing = "a missing or doubled Host header, two Authorization, \
                               Content-Type or Idempotency-Key headers, or a query that is \
                               not UTF-8 once decoded or holds a malformed percent-escape";
                match operation.responses.responses.get_mut("400") {
                    Some(RefOr::T(malformed)) => {
                        malformed.description = format!("{}; or {framing}", malformed.description);
                    }
                    _ => answers(operation, "400", &format!("Malformed request: {framing}")),
                }
                answers(operation, "431", &head);
                // hyper refuses a request target it cannot hold before any route runs,
                // with an empty body.
                operation
                    .responses
                    .responses
                    .entry("414".to_owned())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description("The request target is longer than 64 KiB (no body)")
                            .build()
                            .into()
                    });
                if let Some(request_body) = &mut operation.request_body {
                    request_body.description = Some(format!(
                        "A JSON object of at most {} MiB ({MAX_BODY_BYTES} bytes), uncompressed.",
                        MAX_BODY_BYTES >> 20
                    ));
                    answers(
                        operation,
                        "408",
                        "The body did not arrive in full within the body read timeout",
                    );
                    answers(operation, "413", &body);
                    answers(
                        operation,
                        "415",
                        "Not a JSON body, or a Content-Encoding other than identity",
                    );
                    answers(operation, "501", "A Transfer-Encoding other than chunked");
                }
            }
        }
    }
}

/// The media type of every error's body.
const PROBLEM_JSON: &str = "application/problem+json";

/// A problem-details body.
fn problem_body() -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ProblemBody")))
        .build()
}

/// A problem-details response.
fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, problem_body())
        .build()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::{Assignee, Description, Labels, ListQuery, LogQuery, Member, Title};
    use crate::http::idempotency::MAX_KEY_LEN;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    /// Every operation: its path, method and object.
    fn operations(document: &Value) -> Vec<(String, String, Value)> {
        let mut all = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                all.push((path.clone(), method.clone(), operation.clone()));
            }
        }
        all
    }

    fn parameter<'a>(operation: &'a Value, name: &str) -> &'a Value {
        operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == name)
            .unwrap_or_else(|| panic!("no parameter `{name}`"))
    }

    #[test]
    fn operation_ids_are_unique_and_summaries_are_plain_text() {
        let document = document();
        let mut ids = std::collections::BTreeSet::new();
        for (path, method, operation) in operations(&document) {
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "{method} {path}: `{id}` twice");
            // The docs page shows a summary as it is, not as Markdown.
            let summary = operation["summary"].as_str().unwrap();
            assert!(
                !summary.contains(['`', '\n']),
                "{method} {path}: {summary:?}"
            );
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "header" {
                    assert_eq!(parameter["schema"]["type"], "string", "{parameter}");
                }
            }
        }
    }

    /// `n` as the README writes it: `20,000`.
    fn grouped(n: usize) -> String {
        let digits = n.to_string();
        let mut text = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                text.push(',');
            }
            text.push(digit);
        }
        text
    }

    /// The README's API reference against the constants the server enforces: change
    /// one without the other and this fails.
    #[test]
    fn the_readme_states_every_limit_the_server_enforces() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
        let hours = crate::store::Idempotency::LIFETIME_MICROS / 3_600_000_000;
        for stated in [
            format!(
                "`title` ({}–{} characters",
                Title::MIN_CHARS,
                Title::MAX_CHARS
            ),
            format!("`description` (≤ {}", grouped(Description::MAX_CHARS)),
            format!(
                "({}–{} characters or `null`)",
                Assignee::MIN_CHARS,
                Assignee::MAX_CHARS
            ),
            format!(
                "`labels` (≤ {} distinct strings of 1–{} characters)",
                Labels::MAX_COUNT,
                Labels::MAX_CHARS
            ),
            format!("Comma list of at most {} values", ListQuery::MAX_CHOICES),
            format!(
                "at most {} times, each {}–{} characters, as the member",
                ListQuery::MAX_ASSIGNEES,
                Assignee::MIN_CHARS,
                Assignee::MAX_CHARS
            ),
            format!(
                "IANA time zone name, at most {} characters",
                ListQuery::MAX_ZONE_CHARS
            ),
            format!(
                "at most {} times (a task carries no more), each 1–{} characters",
                ListQuery::MAX_LABELS,
                Labels::MAX_CHARS
            ),
            format!("≤ {} characters;", ListQuery::MAX_TEXT_CHARS),
            format!(
                "size (1–{}, default {})",
                ListQuery::MAX_LIMIT,
                ListQuery::DEFAULT_LIMIT
            ),
            format!(
                "at most {} characters): keyset",
                grouped(ListQuery::MAX_CURSOR_CHARS)
            ),
            format!(
                "`limit` (1–{}, default {})",
                grouped(LogQuery::MAX_LIMIT as usize),
                LogQuery::DEFAULT_LIMIT
            ),
            format!("string of 1 to {MAX_KEY_LEN} visible ASCII characters"),
            format!("for {hours} hours, the same request"),
        ] {
            assert!(
                readme.contains(&stated),
                "the README does not say {stated:?}"
            );
        }
    }

    /// The query parameters a route documents.
    fn query_parameters(document: &Value, path: &str) -> Vec<String> {
        document["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|parameter| parameter["in"] == "query")
            .map(|parameter| parameter["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Each route's documented query parameters are the ones it parses.
    #[test]
    fn the_document_names_every_query_parameter() {
        use crate::http::changes::{HISTORY_PARAMETERS, LOG_PARAMETERS};
        let document = document();
        assert_eq!(
            query_parameters(&document, "/v1/tasks"),
            ListQuery::PARAMETERS
        );
        assert_eq!(query_parameters(&document, "/v1/changes"), LOG_PARAMETERS);
        assert_eq!(
            query_parameters(&document, "/v1/tasks/{id}/changes"),
            HISTORY_PARAMETERS
        );
    }

    /// Every error declares its body (a problem's, unless a handler declares another),
    /// but hyper's own `414`, which has none.
    #[test]
    fn every_error_has_a_body() {
        let document = document();
        for (path, method, operation) in operations(&document) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with(['4', '5']) && status != "414" {
                    assert!(
                        response["content"]
                            .as_object()
                            .is_some_and(|c| !c.is_empty()),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }

    /// The document against the constants the server enforces: change one without the
    /// other and this fails.
    #[test]
    fn the_document_states_every_limit_the_server_enforces() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        for schema in ["NewTask", "TaskPatch"] {
            let member = |name: &str| &schemas[schema]["properties"][name];
            assert_eq!(
                member("title")["minLength"],
                json!(Title::MIN_CHARS),
                "{schema}"
            );
            assert_eq!(
                member("title")["maxLength"],
                json!(Title::MAX_CHARS),
                "{schema}"
            );
            assert_eq!(
                member("description")["maxLength"],
                json!(Description::MAX_CHARS),
                "{schema}"
            );
            assert_eq!(
                member("assignee")["minLength"],
                json!(Assignee::MIN_CHARS),
                "{schema}"
            );
            assert_eq!(
                member("assignee")["maxLength"],
                json!(Assignee::MAX_CHARS),
                "{schema}"
            );
            let labels = member("labels");
            assert_eq!(labels["maxItems"], json!(Labels::MAX_COUNT), "{schema}");
            assert_eq!(labels["uniqueItems"], json!(true), "{schema}");
            assert_eq!(labels["items"]["minLength"], json!(1), "{schema}");
            assert_eq!(
                labels["items"]["maxLength"],
                json!(Labels::MAX_CHARS),
                "{schema}"
            );
        }
        let member = &schemas["NewToken"]["properties"]["member"];
        assert_eq!(member["minLength"], json!(Member::MIN_CHARS));
        assert_eq!(member["maxLength"], json!(Member::MAX_CHARS));

        let list = &document["paths"]["/v1/tasks"]["get"];
        assert_eq!(parameter(list, "limit")["schema"]["minimum"], json!(1));
        assert_eq!(
            parameter(list, "limit")["schema"]["maximum"],
            json!(ListQuery::MAX_LIMIT)
        );
        assert_eq!(parameter(list, "page")["schema"]["minimum"], json!(1));
        assert_eq!(
            parameter(list, "page")["schema"]["maximum"],
            json!(ListQuery::MAX_PAGE)
        );
        assert_eq!(
            parameter(list, "q")["schema"]["maxLength"],
            json!(ListQuery::MAX_TEXT_CHARS)
        );
        let label = &parameter(list, "label")["schema"]["items"];
        assert_eq!(label["maxLength"], json!(Labels::MAX_CHARS));
        let assignees = &parameter(list, "assignee")["schema"];
        assert_eq!(assignees["maxItems"], json!(ListQuery::MAX_ASSIGNEES));
        assert_eq!(assignees["items"]["maxLength"], json!(Assignee::MAX_CHARS));
        assert_eq!(
            parameter(list, "tz")["schema"]["maxLength"],
            json!(ListQuery::MAX_ZONE_CHARS)
        );

        // A name means the bound of its own route: a log's `limit` is not a list's.
        let stream = &document["paths"]["/v1/changes/stream"]["get"];
        assert_eq!(
            parameter(stream, "since")["schema"]["maximum"],
            json!(LogQuery::MAX_POSITION)
        );
        for path in ["/v1/changes", "/v1/tasks/{id}/changes"] {
            let log = &document["paths"][path]["get"];
            assert_eq!(
                parameter(log, "limit")["schema"]["minimum"],
                json!(1),
                "{path}"
            );
            assert_eq!(
                parameter(log, "limit")["schema"]["maximum"],
                json!(LogQuery::MAX_LIMIT),
                "{path}"
            );
            let position = if path == "/v1/changes" {
                "since"
            } else {
                "before"
            };
            assert_eq!(
                parameter(log, position)["schema"]["minimum"],
                json!(0),
                "{path}"
            );
            assert_eq!(
                parameter(log, position)["schema"]["maximum"],
                json!(LogQuery::MAX_POSITION),
                "{path}"
            );
        }

        for (path, method) in [
            ("/v1/tasks", "post"),
            ("/v1/tasks/{id}", "patch"),
            ("/v1/tasks/{id}/restore", "post"),
        ] {
            let key = &parameter(&document["paths"][path][method], "Idempotency-Key")["schema"];
            assert_eq!(key["minLength"], json!(1), "{method} {path}");
            assert_eq!(key["maxLength"], json!(MAX_KEY_LEN), "{method} {path}");
        }

        let body_bytes = MAX_BODY_BYTES.to_string();
        let head = format!(
            "{MAX_HEADERS} header fields, or a request head over {} KiB",
            MAX_HEAD_BYTES >> 10
        );
        for (path, method, operation) in operations(&document) {
            let responses = &operation["responses"];
            assert!(
                responses["431"]["description"]
                    .as_str()
                    .unwrap()
                    .contains(&head),
                "{method} {path}"
            );
            if let Some(body) = operation.get("requestBody") {
                assert!(
                    body["description"].as_str().unwrap().contains(&body_bytes),
                    "{method} {path}"
                );
                assert!(
                    responses["413"]["description"]
                        .as_str()
                        .unwrap()
                        .contains(&body_bytes),
                    "{method} {path}"
                );
                assert!(responses.get("408").is_some(), "{method} {path}");
            }
        }
    }
}
