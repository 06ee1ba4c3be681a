//! API errors: an AWS error code, a message and an HTTP status. The only place where library
//! errors become AWS codes (STYLE pattern 4).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use underpass_auth::credentials::CredentialError;
use underpass_auth::iam::PolicyError;
use underpass_auth::sigv4::SigV4Error;
use underpass_domain::dns::DnsNameError;
use underpass_domain::firewall::FirewallError;
use underpass_domain::net::NetError;
use underpass_domain::{ArnError, IdError, IllegalTransition, ResourceIdError};
use underpass_store::StoreError;

/// An error as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// AWS-style error code, e.g. `InvalidVpcId.NotFound`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// A 400 error with `code`.
    pub fn client(code: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// `InvalidParameterValue`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::client("InvalidParameterValue", message)
    }

    /// `MissingParameter`.
    pub fn missing(name: &str) -> Self {
        Self::client(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// `UnauthorizedOperation` (403).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "UnauthorizedOperation".into(),
            message: message.into(),
        }
    }

    /// `DryRunOperation` (412): what an authorized EC2 dry run answers.
    pub fn dry_run() -> Self {
        Self {
            status: StatusCode::PRECONDITION_FAILED,
            code: "DryRunOperation".into(),
            message: "Request would have succeeded, but DryRun flag is set.".into(),
        }
    }

    /// `<Kind>.NotFound`-style 400.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::client(code, message)
    }

    /// `InternalError` (500); the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError".into(),
            message: "An internal error has occurred.".into(),
        }
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

impl From<SigV4Error> for ApiError {
    fn from(e: SigV4Error) -> Self {
        Self {
            status: status(e.http_status()),
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::Unseal(_)
            | CredentialError::BadMasterKey(_)
            | CredentialError::Random => Self::internal(&e),
            e => Self {
                status: status(e.http_status()),
                code: e.code().to_owned(),
                message: e.to_string(),
            },
        }
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        Self::client(e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "Unavailable".into(),
                message: format!("The service is unavailable; retry the request. ({m})"),
            },
            StoreError::NotFound { kind, id } => {
                let code = match kind {
                    "vpc" => "InvalidVpcID.NotFound",
                    "subnet" => "InvalidSubnetID.NotFound",
                    "security group" => "InvalidGroup.NotFound",
                    "security group rule" => "InvalidSecurityGroupRuleId.NotFound",
                    "endpoint" => "InvalidVpcEndpointId.NotFound",
                    "endpoint service" => "InvalidVpcEndpointServiceId.NotFound",
                    "load balancer" => "LoadBalancerNotFound",
                    "target group" => "TargetGroupNotFound",
                    "listener" => "ListenerNotFound",
                    "user" | "role" | "policy" => "NoSuchEntity",
                    _ => "InvalidParameterValue",
                };
                Self::client(code, format!("The {kind} '{id}' does not exist"))
            }
            StoreError::Conflict(m) => Self::client("DependencyViolation", m),
            e => Self::internal(e),
        }
    }
}

impl From<NetError> for ApiError {
    fn from(e: NetError) -> Self {
        Self::client(e.code(), e.to_string())
    }
}

impl From<DnsNameError> for ApiError {
    fn from(e: DnsNameError) -> Self {
        Self::invalid(e.to_string())
    }
}

impl From<FirewallError> for ApiError {
    fn from(e: FirewallError) -> Self {
        Self::client(e.code(), e.to_string())
    }
}

impl From<ResourceIdError> for ApiError {
    fn from(e: ResourceIdError) -> Self {
        Self::client("InvalidParameterValue", e.to_string())
    }
}

impl From<IdError> for ApiError {
    fn from(e: IdError) -> Self {
        Self::client("InvalidParameterValue", e.to_string())
    }
}

impl From<ArnError> for ApiError {
    fn from(e: ArnError) -> Self {
        Self::client("InvalidParameterValue", e.to_string())
    }
}

impl From<IllegalTransition> for ApiError {
    fn from(e: IllegalTransition) -> Self {
        Self::client("IncorrectState", e.to_string())
    }
}

/// The JSON body of an error response.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorBody<'a> {
    pub(crate) error: ErrorDetail<'a>,
    pub(crate) request_id: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorDetail<'a> {
    pub(crate) code: &'a str,
    pub(crate) message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: &self.code,
                message: &self.message,
            },
            request_id: "",
        };
        (self.status, axum::Json(body)).into_response()
    }
}
