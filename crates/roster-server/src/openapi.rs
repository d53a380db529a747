//! The OpenAPI document of the API, served at `/api/openapi.json`. Its
//! paths come from the handlers' own annotations (`imports.rs`), so the
//! document and the routes cannot drift apart.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

/// The document before the routes add their paths.
pub(crate) fn document() -> OpenApi {
    let mut document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("roster")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Bulk user import for hosted-PBX accounts. Every request acts for the \
                     account of its API token (`Authorization: Bearer TOKEN`).",
                ))
                .build(),
        )
        .build();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "token",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    document
}
