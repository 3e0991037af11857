//! The admin API under `/v1/admin/`: list the rules and plans in effect,
//! change plans, users' plans and rule limits (`policy.rs`; made durable
//! before they are acknowledged, `commit.rs`), inspect and reset buckets
//! (`buckets.rs`), list the most refused keys (`limited.rs`), and manage
//! the gateway's API keys (`api_keys.rs`). Every call needs the admin
//! bearer token (`access.rs`).

use actix_web::{web, HttpResponse};

mod access;
mod api_keys;
mod buckets;
mod commit;
mod limited;
mod policy;
pub mod rules_view;

use crate::http_api::wire::error::ApiError;
pub use access::{Admin, Authorized};
use policy::{
    delete_plan, delete_rule_limit, delete_user_plan, get_user_plan, list_plans, list_rules,
    put_plan, put_rule_limit, put_user_plan,
};

/// Registers the admin routes under `/v1/admin`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str, allow: &'static str| {
        web::resource(path).default_service(web::to(move |_: Authorized| async move {
            Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
                route: "this admin route",
                allow,
            })
        }))
    };
    let [keys, key] = api_keys::routes(resource);
    cfg.service(
        web::scope("/v1/admin")
            .service(resource("/rules", "GET").route(web::get().to(list_rules)))
            .service(resource("/plans", "GET").route(web::get().to(list_plans)))
            .service(
                resource("/plans/{name}", "PUT, DELETE")
                    .route(web::put().to(put_plan))
                    .route(web::delete().to(delete_plan)),
            )
            .service(
                resource("/users/{user}/plan", "GET, PUT, DELETE")
                    .route(web::get().to(get_user_plan))
                    .route(web::put().to(put_user_plan))
                    .route(web::delete().to(delete_user_plan)),
            )
            .service(
                resource("/rules/{name}/limit", "PUT, DELETE")
                    .route(web::put().to(put_rule_limit))
                    .route(web::delete().to(delete_rule_limit)),
            )
            .service(
                resource("/buckets/{key:.*}", "GET, DELETE")
                    .route(web::get().to(buckets::get_bucket))
                    .route(web::delete().to(buckets::reset_bucket)),
            )
            .service(
                resource("/users/{user}/reset", "POST").route(web::post().to(buckets::reset_user)),
            )
            .service(resource("/limited", "GET").route(web::get().to(limited::limited)))
            .service(keys)
            .service(key)
            .default_service(web::to(|_: Authorized| async {
                Err::<HttpResponse, _>(ApiError::NoSuchAdminRoute)
            })),
    );
}
