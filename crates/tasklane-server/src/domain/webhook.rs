//! Webhook endpoints as clients see them: where changes are sent, which kinds, the
//! secret they are signed with, and where delivery stands.
//!
//! What is valid is decided here (an `http`/`https` URL without credentials, a non-empty
//! set of known change kinds); whether the URL's host may be reached is the sender's
//! decision (`webhook::target`), made again at every delivery.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ChangeKind, Timestamp};

super::task::bounded_text!(
    /// What a webhook is for, in its owner's words; possibly empty.
    WebhookDescription, 0, 1000
);

/// Where a webhook's deliveries go: an absolute `http` or `https` URL, without
/// credentials (a receiver authenticates Tasklane by the signature), at most
/// [`WebhookUrl::MAX_BYTES`] long. Kept as the URL parser normalised it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Longest URL accepted, in bytes.
    pub const MAX_BYTES: usize = 2048;

    /// The URL, as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL, parsed.
    pub fn parsed(&self) -> url::Url {
        url::Url::parse(&self.0).expect("valid when built")
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text.len() > Self::MAX_BYTES {
            return Err(format!(
                "must be at most {} bytes (got {})",
                Self::MAX_BYTES,
                text.len()
            ));
        }
        let url =
            url::Url::parse(&text).map_err(|e| format!("`{text}` is not an absolute URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "must be an http or https URL (got `{}:`)",
                url.scheme()
            ));
        }
        if url.host().is_none() {
            return Err("must name a host".to_owned());
        }
        if url.port() == Some(0) {
            return Err("must not name port 0".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "must not hold a user name or password: a receiver verifies \
                        deliveries by their signature"
                    .to_owned(),
            );
        }
        let normalised = url.to_string();
        if normalised.len() > Self::MAX_BYTES {
            return Err(format!(
                "must be at most {} bytes once normalised",
                Self::MAX_BYTES
            ));
        }
        Ok(WebhookUrl(normalised))
    }
}

/// The change kinds a webhook is sent: a non-empty set, `task.created`,
/// `task.updated` and `task.deleted` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKinds(BTreeSet<ChangeKind>);

const KINDS: [ChangeKind; 3] = [
    ChangeKind::Created,
    ChangeKind::Updated,
    ChangeKind::Deleted,
];

impl EventKinds {
    /// Every kind.
    pub fn all() -> Self {
        EventKinds(KINDS.into_iter().collect())
    }

    /// Whether a change of `kind` is sent.
    pub fn includes(&self, kind: ChangeKind) -> bool {
        self.0.contains(&kind)
    }

    /// The kinds, in a fixed order.
    pub fn kinds(&self) -> impl Iterator<Item = ChangeKind> + '_ {
        self.0.iter().copied()
    }

    /// The stored form: names separated by commas.
    pub fn to_stored(&self) -> String {
        self.kinds()
            .map(ChangeKind::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The inverse of [`EventKinds::to_stored`].
    pub fn from_stored(text: &str) -> Option<Self> {
        Self::parse(text.split(',')).ok()
    }

    fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut kinds = BTreeSet::new();
        for name in names {
            let kind = ChangeKind::parse(name).ok_or_else(|| {
                format!(
                    "`{name}` is not an event; the events are {}",
                    KINDS.map(ChangeKind::as_str).join(", ")
                )
            })?;
            kinds.insert(kind);
        }
        if kinds.is_empty() {
            return Err("must name at least one event".to_owned());
        }
        Ok(EventKinds(kinds))
    }
}

impl Default for EventKinds {
    fn default() -> Self {
        Self::all()
    }
}

impl<'de> Deserialize<'de> for EventKinds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        if names.len() > KINDS.len() * 4 {
            return Err(serde::de::Error::custom("names too many events"));
        }
        Self::parse(names.iter().map(String::as_str)).map_err(serde::de::Error::custom)
    }
}

impl Serialize for EventKinds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.kinds().map(ChangeKind::as_str))
    }
}

/// The body of `POST /v1/webhooks`. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Required: where deliveries are sent (`http` or `https`, no credentials, at most
    /// 2048 bytes; its host must resolve, to public addresses only).
    #[schema(value_type = String, max_length = 2048)]
    pub url: WebhookUrl,
    /// The change kinds to send; default all three.
    #[serde(default)]
    #[schema(value_type = Vec<ChangeKind>, example = json!(["task.created", "task.updated"]))]
    pub events: EventKinds,
    /// Default "".
    #[serde(default)]
    #[schema(value_type = String, max_length = 1000)]
    pub description: WebhookDescription,
}

/// The body of `PATCH /v1/webhooks/{id}`: the fields to change. Unknown fields are
/// refused.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    /// A new URL.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, max_length = 2048)]
    pub url: Option<WebhookUrl>,
    /// New change kinds.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<ChangeKind>)]
    pub events: Option<EventKinds>,
    /// A new description (`""` for none).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, max_length = 1000)]
    pub description: Option<WebhookDescription>,
    /// `paused` stops deliveries; `active` resumes a paused or disabled webhook from
    /// where it stopped.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = RequestedStatus)]
    pub status: Option<RequestedStatus>,
    /// `true`: issue a new signing secret (returned once). The old one keeps signing
    /// beside it for 24 hours, so receivers can switch without losing a delivery.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// A member that, when given, must hold a value (`null` is refused, not taken as
/// "unchanged").
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A status a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestedStatus {
    /// Deliver (again).
    Active,
    /// Stop delivering, keeping the position.
    Paused,
}

/// Where a webhook's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    /// Delivering; nothing is failing.
    Active,
    /// The next change failed and is retried at `next_attempt_at`.
    Retrying,
    /// Paused by a client.
    Paused,
    /// Every attempt at one change failed; see `disabled_reason`. Nothing is sent
    /// until a client sets the status back to `active`.
    Disabled,
}

impl WebhookStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "active",
            WebhookStatus::Retrying => "retrying",
            WebhookStatus::Paused => "paused",
            WebhookStatus::Disabled => "disabled",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [
            WebhookStatus::Active,
            WebhookStatus::Retrying,
            WebhookStatus::Paused,
            WebhookStatus::Disabled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// Whether a sender delivers to a webhook in this status.
    pub fn delivers(self) -> bool {
        matches!(self, WebhookStatus::Active | WebhookStatus::Retrying)
    }
}

/// Changes that retention pruned from the log before they were delivered: a webhook
/// that was behind by more than the log keeps (disabled or paused for longer than the
/// retention) continues after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Skipped {
    /// The last change delivered (or skipped as not matching) before the gap.
    pub after: u64,
    /// The last change of the gap: delivery continued after it.
    pub through: u64,
}

/// A webhook endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// The change kinds it is sent.
    #[schema(value_type = Vec<ChangeKind>)]
    pub events: EventKinds,
    /// What it is for.
    pub description: String,
    /// Where delivery stands.
    pub status: WebhookStatus,
    /// The `seq` of the last change handled (delivered, or passed over as not among
    /// `events`); delivery continues after it. At creation, the workspace's latest
    /// `seq`: a webhook is sent the changes committed after it was created.
    pub position: u64,
    /// Failed attempts at the next change so far.
    pub attempts: u32,
    /// Since when the next change has been failing.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<Timestamp>,
    /// When the next attempt is due, while retrying.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// The latest gap retention left in its deliveries, if any.
    pub skipped: Option<Skipped>,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When a client last changed it.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// One attempt at a delivery, as `GET /v1/webhooks/{id}/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// Its id (increasing with time).
    pub id: i64,
    /// The delivery's `webhook-id`: the same for every attempt at one change.
    pub event_id: String,
    /// The event type (`task.updated`, `webhook.test`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The change's `seq` (none for a test event).
    pub seq: Option<u64>,
    /// When the attempt started.
    #[schema(value_type = String, format = DateTime)]
    pub attempted_at: Timestamp,
    /// The receiver's status code, if it answered.
    pub status_code: Option<u16>,
    /// From sending to the end of the answer (or the failure), in milliseconds.
    pub latency_ms: f64,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
}

/// A webhook's signing secret: `whsec_` and the base64 of 32 random bytes, the key of
/// the HMAC-SHA256 signatures (the Standard Webhooks form). Its `Debug` form hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl SigningSecret {
    const PREFIX: &str = "whsec_";

    /// A new secret from the operating system's random source.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source works");
        SigningSecret(format!("{}{}", Self::PREFIX, STANDARD.encode(key)))
    }

    /// A secret in its text form, if it has that form.
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix(Self::PREFIX)?).ok()?;
        (key.len() >= 24).then(|| SigningSecret(text.to_owned()))
    }

    /// The HMAC key: the bytes the base64 after `whsec_` encodes.
    pub fn key(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.0[Self::PREFIX.len()..])
            .expect("valid when built")
    }

    /// The secret itself, to show once or to store.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_absolute_http_without_credentials() {
        assert!(WebhookUrl::try_from("https://hooks.example.com/in?x=1".to_owned()).is_ok());
        assert!(WebhookUrl::try_from("http://[2001:db8::1]:8080/".to_owned()).is_ok());
        for bad in [
            "ftp://example.com/",
            "/relative",
            "https://user:pw@example.com/",
            "https://user@example.com/",
            "file:///etc/passwd",
            "http://example.com:0/",
            "",
        ] {
            assert!(WebhookUrl::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(WebhookUrl::MAX_BYTES));
        assert!(WebhookUrl::try_from(long).is_err());
    }

    #[test]
    fn event_kinds_are_a_non_empty_set_of_known_kinds() {
        let kinds: EventKinds =
            serde_json::from_str(r#"["task.deleted", "task.created", "task.deleted"]"#).unwrap();
        assert_eq!(kinds.to_stored(), "task.created,task.deleted");
        assert!(!kinds.includes(ChangeKind::Updated));
        assert_eq!(EventKinds::from_stored(&kinds.to_stored()), Some(kinds));
        assert!(serde_json::from_str::<EventKinds>("[]").is_err());
        assert!(serde_json::from_str::<EventKinds>(r#"["task.moved"]"#).is_err());
        assert_eq!(EventKinds::default(), EventKinds::all());
    }

    #[test]
    fn secrets_have_the_standard_webhooks_form() {
        let secret = SigningSecret::generate();
        assert!(secret.reveal().starts_with("whsec_"));
        assert_eq!(secret.key().len(), 32);
        assert_eq!(SigningSecret::parse(secret.reveal()), Some(secret.clone()));
        assert_eq!(SigningSecret::parse("whsec_c2hvcnQ="), None);
        assert_eq!(format!("{secret:?}"), "SigningSecret(..)");
    }
}
