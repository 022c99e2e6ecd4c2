//! The AWS SAM template of the reference deployment (`itops-lambda/deploy/template.yaml`):
//! the real linters accept it (cfn-lint, and the SAM CLI's `sam validate` with and without
//! `--lint`, offline: dummy credentials, a region, and an AWS endpoint that refuses
//! connections), and it fits the rest of the project (every placeholder of the generated
//! state machine is substituted, every function names a binary of this package, the table
//! is the one `itops_aws::DynamoDbTable::create` makes, timeouts agree with the state
//! machine's).
//!
//! `scripts/setup-test-deps` installs cfn-lint (.venv) and the SAM CLI (.tools/sam); without
//! them these tests say so and skip, unless `ITOPS_REQUIRE_REAL_CLIENTS` is set (as
//! `scripts/test` does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{root, tool};

mod support;

fn template_path() -> PathBuf {
    root().join("itops-lambda/deploy/template.yaml")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A copy of the template with one edit, next to a copy of the state machine it references.
fn broken_copy(dir: &Path, from: &str, to: &str) -> PathBuf {
    let original = std::fs::read_to_string(template_path()).unwrap();
    assert!(
        original.contains(from),
        "the template no longer has {from:?}"
    );
    std::fs::copy(
        root().join("itops-lambda/deploy/statemachine.asl.json"),
        dir.join("statemachine.asl.json"),
    )
    .unwrap();
    let file = dir.join("template.yaml");
    std::fs::write(&file, original.replacen(from, to, 1)).unwrap();
    file
}

fn cfn_lint(cfn_lint: &Path, template: &Path) -> Output {
    Command::new(cfn_lint)
        .arg("--format")
        .arg("parseable")
        .arg(template)
        .output()
        .unwrap()
}

#[test]
fn cfn_lint_accepts_the_template() {
    let Some(cfn_lint_bin) = tool(".venv/bin/cfn-lint") else {
        return;
    };
    let out = cfn_lint(&cfn_lint_bin, &template_path());
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "cfn-lint found problems in deploy/template.yaml:\n{}",
        text(&out)
    );
    // And it refuses a broken one, so the check means something.
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_copy(
        dir.path(),
        "StreamViewType: NEW_AND_OLD_IMAGES",
        "StreamViewType: EVERYTHING",
    );
    let out = cfn_lint(&cfn_lint_bin, &broken);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stdout).contains("EVERYTHING"),
        "cfn-lint accepted an invalid stream view type: {}",
        text(&out)
    );
}

/// `sam validate` in a child whose AWS settings are dummies: no account, no profile, and an
/// endpoint that refuses connections, so nothing can reach AWS.
fn sam_validate(sam: &Path, template: &Path, lint: bool) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(sam);
    cmd.arg("validate")
        .arg("--region")
        .arg("us-east-1")
        .arg("--template")
        .arg(template);
    if lint {
        cmd.arg("--lint");
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("SAM_CLI_TELEMETRY", "0")
        .env("SAM_CLI_POLL_DELAY", "0");
    cmd.output().unwrap()
}

#[test]
fn sam_validate_accepts_the_template_offline() {
    let Some(sam) = tool(".tools/sam/bin/sam") else {
        return;
    };
    // The SAM translation (what CloudFormation's transform will do) and the SAM CLI's lint.
    for lint in [false, true] {
        let out = sam_validate(&sam, &template_path(), lint);
        let said = text(&out);
        assert!(
            out.status.success() && said.contains("is a valid SAM Template"),
            "sam validate{} refused deploy/template.yaml:\n{said}",
            if lint { " --lint" } else { "" }
        );
    }
    // And the translation refuses a broken one.
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_copy(
        dir.path(),
        "DefaultAuthorizer: ItopsAuthorizer",
        "DefaultAuthorizer: Missing",
    );
    let out = sam_validate(&sam, &broken, false);
    assert!(
        !out.status.success() && text(&out).contains("Missing"),
        "sam validate accepted an undefined default authorizer: {}",
        text(&out)
    );
}

/// The template as JSON, read by PyYAML from .venv with CloudFormation's short tags
/// (`!Ref x` becomes `{"Ref": x}`, `!Sub s` becomes `{"Fn::Sub": s}`).
fn template_json() -> Option<Value> {
    let python = tool(".venv/bin/python")?;
    let script = r#"
import json, sys, yaml
class Loader(yaml.SafeLoader):
    pass
def tagged(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}
Loader.add_multi_constructor("!", tagged)
with open(sys.argv[1]) as f:
    json.dump(yaml.load(f, Loader=Loader), sys.stdout)
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(template_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cannot read the template: {}",
        text(&out)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().unwrap()
}

fn functions(t: &Value) -> BTreeMap<String, Value> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn asl() -> Value {
    let text =
        std::fs::read_to_string(root().join("itops-lambda/deploy/statemachine.asl.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The `${Name}` placeholders of the state machine definition.
fn asl_placeholders() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(root().join("itops-lambda/deploy/statemachine.asl.json")).unwrap();
    let mut found = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap();
        found.insert(after[..end].to_string());
        rest = &after[end..];
    }
    found
}

/// The `[[bin]]` names of itops-lambda/Cargo.toml, read as text.
fn cargo_bins() -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(root().join("itops-lambda/Cargo.toml")).unwrap();
    let mut bins = BTreeSet::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin {
            if let Some(value) = line.strip_prefix("name") {
                let value = value.trim_start().trim_start_matches('=').trim();
                bins.insert(value.trim_matches('"').to_string());
            }
        }
    }
    bins
}

#[test]
fn every_state_machine_placeholder_is_substituted_with_a_function_it_may_invoke() {
    let Some(t) = template_json() else {
        return;
    };
    let machine = &t["Resources"]["StateMachine"]["Properties"];
    assert_eq!(machine["DefinitionUri"], "statemachine.asl.json");
    let substitutions = machine["DefinitionSubstitutions"].as_object().unwrap();
    let placeholders = asl_placeholders();
    assert!(!placeholders.is_empty());
    let substituted: BTreeSet<String> = substitutions.keys().cloned().collect();
    assert_eq!(
        placeholders, substituted,
        "the state machine's placeholders and the template's DefinitionSubstitutions differ"
    );
    let functions = functions(&t);
    let mut invoked = BTreeSet::new();
    for (name, value) in substitutions {
        // `XFunctionArn` is the ARN of the function resource `XFunction`.
        let resource = name.strip_suffix("Arn").unwrap();
        assert!(
            functions.contains_key(resource),
            "{name}: no function {resource}"
        );
        assert_eq!(
            value["Fn::GetAtt"],
            serde_json::json!([resource, "Arn"]),
            "{name}"
        );
        invoked.insert(resource.to_string());
    }
    // The state machine may invoke exactly those functions.
    let policies = machine["Policies"].as_array().unwrap();
    let invoke = policies
        .iter()
        .filter_map(|p| p["Statement"].as_array())
        .flatten()
        .find(|s| s["Action"] == "lambda:InvokeFunction")
        .expect("a lambda:InvokeFunction statement");
    let allowed: BTreeSet<String> = invoke["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Fn::GetAtt"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(allowed, invoked);
}

#[test]
fn every_function_is_a_binary_of_this_package_built_by_cargo_lambda() {
    let Some(t) = template_json() else {
        return;
    };
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["CodeUri"], "..");
    let bins = cargo_bins();
    let mut missing = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, function) in functions(&t) {
        let metadata = &function["Metadata"];
        assert_eq!(metadata["BuildMethod"], "rust-cargolambda", "{name}");
        let binary = metadata["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no BuildProperties.Binary"));
        assert!(seen.insert(binary.to_string()), "{binary} is used twice");
        if !bins.contains(binary) {
            missing.push(format!("{name} -> {binary}"));
        }
    }
    assert!(
        missing.is_empty(),
        "functions whose binary is not a [[bin]] of itops-lambda/Cargo.toml: {missing:?} \
         (the package has {bins:?})"
    );
}

#[test]
fn the_table_is_the_one_the_dynamodb_adapter_creates() {
    let Some(t) = template_json() else {
        return;
    };
    let table = &t["Resources"]["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    let key = |schema: &Value| -> Vec<(String, String)> {
        schema
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_string(),
                    k["KeyType"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pair = |a: &str, b: &str| {
        vec![
            (a.to_string(), "HASH".to_string()),
            (b.to_string(), "RANGE".to_string()),
        ]
    };
    assert_eq!(key(&p["KeySchema"]), pair("pk", "sk"));
    let indexes = p["GlobalSecondaryIndexes"].as_array().unwrap();
    assert_eq!(indexes.len(), 2);
    for (index, (name, hash, range)) in indexes
        .iter()
        .zip([("gsi1", "gsi1pk", "gsi1sk"), ("gsi2", "gsi2pk", "gsi2sk")])
    {
        assert_eq!(index["IndexName"], name);
        assert_eq!(key(&index["KeySchema"]), pair(hash, range));
        assert_eq!(index["Projection"]["ProjectionType"], "ALL", "{name}");
    }
    let attributes: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap().to_string(),
                a["AttributeType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]
        .iter()
        .map(|a| (a.to_string(), "S".to_string()))
        .collect();
    assert_eq!(attributes, expected);
    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], "ttl");
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        p["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
}

#[test]
fn timeouts_logs_and_alarms_cover_every_function() {
    let Some(t) = template_json() else {
        return;
    };
    let all = resources(&t);
    let global_timeout = t["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    let timeout_of = |function: &Value| {
        function["Properties"]["Timeout"]
            .as_u64()
            .unwrap_or(global_timeout)
    };
    // A step's function gives up no later than the state machine's task timeout.
    let asl = asl();
    for (state_name, state) in asl["States"].as_object().unwrap() {
        let Some(function_arn) = state["Parameters"]["FunctionName"].as_str() else {
            continue;
        };
        let resource = function_arn
            .trim_start_matches("${")
            .trim_end_matches('}')
            .strip_suffix("Arn")
            .unwrap();
        let function = &all[resource];
        let waits_for_token = state["Resource"]
            .as_str()
            .unwrap()
            .ends_with(".waitForTaskToken");
        if let Some(task_timeout) = state["TimeoutSeconds"].as_u64() {
            if waits_for_token {
                // The approval's expiry is the wait's timeout.
                let ttl =
                    &function["Properties"]["Environment"]["Variables"]["ITOPS_APPROVAL_TTL_SECS"];
                assert_eq!(
                    ttl.as_str(),
                    Some(task_timeout.to_string().as_str()),
                    "{resource}"
                );
            } else {
                assert!(
                    timeout_of(function) <= task_timeout,
                    "{resource} may run longer than {state_name}'s {task_timeout} s"
                );
            }
        }
    }
    // Every function logs to its own group with a retention, and has its alarms.
    for (name, function) in functions(&t) {
        let group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no LoggingConfig.LogGroup"));
        assert_eq!(all[group]["Type"], "AWS::Logs::LogGroup", "{name}");
        assert_eq!(
            all[group]["Properties"]["RetentionInDays"]["Ref"], "LogRetentionDays",
            "{name}"
        );
        let alarms: Vec<&str> = all
            .values()
            .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
            .filter(|r| r["Properties"]["Dimensions"][0]["Value"]["Ref"] == name.as_str())
            .map(|r| r["Properties"]["MetricName"].as_str().unwrap())
            .collect();
        for metric in ["Errors", "Duration"] {
            assert!(alarms.contains(&metric), "{name} has no {metric} alarm");
        }
        let duration_alarm = all
            .values()
            .find(|r| {
                r["Type"] == "AWS::CloudWatch::Alarm"
                    && r["Properties"]["MetricName"] == "Duration"
                    && r["Properties"]["Dimensions"][0]["Value"]["Ref"] == name.as_str()
            })
            .unwrap();
        let threshold = duration_alarm["Properties"]["Threshold"].as_f64().unwrap();
        let timeout_ms = (timeout_of(&function) * 1000) as f64;
        assert!(
            threshold < timeout_ms && threshold >= timeout_ms / 2.0,
            "{name}: a duration alarm at {threshold} ms does not warn near the {timeout_ms} ms timeout"
        );
    }
}

#[test]
fn the_api_is_closed_behind_the_authorizer() {
    let Some(t) = template_json() else {
        return;
    };
    let api = &t["Resources"]["HttpApi"]["Properties"];
    let auth = &api["Auth"];
    let default = auth["DefaultAuthorizer"].as_str().unwrap();
    let authorizer = &auth["Authorizers"][default];
    assert_eq!(
        authorizer["FunctionArn"]["Fn::GetAtt"],
        serde_json::json!(["AuthorizerFunction", "Arn"])
    );
    assert_eq!(authorizer["AuthorizerPayloadFormatVersion"], "2.0");
    assert_eq!(authorizer["EnableSimpleResponses"], true);
    // No identity source (every request reaches the authorizer) and no caching.
    assert!(authorizer["Identity"]["Headers"].is_null());
    assert_eq!(authorizer["Identity"]["ReauthorizeEvery"], 0);
    // No route opts out of the default authorizer.
    for (name, function) in functions(&t) {
        let Some(events) = function["Properties"]["Events"].as_object() else {
            continue;
        };
        for (event, e) in events {
            if e["Type"] == "HttpApi" {
                assert!(
                    e["Properties"]["Auth"].is_null(),
                    "{name}.{event} overrides the authorizer"
                );
            }
        }
    }
    // CORS, when configured, names an origin: never `*`.
    let text = std::fs::read_to_string(template_path()).unwrap();
    assert!(!text.contains("AllowOrigins: ['*']") && !text.contains("AllowOrigins: [\"*\"]"));
    assert!(!text.contains("AllowOrigins: '*'"));
}
