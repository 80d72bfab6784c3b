//! A named AWS profile, read from the shared files as the AWS CLI reads them,
//! for `s3://` when the environment names no access key (the environment comes
//! first, as in every AWS SDK): `AWS_PROFILE` (else `default`) in
//! `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`, section `[NAME]`)
//! and `AWS_CONFIG_FILE` (else `~/.aws/config`, section `[profile NAME]`, or
//! `[default]`); a key in both comes from the credentials file.
//!
//! Static keys (with a session token) and the region are read. A profile that
//! gets its credentials some other way (`role_arn`, SSO, `credential_process`)
//! is an error that says so, never a silent fall-through to another identity.

use crate::{Result, StoreError};
use ini::{Ini, ParseOption};
use std::fmt;
use std::path::{Path, PathBuf};

/// What a profile gives.
#[derive(PartialEq, Eq)]
pub(crate) struct AwsProfile {
    pub keys: Option<AwsKeys>,
    pub region: Option<String>,
}

/// Static credentials.
#[derive(PartialEq, Eq)]
pub(crate) struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsProfile")
            .field("keys", &self.keys.as_ref().map(|_| "<redacted>"))
            .field("region", &self.region)
            .finish()
    }
}

/// Keys a profile may use to get credentials other than static ones.
const INDIRECT: [&str; 5] = [
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
];

/// The profile the environment `var` names, or `None` when the environment
/// has an access key of its own, or names no profile and the files have no
/// `default` one.
pub(crate) fn read(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<AwsProfile>> {
    if var("AWS_ACCESS_KEY_ID").is_some() {
        return Ok(None);
    }
    let named = var("AWS_PROFILE").filter(|p| !p.is_empty());
    let name = named.clone().unwrap_or_else(|| "default".to_owned());
    let home = var("HOME").map(PathBuf::from);
    let file = |env: &str, default: &str| {
        var(env)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config = file("AWS_CONFIG_FILE", ".aws/config");
    let config_section = if name == "default" {
        "default".to_owned()
    } else {
        format!("profile {name}")
    };
    let from_credentials = section(credentials.as_deref(), &name)?;
    let from_config = section(config.as_deref(), &config_section)?;
    if from_credentials.is_none() && from_config.is_none() {
        if named.is_none() {
            return Ok(None);
        }
        let looked: Vec<String> = [credentials, config]
            .iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        return Err(profile_error(
            &name,
            format!("not found in {}", looked.join(" or ")),
        ));
    }
    let get = |key: &str| {
        [&from_credentials, &from_config]
            .into_iter()
            .flatten()
            .find_map(|s| s.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
            .filter(|v| !v.is_empty())
    };
    let keys = match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(access_key_id), Some(secret_access_key)) => Some(AwsKeys {
            access_key_id,
            secret_access_key,
            session_token: get("aws_session_token"),
        }),
        (Some(_), None) => {
            return Err(profile_error(
                &name,
                "has aws_access_key_id but no aws_secret_access_key".to_owned(),
            ));
        }
        (None, Some(_)) => {
            return Err(profile_error(
                &name,
                "has aws_secret_access_key but no aws_access_key_id".to_owned(),
            ));
        }
        (None, None) => {
            if let Some(indirect) = INDIRECT.iter().find(|k| get(k).is_some()) {
                return Err(profile_error(
                    &name,
                    format!(
                        "gets its credentials through `{indirect}`, which tokentally does not run: export them \
                         (`aws configure export-credentials --profile {name} --format env`) or give the job a role"
                    ),
                ));
            }
            None
        }
    };
    Ok(Some(AwsProfile {
        keys,
        region: get("region"),
    }))
}

fn profile_error(name: &str, reason: String) -> StoreError {
    StoreError::AwsProfile {
        profile: name.to_owned(),
        reason,
    }
}

/// The keys and values of section `name` of the file at `path`; `None` when
/// the file or the section is missing.
fn section(path: Option<&Path>, name: &str) -> Result<Option<Vec<(String, String)>>> {
    let Some(path) = path else { return Ok(None) };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::SecretFile {
                what: "the AWS shared files",
                path: path.to_owned(),
                source,
            });
        }
    };
    // As botocore reads them: values literal (no quotes or escapes taken
    // out), indented lines are a setting's sub-settings.
    let options = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: true,
        enabled_preserve_key_leading_whitespace: false,
    };
    let ini = Ini::load_from_str_opt(&text, options).map_err(|e| StoreError::AwsFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(ini.section(Some(name)).map(|props| {
        props
            .iter()
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Files {
        /// Holds the files until the test ends.
        _home: tempfile::TempDir,
        vars: HashMap<&'static str, String>,
    }

    impl Files {
        fn new(credentials: &str, config: &str) -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join(".aws")).expect("mkdir");
            std::fs::write(dir.path().join(".aws/credentials"), credentials).expect("write");
            std::fs::write(dir.path().join(".aws/config"), config).expect("write");
            let vars = HashMap::from([("HOME", dir.path().display().to_string())]);
            Self { _home: dir, vars }
        }

        fn with(mut self, var: &'static str, value: &str) -> Self {
            self.vars.insert(var, value.to_owned());
            self
        }

        fn read(&self) -> Result<Option<AwsProfile>> {
            read(&|k| self.vars.get(k).cloned())
        }

        /// The error reading the profile gives, as printed.
        fn error(&self) -> String {
            self.read().err().map(|e| e.to_string()).unwrap_or_default()
        }
    }

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = default/secret+key

[lake]
aws_access_key_id=AKIALAKE
aws_secret_access_key=lake-secret
aws_session_token = token==
";

    const CONFIG: &str = "\
[default]
region = eu-west-1

[profile lake]
region = us-east-2
s3 =
  addressing_style = path

[profile assumed]
role_arn = arn:aws:iam::123456789012:role/reader
source_profile = default

[profile region-only]
region = ap-south-1
";

    #[test]
    fn the_default_profile_and_a_named_one_give_keys_and_region() {
        let files = Files::new(CREDENTIALS, CONFIG);
        let default = files.read().expect("read").expect("profile");
        let keys = default.keys.as_ref().expect("keys");
        assert_eq!(keys.access_key_id, "AKIADEFAULT");
        assert_eq!(keys.secret_access_key, "default/secret+key");
        assert_eq!(default.region.as_deref(), Some("eu-west-1"));

        let lake = files
            .with("AWS_PROFILE", "lake")
            .read()
            .expect("read")
            .expect("profile");
        let keys = lake.keys.as_ref().expect("keys");
        assert_eq!(keys.access_key_id, "AKIALAKE");
        assert_eq!(keys.session_token.as_deref(), Some("token=="));
        assert_eq!(lake.region.as_deref(), Some("us-east-2"));
        assert!(
            !format!("{lake:?}").contains("lake-secret"),
            "Debug shows no secret"
        );
    }

    #[test]
    fn keys_in_the_environment_win() {
        let files = Files::new(CREDENTIALS, CONFIG).with("AWS_ACCESS_KEY_ID", "AKIAENV");
        assert_eq!(files.read().expect("read"), None);
    }

    #[test]
    fn a_named_profile_that_is_missing_is_an_error_naming_it_and_the_files() {
        let files = Files::new(CREDENTIALS, CONFIG).with("AWS_PROFILE", "nope");
        let error = files.error();
        assert!(
            error.contains("`nope`") && error.contains(".aws/credentials"),
            "{error}"
        );
        // No files and no named profile: nothing to read, no error.
        let empty = Files::new("", "");
        assert_eq!(empty.read().expect("read"), None);
    }

    #[test]
    fn a_profile_that_assumes_a_role_is_an_error_not_another_identity() {
        let files = Files::new(CREDENTIALS, CONFIG).with("AWS_PROFILE", "assumed");
        let error = files.error();
        assert!(
            error.contains("role_arn") && error.contains("export-credentials"),
            "{error}"
        );
        let region_only = Files::new(CREDENTIALS, CONFIG).with("AWS_PROFILE", "region-only");
        let profile = region_only.read().expect("read").expect("profile");
        assert_eq!(
            (profile.keys.is_none(), profile.region.as_deref()),
            (true, Some("ap-south-1"))
        );
    }

    #[test]
    fn half_a_key_pair_is_an_error_and_never_shows_the_secret() {
        let files = Files::new("[default]\naws_secret_access_key = s3cr3t\n", "");
        let error = files.error();
        assert!(
            error.contains("no aws_access_key_id") && !error.contains("s3cr3t"),
            "{error}"
        );
        let other = Files::new("", "").with("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds");
        assert_eq!(other.read().expect("read"), None);
    }
}
