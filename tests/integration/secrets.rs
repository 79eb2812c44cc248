//! The secrets corpus (`fixtures/secrets/corpus.tsv`, over a hundred secret shapes) and its
//! false-positive twin (`fixtures/secrets/benign.tsv`) pushed through every outbound surface of
//! the built server: a review of a real repository (tracked changes and untracked files), the
//! dry run, a consult's question and context, a delegate whose shell copies secret-bearing lines
//! into the returned diff, the model's own answer, and failure paths (codex's stderr and a
//! `turn.failed` message). No secret value may appear in the mock model's request log nor in any
//! envelope; every benign line must reach the model byte for byte. The first test runs the corpus
//! through the redactor alone, so a regression names the exact case before any process starts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use codex_in_claude::foundation::redact;
use serde_json::json;

use crate::codex_home::CodexHome;
use crate::consult::paid_server;
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::support::{Server, envelope, fake_codex_dir, path_with};

/// One secret shape: where it lives, the text as it appears there, the values that must not leak.
#[derive(Debug, Clone)]
struct Case {
    path: String,
    text: String,
    secrets: Vec<String>,
}

/// `\n`, `\t` and `\\` escapes of the fixture files.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            other => panic!("bad escape \\{other:?} in {field:?}"),
        }
    }
    out
}

fn rows(file: &str) -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/secrets").join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').map(unescape).collect())
        .collect()
}

fn corpus() -> Vec<Case> {
    let mut cases: Vec<Case> = rows("corpus.tsv")
        .into_iter()
        .map(|row| {
            assert!(row.len() >= 3, "a corpus row needs path, text and a secret: {row:?}");
            let case = Case { path: row[0].clone(), text: row[1].clone(), secrets: row[2..].to_vec() };
            for secret in &case.secrets {
                assert!(case.text.contains(secret.as_str()), "{}: secret not in its own text", case.path);
            }
            case
        })
        .collect();
    cases.extend(generated());
    for case in &cases {
        for secret in &case.secrets {
            assert!(case.text.contains(secret.as_str()), "{}: secret not in its own text", case.path);
        }
    }
    cases
}

/// (path, text) of every benign case.
fn benign() -> Vec<(String, String)> {
    let mut lines: Vec<(String, String)> = rows("benign.tsv")
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 2, "a benign row is path and text: {row:?}");
            (row[0].clone(), row[1].clone())
        })
        .collect();
    lines.extend(generated_benign());
    lines
}

/// Fake key and token material, generated here rather than committed (a committed literal of a
/// provider's exact format is what secret scanners flag): `len` characters of `alphabet`,
/// deterministic from `seed`.
fn fake(alphabet: &str, len: usize, seed: u64) -> String {
    let alphabet = alphabet.as_bytes();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[(state % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

const HEX: &str = "0123456789abcdef";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn case(path: &str, text: String, secrets: &[&str]) -> Case {
    Case { path: path.to_string(), text, secrets: secrets.iter().map(|s| s.to_string()).collect() }
}

/// Lines of base64 as a key writer wraps them: `lines` of `width`, then a short last one.
fn key_lines(lines: usize, width: usize, seed: u64) -> Vec<String> {
    let mut body: Vec<String> = (0..lines).map(|k| fake(BASE64, width, seed * 100 + k as u64)).collect();
    body.push(format!("{}=", fake(BASE64, 31, seed * 100 + 99)));
    body
}

/// Issue 26's classes: provider tokens under neutral keys and in prose (each provider's
/// documented prefix, alphabet and length), `Authorization` schemes, signed URLs, docker and
/// kubeconfig fields, a `\u`-escaped label, JWK private members, SSH2, PuTTY and age keys, a
/// key's body lines with no marker in view, and files withheld by name.
fn generated() -> Vec<Case> {
    let formats: &[(&str, &str, usize)] = &[
        ("shpat_", HEX, 32),
        ("shpss_", HEX, 32),
        ("shpca_", HEX, 32),
        ("ATATT3xFfGF0", B64URL, 180),
        ("dop_v1_", HEX, 64),
        ("doo_v1_", HEX, 64),
        ("glc_", BASE64, 60),
        ("hvs.", B64URL, 91),
        ("hvb.", B64URL, 140),
        ("ya29.a0", B64URL, 60),
        ("sk_live_", ALNUM, 24),
        ("rk_live_", ALNUM, 24),
        ("SK", HEX, 32),
        ("key-", HEX, 32),
        ("HRKU-AA", B64URL, 58),
        ("lin_api_", ALNUM, 40),
        ("dp.pt.", ALNUM, 43),
        ("dapi", HEX, 32),
        ("pscale_tkn_", B64URL, 43),
        ("sbp_", HEX, 40),
        ("pul-", HEX, 40),
        ("sntryu_", HEX, 64),
        ("glrt-", B64URL, 20),
        ("dckr_pat_", B64URL, 27),
        ("sk-or-v1-", HEX, 64),
        ("rubygems_", HEX, 48),
        ("LTAI", ALNUM, 20),
    ];
    let mut cases = Vec::new();
    for (k, (prefix, alphabet, len)) in formats.iter().enumerate() {
        let token = format!("{prefix}{}", fake(alphabet, *len, 1000 + k as u64));
        let text = if k % 2 == 0 { format!("Rotate {token} before Friday.") } else { format!("  upstream: {token}") };
        cases.push(case(if k % 2 == 0 { "docs/rotation.md" } else { "config/upstreams.yaml" }, text, &[&token]));
    }
    let glsa = format!("glsa_{}_{}", fake(ALNUM, 32, 2001), fake(HEX, 8, 2002));
    let postman = format!("PMAK-{}-{}", fake(HEX, 24, 2003), fake(HEX, 34, 2004));
    let telegram = format!("{}:AA{}", 100_000_000 + 2005, fake(B64URL, 33, 2005));
    let slack =
        format!("xoxb-{}-{}-{}", fake("0123456789", 12, 2006), fake("0123456789", 13, 2007), fake(ALNUM, 24, 2008));
    cases.push(case("docs/rotation.md", format!("grafana: {glsa}, postman: {postman}"), &[&glsa, &postman]));
    cases.push(case(
        "bots/notify.py",
        format!("requests.get(f\"https://api.telegram.org/bot{telegram}/getMe\")"),
        &[&telegram],
    ));
    cases.push(case("bots/notify.py", format!("# slack {slack}"), &[&slack]));

    let hex40 = fake(HEX, 40, 3001);
    let token = fake(B64URL, 40, 3002);
    let response = fake(HEX, 32, 3003);
    let signature = fake(HEX, 64, 3004);
    cases.push(case(
        "scripts/api.sh",
        format!("curl -H \"Authorization: token {hex40}\" https://api.github.com/user"),
        &[&hex40],
    ));
    cases.push(case(
        "scripts/api.sh",
        format!("curl -H 'Authorization: Token {token}' https://api.example.com/"),
        &[&token],
    ));
    cases.push(case(
        "docs/http.md",
        format!(
            "Authorization: Digest username=\"admin\", realm=\"x\", nonce=\"dcd98b7102dd2f0e\", response=\"{response}\""
        ),
        &[&response],
    ));
    cases.push(case(
        "docs/http.md",
        format!("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"),
        &[&signature],
    ));
    let sas = format!("{}%2B{}%3D", fake(ALNUM, 20, 3005), fake(ALNUM, 22, 3006));
    let amz = fake(HEX, 64, 3007);
    let goog = fake(HEX, 64, 3008);
    let short_token = fake(ALNUM, 12, 3009);
    cases.push(case(
        "docs/links.md",
        format!("https://acct.blob.core.windows.net/c/report.pdf?sv=2022-11-02&sr=b&sp=r&sig={sas}"),
        &[&sas],
    ));
    cases.push(case(
        "docs/links.md",
        format!("https://b.s3.amazonaws.com/k?X-Amz-Expires=60&X-Amz-Signature={amz}&x=1"),
        &[&amz],
    ));
    cases.push(case("docs/links.md", format!("https://storage.googleapis.com/b/o?X-Goog-Signature={goog}"), &[&goog]));
    cases.push(case(
        "docs/links.md",
        format!("wss://stream.example.com/live?token={short_token}&v=2"),
        &[&short_token],
    ));

    let auth = fake(BASE64, 40, 4001);
    let identity = fake(B64URL, 60, 4002);
    let registry = fake(B64URL, 60, 4003);
    cases.push(case(
        "ci/registry-auth.json",
        format!("{{\"auths\": {{\"ghcr.io\": {{\"auth\": \"{auth}\", \"identitytoken\": \"{identity}\", \"registrytoken\": \"{registry}\"}}}}}}"),
        &[&auth, &identity, &registry],
    ));
    let key_data = format!("LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo{}", fake(BASE64, 300, 4004));
    let kube_token = fake(ALNUM, 48, 4005);
    cases.push(case(
        "deploy/cluster.yaml",
        format!("    client-key-data: {key_data}\n    token: {kube_token}"),
        &[&key_data, &kube_token],
    ));
    let password = fake(ALNUM, 14, 4006);
    cases.push(case(
        "web/fixtures/login.json",
        format!("{{\"user\": \"admin\", \"\\u0070assword\": \"{password}\"}}"),
        &[&password],
    ));

    let (d, p, q) = (fake(B64URL, 43, 5001), fake(B64URL, 86, 5002), fake(B64URL, 86, 5003));
    let (dp, dq, qi) = (fake(B64URL, 86, 5004), fake(B64URL, 86, 5005), fake(B64URL, 86, 5006));
    let oct = fake(B64URL, 43, 5007);
    cases.push(case(
        "keys/jwks.json",
        format!("{{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\", \"d\": \"{d}\"}}"),
        &[&d],
    ));
    cases.push(case(
        "keys/jwks.json",
        format!("{{\"e\": \"AQAB\", \"p\": \"{p}\", \"q\": \"{q}\", \"dp\": \"{dp}\", \"dq\": \"{dq}\", \"qi\": \"{qi}\", \"kty\": \"RSA\"}}"),
        &[&p, &q, &dp, &dq, &qi],
    ));
    cases.push(case("keys/jwks.json", format!("{{\"kty\":\"oct\",\"k\":\"{oct}\"}}"), &[&oct]));

    let ssh2 = key_lines(3, 70, 6001);
    let putty = fake(BASE64, 44, 6002);
    let age = format!("AGE-SECRET-KEY-1{}", fake("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58, 6003));
    let loose = key_lines(3, 70, 6004);
    cases.push(case(
        "docs/ssh2.txt",
        format!("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"rsa-key-20240101\"\n{}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----", ssh2.join("\n")),
        &ssh2.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    cases.push(case(
        "docs/putty.txt",
        format!("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 1\nAAAAC3NzaC1lZDI1NTE5AAAAIFAKEpublicPART\nPrivate-Lines: 1\n{putty}\nPrivate-MAC: {}", fake(HEX, 64, 6005)),
        &[&putty],
    ));
    cases.push(case("ops/age-keys.txt", format!("# public key: age1qqqqfake\n{age}"), &[&age]));
    cases.push(case(
        "notes/pasted.txt",
        format!("the middle of a key, pasted:\n{}", loose[..3].join("\n")),
        &loose[..3].iter().map(String::as_str).collect::<Vec<_>>(),
    ));

    // Withheld by name.
    let db_pw = fake(ALNUM, 16, 7001);
    cases.push(case(
        "kubeconfig",
        format!("users:\n- name: admin\n  user:\n    token: {}", fake(ALNUM, 40, 7002)),
        &[],
    ));
    cases.push(case("ops/.kube/config", format!("    client-key-data: {}", fake(BASE64, 80, 7003)), &[]));
    cases.push(case("keys/deploy.ppk", format!("Private-Lines: 1\n{}", fake(BASE64, 44, 7004)), &[]));
    cases.push(case("infra/terraform.tfvars", format!("db_admin_pw = \"{db_pw}\""), &[&db_pw]));
    cases.push(case("infra/prod.auto.tfvars", format!("api_secret = \"{}\"", fake(ALNUM, 24, 7005)), &[]));
    cases.push(case(
        "home/.docker/config.json",
        format!("{{\"auths\": {{\"r\": {{\"auth\": \"{}\"}}}}}}", fake(BASE64, 20, 7006)),
        &[],
    ));
    // Withheld files name no secret of their own (their text carries no guarantee): each still
    // gets its own line checked below as never sent.
    for case in cases.iter_mut().filter(|case| case.secrets.is_empty()) {
        let value = case.text.rsplit([' ', '"', '\n']).find(|part| part.len() >= 16).unwrap().to_string();
        case.secrets.push(value);
    }
    cases
}

/// Near misses of the generated classes that must reach the model untouched.
fn generated_benign() -> Vec<(String, String)> {
    let commit = fake(HEX, 40, 8001);
    let cert: Vec<String> = (0..3).map(|k| fake(BASE64, 64, 8002 + k)).collect();
    [
        "shpat_test and shpss_ are Shopify's token prefixes".to_string(),
        "Lorem ipsum dolor, dapibus nec, dapi lectus.".to_string(),
        "skip SKU SKELETON SK-1234".to_string(),
        "a key-value store; key-0123 is short".to_string(),
        "hvs.example and hvb. tokens expire; ya29.x is Google's".to_string(),
        "lin_api_docs, dp.pt.short, pul-request, sbp_1234, glsa_docs".to_string(),
        "AGE-SECRET-KEY-1 starts an age identity".to_string(),
        format!("commit {commit}"),
        "order 12345678: AAPL at 10:30:00".to_string(),
        "curl 'https://example.com/api?page_token=abc123def456&sig=&token=${TOKEN}'".to_string(),
        "Authorization: Bearer ${token}".to_string(),
        format!("      integrity: sha512-{}==", fake(BASE64, 86, 8010)),
        format!("background: url(data:image/png;base64,{});", fake(BASE64, 300, 8011)),
        format!("{{\"kty\": \"RSA\", \"e\": \"AQAB\", \"n\": \"{}\", \"use\": \"sig\"}}", fake(B64URL, 342, 8012)),
        format!("    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk{}", fake(BASE64, 120, 8013)),
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----", cert.join("\n")),
    ]
    .into_iter()
    .map(|line| ("docs/b/near-misses.md".to_string(), line))
    .collect()
}

/// Cases whose file is withheld whole by its name: their text alone carries no guarantee.
fn inline(cases: &[Case]) -> Vec<Case> {
    cases.iter().filter(|case| !redact::is_secret_path(&case.path)).cloned().collect()
}

/// A value as it can appear in a JSON document (a request body, a serialised envelope).
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// Panics naming every secret of `cases` found in `haystack`, raw or JSON-escaped.
fn assert_no_secret(surface: &str, haystack: &str, cases: &[Case]) {
    let leaks: Vec<String> = cases
        .iter()
        .flat_map(|case| case.secrets.iter().map(move |secret| (case, secret)))
        .filter(|(_, secret)| haystack.contains(secret.as_str()) || haystack.contains(&json_escaped(secret)))
        .map(|(case, secret)| format!("  {}: {secret}", case.path))
        .collect();
    assert!(leaks.is_empty(), "{surface}: {} secret(s) leaked:\n{}", leaks.len(), leaks.join("\n"));
}

/// Panics naming every benign line (each line of each case) missing from `haystack`, where it
/// must appear JSON-escaped after `prefix` (`+` in a diff, nothing in free text).
fn assert_benign_intact(surface: &str, haystack: &str, prefix: &str, benign: &[(String, String)]) {
    let missing: Vec<String> = benign
        .iter()
        .flat_map(|(path, text)| text.lines().map(move |line| (path, line)))
        .filter(|(_, line)| !haystack.contains(&json_escaped(&format!("{prefix}{line}"))))
        .map(|(path, line)| format!("  {path}: {line}"))
        .collect();
    assert!(
        missing.is_empty(),
        "{surface}: {} benign line(s) altered or missing:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

/// The content of each file: its cases in order, one per line.
fn files<'a>(cases: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for (path, text) in cases {
        let content = files.entry(path.to_string()).or_default();
        content.push_str(text);
        content.push('\n');
    }
    files
}

fn review_answer() -> String {
    json!({
        "summary": "reviewed", "verdict": "concerns", "confidence": "medium", "findings": [],
        "questions": [], "assumptions": [], "next_steps": []
    })
    .to_string()
}

#[test]
fn the_redactor_masks_or_withholds_every_case_and_keeps_every_benign_line() {
    let cases = corpus();
    let benign = benign();
    assert!(cases.len() >= 100, "the corpus has {} secret shapes; at least 100 are promised", cases.len());
    assert!(benign.len() >= 40, "the benign corpus has {} lines; at least 40 are promised", benign.len());
    let withheld = cases.len() - inline(&cases).len();
    assert!(withheld >= 10 && inline(&cases).len() >= 90, "{withheld} withheld of {}", cases.len());

    let mut failures = Vec::new();
    for case in inline(&cases) {
        let out = redact::text(&case.text).text;
        for secret in case.secrets.iter().filter(|secret| out.contains(secret.as_str())) {
            failures.push(format!("  leaked {secret:?}\n    in:  {:?}\n    out: {out:?}", case.text));
        }
    }
    for (path, text) in &benign {
        if redact::is_secret_path(path) {
            failures.push(format!("  benign path {path} would be withheld"));
        }
        let out = redact::text(text).text;
        if out != *text {
            failures.push(format!("  altered benign line\n    in:  {text:?}\n    out: {out:?}"));
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_review_of_the_corpus_sends_no_secret_and_every_benign_line() {
    let cases = corpus();
    let benign = benign();
    let repo = TestRepo::new();
    // Tracked changes: half the files exist at HEAD with an ordinary first line (secret-looking
    // files stay tracked too, so both withholding paths are used); the rest are untracked.
    let corpus_files = files(cases.iter().map(|c| (c.path.as_str(), c.text.as_str())));
    let benign_files = files(benign.iter().map(|(p, t)| (p.as_str(), t.as_str())));
    let all: Vec<(&String, &String)> = corpus_files.iter().chain(&benign_files).collect();
    for (path, _) in all.iter().step_by(2) {
        repo.write(path, "# first version\n");
    }
    repo.commit("first versions");
    for (path, content) in &all {
        repo.write(path, content);
    }

    let mock = MockModel::start(vec![Step::message(review_answer())]);
    let home = CodexHome::new(&mock);
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    // The author's context carries secrets too.
    let context: Vec<String> = inline(&cases).into_iter().take(20).map(|c| c.text).collect();
    let arguments = json!({"workspace_root": repo.path(), "untracked": "include", "extra_context": context.join("\n")});

    let dry = envelope(&server.call(41, "codex_dry_run", arguments.clone()));
    assert_eq!(dry["ok"], json!(true), "{dry}");
    assert_eq!(dry["would_call_model"], json!(true));
    assert!(dry.get("truncated").is_none(), "the corpus must fit: a cut would hide leaks: {dry}");
    assert_no_secret("codex_dry_run envelope", &dry.to_string(), &cases);

    let result = envelope(&server.call(42, "codex_review_changes", arguments));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["review_status"], json!("completed"));
    assert_eq!(mock.requests().len(), 1);
    let log = mock.request_log_text();
    assert_no_secret("the model's request log", &log, &cases);
    assert_no_secret("codex_review_changes envelope", &result.to_string(), &cases);
    assert_benign_intact("the model's request log", &log, "+", &benign);

    let withheld = &result["coverage"]["redaction"]["withheld_paths"];
    for case in cases.iter().filter(|c| redact::is_secret_path(&c.path)) {
        assert!(withheld.as_array().unwrap().contains(&json!(case.path)), "{} not withheld: {withheld}", case.path);
    }
    assert!(result["coverage"]["untracked_files_included"].as_u64().unwrap() > 10, "{}", result["coverage"]);
}

#[test]
fn a_consult_masks_the_question_the_context_and_the_answer() {
    let cases = inline(&corpus());
    let benign = benign();
    let half = cases.len() / 2;
    let join = |part: &[Case]| {
        let mut lines: Vec<&str> = part.iter().map(|c| c.text.as_str()).collect();
        lines.extend(benign.iter().map(|(_, t)| t.as_str()));
        lines.join("\n")
    };
    // The model echoing secrets (it can read files itself): the answer is redacted on its way
    // back, in the summary and in the raw text.
    let echo: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let answer = json!({
        "summary": echo.join("\n"), "findings": [], "questions": [], "assumptions": [], "next_steps": []
    });
    let mock = MockModel::start(vec![Step::message(answer.to_string())]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let arguments = json!({
        "question": join(&cases[..half]), "extra_context": join(&cases[half..]),
        "workspace_root": workspace.path(), "detail": "full"
    });
    let result = envelope(&server.call(43, "codex_consult", arguments));
    assert_eq!(result["ok"], json!(true), "{result}");
    let log = mock.request_log_text();
    assert_no_secret("the model's request log", &log, &cases);
    assert_benign_intact("the model's request log", &log, "", &benign);
    assert_no_secret("codex_consult envelope", &result.to_string(), &cases);
    assert!(result["summary"].as_str().unwrap().contains(redact::MASK), "the echo must come back masked");
    let warnings = result["meta"]["security_warnings"].to_string();
    assert!(warnings.contains("question") && warnings.contains("extra_context"), "{warnings}");
}

#[test]
fn a_delegate_diff_carrying_secrets_comes_back_masked() {
    let cases = corpus();
    let inline_cases = inline(&cases);
    let benign = benign();
    let repo = TestRepo::new();
    // The material is committed, so it is in the throwaway worktree but not in the diff; codex's
    // shell copies it into new files, so every line shows up as a `+` line of the diff without
    // the model (or its request log) ever holding a value.
    let mut material: Vec<&str> = inline_cases.iter().map(|c| c.text.as_str()).collect();
    material.extend(benign.iter().map(|(_, t)| t.as_str()));
    repo.write("vault/material.txt", &format!("{}\n", material.join("\n")));
    repo.commit("material");

    // Its closing message echoes the material: the summary is masked on its way back too.
    let echo: Vec<&str> = inline_cases.iter().map(|c| c.text.as_str()).collect();
    let mock = MockModel::start(vec![
        Step::shell(
            "mkdir -p src config && cp vault/material.txt src/copied.txt && cp vault/material.txt config/prod.env",
        ),
        Step::message(format!("Copied the material:\n{}", echo.join("\n"))),
    ]);
    let home = CodexHome::new(&mock);
    let base = tempfile::tempdir().unwrap();
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), base.path().display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    // The task itself carries secrets too.
    let task: Vec<&str> = inline_cases.iter().rev().take(15).map(|c| c.text.as_str()).collect();
    let task = format!("Copy the material.\n{}", task.join("\n"));
    let arguments = json!({"task": task, "workspace_root": repo.path()});
    let result = envelope(&server.call(44, "codex_delegate", arguments));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap_or_else(|| panic!("no diff: {result}"));
    assert!(diff.contains("+++ b/src/copied.txt"), "{diff}");
    // A withheld file is left out of the patch whole, and listed.
    assert!(!diff.contains("config/prod.env"), "{diff}");
    assert_eq!(result["withheld_files"][0]["path"], json!("config/prod.env"), "{result}");
    assert_no_secret("the model's request log", &mock.request_log_text(), &cases);
    assert_no_secret("codex_delegate envelope", &result.to_string(), &cases);
    assert!(result["summary"].as_str().unwrap().contains(redact::MASK), "the echo must come back masked");
    let missing: Vec<&str> = benign
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter(|line| !diff.contains(&format!("\n+{line}\n")))
        .collect();
    assert!(missing.is_empty(), "benign lines altered in the diff: {missing:#?}");
    assert!(std::fs::read_dir(base.path()).unwrap().next().is_none(), "worktree left behind");
}

/// Every file under `dir`, recursively, as (path, lossy text).
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    found
}

/// A background consult: the job record written to disk (`spec.json` keeps the arguments the
/// worker runs with), the start envelope, the stored result and the prompt hold no secret.
#[test]
fn an_async_job_records_no_secret() {
    let cases = inline(&corpus());
    let join = |part: &[Case]| part.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("\n");
    let mock = MockModel::start(vec![Step::message(consult_answer("Looked."))]);
    let home = CodexHome::new(&mock);
    let state = tempfile::tempdir().unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let half = cases.len() / 2;
    let arguments = json!({
        "question": join(&cases[..half]), "extra_context": join(&cases[half..]), "workspace_root": workspace.path()
    });
    let started = envelope(&server.call(46, "codex_consult_async", arguments));
    assert_eq!(started["ok"], json!(true), "{started}");
    assert_no_secret("codex_consult_async envelope", &started.to_string(), &cases);
    let warnings = started["meta"]["security_warnings"].to_string();
    assert!(warnings.contains("question") && warnings.contains("extra_context"), "{warnings}");
    let job_id = started["job_id"].as_str().unwrap().to_string();

    let records = files_under(state.path());
    assert!(records.iter().any(|(path, _)| path.ends_with("spec.json")), "no job record: {records:?}");
    for (path, text) in &records {
        assert_no_secret(path, text, &cases);
    }

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let job = json!({"job_id": job_id, "workspace_root": workspace.path()});
    loop {
        let status = envelope(&server.call(47, "codex_job_status", job.clone()));
        if status["status"] != json!("running") {
            assert_eq!(status["status"], json!("done"), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the job did not finish: {status}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let result = envelope(&server.call(48, "codex_job_result", job));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_no_secret("codex_job_result envelope", &result.to_string(), &cases);
    assert_no_secret("the model's request log", &mock.request_log_text(), &cases);
    for (path, text) in files_under(state.path()) {
        assert_no_secret(&path, &text, &cases);
    }
}

/// Codex failing with a case on stderr, or as its `turn.failed` message: the error envelope's
/// message carries the text, masked. One server per run (the fake codex reads its script from
/// the server's environment), a few at a time.
#[test]
fn failure_messages_carrying_secrets_are_masked() {
    let cases: Vec<Case> = inline(&corpus())
        .into_iter()
        .filter(|c| !c.text.contains('\n') && redact::text(&c.text).text.len() < 250)
        .collect();
    assert!(cases.len() >= 80, "only {} single-line cases", cases.len());
    let runs: Vec<(String, &'static str, Case)> = cases
        .iter()
        .flat_map(|case| {
            [
                ("FAKE_CODEX_STDERR".to_string(), "stderr", case.clone()),
                ("FAKE_CODEX_ERROR".to_string(), "turn.failed", case.clone()),
            ]
        })
        .collect();
    let failures = Mutex::new(Vec::new());
    let next = Mutex::new(runs.iter());
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                loop {
                    let Some((var, surface, case)) = next.lock().unwrap().next() else { return };
                    let value = if *surface == "stderr" { case.text.clone() } else { json_escaped(&case.text) };
                    let env = [
                        ("PATH".to_string(), path_with(&fake_codex_dir())),
                        ("FAKE_CODEX_EXEC".to_string(), "fail".to_string()),
                        (var.clone(), value),
                    ];
                    let mut server = Server::start(&env);
                    server.initialize(json!({}));
                    let workspace = tempfile::tempdir().unwrap();
                    let arguments = json!({"question": "q", "workspace_root": workspace.path()});
                    let result = envelope(&server.call(45, "codex_consult", arguments));
                    let message = result["error"]["message"].as_str().unwrap_or_default().to_string();
                    let serialized = result.to_string();
                    let leaked = case.secrets.iter().any(|s| serialized.contains(s.as_str()));
                    if leaked || result["ok"] != json!(false) || !message.contains("[redacted") {
                        failures.lock().unwrap().push(format!("  {surface} {}: {message}", case.path));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failure path(s) leaked or lost the text:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A tracked YAML file with an embedded RSA key in its middle (a PEM body of 64-column lines,
/// indented) and an OpenSSH key file's worth of lines in a second one; returns the body lines.
fn tracked_keys(repo: &TestRepo) -> Vec<String> {
    let pem = key_lines(12, 64, 9001);
    let openssh = key_lines(10, 70, 9002);
    let mut yaml =
        String::from("apiVersion: v1\nkind: ConfigMap\ndata:\n  tls.pem: |\n    -----BEGIN RSA PRIVATE KEY-----\n");
    for line in &pem {
        yaml.push_str(&format!("    {line}\n"));
    }
    yaml.push_str("    -----END RSA PRIVATE KEY-----\nreplicas: 2\nimage: app:1.0\n");
    repo.write("deploy/app.yaml", &yaml);
    let mut ssh = String::from("host: ci\nkey: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in &openssh {
        ssh.push_str(&format!("  {line}\n"));
    }
    ssh.push_str("  -----END OPENSSH PRIVATE KEY-----\n");
    repo.write("deploy/ci.yaml", &ssh);
    repo.commit("keys in config");
    pem.into_iter().chain(openssh).collect()
}

/// Issue 26's partial hunks: an edit on the line right after `-----END … PRIVATE KEY-----`
/// (git's context then carries the key's last lines and no BEGIN), and an edit inside a key
/// (the changed line and the lines around it, no marker at all). A review through the real codex
/// sends neither the context nor the changed lines; the lines that are not key reach the model.
#[test]
fn a_review_of_partial_hunks_of_a_tracked_key_sends_no_key_line() {
    let repo = TestRepo::new();
    let body = tracked_keys(&repo);
    let yaml = std::fs::read_to_string(repo.path().join("deploy/app.yaml")).unwrap();
    repo.write("deploy/app.yaml", &yaml.replace("replicas: 2", "replicas: 3"));
    // Line 7 of the OpenSSH body (file line 10) rewritten: `tr` keeps it key-shaped.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("sed -i '10y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/NOPQRSTUVWXYZABCDEFGHIJKLM/' deploy/ci.yaml")
        .current_dir(repo.path())
        .status()
        .unwrap();
    assert!(out.success());
    let changed =
        std::fs::read_to_string(repo.path().join("deploy/ci.yaml")).unwrap().lines().nth(9).unwrap().trim().to_string();
    assert!(!body.contains(&changed), "the edit changed the line");
    let diff = repo.git(&["diff"]);
    assert!(diff.contains(" -----END RSA PRIVATE KEY-----\n-replicas: 2\n+replicas: 3"), "{diff}");
    assert!(!diff.contains("BEGIN"), "the hunks show no BEGIN line: {diff}");
    let leaked: Vec<&String> = body.iter().filter(|line| diff.contains(line.as_str())).collect();
    assert!(leaked.len() >= 8, "the hunks carry key lines: {diff}");

    let mock = MockModel::start(vec![Step::message(review_answer())]);
    let home = CodexHome::new(&mock);
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    let result = envelope(&server.call(51, "codex_review_changes", json!({"workspace_root": repo.path()})));
    assert_eq!(result["ok"], json!(true), "{result}");
    let log = mock.request_log_text();
    let envelope_text = result.to_string();
    for line in body.iter().chain([&changed]) {
        assert!(!log.contains(line.as_str()), "a key line reached the model: {line}");
        assert!(!envelope_text.contains(line.as_str()), "a key line is in the envelope: {line}");
    }
    for kept in ["+replicas: 3", "-replicas: 2", " -----END RSA PRIVATE KEY-----", " image: app:1.0"] {
        assert!(log.contains(&json_escaped(kept)), "{kept} did not reach the model");
    }
    let masked = &result["coverage"]["redaction"]["masked_paths"];
    assert!(
        masked.to_string().contains("deploy/app.yaml") && masked.to_string().contains("deploy/ci.yaml"),
        "{masked}"
    );
}

/// A delegate whose shell edits a line inside a tracked key and whose closing message quotes
/// key lines: the diff, the patch file and the summary carry none of them, and no request to the
/// model does.
#[test]
fn a_delegate_editing_inside_a_key_returns_it_masked() {
    let repo = TestRepo::new();
    let body = tracked_keys(&repo);
    let quoted = body[3..6].join("\n");
    let mock = MockModel::start(vec![
        Step::shell(
            "sed -i '10y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/NOPQRSTUVWXYZABCDEFGHIJKLM/' deploy/ci.yaml && sed -i 's/replicas: 2/replicas: 3/' deploy/app.yaml",
        ),
        Step::message(format!("Rotated one line; the key now reads:\n{quoted}\nand so on.")),
    ]);
    let home = CodexHome::new(&mock);
    let base = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), base.path().display().to_string()));
    env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let result = envelope(&server.call(52, "codex_delegate", json!({"task": "rotate", "workspace_root": repo.path()})));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap_or_else(|| panic!("no diff: {result}"));
    assert!(diff.contains("+replicas: 3") && diff.contains("+++ b/deploy/ci.yaml"), "{diff}");
    let patch_file = result["patch_file"].as_str().unwrap_or_else(|| panic!("no patch_file: {result}"));
    let patch = std::fs::read_to_string(patch_file).unwrap();
    let summary = result["summary"].as_str().unwrap();
    assert!(summary.contains(redact::MASK), "{summary}");
    let text = result.to_string();
    let log = mock.request_log_text();
    for line in &body {
        for (surface, haystack) in [
            ("diff", diff),
            ("patch_file", patch.as_str()),
            ("summary", summary),
            ("envelope", &text),
            ("requests", &log),
        ] {
            assert!(!haystack.contains(line.as_str()), "{surface} carries a key line: {line}");
        }
    }
    // The rewritten line itself is masked in the diff (it is key-shaped, between key lines).
    assert!(diff.contains(&format!("+  {}\n", redact::MASK)), "{diff}");
    assert!(std::fs::read_dir(base.path()).unwrap().next().is_none(), "worktree left behind");
}
