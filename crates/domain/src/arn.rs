//! Amazon Resource Names, and the principal ARNs that name who makes a call.

use std::fmt;
use std::str::FromStr;

use crate::account::{truncated, AccountId};

/// The longest ARN we accept; IAM's own limit is 2,048 characters.
pub const MAX_ARN_LEN: usize = 2048;

/// Why an ARN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// Not of the form `arn:partition:service:region:account:resource`.
    #[error("{0:?} is not an ARN of the form arn:partition:service:region:account-id:resource")]
    Malformed(String),
    /// An ARN longer than [`MAX_ARN_LEN`].
    #[error("ARN is {0} characters long; the limit is 2048")]
    TooLong(usize),
    /// A well-formed ARN that does not name a principal (user, role, session or account).
    #[error("{0:?} does not name an IAM user, role, assumed-role session or account root")]
    NotAPrincipal(String),
}

/// An ARN split into its six components; the resource part may itself hold `:` and `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arn {
    /// `aws` unless configured otherwise.
    pub partition: String,
    /// The service namespace, such as `ec2` or `iam`.
    pub service: String,
    /// The region, empty for global services such as IAM.
    pub region: String,
    /// The owning account, empty for some resources.
    pub account: String,
    /// Everything after the fifth colon.
    pub resource: String,
}

impl Arn {
    /// Builds an ARN from its components.
    pub fn new(
        partition: &str,
        service: &str,
        region: &str,
        account: &str,
        resource: &str,
    ) -> Self {
        Self {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        }
    }
}

impl FromStr for Arn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, ArnError> {
        if s.len() > MAX_ARN_LEN {
            return Err(ArnError::TooLong(s.len()));
        }
        let mut parts = s.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(ArnError::Malformed(truncated(s)));
        };
        if partition.is_empty()
            || service.is_empty()
            || resource.is_empty()
            || s.chars().any(char::is_control)
        {
            return Err(ArnError::Malformed(truncated(s)));
        }
        Ok(Self::new(partition, service, region, account, resource))
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl fmt::Debug for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arn({self})")
    }
}

/// An ARN that names a principal, classified the way IAM evaluation needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalArn {
    /// `arn:aws:iam::ACCOUNT:root`: the account itself.
    Root {
        /// The account.
        account: AccountId,
    },
    /// `arn:aws:iam::ACCOUNT:user/path/name`.
    User {
        /// The account.
        account: AccountId,
        /// The path, `/` by default, always starting and ending with `/`.
        path: String,
        /// The user name.
        name: String,
    },
    /// `arn:aws:iam::ACCOUNT:role/path/name`.
    Role {
        /// The account.
        account: AccountId,
        /// The path, `/` by default.
        path: String,
        /// The role name.
        name: String,
    },
    /// `arn:aws:sts::ACCOUNT:assumed-role/role-name/session-name`: a session of a role.
    AssumedRole {
        /// The account.
        account: AccountId,
        /// The role's name (sessions carry no path).
        role_name: String,
        /// The session name given to AssumeRole.
        session_name: String,
    },
}

impl PrincipalArn {
    /// The account the principal belongs to.
    pub fn account(&self) -> AccountId {
        match self {
            Self::Root { account }
            | Self::User { account, .. }
            | Self::Role { account, .. }
            | Self::AssumedRole { account, .. } => *account,
        }
    }

    /// The ARN in its canonical text form (partition `aws`).
    pub fn to_arn_string(&self) -> String {
        self.to_string()
    }
}

/// Splits `path/…/name` into (`/path/…/`, `name`), as IAM paths are written.
fn split_path(rest: &str) -> Option<(String, String)> {
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
        None => ("/".to_owned(), rest),
    };
    let path = path.replace("//", "/");
    (!name.is_empty()).then(|| (path, name.to_owned()))
}

impl FromStr for PrincipalArn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, ArnError> {
        let arn: Arn = s.parse()?;
        let not_principal = || ArnError::NotAPrincipal(truncated(s));
        let account: AccountId = arn.account.parse().map_err(|_| not_principal())?;
        if !arn.region.is_empty() {
            return Err(not_principal());
        }
        match (arn.service.as_str(), arn.resource.split_once('/')) {
            ("iam", None) if arn.resource == "root" => Ok(Self::Root { account }),
            ("iam", Some(("user", rest))) => {
                let (path, name) = split_path(rest).ok_or_else(not_principal)?;
                Ok(Self::User {
                    account,
                    path,
                    name,
                })
            }
            ("iam", Some(("role", rest))) => {
                let (path, name) = split_path(rest).ok_or_else(not_principal)?;
                Ok(Self::Role {
                    account,
                    path,
                    name,
                })
            }
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role, session))
                    if !role.is_empty() && !session.is_empty() && !session.contains('/') =>
                {
                    Ok(Self::AssumedRole {
                        account,
                        role_name: role.to_owned(),
                        session_name: session.to_owned(),
                    })
                }
                _ => Err(not_principal()),
            },
            _ => Err(not_principal()),
        }
    }
}

impl fmt::Display for PrincipalArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root { account } => write!(f, "arn:aws:iam::{account}:root"),
            Self::User {
                account,
                path,
                name,
            } => write!(f, "arn:aws:iam::{account}:user{path}{name}"),
            Self::Role {
                account,
                path,
                name,
            } => write!(f, "arn:aws:iam::{account}:role{path}{name}"),
            Self::AssumedRole {
                account,
                role_name,
                session_name,
            } => {
                write!(
                    f,
                    "arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_components_keep_colons_in_resource() {
        let arn: Arn = "arn:aws:ec2:us-east-1:123456789012:vpc-endpoint/vpce-0a:b"
            .parse()
            .unwrap();
        assert_eq!(arn.service, "ec2");
        assert_eq!(arn.region, "us-east-1");
        assert_eq!(arn.resource, "vpc-endpoint/vpce-0a:b");
        assert_eq!(
            arn.to_string(),
            "arn:aws:ec2:us-east-1:123456789012:vpc-endpoint/vpce-0a:b"
        );
    }

    #[test]
    fn malformed_arns() {
        for bad in [
            "",
            "arn",
            "arn:aws",
            "arn:aws:ec2:r:a",
            "urn:aws:ec2:r:a:x",
            "arn::ec2:r:a:x",
            "arn:aws:ec2:r:a:",
        ] {
            assert!(bad.parse::<Arn>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            "arn:aws:s3:::".to_owned().repeat(1000).parse::<Arn>(),
            Err(ArnError::TooLong(13_000))
        );
    }

    #[test]
    fn principals_round_trip() {
        for s in [
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:user/division/team/alice",
            "arn:aws:iam::123456789012:role/admin",
            "arn:aws:sts::123456789012:assumed-role/admin/ci-session",
        ] {
            let p: PrincipalArn = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
            assert_eq!(p.account().as_str(), "123456789012");
        }
        let p: PrincipalArn = "arn:aws:iam::123456789012:user/division/team/alice"
            .parse()
            .unwrap();
        assert_eq!(
            p,
            PrincipalArn::User {
                account: "123456789012".parse().unwrap(),
                path: "/division/team/".into(),
                name: "alice".into()
            }
        );
    }

    #[test]
    fn non_principals_refused() {
        for bad in [
            "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1",
            "arn:aws:iam::12345:user/alice",
            "arn:aws:iam:us-east-1:123456789012:user/alice",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:sts::123456789012:assumed-role/admin",
            "arn:aws:sts::123456789012:assumed-role/admin/a/b",
        ] {
            assert!(bad.parse::<PrincipalArn>().is_err(), "{bad:?} accepted");
        }
    }
}
