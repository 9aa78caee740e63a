//! Windows strong certificate mapping (KB5014754): the registry keeps a subject's SID, and a
//! profile with `windows_sid` set puts it into the subject's certificates.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

const SID: &str = "S-1-5-21-3623811015-3361044348-30300820-1013";

#[tokio::test]
async fn the_registry_keeps_a_strictly_parsed_sid_per_subject() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let (st, dev) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "mdm-1", "name": "laptop-1", "windows_sid": SID})),
        )
        .await;
    assert_eq!(st, 201, "{dev}");
    let id = dev["subject"]["id"].as_str().unwrap().to_owned();
    let (_, got) = s
        .api(Method::GET, &format!("/api/v1/subjects/{id}"), &admin, None)
        .await;
    assert_eq!(got["windows_sid"], SID, "{got}");

    // An update changes it; leaving it out clears it, like every other field.
    let other = "S-1-5-21-1-2-3-1104";
    let (st, upd) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "mdm-1", "name": "laptop-1", "windows_sid": other})),
        )
        .await;
    assert_eq!(
        (st, upd["result"].as_str()),
        (200, Some("updated")),
        "{upd}"
    );
    assert_eq!(upd["subject"]["windows_sid"], other);
    let (_, upd) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "mdm-1", "name": "laptop-1"})),
        )
        .await;
    assert_eq!(upd["result"], "updated");
    assert!(upd["subject"].get("windows_sid").is_none(), "{upd}");

    // A person takes one too; a malformed SID is a 400 problem and registers nothing.
    let (st, p) = s
        .api(
            Method::POST,
            "/api/v1/people",
            &admin,
            Some(json!({"external_id": "hr-1", "email": "ann@corp.example",
                        "display_name": "Ann", "windows_sid": other})),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    assert_eq!(p["subject"]["windows_sid"], other);
    for bad in ["S-1-5", "S-1-5-21-4294967296", "S-1-5-021-1", "s-1-5-21-1"] {
        let (st, prob) = s
            .api(
                Method::POST,
                "/api/v1/people",
                &admin,
                Some(json!({"external_id": "hr-2", "email": "bob@corp.example",
                            "display_name": "Bob", "windows_sid": bad})),
            )
            .await;
        assert_eq!(st, 400, "{bad}: {prob}");
        assert!(
            prob["detail"].as_str().unwrap().contains("windows_sid"),
            "{prob}"
        );
    }
    let (_, list) = s
        .api(Method::GET, "/api/v1/subjects?kind=person", &admin, None)
        .await;
    assert_eq!(list["subjects"].as_array().unwrap().len(), 1, "{list}");

    // CSV import maps the column.
    let r = s
        .client()
        .post(s.url("/api/v1/subjects/bulk"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(format!(
            "kind,external_id,name,windows_sid\ndevice,mdm-2,kiosk-2,{SID}\ndevice,mdm-3,kiosk-3,S-1-5\n"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bulk: serde_json::Value = r.json().await.unwrap();
    assert_eq!(bulk["errors"], 1, "{bulk}");
    let id = bulk["results"][0]["id"].as_str().unwrap().to_owned();
    let (_, got) = s
        .api(Method::GET, &format!("/api/v1/subjects/{id}"), &admin, None)
        .await;
    assert_eq!(got["windows_sid"], SID, "{got}");
}
