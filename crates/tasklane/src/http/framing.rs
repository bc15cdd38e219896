//! What every request must look like before any route sees it. Each rule refuses what
//! the server could otherwise only guess at, naming the header or parameter at fault:
//!
//! - an HTTP/1.1 request has exactly one `Host` (RFC 9112 §3.2): `400`;
//! - a body is sent as is: any `Content-Encoding` but `identity` is `415` (the server
//!   decodes none, and would read a compressed body as malformed JSON);
//! - every query parameter's name and value decode to UTF-8: `400` (a lenient decoder
//!   would turn `q=%FF` into a search for U+FFFD).

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::problem::Problem;

/// Refuses a request that breaks one of the rules above.
pub async fn framing(request: Request<Body>, next: Next) -> Response {
    let checked = host(request.version(), request.headers())
        .and_then(|()| content_encoding(request.headers()))
        .and_then(|()| query(request.uri().query().unwrap_or("")));
    match checked {
        Ok(()) => next.run(request).await,
        Err(problem) => problem.into_response(),
    }
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
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let codings = value.to_str().unwrap_or("(not text)");
        if codings
            .split(',')
            .any(|coding| !coding.trim().eq_ignore_ascii_case("identity"))
        {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Content-Encoding `{codings}` is not supported; send the body uncompressed"
                ),
            )
            .at("Content-Encoding"));
        }
    }
    Ok(())
}

fn query(raw: &str) -> Result<(), Problem> {
    let utf8 = |text: &str| percent_decode_str(text).decode_utf8().is_ok();
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
