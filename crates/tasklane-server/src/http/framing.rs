//! What every request must look like before any route sees it. Each rule refuses what
//! the server could otherwise only guess at, naming the header or parameter at fault:
//!
//! - the request line and header fields, as received, fit in
//!   [`MAX_HEAD_BYTES`](crate::server::MAX_HEAD_BYTES): `431` (the connection's read
//!   buffer bounds a head only roughly, by whole reads);
//! - an HTTP/1.1 request has exactly one `Host` (RFC 9112 §3.2): `400`;
//! - a body is sent as is: any `Content-Encoding` but `identity` is `415` (the server
//!   decodes none, and would read a compressed body as malformed JSON), and any transfer
//!   coding but `chunked` is `501` (RFC 9112 §6.1: the server would otherwise read a
//!   `gzip, chunked` body as if it were plain);
//! - a header that names one thing (`Content-Type`, `Idempotency-Key`) appears once:
//!   `400` (two would leave the server to pick one); [`one_header`] is that rule, which
//!   the routes that take a token also apply to `Authorization` as they read it;
//! - every query parameter's name and value are well-formed percent-escapes that decode
//!   to UTF-8: `400` (a lenient decoder would turn `q=%FF` into a search for U+FFFD, and
//!   `q=%zz` into a search for the three characters).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::problem::Problem;
use crate::server::MAX_HEAD_BYTES;

/// Refuses a request that breaks one of the rules above.
pub async fn framing(request: Request<Body>, next: Next) -> Response {
    let headers = request.headers();
    let checked = head_size(&request)
        .and_then(|()| host(request.version(), headers))
        .and_then(|()| content_encoding(headers))
        .and_then(|()| transfer_encoding(headers))
        .and_then(|()| singletons(headers))
        .and_then(|()| query(request.uri().query().unwrap_or("")));
    match checked {
        Ok(()) => next.run(request).await,
        Err(problem) => problem.into_response(),
    }
}

/// The size of the request's head as it came: the request line (`METHOD URI
/// HTTP/1.1\r\n`) and each field (`name: value\r\n`).
fn head_size(request: &Request<Body>) -> Result<(), Problem> {
    // The request target as sent: origin form (`/v1/tasks?q=...`) in practice; counted
    // without building a string per request.
    let uri = request.uri();
    let target = uri
        .path_and_query()
        .map_or(1, |target| target.as_str().len())
        + uri
            .authority()
            .map_or(0, |authority| authority.as_str().len())
        + uri.scheme_str().map_or(0, |scheme| scheme.len() + 3);
    let line = request.method().as_str().len() + target + 12;
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if line + fields <= MAX_HEAD_BYTES {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        format!(
            "the request line and headers take {} bytes; at most {MAX_HEAD_BYTES} are accepted",
            line + fields
        ),
    ))
}

fn host(version: Version, headers: &HeaderMap) -> Result<(), Problem> {
    let count = headers.get_all(header::HOST).iter().count();
    if version != Version::HTTP_11 || count == 1 {
        return Ok(());
    }
    let detail = if count == 0 {
        "an HTTP/1.1 request needs a Host header"
    } else {
        "send one Host header, not several"
    };
    Err(Problem::new(StatusCode::BAD_REQUEST, detail).at("Host"))
}

fn content_encoding(headers: &HeaderMap) -> Result<(), Problem> {
    only_coding(
        headers,
        "Content-Encoding",
        "identity",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "send the body uncompressed",
    )
}

fn transfer_encoding(headers: &HeaderMap) -> Result<(), Problem> {
    only_coding(
        headers,
        "Transfer-Encoding",
        "chunked",
        StatusCode::NOT_IMPLEMENTED,
        "send the body as is or `chunked`",
    )
}

/// Refuses with `status` any coding in the `name` header but `allowed`.
fn only_coding(
    headers: &HeaderMap,
    name: &'static str,
    allowed: &str,
    status: StatusCode,
    advice: &str,
) -> Result<(), Problem> {
    for value in headers.get_all(name) {
        let codings = value.to_str().unwrap_or("(not text)");
        if codings
            .split(',')
            .any(|coding| !coding.trim().eq_ignore_ascii_case(allowed))
        {
            return Err(Problem::new(
                status,
                format!("{name} `{codings}` is not supported; {advice}"),
            )
            .at(name));
        }
    }
    Ok(())
}

/// Headers that name one thing, so that two of them leave no right answer.
const SINGLETONS: [&str; 2] = ["content-type", "idempotency-key"];

fn singletons(headers: &HeaderMap) -> Result<(), Problem> {
    SINGLETONS
        .iter()
        .try_for_each(|name| one_header(headers, name).map(drop))
}

/// The `name` header, if sent: `400` naming it when it is sent more than once.
pub(super) fn one_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a HeaderValue>, Problem> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("send one {name} header, not several"),
        )
        .at(name));
    }
    Ok(first)
}

fn query(raw: &str) -> Result<(), Problem> {
    let utf8 =
        |text: &str| well_formed_escapes(text) && percent_decode_str(text).decode_utf8().is_ok();
    for pair in raw.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !(utf8(name) && utf8(value)) {
            // A name that is not UTF-8 itself is named as best it can be.
            let name = percent_decode_str(&name.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                format!("query parameter `{name}`: not valid UTF-8 once percent-decoded"),
            )
            .at(name));
        }
    }
    Ok(())
}

/// Whether every `%` in `text` starts an escape of two hexadecimal digits.
fn well_formed_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(at, &byte)| {
        byte != b'%'
            || bytes
                .get(at + 1..at + 3)
                .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_must_decode_to_utf8() {
        assert!(query("").is_ok());
        assert!(query("q=caf%C3%A9&label=a+b&total").is_ok());
        let problem = query("status=todo&q=%FF").unwrap_err();
        assert_eq!(problem.field.as_deref(), Some("q"));
        assert!(query("%FE=x").is_err());
        for malformed in ["q=%", "q=%zz", "q=a%2", "q=%2G"] {
            assert!(query(malformed).is_err(), "{malformed}");
        }
        assert!(query("q=100%25").is_ok());
    }

    #[test]
    fn only_the_chunked_transfer_coding_is_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        assert!(transfer_encoding(&headers).is_ok());
        for codings in ["gzip, chunked", "x-made-up, chunked", "br"] {
            headers.insert(header::TRANSFER_ENCODING, codings.parse().unwrap());
            let problem = transfer_encoding(&headers).unwrap_err();
            assert_eq!(problem.status, StatusCode::NOT_IMPLEMENTED, "{codings}");
        }
    }

    #[test]
    fn a_header_that_names_one_thing_appears_once() {
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", "y1".parse().unwrap());
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(singletons(&headers).is_ok());
        headers.append("idempotency-key", "y2".parse().unwrap());
        assert_eq!(
            singletons(&headers).unwrap_err().field.as_deref(),
            Some("idempotency-key")
        );
        headers.remove("idempotency-key");
        headers.append(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            singletons(&headers).unwrap_err().field.as_deref(),
            Some("content-type")
        );
    }

    #[test]
    fn only_identity_content_coding_is_accepted() {
        let mut headers = HeaderMap::new();
        assert!(content_encoding(&headers).is_ok());
        headers.insert(header::CONTENT_ENCODING, "Identity".parse().unwrap());
        assert!(content_encoding(&headers).is_ok());
        headers.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(
            content_encoding(&headers).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
