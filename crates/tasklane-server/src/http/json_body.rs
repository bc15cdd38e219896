//! The JSON request-body extractor: content type, size, syntax and shape, each refused
//! with its own status code and a detail that names the offending member.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use std::cell::RefCell;
use std::fmt;

use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::problem::Problem;

/// A request body parsed as JSON into `T`.
///
/// - not `application/json` (or another `application/*+json`, such as
///   `application/merge-patch+json`): `415`;
/// - larger than the router's body limit: `413`;
/// - not well-formed JSON, or an object with a member name given twice (which parsers
///   resolve differently, the last or the first winning): `400`;
/// - well-formed but not a valid `T` (missing or unknown member, wrong type, bad
///   value): `422`, naming the member.
pub struct JsonBody<T> {
    /// The body, parsed.
    pub value: T,
    /// The SHA-256 of the body as sent (an `Idempotency-Key` retry must send the same
    /// bytes).
    pub digest: [u8; 32],
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "expected a JSON body (Content-Type: application/json), got {}",
                    content_type.map_or("no Content-Type".to_owned(), |t| format!("`{t}`"))
                ),
            ));
        }
        let bytes = read_body(request, state).await?;
        let digest = Sha256::digest(&bytes).into();
        parse(&bytes).map(|value| JsonBody { value, digest })
    }
}

/// The request's body, whole, within the router's body limit.
pub(super) async fn read_body<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Bytes, Problem> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection.status() {
            // A chunked body past the limit: the same answer as a declared length.
            StatusCode::PAYLOAD_TOO_LARGE => Problem::body_too_large(),
            status => Problem::new(status, rejection.body_text()),
        })
}

/// Parses JSON text into a value, refusing an object that names a member twice (the
/// name goes into `duplicate`). serde_json alone keeps the last of the two.
fn unique_members(bytes: &[u8], duplicate: &RefCell<Option<String>>) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = UniqueMembers { duplicate }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A JSON value whose objects have distinct member names, at any depth.
#[derive(Clone, Copy)]
struct UniqueMembers<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for UniqueMembers<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueMembers<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = items.next_element_seed(self)? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(name) = members.next_key::<String>()? {
            if object.contains_key(&name) {
                let error = A::Error::custom(format!("member `{name}` is given more than once"));
                *self.duplicate.borrow_mut() = Some(name);
                return Err(error);
            }
            let value = members.next_value_seed(self)?;
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses in two steps so each failure gets its status: syntax (`400`), then shape
/// (`422`). Every Tasklane body is an object; serde would otherwise also accept an
/// array and fill the members by position.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let duplicate = RefCell::new(None);
    let value = unique_members(bytes, &duplicate).map_err(|error| {
        let problem = Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {error}"));
        match duplicate.take() {
            Some(member) => problem.at(member),
            None => problem,
        }
    })?;
    if !value.is_object() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, inner.to_string())
        } else {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{path}`: {inner}"),
            )
            .at(path)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        title: String,
    }

    #[test]
    fn syntax_is_400_and_shape_is_422() {
        assert_eq!(
            parse::<Body>(b"{\"title\": ").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse::<Body>(b"[\"t\"]").unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            parse::<Body>(b"{\"title\": 1}")
                .unwrap_err()
                .field
                .as_deref(),
            Some("title")
        );
        assert_eq!(parse::<Body>(b" {\"title\": \"t\"} ").unwrap().title, "t");
    }

    #[test]
    fn a_member_named_twice_is_400_naming_it() {
        let problem = parse::<Body>(br#"{"title": "a", "title": "b"}"#).unwrap_err();
        assert_eq!(problem.status, StatusCode::BAD_REQUEST);
        assert_eq!(problem.field.as_deref(), Some("title"));
        let nested = parse::<serde_json::Value>(br#"{"x": [{"k": 1, "k": 2}]}"#).unwrap_err();
        assert_eq!(nested.field.as_deref(), Some("k"));
        let same_name_apart = br#"{"a": {"k": 1}, "b": {"k": [1.5, -2, null, true]}}"#;
        assert!(parse::<serde_json::Value>(same_name_apart).is_ok());
    }

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
