//! Loading AWS configuration: the standard chain, plus overrides for emulators and tests.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::error::{Error, Result};

/// Where and how to reach AWS.
///
/// Everything left unset comes from the standard AWS chain (environment variables such as
/// `AWS_REGION`, `AWS_PROFILE` and `AWS_ENDPOINT_URL`, the shared config and credential
/// files, SSO, web identity, container and instance metadata).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// The region (`eu-west-1`); overrides the chain.
    pub region: Option<String>,
    /// A custom endpoint for every service, e.g. `http://127.0.0.1:5000` for an emulator.
    pub endpoint_url: Option<String>,
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// Fixed credentials (access key id, secret key) instead of the chain, for emulators.
    pub static_credentials: Option<(String, String)>,
}

impl AwsSettings {
    /// Settings that take everything from the standard chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Settings for a local emulator at `endpoint_url` (e.g. moto or LocalStack): a fixed
    /// region and dummy credentials, so nothing is read from the machine's AWS setup.
    pub fn emulator(endpoint_url: impl Into<String>) -> Self {
        Self {
            region: Some("us-east-1".to_string()),
            endpoint_url: Some(endpoint_url.into()),
            profile: None,
            static_credentials: Some(("testing".to_string(), "testing".to_string())),
        }
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets a custom endpoint for every service.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Uses a named profile.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Uses fixed credentials.
    pub fn static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.static_credentials = Some((access_key_id.into(), secret_access_key.into()));
        self
    }

    /// Resolves the configuration. Fails when no region can be found, when the endpoint URL
    /// is not `http(s)://...`, or when an HTTPS endpoint is needed but the crate was built
    /// without its `rustls` feature.
    pub async fn load(&self) -> Result<SdkConfig> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some((key, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                key,
                secret,
                None,
                None,
                "itops-static",
            ));
        }
        let plain_http = match &self.endpoint_url {
            Some(url) => {
                let plain = url.starts_with("http://");
                if !plain && !url.starts_with("https://") {
                    return Err(Error::config(format!(
                        "endpoint_url '{url}' must start with http:// or https://"
                    )));
                }
                loader = loader.endpoint_url(url);
                plain
            }
            None => false,
        };
        if plain_http {
            // An emulator on plain HTTP needs no TLS stack at all.
            loader = loader.http_client(aws_smithy_http_client::Builder::new().build_http());
        } else if !cfg!(feature = "rustls") {
            return Err(Error::config(
                "itops-aws was built without its `rustls` feature, so it cannot reach HTTPS \
                 endpoints; enable the feature (it is on by default) or use an http:// \
                 endpoint_url",
            ));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(Error::config(
                "no AWS region is configured; set AWS_REGION, a region in the profile, or the \
                 region setting",
            ));
        }
        Ok(config)
    }
}

/// The region of a loaded configuration, for messages.
pub(crate) fn region_of(config: &SdkConfig) -> String {
    config
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_else(|| "(no region)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emulator_settings_need_nothing_from_the_machine() {
        let config = AwsSettings::emulator("http://127.0.0.1:9")
            .load()
            .await
            .unwrap();
        assert_eq!(region_of(&config), "us-east-1");
    }

    #[tokio::test]
    async fn a_bad_endpoint_url_is_refused() {
        let err = AwsSettings::emulator("localhost:5000")
            .load()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("must start with http://"), "{err}");
    }
}
