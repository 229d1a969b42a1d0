//! `schema.graphql` at the root is the exported SDL.

#[test]
fn schema_file_matches_the_code() {
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        file == flowgate::schema::sdl(),
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql`"
    );
}

/// Every type, field, argument, input field and enum value carries a description (the
/// generated connection and edge types included): the schema is what codegen users and IDEs read.
#[tokio::test]
async fn everything_in_the_schema_has_a_description() {
    let query = r#"{ __schema { types {
        name description
        fields(includeDeprecated: true) { name description args { name description } }
        inputFields { name description }
        enumValues(includeDeprecated: true) { name description }
    } } }"#;
    let res = flowgate::schema::build().execute(query).await;
    assert!(res.errors.is_empty(), "{:?}", res.errors);
    let json = res.data.into_json().unwrap();
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    let described = |v: &serde_json::Value| {
        v["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    let list = |v: &serde_json::Value, key: &str| v[key].as_array().cloned().unwrap_or_default();
    let mut missing = Vec::new();
    for t in list(&json["__schema"], "types") {
        let name = t["name"].as_str().unwrap().to_string();
        if name.starts_with("__") || builtin.contains(&name.as_str()) {
            continue;
        }
        if !described(&t) {
            missing.push(name.clone());
        }
        for f in list(&t, "fields") {
            let field = format!("{name}.{}", f["name"].as_str().unwrap());
            if !described(&f) {
                missing.push(field.clone());
            }
            for a in list(&f, "args").iter().filter(|a| !described(a)) {
                missing.push(format!("{field}({})", a["name"].as_str().unwrap()));
            }
        }
        for f in list(&t, "inputFields")
            .iter()
            .chain(list(&t, "enumValues").iter())
        {
            if !described(f) {
                missing.push(format!("{name}.{}", f["name"].as_str().unwrap()));
            }
        }
    }
    assert!(missing.is_empty(), "no description: {}", missing.join(", "));
}
