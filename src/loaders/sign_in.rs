//! The calls made before a caller has a credential: getting one.

use crate::upstream::appmixer::model::SignIn;
use crate::upstream::appmixer::AppmixerClient;
use crate::upstream::appypie::AppyPieClient;
use crate::upstream::UpstreamError;

#[derive(Clone)]
pub struct SignIns {
    appypie: AppyPieClient,
    appmixer: AppmixerClient,
}

impl SignIns {
    pub fn new(appypie: AppyPieClient, appmixer: AppmixerClient) -> Self {
        SignIns { appypie, appmixer }
    }

    /// Appy Pie: a token key and secret key exchanged for an access token.
    pub async fn appypie_access_token(
        &self,
        token_key: &str,
        secret_key: &str,
    ) -> Result<String, UpstreamError> {
        let token = self
            .appypie
            .create_access_token(token_key, secret_key)
            .await?;
        Ok(token.expose().to_string())
    }

    /// Appmixer: a username (or email) and password exchanged for a token and the user.
    pub async fn appmixer(&self, username: &str, password: &str) -> Result<SignIn, UpstreamError> {
        self.appmixer.sign_in(username, password).await
    }

    /// Appmixer: a new user; its token.
    pub async fn appmixer_user(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<String, UpstreamError> {
        self.appmixer.create_user(username, email, password).await
    }
}
