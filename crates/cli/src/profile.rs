//! Where credentials, region and endpoint come from, in the AWS CLI's order: flags, then
//! environment variables, then the shared credentials file's profile.

use std::path::PathBuf;

use underpass_auth::credentials::SecretAccessKey;

use crate::Credentials;

/// The resolved settings of one invocation.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Credentials.
    pub credentials: Credentials,
    /// Region.
    pub region: String,
    /// API endpoint URL.
    pub endpoint: String,
}

/// What the command line said (each may be absent).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--endpoint-url`.
    pub endpoint: Option<String>,
}

/// Reads `[profile]` from an AWS-style INI credentials file: (key id, secret, token, region).
fn from_file(
    path: &PathBuf,
    profile: &str,
) -> Option<(String, String, Option<String>, Option<String>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_section = false;
    let (mut id, mut secret, mut token, mut region) = (None, None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            let name = line[1..line.len() - 1].trim();
            in_section = name == profile
                || name
                    .strip_prefix("profile ")
                    .is_some_and(|n| n.trim() == profile);
            continue;
        }
        if !in_section || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                "region" => region = Some(v),
                _ => {}
            }
        }
    }
    Some((id?, secret?, token, region))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Resolves the settings, or says what is missing.
pub fn resolve(o: &Overrides) -> Result<Settings, String> {
    let profile = o
        .profile
        .clone()
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let file = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join("credentials")));
    let from_profile = file.as_ref().and_then(|f| from_file(f, &profile));
    let explicit_profile = o.profile.is_some();
    let (id, secret, token) = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) if !explicit_profile => (id, secret, env("AWS_SESSION_TOKEN")),
        _ => match &from_profile {
            Some((id, secret, token, _)) => (id.clone(), secret.clone(), token.clone()),
            None => {
                return Err(format!(
                    "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add a [{profile}] section to {}",
                    file.map(|f| f.display().to_string()).unwrap_or_else(|| "~/.aws/credentials".into())
                ))
            }
        },
    };
    let region = o
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| from_profile.as_ref().and_then(|p| p.3.clone()))
        .unwrap_or_else(|| "us-east-1".into());
    let endpoint = o
        .endpoint
        .clone()
        .or_else(|| env("UNDERPASS_ENDPOINT_URL"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .ok_or("no endpoint: pass --endpoint-url or set UNDERPASS_ENDPOINT_URL (underpass dev prints it)")?;
    Ok(Settings {
        credentials: Credentials {
            access_key_id: id,
            secret_access_key: SecretAccessKey::new(secret),
            session_token: token,
        },
        region,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_profiles() {
        let dir =
            std::env::temp_dir().join(format!("underpass-profile-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("credentials");
        std::fs::write(
            &f,
            "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n[profile consumer]\naws_access_key_id=AKIACONSUMER\naws_secret_access_key=s2\naws_session_token = t\nregion = eu-west-1\n",
        )
        .unwrap();
        assert_eq!(from_file(&f, "default").unwrap().0, "AKIADEFAULT");
        let c = from_file(&f, "consumer").unwrap();
        assert_eq!(
            (c.0.as_str(), c.2.as_deref(), c.3.as_deref()),
            ("AKIACONSUMER", Some("t"), Some("eu-west-1"))
        );
        assert!(from_file(&f, "missing").is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
