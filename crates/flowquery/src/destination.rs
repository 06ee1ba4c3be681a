//! Where the objects are: a local directory or an S3 bucket (and prefix), as an object store.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

use crate::QueryError;

/// A flow-log destination to query.
#[derive(Clone)]
pub enum Destination {
    /// A local directory (the objects are under `<dir>/AWSLogs/`).
    Local(PathBuf),
    /// An S3 bucket, with credentials and region from the environment (as the AWS SDKs read
    /// them: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`…).
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix the objects' `AWSLogs/` is under (empty for the bucket's root).
        prefix: String,
        /// An S3-compatible endpoint instead of AWS's (`http://` is allowed).
        endpoint: Option<String>,
    },
    /// An object store built by the caller, with the prefix under it.
    Store {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// The prefix the objects' `AWSLogs/` is under.
        prefix: String,
    },
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(dir) => write!(f, "Local({})", dir.display()),
            Self::S3 {
                bucket,
                prefix,
                endpoint,
            } => {
                write!(f, "S3(s3://{bucket}/{prefix}, endpoint {endpoint:?})")
            }
            Self::Store { store, prefix } => write!(f, "Store({store}, {prefix})"),
        }
    }
}

impl Destination {
    /// `s3://bucket[/prefix]` or a directory; `endpoint` applies to S3 only.
    pub fn parse(text: &str, endpoint: Option<&str>) -> Result<Self, QueryError> {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(QueryError::Destination(format!("{text}: no bucket name")));
                }
                Ok(Self::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.trim_matches('/').to_owned(),
                    endpoint: endpoint.map(str::to_owned),
                })
            }
            None if text.contains("://") => Err(QueryError::Destination(format!(
                "{text}: a destination is a directory or s3://bucket/prefix"
            ))),
            None => Ok(Self::Local(PathBuf::from(text))),
        }
    }

    /// The store and the prefix within it.
    pub(crate) fn store(&self) -> Result<(Arc<dyn ObjectStore>, Path), QueryError> {
        let prefix = |p: &str| {
            Path::parse(p).map_err(|e| QueryError::Destination(format!("prefix {p:?}: {e}")))
        };
        match self {
            Self::Local(dir) => {
                if !dir.is_dir() {
                    return Err(QueryError::Destination(format!(
                        "{} is not a directory",
                        dir.display()
                    )));
                }
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| QueryError::Destination(format!("{}: {e}", dir.display())))?;
                Ok((Arc::new(store), Path::default()))
            }
            Self::S3 {
                bucket,
                prefix: p,
                endpoint,
            } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(url) = endpoint {
                    builder = builder
                        .with_endpoint(url)
                        .with_allow_http(url.starts_with("http://"));
                }
                let store = builder.build().map_err(|e| {
                    QueryError::Destination(crate::listing::one_line(&e.to_string()))
                })?;
                Ok((Arc::new(store), prefix(p)?))
            }
            Self::Store { store, prefix: p } => Ok((store.clone(), prefix(p)?)),
        }
    }
}
