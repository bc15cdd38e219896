//! Who a request acts for: workspaces (the tenants), the members they issue API tokens
//! to, and the tokens themselves.
//!
//! A token's secret is 256 bits from the operating system's random source, shown once
//! when it is issued; only its SHA-256 digest is stored. A secret that long cannot be
//! guessed, so a fast hash protects it as well as a slow password hash would, at a
//! fraction of the cost on every request.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Timestamp, Workspace};

super::task::bounded_text!(
    /// Who a token is issued to, not blank.
    Member, 1, 100
);

/// A token's secret, as the client sends it: `tl_` and 64 hexadecimal digits. Its
/// `Debug` form hides it.
#[derive(Clone)]
pub struct TokenSecret(String);

impl TokenSecret {
    const PREFIX: &str = "tl_";

    /// A new secret from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        TokenSecret(format!("{}{}", Self::PREFIX, hex::encode(bytes)))
    }

    /// A secret as presented in an `Authorization` header, if it has the right shape.
    pub fn presented(text: &str) -> Option<Self> {
        let digits = text.strip_prefix(Self::PREFIX)?;
        (digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| TokenSecret(text.to_owned()))
    }

    /// What is stored instead of the secret: its SHA-256 digest, in hexadecimal.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The secret itself, to show once.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(..)")
    }
}

/// An issued API token, as stored and listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiToken {
    /// Names the token, to revoke it.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// The workspace its requests act in.
    #[schema(value_type = String)]
    pub workspace: String,
    /// Who it was issued to.
    pub member: String,
    /// When it was issued.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl ApiToken {
    /// A new token for `member` of the workspace whose workspace is `workspace`.
    pub fn issue(workspace: &Workspace, member: Member) -> Self {
        ApiToken {
            id: Uuid::now_v7(),
            workspace: workspace.as_str().to_owned(),
            member: member.into_inner(),
            created_at: Timestamp::now(),
        }
    }

    /// The workspace its requests act in.
    pub fn workspace(&self) -> Workspace {
        Workspace::named(self.workspace.clone())
    }
}

/// The body of `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who the token is for; not blank.
    #[schema(value_type = String)]
    pub member: Member,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_random_shown_once_and_stored_as_its_digest() {
        let (one, two) = (TokenSecret::generate(), TokenSecret::generate());
        assert_ne!(one.reveal(), two.reveal());
        let presented = TokenSecret::presented(one.reveal()).unwrap();
        assert_eq!(presented.digest(), one.digest());
        assert_eq!(one.digest().len(), 64);
        assert_eq!(format!("{one:?}"), "TokenSecret(..)");
        for bad in ["", "tl_", "tl_xyz", &format!("xx_{}", &one.reveal()[3..])] {
            assert!(TokenSecret::presented(bad).is_none(), "{bad}");
        }
    }
}
