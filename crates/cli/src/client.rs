//! A signed API client: every call is a `POST /api/{Action}` with a JSON body, signed with
//! SigV4 for the action's service.

use std::time::Duration;

use time::OffsetDateTime;
use underpass_auth::credentials::SecretAccessKey;
use underpass_auth::sigv4::{sign_request, HttpRequest, PayloadSigning, SigningParams};

/// Access key, secret and (for temporary credentials) the session token.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `AKIA…` or `ASIA…`.
    pub access_key_id: String,
    /// The secret; never printed.
    pub secret_access_key: SecretAccessKey,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API refused the call with an AWS-style error.
    #[error("{code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Error code, e.g. `InvalidVpcID.NotFound`.
        code: String,
        /// Message.
        message: String,
        /// The request id.
        request_id: String,
    },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach {endpoint}: {detail}")]
    Transport {
        /// The endpoint URL.
        endpoint: String,
        /// What went wrong.
        detail: String,
    },
    /// The response was not what the API sends.
    #[error("unexpected response: {0}")]
    Decode(String),
    /// The request could not be signed.
    #[error("cannot sign the request: {0}")]
    Sign(String),
}

impl ClientError {
    /// The AWS error code, if the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

pub use underpass_domain::api::service_of;

/// A client for one endpoint and one set of credentials.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: url::Url,
    region: String,
    creds: Credentials,
}

impl Client {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:4510`) in `region`.
    pub fn new(endpoint: &str, region: &str, creds: Credentials) -> Result<Self, ClientError> {
        let endpoint = url::Url::parse(endpoint).map_err(|e| ClientError::Transport {
            endpoint: endpoint.to_owned(),
            detail: e.to_string(),
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Transport {
                endpoint: endpoint.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            endpoint,
            region: region.to_owned(),
            creds,
        })
    }

    /// The credentials this client signs with.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// The same credentials against another endpoint.
    pub fn with_endpoint(&self, endpoint: &str) -> Result<Self, ClientError> {
        let endpoint = url::Url::parse(endpoint).map_err(|e| ClientError::Transport {
            endpoint: endpoint.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            endpoint,
            ..self.clone()
        })
    }

    /// The same endpoint with other credentials.
    pub fn with_credentials(&self, creds: Credentials) -> Self {
        Self {
            creds,
            ..self.clone()
        }
    }

    /// The same client, signing for `region` (the region its calls act in).
    pub fn with_region(&self, region: &str) -> Self {
        Self {
            region: region.to_owned(),
            ..self.clone()
        }
    }

    /// Calls `action` with a JSON object of parameters; returns the JSON response.
    pub async fn call(
        &self,
        action: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        self.call_at(action, params, OffsetDateTime::now_utc())
            .await
    }

    /// As [`Client::call`], signing as if the time were `at` (tests of clock skew).
    pub async fn call_at(
        &self,
        action: &str,
        params: &serde_json::Value,
        at: OffsetDateTime,
    ) -> Result<serde_json::Value, ClientError> {
        self.call_scoped(service_of(action), action, params, at)
            .await
    }

    /// As [`Client::call_at`], with the signature scoped to `service` (tests of scope checks).
    pub async fn call_scoped(
        &self,
        service: &str,
        action: &str,
        params: &serde_json::Value,
        at: OffsetDateTime,
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::to_vec(params).map_err(|e| ClientError::Sign(e.to_string()))?;
        let host = match (self.endpoint.host_str(), self.endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => return Err(ClientError::Sign("endpoint has no host".into())),
        };
        let path = format!("/api/{action}");
        let headers: Vec<(&str, &[u8])> = vec![
            ("host", host.as_bytes()),
            ("content-type", b"application/json"),
        ];
        let signed = sign_request(
            &HttpRequest {
                method: "POST",
                path: &path,
                query: "",
                headers: &headers,
                body: &body,
            },
            &SigningParams {
                access_key_id: &self.creds.access_key_id,
                secret_access_key: self.creds.secret_access_key.expose(),
                session_token: self.creds.session_token.as_deref(),
                region: &self.region,
                service,
                time: at,
                payload: PayloadSigning::Hash,
                path_mode: None,
            },
        )
        .map_err(|e| ClientError::Sign(e.to_string()))?;
        let url = self
            .endpoint
            .join(&path)
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in signed.headers() {
            req = req.header(name.as_str(), value.as_str());
        }
        let resp = req.send().await.map_err(|e| ClientError::Transport {
            endpoint: self.endpoint.to_string(),
            detail: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            endpoint: self.endpoint.to_string(),
            detail: e.to_string(),
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Decode(format!("HTTP {status}: {e}")))?;
        if status == 200 {
            return Ok(value);
        }
        let err = &value["Error"];
        Err(ClientError::Api {
            status,
            code: err["Code"].as_str().unwrap_or("Unknown").to_owned(),
            message: err["Message"].as_str().unwrap_or("").to_owned(),
            request_id: value["RequestId"].as_str().unwrap_or("").to_owned(),
        })
    }
}
