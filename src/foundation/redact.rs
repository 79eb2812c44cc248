//! Best-effort secret redaction for everything that leaves the server: diffs sent to the model,
//! every string codex returns, error messages and stderr tails (docs/product.md §4; the original's lessons in
//! docs/lessons.md §3 and docs/lessons.md §5 item 3).
//!
//! How it works, and why this way:
//! - One scanner walks the bytes once and collects spans on the *original* text; every pattern is
//!   a small hand-written matcher started from that walk. Spans that overlap or touch are merged
//!   and each merged span becomes one marker. The original ran regexes one after another over its
//!   own output, so one pattern could leave the suffix of a secret that another had half masked.
//! - Linear time by construction (there is no regex crate, and the original's regexes went
//!   quadratic on long inputs): a matcher either masks what it scanned, and the walk resumes after
//!   the mask, or gives up after a bounded number of bytes. The two unbounded scans are safe for
//!   their own reasons: a private-key block always consumes up to its END line (or the end of the
//!   input), and a JWT is only tried at the start of a base64url run, so each run takes part in at
//!   most three tries (as header, payload or signature). A URL password may run to the last `@`
//!   of its authority, so the URL matcher's look-ahead goes through memos (`NextMatch`,
//!   `HostAts`) that scan each byte once however many `://` a text holds; a JWK member's
//!   `"kty"` may be before or after it, found through another (`Occurrences`). The key-body
//!   rule reads each line once.
//! - Patterns: provider tokens recognised by their prefix (`PREFIX_RULES`: one line per
//!   provider's documented prefix, body alphabet and length, from AWS, GitHub and GitLab to
//!   Shopify, Atlassian, DigitalOcean, Grafana, Vault, Doppler, Databricks, PlanetScale,
//!   Supabase, Postman, Sentry, age keys and more), Telegram bot tokens, JWTs,
//!   `Bearer`/`Basic` credentials and any other `Authorization` scheme's (`token …`,
//!   `Digest …`, `AWS4-HMAC-SHA256 … Signature=…`), values after a secret-looking label
//!   (`api_key=`, `"password": `, `\"token\":` of JSON inside JSON, `"\u0070assword":`
//!   read through its escapes, `--api-key VALUE`, `<password>VALUE</password>`, docker's
//!   `identitytoken`, kubeconfig's `client-key-data`), URL query parameters carrying a
//!   signature or a token (`sig=`, `X-Amz-Signature=`, `token=`), JWK private members (`"d"`,
//!   `"p"`, … in an object with a `"kty"`), shell assignments of password and secret variables
//!   (`export PGPASSWORD=…`, `DB_PASS='…'`: any shell word or quoted value), passwords in URLs
//!   (also holding `@ # / ?`, blanks or quotes), tokens as the URL user
//!   (`https://TOKEN@github.com`), and private-key blocks, PEM, OpenSSH, PGP and SSH2's
//!   four-dash markers (BEGIN/END lines kept, body masked, an unterminated block masked to the
//!   end). A password label also takes a quoted phrase with spaces and an unquoted value of 6+
//!   characters with a digit or symbol in it. Labelled values that read as code
//!   (`token = self.settings.token`) or placeholders (`${TOKEN}`, `changeme`) are left alone:
//!   masking ordinary code made reviews worse.
//! - Key bodies are also recognised by their shape and their neighbours, line by line
//!   (`key_body_lines`), since a diff hunk may show any part of a key without its BEGIN line
//!   (three lines of context after an edit right below the END line, or around an edit inside
//!   the key). The shape rule: a line that is only base64 (after indentation, a diff prefix, the
//!   quotes of a string) is a key body line when a private key's BEGIN or PuTTY's
//!   `Private-Lines:` is right above its run of such lines or a private key's END right below
//!   it; or, with no certificate or public-key marker next to the run, when the run has two or
//!   more lines and one of them is a full line of a key writer's width (64, 70 or 72 columns) mixing
//!   upper case, lower case and digits. Why this rule: key writers wrap at exactly those
//!   widths and random base64 always mixes the three classes, while ordinary base64 in code is
//!   one line (a hash, an id), sits inside a longer line (a lockfile's `integrity sha512-…`, a
//!   `data:` URI) or wraps at MIME's 76 columns; a certificate's lines next to their markers are
//!   public and kept. Free text is read the same way, its lines split at line breaks and at
//!   JSON `\n` escapes.
//! - Diffs are redacted file by file: a secret-looking file is withheld whole, other files have
//!   their content lines scanned with the `+`/`-`/space prefix kept, and every byte that is not
//!   masked is kept, trailing newline included, so a redacted delegate diff still applies.

use std::collections::HashSet;

use serde_json::Value;

pub const MASK: &str = "[redacted: secret value]";
pub const PARTIAL_MASK: &str = "[redacted: possibly partial secret value]";
pub const WITHHELD: &str = "[redacted: secret-looking file not sent]";
/// What every marker starts with: a value starting so was masked already and is left as it is.
const MASK_START: &[u8] = b"[redacted";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub masks: usize,
}

/// Free text: codex answers, error messages, stderr tails.
pub fn text(input: &str) -> Redacted {
    free_text(input, false)
}

/// Free text that a size bound cut at its END before redaction: a token running into the end
/// that looks like the start of a secret (a known prefix, or a labelled value) is masked with
/// PARTIAL_MASK even though it is shorter than the usual minimum.
pub fn text_cut(input: &str) -> Redacted {
    free_text(input, true)
}

fn free_text(input: &str, cut: bool) -> Redacted {
    let mut spans = Vec::new();
    Scanner::new(input.as_bytes(), cut, &mut spans).run(false);
    let mut key_lines = Vec::new();
    key_body_lines(text_lines(input), &mut key_lines);
    if !key_lines.is_empty() {
        let lines =
            key_lines.iter().map(|&(line, start, end)| Span { start: line + start, end: line + end, partial: false });
        spans = merge_spans(&spans, lines);
    }
    if spans.is_empty() {
        return Redacted { text: input.to_owned(), masks: 0 };
    }
    let mut text = String::with_capacity(input.len() + spans.len() * PARTIAL_MASK.len());
    let masks = render(&mut text, input, &spans);
    Redacted { text, masks }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffRedaction {
    pub text: String,
    /// Files withheld whole (secret-looking path), repo-relative, in order of appearance.
    pub withheld_paths: Vec<String>,
    /// Files in which at least one inline value was masked, in order of appearance.
    pub masked_paths: Vec<String>,
    /// Number of inline masks applied.
    pub inline_masks: usize,
}

impl DiffRedaction {
    /// Withheld then masked, deduplicated, order kept.
    pub fn redacted_paths(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.withheld_paths.iter().chain(&self.masked_paths).filter(|path| seen.insert(*path)).cloned().collect()
    }
}

/// A unified diff (git diff / git show output) for reading: a withheld file keeps its
/// `diff --git` line, followed by the `WITHHELD` marker.
pub fn diff(input: &str) -> DiffRedaction {
    redact_diff(input, Withheld::Marked)
}

/// A patch meant to be applied (a delegation's diff): a withheld file's section is left out
/// whole, so the rest still applies; the caller lists `withheld_paths`.
pub fn patch(input: &str) -> DiffRedaction {
    redact_diff(input, Withheld::Dropped)
}

/// A diff as it may leave the server: `redaction` of the whole lines of the capture, of which
/// the first `len` bytes are sent.
pub struct BoundedDiff {
    pub redaction: DiffRedaction,
    len: usize,
    /// The capture was cut, or the redacted diff was: the caller must say so.
    pub truncated: bool,
}

impl BoundedDiff {
    pub fn text(&self) -> &str {
        &self.redaction.text[..self.len]
    }
}

/// Bounds a captured diff in the one safe order (docs/lessons.md §5 item 3): only whole lines
/// of a capture that was cut (`capture_truncated`) are kept, since its last line may end inside
/// a secret; they are redacted with `redact` (`diff` or `patch`, after any rewrite the caller
/// needs); the result is cut to `limit` bytes at a line end, so no mask or line is split.
pub fn bound_diff(
    capture: &str,
    capture_truncated: bool,
    limit: usize,
    redact: impl FnOnce(&str) -> DiffRedaction,
) -> BoundedDiff {
    let whole_lines = if capture_truncated { capture.rfind('\n').map_or("", |end| &capture[..=end]) } else { capture };
    let redaction = redact(whole_lines);
    let (sent, cut) = crate::foundation::text::cut_at_line(&redaction.text, limit);
    let len = sent.len();
    BoundedDiff { redaction, len, truncated: capture_truncated || cut }
}

/// What becomes of a withheld file's section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Withheld {
    Marked,
    Dropped,
}

fn redact_diff(input: &str, withheld: Withheld) -> DiffRedaction {
    let mut result = DiffRedaction { text: String::with_capacity(input.len() + 64), ..Default::default() };
    let lines: Vec<&str> = input.split_inclusive('\n').collect();
    let mut spans = Vec::new();
    let mut start = lines.iter().position(|line| is_section_start(line)).unwrap_or(lines.len());
    // What comes before the first file (`git show`'s commit header and message) is free text.
    let mut in_key_block = false;
    for line in &lines[..start] {
        let (masks, open) = redact_line(&mut result.text, line, 0, &mut spans, in_key_block);
        result.inline_masks += masks;
        in_key_block = open;
    }
    while start < lines.len() {
        let end =
            lines[start + 1..].iter().position(|line| is_section_start(line)).map_or(lines.len(), |k| start + 1 + k);
        redact_section(&lines[start..end], withheld, &mut result, &mut spans);
        start = end;
    }
    dedup(&mut result.withheld_paths);
    dedup(&mut result.masked_paths);
    result
}

/// Whether a repo-relative path looks like a secret file (withheld whole, never sent): files
/// whose whole point is to hold credentials, where masking values one by one would be a bet on
/// knowing every field.
pub fn is_secret_path(path: &str) -> bool {
    const NAMES: &[&str] = &[
        ".envrc",
        ".netrc",
        ".pypirc",
        ".npmrc",
        ".pgpass",
        ".git-credentials",
        "credentials.json",
        "secrets.yml",
        "secrets.yaml",
        // A kubeconfig holds cluster credentials (`client-key-data`, `token`).
        "kubeconfig",
        "kubeconfig.yaml",
        "kubeconfig.yml",
        // Terraform loads these variable files by itself; they carry the passwords it is given.
        "terraform.tfvars",
        "terraform.tfvars.json",
        // Docker's legacy registry credentials file.
        ".dockercfg",
        // Terraform CLI's API tokens; gcloud's user credentials; Vault's login token;
        // s3cmd's keys; Apache's password hashes.
        "credentials.tfrc.json",
        "application_default_credentials.json",
        ".vault-token",
        ".s3cfg",
        ".htpasswd",
    ];
    // `.env` itself is covered by the suffix.
    const SUFFIXES: &[&str] = &[
        ".env",
        ".pem",
        ".key",
        ".p12",
        ".pfx",
        ".jks",
        ".keystore",
        ".tfstate",
        ".tfstate.backup",
        // PuTTY private keys; Kerberos keytabs; kubeconfigs by name.
        ".ppk",
        ".keytab",
        ".kubeconfig",
        ".auto.tfvars",
        ".auto.tfvars.json",
    ];
    // `.env.example` too: templates are often filled in by mistake. `id_rsa.pub` too: cheap to lose.
    const PREFIXES: &[&str] = &[".env.", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"];
    // Credential files known by their directory: AWS's, kubectl's, Docker's and the GitHub CLI's.
    const PATHS: &[&str] = &[".aws/credentials", ".kube/config", ".docker/config.json", ".config/gh/hosts.yml"];
    let path = path.to_ascii_lowercase();
    let name = path.rsplit('/').next().unwrap_or(&path);
    NAMES.contains(&name)
        || SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
        || PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        || PATHS.iter().any(|known| path == *known || path.strip_suffix(known).is_some_and(|dir| dir.ends_with('/')))
}

/// Every string value of a JSON tree, recursively (object keys untouched); returns masks applied.
pub fn json(value: &mut Value) -> usize {
    match value {
        Value::String(string) => {
            let redacted = text(string);
            if redacted.masks > 0 {
                *string = redacted.text;
            }
            redacted.masks
        }
        Value::Array(items) => items.iter_mut().map(json).sum(),
        Value::Object(map) => map.values_mut().map(json).sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Character classes

/// `[A-Za-z0-9_]`: a token glued to one of these is part of a longer word, not a token.
const WORD: u16 = 1 << 0;
const ALNUM: u16 = 1 << 1;
/// `[A-Z0-9]` (AWS key ids).
const UPPER_DIGIT: u16 = 1 << 2;
/// `[0-9A-Fa-f]`.
const HEX: u16 = 1 << 12;
/// `[A-Za-z0-9_-]`.
const B64URL: u16 = 1 << 3;
/// `[A-Za-z0-9-]` (Slack).
const SLACK: u16 = 1 << 4;
/// RFC 6750 b64token, `[A-Za-z0-9._~+/=_-]`: bearer tokens and other opaque credentials.
const TOKEN: u16 = 1 << 5;
/// A labelled value: a token plus the punctuation passwords carry (`! @ # $ % ^`), so no suffix
/// of a password survives next to its marker.
const VALUE: u16 = 1 << 6;
/// `\\`, escaping a quote.
const BACKSLASH: u16 = 1 << 11;
/// Blanks between a label, its separator and its value (never a newline).
const BLANK: u16 = 1 << 7;
const WHITESPACE: u16 = 1 << 8;
/// Bytes where a matcher may start anywhere: separators (`:`, `=`), the dash of a PEM line or a
/// `--flag`, and the `>` that ends an XML start tag.
const TRIGGER: u16 = 1 << 9;
/// Letters where a matcher may start at the start of a word: first letters of token prefixes,
/// JWTs and `Bearer`/`Basic`. Inside a word they are skipped like any other byte.
const WORD_START_TRIGGER: u16 = 1 << 10;

static CLASS: [u16; 256] = classes();

const fn classes() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut class = 0;
        if c.is_ascii_alphanumeric() {
            class |= WORD | ALNUM | B64URL | SLACK | TOKEN | VALUE;
        }
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            class |= UPPER_DIGIT;
        }
        if c.is_ascii_hexdigit() {
            class |= HEX;
        }
        if c == b'_' {
            class |= WORD | B64URL | TOKEN | VALUE;
        }
        if c == b'-' {
            class |= B64URL | SLACK | TOKEN | VALUE;
        }
        if matches!(c, b'.' | b'~' | b'+' | b'/' | b'=') {
            class |= TOKEN | VALUE;
        }
        if matches!(c, b'!' | b'@' | b'#' | b'$' | b'%' | b'^') {
            class |= VALUE;
        }
        if matches!(c, b' ' | b'\t') {
            class |= BLANK;
        }
        if c == b'\\' {
            class |= BACKSLASH;
        }
        if c.is_ascii_whitespace() || c == 0x0b {
            class |= WHITESPACE;
        }
        if matches!(c, b':' | b'=' | b'-' | b'>') {
            class |= TRIGGER;
        }
        // Prefixed tokens are added below.
        if matches!(c, b'e' | b'B' | b'b') {
            class |= WORD_START_TRIGGER;
        }
        table[i] = class;
        i += 1;
    }
    let mut rule = 0;
    while rule < PREFIX_RULES.len() {
        table[PREFIX_RULES[rule].prefix[0] as usize] |= WORD_START_TRIGGER;
        rule += 1;
    }
    table
}

/// For each byte, the range of `PREFIX_RULES` whose prefix starts with it, so a word start looks
/// at its few candidates only.
static RULES_BY_FIRST_BYTE: [(u8, u8); 256] = rules_by_first_byte();

const fn rules_by_first_byte() -> [(u8, u8); 256] {
    let mut table = [(0u8, 0u8); 256];
    let mut rule = 0;
    while rule < PREFIX_RULES.len() {
        let first = PREFIX_RULES[rule].prefix[0] as usize;
        let (start, end) = table[first];
        if start == end {
            table[first] = (rule as u8, rule as u8 + 1);
        } else if end as usize == rule {
            table[first].1 += 1;
        } else {
            panic!("PREFIX_RULES sharing a first byte must be adjacent");
        }
        rule += 1;
    }
    table
}

/// For each byte, the set of second bytes (all ASCII) of the `PREFIX_RULES` starting with it:
/// most words starting with a rule's first letter are turned away by one lookup.
static SECOND_BYTES: [u128; 256] = second_bytes();

const fn second_bytes() -> [u128; 256] {
    let mut table = [0u128; 256];
    let mut rule = 0;
    while rule < PREFIX_RULES.len() {
        let prefix = PREFIX_RULES[rule].prefix;
        assert!(prefix.len() >= 2 && prefix[1] < 128, "a prefix has an ASCII second byte");
        table[prefix[0] as usize] |= 1u128 << prefix[1];
        rule += 1;
    }
    table
}

fn has(byte: u8, class: u16) -> bool {
    CLASS[byte as usize] & class != 0
}

/// Whether `bytes[i]` comes right after a JSON escape of a line break or tab (`\n`, `\r`, `\t`).
fn after_escaped_break(bytes: &[u8], i: usize) -> bool {
    i >= 2 && matches!(bytes[i - 1], b'n' | b'r' | b't') && bytes[i - 2] == b'\\'
}

/// End of the run of `class` bytes starting at `from`, looking at no more than `max` bytes.
fn run_end(bytes: &[u8], from: usize, class: u16, max: usize) -> usize {
    let limit = bytes.len().min(from.saturating_add(max));
    let mut end = from;
    while end < limit && has(bytes[end], class) {
        end += 1;
    }
    end
}

/// Length of the run of `class` bytes ending at `end`, looking at no more than `max` bytes.
fn run_end_back(bytes: &[u8], end: usize, class: u16, max: usize) -> usize {
    bytes[..end].iter().rev().take(max).take_while(|&&c| has(c, class)).count()
}

/// After at most `MAX_GAP` blanks from `from`; None when the gap is longer (not a label layout).
fn skip_blanks(bytes: &[u8], from: usize) -> Option<usize> {
    let end = run_end(bytes, from, BLANK, MAX_GAP + 1);
    (end - from <= MAX_GAP).then_some(end)
}

// ---------------------------------------------------------------------------------------------
// Bounds that keep every failed attempt constant-time

/// Blanks allowed around a separator.
const MAX_GAP: usize = 64;
/// Longest value judged by the code/placeholder exemptions; a longer run is always masked.
const MAX_EXEMPT: usize = 256;
/// Longest quoted value looked for; a longer one is judged as unquoted.
const MAX_QUOTED: usize = 256;
/// Longest userinfo looked at after `://` (user and password each).
const MAX_USERINFO: usize = 256;
/// Longest JWT header segment (the header is a small JSON object).
const MAX_JWT_HEADER: usize = 512;
/// Most backslashes escaping a quote (`\\\"`: JSON in a string in JSON).
const MAX_ESCAPES: usize = 8;
/// Longest `--flag` or XML element name looked at.
const MAX_FLAG: usize = 64;
/// Longest label word (`authorization`).
const MAX_LABEL_WORD: usize = 13;
/// Longest `[A-Z0-9 ]` label inside `-----BEGIN …-----`.
const MAX_PEM_LABEL: usize = 64;
/// Longest run of `Authorization` parameters masked (`Digest …`).
const MAX_AUTH_PARAMETERS: usize = 1024;
/// How far from a JWK private member its `"kty"` may be: an RSA-4096 JWK's members between them.
const JWK_WINDOW: usize = 8192;
/// A JWK private member's value with no `"kty"` near it is masked from this length on.
const JWK_MIN_UNANCHORED: usize = 43;
/// Longest label read through JSON `\u` escapes, escapes included.
const MAX_ESCAPED_LABEL: usize = 128;

// ---------------------------------------------------------------------------------------------
// Patterns as data

/// A secret recognised by a fixed prefix followed by a run of one character class.
struct PrefixRule {
    prefix: &'static [u8],
    body: u16,
    /// Body length range. A bounded rule (`max` < `OPEN`) does not match a longer run, nor one
    /// glued to a letter or digit (`AKIA` + 16 is an AWS key id, + 17 is a word).
    min: usize,
    max: usize,
    /// A wider class the token may go on in after its body (`sk-`: 20 alphanumerics first, then
    /// `-` and `_` may appear); 0 for none.
    tail: u16,
}

/// No upper bound on a body's length.
const OPEN: usize = usize::MAX;

/// `prefix`, then `min..=max` bytes of `body`.
const fn rule(prefix: &'static [u8], body: u16, min: usize, max: usize) -> PrefixRule {
    PrefixRule { prefix, body, min, max, tail: 0 }
}

/// `prefix`, then `min` or more bytes of `body`.
const fn open(prefix: &'static [u8], body: u16, min: usize) -> PrefixRule {
    rule(prefix, body, min, OPEN)
}

/// Provider tokens: one line per documented format (the provider's prefix, the alphabet of what
/// follows and its length; where a provider documents no bound the minimum is what its tokens
/// have been seen to carry at least). Adding a provider is adding a line. Longer prefixes of one
/// family come first: the first rule that matches wins. Rules sharing a first byte are adjacent
/// (checked when the dispatch table is built).
const PREFIX_RULES: &[PrefixRule] = &[
    // AWS access key ids: `AKIA`/`ASIA` + 16 of `[A-Z0-9]`.
    rule(b"AKIA", UPPER_DIGIT, 16, 16),
    rule(b"ASIA", UPPER_DIGIT, 16, 16),
    // Google API key: `AIza` + 35 of `[A-Za-z0-9_-]`.
    open(b"AIza", B64URL, 35),
    // age secret key: `AGE-SECRET-KEY-1` + 58 bech32 (upper case).
    rule(b"AGE-SECRET-KEY-1", UPPER_DIGIT, 58, 58),
    // Atlassian API token: `ATATT3` + 186 of `[A-Za-z0-9_=-]`.
    open(b"ATATT3", TOKEN, 150),
    // Artifactory API key: `AKCp` + 69 alphanumerics.
    rule(b"AKCp", ALNUM, 69, 69),
    // SendGrid: `SG.` + 22 + `.` + 43.
    open(b"SG.", TOKEN, 50),
    // Twilio API key SID: `SK` + 32 hex.
    rule(b"SK", HEX, 32, 32),
    // GitHub: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 36 alphanumerics; `github_pat_` + 82.
    open(b"github_pat_", WORD, 20),
    open(b"ghp_", WORD, 20),
    open(b"gho_", WORD, 20),
    open(b"ghu_", WORD, 20),
    open(b"ghs_", WORD, 20),
    open(b"ghr_", WORD, 20),
    // GitLab: personal, pipeline-trigger, runner, deploy, feed, SCIM, OAuth, CI job, agent and
    // incoming-mail tokens: the prefix + 20 or more of `[A-Za-z0-9_-]`.
    open(b"glpat-", B64URL, 20),
    open(b"glptt-", B64URL, 20),
    open(b"glrt-", B64URL, 20),
    open(b"gldt-", B64URL, 20),
    open(b"glft-", B64URL, 20),
    open(b"glsoat-", B64URL, 20),
    open(b"gloas-", B64URL, 20),
    open(b"glcbt-", B64URL, 20),
    open(b"glagent-", B64URL, 20),
    open(b"glimt-", B64URL, 20),
    // Grafana: service account `glsa_` + 32 alphanumerics + `_` + 8 hex; Cloud `glc_` + base64.
    rule(b"glsa_", WORD, 41, 41),
    open(b"glc_", TOKEN, 32),
    // Groq: `gsk_` + 52 alphanumerics.
    open(b"gsk_", ALNUM, 40),
    // GitLab runner registration token: `GR1348941` + 20 of `[A-Za-z0-9_-]`.
    open(b"GR1348941", B64URL, 20),
    // Google OAuth client secret: `GOCSPX-` + 28 of `[A-Za-z0-9_-]`.
    open(b"GOCSPX-", B64URL, 28),
    // Slack: bot, user, workspace, refresh, configuration, session tokens and app tokens.
    open(b"xoxe.xoxb-", SLACK, 20),
    open(b"xoxe.xoxp-", SLACK, 20),
    open(b"xoxb-", SLACK, 20),
    open(b"xoxa-", SLACK, 20),
    open(b"xoxp-", SLACK, 20),
    open(b"xoxr-", SLACK, 20),
    open(b"xoxs-", SLACK, 20),
    open(b"xoxe-", SLACK, 20),
    open(b"xoxc-", SLACK, 20),
    open(b"xapp-", SLACK, 20),
    // xAI: `xai-` + 80 alphanumerics.
    open(b"xai-", ALNUM, 70),
    // Anthropic and OpenAI: `sk-ant-…`, `sk-proj-…`, `sk-svcacct-…`, `sk-admin-…`, legacy `sk-` +
    // 48; OpenRouter `sk-or-v1-` + 64 hex.
    open(b"sk-ant-", B64URL, 20),
    open(b"sk-proj-", B64URL, 20),
    open(b"sk-svcacct-", B64URL, 20),
    open(b"sk-admin-", B64URL, 20),
    rule(b"sk-or-v1-", HEX, 64, 64),
    PrefixRule { prefix: b"sk-", body: ALNUM, min: 20, max: OPEN, tail: B64URL },
    // Stripe secret and restricted keys: `sk_`/`rk_` + `live_`/`test_` + up to 99 alphanumerics.
    open(b"sk_live_", ALNUM, 16),
    open(b"sk_test_", ALNUM, 16),
    // Mapbox secret token: `sk.` + base64url JSON, `.`, signature.
    open(b"sk.eyJ", TOKEN, 60),
    // Shopify: access, custom-app, private-app tokens and shared secret: `shp??_` + 32 hex.
    rule(b"shpat_", HEX, 32, 32),
    rule(b"shpca_", HEX, 32, 32),
    rule(b"shppa_", HEX, 32, 32),
    rule(b"shpss_", HEX, 32, 32),
    // Shippo: `shippo_live_` + 40 hex.
    rule(b"shippo_live_", HEX, 40, 40),
    // Sentry: organisation token `sntrys_` + base64; user token `sntryu_` + 64 hex.
    open(b"sntrys_", TOKEN, 50),
    rule(b"sntryu_", HEX, 64, 64),
    // Supabase: personal access token `sbp_` + 40 hex; secret API key `sb_secret_` + base64url.
    rule(b"sbp_", HEX, 40, 40),
    open(b"sb_secret_", B64URL, 20),
    // Square: access token `sq0atp-` + 22, application secret `sq0csp-` + 43.
    open(b"sq0atp-", B64URL, 22),
    open(b"sq0csp-", B64URL, 40),
    // SonarQube: `sqp_`, `squ_`, `sqa_` + 40 hex.
    rule(b"sqp_", HEX, 40, 40),
    rule(b"squ_", HEX, 40, 40),
    rule(b"sqa_", HEX, 40, 40),
    open(b"rk_live_", ALNUM, 16),
    open(b"rk_test_", ALNUM, 16),
    // RubyGems: `rubygems_` + 48 hex.
    rule(b"rubygems_", HEX, 48, 48),
    // Replicate: `r8_` + 37 alphanumerics.
    open(b"r8_", ALNUM, 30),
    // npm: `npm_` + 36 alphanumerics. Notion: `ntn_` + 46.
    open(b"npm_", ALNUM, 30),
    rule(b"ntn_", ALNUM, 46, 46),
    // PyPI: `pypi-` + a macaroon in base64url. PlanetScale: `pscale_tkn_`, `pscale_pw_`,
    // `pscale_oauth_` + 32 to 64 of `[A-Za-z0-9_=.-]`. Pulumi: `pul-` + 40 hex. Perplexity:
    // `pplx-` + 48 alphanumerics. Prefect: `pnu_` + 36.
    open(b"pypi-", B64URL, 16),
    rule(b"pscale_tkn_", TOKEN, 32, 64),
    rule(b"pscale_pw_", TOKEN, 32, 64),
    rule(b"pscale_oauth_", TOKEN, 32, 64),
    rule(b"pul-", HEX, 40, 40),
    rule(b"pplx-", ALNUM, 48, 48),
    rule(b"pnu_", ALNUM, 36, 36),
    // Hugging Face: `hf_` + 34 letters.
    open(b"hf_", ALNUM, 30),
    // A Slack incoming webhook: the path after `services/` is the credential.
    open(b"hooks.slack.com/services/", TOKEN, 20),
    // HashiCorp Vault: service `hvs.` (90+), batch `hvb.` (138+), recovery `hvr.` tokens, base64url.
    open(b"hvs.", B64URL, 24),
    open(b"hvb.", B64URL, 24),
    open(b"hvr.", B64URL, 24),
    // Heroku platform API key: `HRKU-` + 60 of `[A-Za-z0-9_-]`.
    rule(b"HRKU-", B64URL, 60, 60),
    // Stripe webhook signing secret.
    open(b"whsec_", ALNUM, 24),
    // DigitalOcean: personal, OAuth and refresh tokens: `do?_v1_` + 64 hex.
    rule(b"dop_v1_", HEX, 64, 64),
    rule(b"doo_v1_", HEX, 64, 64),
    rule(b"dor_v1_", HEX, 64, 64),
    // Doppler: personal, service, CLI and service-account tokens: `dp.??.` + 43 alphanumerics.
    open(b"dp.pt.", ALNUM, 40),
    open(b"dp.st.", ALNUM, 40),
    open(b"dp.ct.", ALNUM, 40),
    open(b"dp.sa.", ALNUM, 40),
    // Databricks: `dapi` + 32 hex.
    rule(b"dapi", HEX, 32, 32),
    // Docker Hub personal access token: `dckr_pat_` + 27 of `[A-Za-z0-9_-]`.
    open(b"dckr_pat_", B64URL, 27),
    // Discord webhooks: the path after `webhooks/` (id and token) is the credential.
    open(b"discord.com/api/webhooks/", TOKEN, 60),
    open(b"discordapp.com/api/webhooks/", TOKEN, 60),
    // Linear: `lin_api_` + 40 alphanumerics. LangSmith: `lsv2_pt_`/`lsv2_sk_` + hex parts.
    rule(b"lin_api_", ALNUM, 40, 40),
    open(b"lsv2_pt_", WORD, 40),
    open(b"lsv2_sk_", WORD, 40),
    // Alibaba Cloud access key id: `LTAI` + 20 alphanumerics.
    rule(b"LTAI", ALNUM, 20, 20),
    // Google OAuth access token: `ya29.` + base64url.
    open(b"ya29.", B64URL, 30),
    // Postman: `PMAK-` + 24 hex + `-` + 34 hex.
    rule(b"PMAK-", B64URL, 59, 59),
    // New Relic user API key: `NRAK-` + 27 upper-case alphanumerics.
    rule(b"NRAK-", UPPER_DIGIT, 27, 27),
    // Clojars: `CLOJARS_` + 60. Contentful: `CFPAT-` + 43. CircleCI: `CCIPAT_` + parts.
    rule(b"CLOJARS_", ALNUM, 60, 60),
    rule(b"CFPAT-", B64URL, 43, 43),
    open(b"CCIPAT_", WORD, 40),
    // EasyPost: `EZAK` + 54 alphanumerics.
    rule(b"EZAK", ALNUM, 54, 54),
    // Fly.io: `fo1_` + 43. Figma: `figd_` + 40 or more.
    rule(b"fo1_", B64URL, 43, 43),
    open(b"figd_", B64URL, 40),
    // Buildkite: `bkua_` + 40 hex.
    rule(b"bkua_", HEX, 40, 40),
    // 1Password service account: `ops_eyJ` + base64.
    open(b"ops_eyJ", TOKEN, 200),
    // Mailgun private API key: `key-` + 32 hex.
    rule(b"key-", HEX, 32, 32),
];

/// Last words of a label whose value is a secret (compared case-insensitively).
const SECRET_WORDS: &[&[u8]] = &[
    b"key",
    b"token",
    b"secret",
    b"auth",
    b"authorization",
    b"credential",
    b"credentials",
    b"apikey",
    b"accesskey",
    b"secretkey",
    b"privatekey",
    b"apitoken",
    b"accesstoken",
    b"authtoken",
    b"refreshtoken",
    b"clientsecret",
    // Docker's config.json.
    b"identitytoken",
    b"registrytoken",
];

/// Last parts of a URL query parameter's name whose value is a signature or a token
/// (`query_parameter`).
const QUERY_SECRET_WORDS: &[&[u8]] = &[b"sig", b"signature", b"token", b"secret", b"password", b"apikey"];

/// A JWK's private members: EC `d`, RSA `d p q dp dq qi`, symmetric `k` (RFC 7518).
const JWK_PRIVATE_MEMBERS: &[&[u8]] = &[b"d", b"p", b"q", b"dp", b"dq", b"qi", b"k"];

/// Last words of a label whose value a human chose: shorter quoted values count, and reading
/// like words is no exemption.
const PASSWORD_WORDS: &[&[u8]] = &[b"password", b"passwd", b"pwd", b"passphrase"];

/// Words in front of a label word that name something that is not a secret (`public_key`,
/// `primaryKey`, `next_page_token`).
const NOT_SECRET_QUALIFIERS: &[&[u8]] = &[
    b"public",
    b"primary",
    b"foreign",
    b"sort",
    b"partition",
    b"cache",
    b"idempotency",
    b"routing",
    b"lookup",
    b"object",
    b"row",
    b"hash",
    b"translation",
    b"next",
    b"page",
    b"continuation",
    b"cancel",
    b"cancellation",
];

/// Values that stand for "no secret here".
const NOT_SECRET_WORDS: &[&[u8]] = &[b"none", b"null", b"nil", b"true", b"false", b"undefined", b"changeme"];

// ---------------------------------------------------------------------------------------------
// The scanner

/// A byte range of the original text to replace with one marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    partial: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Secret,
    Password,
    /// An `Authorization` header: a scheme word, then its credential (`token …`, `Digest …`);
    /// otherwise judged as `Secret`.
    Authorization,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    /// The text was cut at its end: a secret may continue past it.
    cut: bool,
    spans: &'a mut Vec<Span>,
    /// A private-key block ran into the end of the text without its END line.
    key_block_open: bool,
    /// What the URL matcher has already looked for ahead of a `://` (see `connection_string`).
    blanks: NextMatch,
    line_breaks: NextMatch,
    quotes: NextMatch,
    urls: NextMatch,
    hosts: HostAts,
    /// Where `"kty"` occurs, for the JWK matcher.
    ktys: Occurrences,
}

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8], cut: bool, spans: &'a mut Vec<Span>) -> Self {
        Scanner {
            bytes,
            cut,
            spans,
            key_block_open: false,
            blanks: NextMatch::default(),
            line_breaks: NextMatch::default(),
            quotes: NextMatch::default(),
            urls: NextMatch::default(),
            hosts: HostAts::default(),
            ktys: Occurrences::default(),
        }
    }

    /// Collects the spans of the whole text. `in_key_block`: the text continues a private-key
    /// block (the next line of a diff); returns whether a block is still open at the end.
    fn run(&mut self, in_key_block: bool) -> bool {
        let bytes = self.bytes;
        let mut i = if in_key_block { self.key_body(0) } else { 0 };
        let mut previous = if i > 0 { CLASS[bytes[i - 1] as usize] } else { 0 };
        while i < bytes.len() {
            let c = bytes[i];
            let class = CLASS[c as usize];
            // The hot loop: one lookup and one rarely taken branch per byte.
            let armed = TRIGGER | BACKSLASH | if previous & WORD == 0 { WORD_START_TRIGGER } else { 0 };
            if class & armed == 0 {
                previous = class;
                i += 1;
                continue;
            }
            // A word starts after an escaped line break too (`\nAGE-SECRET-KEY-1…` in a JSON
            // string): the escape is looked at where its rare backslash is, not at every letter.
            if c == b'\\' {
                let escaped = bytes.get(i + 1).copied().filter(|c| matches!(c, b'n' | b'r' | b't'));
                let Some(letter) = escaped else {
                    previous = class;
                    i += 1;
                    continue;
                };
                // The escape's letter follows a backslash, so it starts a word itself.
                let resume = if has(letter, WORD_START_TRIGGER) { self.prefixed_token(i + 1) } else { None };
                i = resume.unwrap_or(i + 2);
                previous = if after_escaped_break(bytes, i) { 0 } else { CLASS[bytes[i - 1] as usize] };
                continue;
            }
            let resume = match c {
                b':' | b'=' => self.separator(i),
                b'-' => self.private_key(i).or_else(|| self.cli_flag(i)),
                b'>' => self.xml_element(i),
                b'e' => self.jwt(i),
                b'B' | b'b' => self.auth_scheme(i).or_else(|| self.prefixed_token(i)),
                _ => self.prefixed_token(i),
            };
            i = resume.map_or(i + 1, |resume| resume.max(i + 1));
            previous = if after_escaped_break(bytes, i) { 0 } else { CLASS[bytes[i - 1] as usize] };
        }
        self.key_block_open
    }

    /// Records a span, merging it into the previous one when they overlap or touch; returns its
    /// end (where the walk resumes). In a cut text a span reaching the end may be partial.
    fn push(&mut self, start: usize, end: usize, partial: bool) -> usize {
        debug_assert!(start < end);
        let partial = partial || (self.cut && end == self.bytes.len());
        match self.spans.last_mut() {
            Some(last) if start <= last.end => {
                last.end = last.end.max(end);
                last.partial |= partial;
            }
            _ => self.spans.push(Span { start, end, partial }),
        }
        end
    }

    /// A run reaching the end of a cut text may be the start of a longer secret.
    fn runs_into_cut(&self, end: usize) -> bool {
        self.cut && end == self.bytes.len()
    }

    /// A token with a prefix of `PREFIX_RULES` at `i`; inlined, so the many word starts whose
    /// second byte no prefix has cost the hot loop no call.
    #[inline(always)]
    fn prefixed_token(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let second = bytes.get(i + 1).copied().unwrap_or(0xff);
        if second >= 128 || SECOND_BYTES[bytes[i] as usize] >> second & 1 == 0 {
            return None;
        }
        self.prefix_rules(i)
    }

    #[inline(never)]
    fn prefix_rules(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let (first, last) = RULES_BY_FIRST_BYTE[bytes[i] as usize];
        for rule in &PREFIX_RULES[first as usize..last as usize] {
            // The second byte first: most words starting with `s` or `g` end here.
            if bytes.get(i + 1) != rule.prefix.get(1) || !bytes[i..].starts_with(rule.prefix) {
                continue;
            }
            let body = i + rule.prefix.len();
            let bounded = rule.max != OPEN;
            let end = run_end(bytes, body, rule.body, if bounded { rule.max + 1 } else { OPEN });
            let len = end - body;
            let glued = bounded && bytes.get(end).is_some_and(|&c| has(c, ALNUM));
            if (rule.min..=rule.max).contains(&len) && !glued {
                let end = if rule.tail == 0 { end } else { run_end(bytes, end, rule.tail, OPEN) };
                return Some(self.push(i, end, false));
            }
            if self.runs_into_cut(end) {
                return Some(self.push(i, end, true));
            }
        }
        None
    }

    /// `eyJ…` header, payload and signature, base64url, joined by dots.
    fn jwt(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        // Only at the start of a base64url run (not after `-` either): see the module doc.
        if !bytes[i..].starts_with(b"eyJ") || (i > 0 && has(bytes[i - 1], B64URL)) {
            return None;
        }
        let mut segment_start = i;
        let mut end = i;
        for segment in 0..3 {
            let (min, max) = if segment == 0 { (3 + 8, MAX_JWT_HEADER) } else { (8, usize::MAX) };
            end = run_end(bytes, segment_start, B64URL, max.saturating_add(1));
            if self.runs_into_cut(end) {
                return Some(self.push(i, end, true));
            }
            let len = end - segment_start;
            if len < min || len > max {
                return None;
            }
            if segment < 2 {
                if bytes.get(end) != Some(&b'.') {
                    return None;
                }
                segment_start = end + 1;
            }
        }
        Some(self.push(i, end, false))
    }

    /// `Bearer <token>` and `Basic <base64>`, as in an `Authorization` header; the scheme word is
    /// kept.
    fn auth_scheme(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let (word_len, basic) = if starts_with_ignore_case(&bytes[i..], b"bearer") {
            (6, false)
        } else if starts_with_ignore_case(&bytes[i..], b"basic") {
            (5, true)
        } else {
            return None;
        };
        let start = skip_blanks(bytes, i + word_len)?;
        if start == i + word_len {
            return None; // `bearer_token`, `basically`: one word, not a scheme and a credential
        }
        let run = run_end(bytes, start, TOKEN, usize::MAX);
        if run > start && self.runs_into_cut(run) {
            return Some(self.push(start, run, true));
        }
        let end = trim_dots(bytes, start, run);
        let value = &bytes[start..end];
        if value.len() < 16 {
            return None;
        }
        // `Basic` is also an English word; base64 of `user:password` nearly always has a digit or
        // `+ / =` in it, a capitalised word does not.
        let base64_like = !basic || value.iter().any(|&c| c.is_ascii_digit() || matches!(c, b'+' | b'/' | b'='));
        if value.len() <= MAX_EXEMPT && (!base64_like || not_a_secret(value, false)) {
            return None;
        }
        Some(self.push(start, end, false))
    }

    /// At `:` or `=`: a connection string (`://`), or a labelled value (`api_key = …`).
    fn separator(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let separator_len = match (bytes[i], bytes.get(i + 1).copied()) {
            (b':', Some(b'/')) if bytes.get(i + 2) == Some(&b'/') => return self.connection_string(i),
            // `==`, `::`: comparisons and paths, not assignments.
            (b':', Some(b':')) | (b'=', Some(b'=')) => return None,
            (b':', Some(b'=')) | (b'=', Some(b'>')) => 2,
            _ => 1,
        };
        if bytes[i] == b'='
            && let Some(found) = self.query_parameter(i)
        {
            return found;
        }
        if bytes[i] == b':'
            && let Some(found) = self.telegram_bot_token(i).map(Some).or_else(|| self.jwk_member(i))
        {
            return found;
        }
        // `NAME=value` glued, as a shell assigns it.
        if bytes[i] == b'='
            && bytes.get(i + 1).is_some_and(|&c| !has(c, WHITESPACE))
            && let Some(label) = shell_label(bytes, i)
        {
            return self.shell_value(i + 1, label);
        }
        let label = label_before(bytes, i)?;
        let start = skip_blanks(bytes, i + separator_len)?;
        self.labelled_value(start, label)
    }

    /// After an `Authorization` label: a scheme word other than `Bearer`/`Basic` (those have their
    /// own matcher) and its credential. A single credential of 16+ token characters (`token <40
    /// hex>`, `Token …`, `Negotiate …`) is masked; parameters (`Digest username="…",
    /// response="…"`, `AWS4-HMAC-SHA256 Credential=…, Signature=…`) are masked to the end of the
    /// line, or of the quoted string the header sits in, when one of them holds 16+ characters.
    fn authorization(&mut self, start: usize) -> Option<usize> {
        let bytes = self.bytes;
        let escapes = run_end(bytes, start, BACKSLASH, MAX_ESCAPES + 1) - start;
        let quote = bytes.get(start + escapes).copied().filter(|&q| is_quote(q) && escapes <= MAX_ESCAPES);
        let scheme = if quote.is_some() { start + escapes + 1 } else { start };
        let scheme_end = run_end(bytes, scheme, B64URL, MAX_FLAG + 1);
        let name = &bytes[scheme..scheme_end];
        if name.len() < 2 || name.len() > MAX_FLAG || !name[0].is_ascii_alphabetic() {
            return None;
        }
        if name.eq_ignore_ascii_case(b"bearer") || name.eq_ignore_ascii_case(b"basic") {
            return None;
        }
        let credential = skip_blanks(bytes, scheme_end)?;
        if credential == scheme_end {
            return None;
        }
        let run = run_end(bytes, credential, TOKEN, OPEN);
        let first = &bytes[credential..run];
        let name_len = first.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-').count();
        // `name=value` or `name="…"`; `abc=` or `abc==` alone is base64 padding.
        let padding = first.get(name_len..).is_some_and(|rest| rest == b"=" || rest == b"==");
        let parameters = name_len > 0
            && first.get(name_len) == Some(&b'=')
            && (!padding || bytes.get(run).is_some_and(|&c| is_quote(c) || c == b'\\'));
        if !parameters {
            let end = trim_dots(bytes, credential, run);
            let value = &bytes[credential..end];
            if value.len() < 16 || (value.len() <= MAX_EXEMPT && not_a_secret(value, false)) {
                return None;
            }
            return Some(self.push(credential, end, false));
        }
        // Parameters: to the line's end or the closing quote (not an escaped one), at most
        // MAX_AUTH_PARAMETERS bytes.
        let limit = bytes.len().min(credential + MAX_AUTH_PARAMETERS);
        let mut end = credential;
        let mut longest = 0;
        let mut current = 0;
        while end < limit && !matches!(bytes[end], b'\n' | b'\r') {
            let c = bytes[end];
            if quote == Some(c) && bytes[end - 1] != b'\\' {
                break;
            }
            current = if has(c, VALUE) && c != b'=' { current + 1 } else { 0 };
            longest = longest.max(current);
            end += 1;
        }
        (longest >= 16).then(|| self.push(credential, end, false))
    }

    /// At `=` after a URL query parameter (`?` or `&` before its name) named for a signature or
    /// a token: `sig=` (Azure SAS), `signature=`, `X-Amz-Signature=`, `X-Goog-Signature=`,
    /// `X-Amz-Security-Token=`, `token=`, `access_token=`, `code_secret=`. The value, up to the
    /// next parameter, is masked from 8 characters on (a signature is never a word). None when
    /// the name is no such parameter: other matchers judge it.
    fn query_parameter(&mut self, eq: usize) -> Option<Option<usize>> {
        let bytes = self.bytes;
        let mut start = eq;
        while start > 0 && eq - start <= MAX_FLAG && (has(bytes[start - 1], B64URL) || bytes[start - 1] == b'.') {
            start -= 1;
        }
        if start == 0 || start == eq || !matches!(bytes[start - 1], b'?' | b'&' | b';') {
            return None;
        }
        let mut parts = bytes[start..eq].rsplit(|&c| matches!(c, b'-' | b'_' | b'.')).filter(|part| !part.is_empty());
        let last = parts.next()?;
        if !QUERY_SECRET_WORDS.iter().any(|word| last.eq_ignore_ascii_case(word)) {
            return None;
        }
        if parts.next().is_some_and(|q| NOT_SECRET_QUALIFIERS.iter().any(|w| q.eq_ignore_ascii_case(w))) {
            return Some(None);
        }
        let value = eq + 1;
        let end = run_end(bytes, value, VALUE, OPEN);
        let end = if self.runs_into_cut(end) { end } else { trim_dots(bytes, value, end) };
        let text = &bytes[value..end];
        let secret = (text.len() >= 8 || (end > value && self.runs_into_cut(end)))
            && (text.len() > MAX_EXEMPT || !not_a_secret(text, false));
        Some(secret.then(|| self.push(value, end, self.runs_into_cut(end))))
    }

    /// A Telegram bot token, `<bot id>:<35 of [A-Za-z0-9_-]>`, at its `:`: 8 to 10 digits not
    /// glued to a word before it, `AA` and 33 more after it.
    fn telegram_bot_token(&mut self, colon: usize) -> Option<usize> {
        let bytes = self.bytes;
        let digits = bytes[..colon].iter().rev().take(11).take_while(|c| c.is_ascii_digit()).count();
        let start = colon - digits;
        // Glued to a word only in the Bot API's URL path (`/bot<token>/getMe`).
        let glued = start > 0 && has(bytes[start - 1], WORD) && !bytes[..start].ends_with(b"/bot");
        if !(8..=10).contains(&digits) || glued {
            return None;
        }
        let end = run_end(bytes, colon + 1, B64URL, 36);
        let token = &bytes[colon + 1..end];
        (token.len() == 35 && token.starts_with(b"AA")).then(|| self.push(start, end, false))
    }

    /// At the `:` after a JWK private member's name (`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`,
    /// `"qi"`, `"k"`, also with escaped quotes) in an object that looks like a JWK (`"kty"`
    /// within JWK_WINDOW bytes): its base64url value of 16+ characters is masked. None when the
    /// name is no such member.
    fn jwk_member(&mut self, colon: usize) -> Option<Option<usize>> {
        let bytes = self.bytes;
        let mut end = colon;
        while end > 0 && colon - end < MAX_GAP && has(bytes[end - 1], BLANK) {
            end -= 1;
        }
        if end == 0 || bytes[end - 1] != b'"' {
            return None;
        }
        let name_end = end - 1 - run_end_back(bytes, end - 1, BACKSLASH, MAX_ESCAPES);
        let name_start =
            name_end - bytes[..name_end].iter().rev().take(3).take_while(|c| c.is_ascii_lowercase()).count();
        let name = &bytes[name_start..name_end];
        if !JWK_PRIVATE_MEMBERS.contains(&name) || name_start == 0 || bytes[name_start - 1] != b'"' {
            return None;
        }
        let (before, after) = self.ktys.around(bytes, colon);
        let near =
            before.is_some_and(|at| colon - at <= JWK_WINDOW) || after.is_some_and(|at| at - colon <= JWK_WINDOW);
        let start = skip_blanks(bytes, colon + 1)?;
        let escapes = run_end(bytes, start, BACKSLASH, MAX_ESCAPES + 1) - start;
        if bytes.get(start + escapes) != Some(&b'"') {
            return Some(None);
        }
        let value = start + escapes + 1;
        let value_end = run_end(bytes, value, B64URL, OPEN);
        let member = &bytes[value..value_end];
        // With its `"kty"` out of reach (cut off, or a JWK written without one), a member still
        // holds a key when its value is as long as the shortest private member (an EC or
        // Ed25519 `"d"`: 32 bytes, 43 characters) and random-looking.
        let random = |member: &[u8]| {
            member.len() >= JWK_MIN_UNANCHORED
                && member.iter().any(u8::is_ascii_uppercase)
                && member.iter().any(u8::is_ascii_lowercase)
                && member.iter().any(u8::is_ascii_digit)
        };
        let key = if near { member.len() >= 16 } else { random(member) };
        Some(key.then(|| self.push(value, value_end, self.runs_into_cut(value_end))))
    }

    /// The value of `NAME=value` as a shell, a `.env` file or a Dockerfile writes it, where NAME
    /// is a password or secret variable (`shell_label`): what the shell would assign, quoted or
    /// one shell word (`Ab!c#d`, `p@ss:w/rd`). Any value of three or more characters counts,
    /// words included (`PGPASSWORD=letmein`), unless it is a reference, a placeholder or code
    /// (`$DB_PASS`, `"${TOKEN}"`, `$(vault read …)`, `os.environ["X"]`). What is not a closed
    /// quote or a shell word (`\"` inside JSON) is judged as any labelled value.
    fn shell_value(&mut self, start: usize, label: Label) -> Option<usize> {
        let bytes = self.bytes;
        let quote = bytes[start];
        if quote == b'"' || quote == b'\'' {
            let limit = bytes.len().min(start + 1 + MAX_QUOTED);
            let mut end = start + 1;
            while end < limit && bytes[end] != quote && !matches!(bytes[end], b'\n' | b'\r') {
                // Inside double quotes a backslash escapes the next byte.
                end += if quote == b'"' && bytes[end] == b'\\' { 2 } else { 1 };
            }
            if end < limit && bytes[end] == quote {
                return self.shell_secret(start + 1, end, label, false);
            }
            return self.labelled_value(start, label);
        }
        let end = shell_word_end(bytes, start, MAX_EXEMPT + 1);
        if end == start {
            return self.labelled_value(start, label);
        }
        if end - start > MAX_EXEMPT {
            // Too long to be judged: masked whole (see the module doc).
            return Some(self.push(start, shell_word_end(bytes, start, usize::MAX), false));
        }
        self.shell_secret(start, end, label, true)
    }

    /// Masks a shell-assigned value unless it stands for no secret; `unquoted`: it may be code.
    fn shell_secret(&mut self, start: usize, end: usize, label: Label, unquoted: bool) -> Option<usize> {
        let bytes = self.bytes;
        let value = &bytes[start..end];
        let at_cut = self.runs_into_cut(end);
        let code = unquoted && {
            let run = run_end(bytes, start, VALUE, end - start);
            is_code_reference(&bytes[start..run], &bytes[run..])
        };
        let not_secret = (value.len() < 3 && !at_cut)
            || value.starts_with(MASK_START)
            || not_a_secret(value, label == Label::Password)
            || code;
        (!not_secret).then(|| self.push(start, end, at_cut))
    }

    /// The value of a secret label, starting at `start` (after the separator and its blanks):
    /// quoted (also `\"…\"`, and `\\\"…\\\"` of JSON inside JSON) or not.
    fn labelled_value(&mut self, mut start: usize, label: Label) -> Option<usize> {
        let bytes = self.bytes;
        if label == Label::Authorization
            && let Some(end) = self.authorization(start)
        {
            return Some(end);
        }
        // An opening quote after its escaping backslashes, if any.
        let escapes = run_end(bytes, start, BACKSLASH, MAX_ESCAPES + 1) - start;
        let quote = bytes.get(start + escapes).copied().filter(|&q| is_quote(q) && escapes <= MAX_ESCAPES);
        if let Some(quote) = quote {
            start += escapes + 1;
            // A human-chosen password may be a phrase; a key is one token.
            let end = run_until_quote(bytes, start, quote, escapes > 0, label == Label::Password);
            let closing = run_end(bytes, end, BACKSLASH, escapes + 1) - end;
            let closed = closing == escapes && bytes.get(end + closing) == Some(&quote);
            if closed {
                return self.quoted_value(start, end, label);
            }
            if end > start && self.runs_into_cut(end) {
                return Some(self.push(start, end, true));
            }
            // Not a closed short string (`"two words"`, a long blob): judge it unquoted.
        }
        self.unquoted_value(start, label)
    }

    fn quoted_value(&mut self, start: usize, end: usize, label: Label) -> Option<usize> {
        let value = &self.bytes[start..end];
        let secret = match label {
            // A human-chosen password: any 8+ characters, words included.
            Label::Password => value.len() >= 8 && !not_a_secret(value, true),
            // A key: a machine-made token; `"token": "https://…"` is configuration.
            Label::Secret | Label::Authorization => {
                value.len() >= 16 && value.iter().all(|&c| has(c, VALUE)) && !not_a_secret(value, false)
            }
        };
        secret.then(|| self.push(start, end, false))
    }

    fn unquoted_value(&mut self, start: usize, label: Label) -> Option<usize> {
        let bytes = self.bytes;
        let run = run_end(bytes, start, VALUE, usize::MAX);
        if run == start {
            return None;
        }
        let at_cut = self.runs_into_cut(run);
        let end = if at_cut { run } else { trim_dots(bytes, start, run) };
        let value = &bytes[start..end];
        if !at_cut && value.len() < 16 && !(label == Label::Password && short_password(value)) {
            return None;
        }
        if value.len() <= MAX_EXEMPT
            && (not_a_secret(value, label == Label::Password) || is_code_reference(value, &bytes[end..]))
        {
            return None;
        }
        Some(self.push(start, end, at_cut))
    }

    /// `scheme://user:PASSWORD@host`: only the password is masked; `://:PASSWORD@host` too, and
    /// a user that is itself a credential (`https://TOKEN@github.com/…`, `://TOKEN:@host`).
    ///
    /// The user ends at the first `:` or `@`, or at anything that ends an authority, so
    /// `https://example.com/a?mail=u@example.com` has no userinfo; digits after the `:` up to
    /// such a byte are a port (`https://host:8443?email=user@example.com`). A password may hold
    /// `@ # / ? ;` and quotes: it ends at the last `@` followed by a host name before the next
    /// blank or `://`; failing that, in a quoted URL, a password with blanks ends at the first
    /// such `@` on its line before any quote. Both look at most MAX_USERINFO bytes ahead, through the scanner's memos, so each
    /// byte is examined a bounded number of times however many `://` the text holds.
    fn connection_string(&mut self, colon: usize) -> Option<usize> {
        let bytes = self.bytes;
        if colon == 0 || !has(bytes[colon - 1], ALNUM) {
            return None; // no scheme
        }
        let userinfo = colon + 3;
        let limit = bytes.len().min(userinfo + MAX_USERINFO);
        let stop = (userinfo..limit).find(|&p| matches!(bytes[p], b'@' | b':') || ends_userinfo(bytes[p]))?;
        let user = &bytes[userinfo..stop];
        if bytes[stop] == b'@' {
            let token = token_like(user) && host_follows(bytes, stop + 1, host_end(bytes, stop + 1));
            return token.then(|| self.push(userinfo, stop, false));
        }
        if bytes[stop] != b':' {
            return None;
        }
        let start = stop + 1;
        let digits = start + bytes[start..limit].iter().take_while(|c| c.is_ascii_digit()).count();
        let port = bytes.get(digits).is_none_or(|&c| ends_userinfo(c));
        if port || bytes[start..].starts_with(MASK_START) {
            return None;
        }
        let window = bytes.len().min(start + MAX_USERINFO);
        let next_url = self.urls.find(bytes, start, is_scheme_separator).min(window);
        let blank = self.blanks.find(bytes, start, |bytes, p| has(bytes[p], WHITESPACE));
        let mut at = self.hosts.last_in(bytes, start, blank.min(next_url));
        if at.is_none() && blank < next_url && has(bytes[blank], BLANK) && opening_quote(bytes, colon) {
            // Blanks are no part of a URL: only a quoted one (`"mysql://u:my pass@db"`) is read
            // past them, so prose (`http://host:port, or ask admin@example.com`) is left alone.
            let line_end = self.line_breaks.find(bytes, start, |bytes, p| matches!(bytes[p], b'\n' | b'\r'));
            let quote = self.quotes.find(bytes, start, |bytes, p| is_quote(bytes[p]));
            at = self.hosts.first_in(bytes, blank, line_end.min(next_url).min(quote));
        }
        let Some(at) = at else {
            // Cut inside `user:pass`: mask what may be a password.
            let partial = self.runs_into_cut(limit)
                && start < limit
                && bytes[start..limit].iter().all(|&c| c != b'@' && !ends_userinfo(c));
            return partial.then(|| self.push(start, limit, true));
        };
        let user_token = token_like(user) || (user.len() >= 16 && user.iter().all(|&c| has(c, TOKEN)) && at == start);
        if user_token {
            self.push(userinfo, stop, false);
        }
        if at > start {
            return Some(self.push(start, at, false));
        }
        user_token.then_some(at)
    }

    /// `--api-key VALUE`, `--password VALUE`: a command-line flag named like a secret, its value
    /// after blanks (`--api-key=VALUE` is a separator's business).
    fn cli_flag(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        if bytes.get(i + 1) != Some(&b'-') || (i > 0 && bytes[i - 1] == b'-') {
            return None;
        }
        let name_end = run_end(bytes, i + 2, B64URL, MAX_FLAG + 1);
        if name_end == i + 2 || name_end - (i + 2) > MAX_FLAG || !has(*bytes.get(name_end)?, BLANK) {
            return None;
        }
        let label = label_ending_at(bytes, name_end)?;
        let start = skip_blanks(bytes, name_end)?;
        self.labelled_value(start, label)
    }

    /// `<password>VALUE</password>`, `<apiKey>VALUE</apiKey>`: an XML element named like a
    /// secret, judged like a quoted value. At the `>` of the start tag; attributes are not read.
    fn xml_element(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let mut name_start = i;
        while name_start > 0
            && i - name_start <= MAX_FLAG
            && (has(bytes[name_start - 1], B64URL) || bytes[name_start - 1] == b'.')
        {
            name_start -= 1;
        }
        if name_start == i || name_start == 0 || bytes[name_start - 1] != b'<' {
            return None;
        }
        let label = label_ending_at(bytes, i)?;
        let start = i + 1;
        let limit = bytes.len().min(start + MAX_QUOTED + 1);
        let end = (start..limit).find(|&p| matches!(bytes[p], b'<' | b'\n' | b'\r')).unwrap_or(limit);
        if bytes[end..].starts_with(b"</") {
            return self.quoted_value(start, end, label);
        }
        (end > start && self.runs_into_cut(end)).then(|| self.push(start, end, true))
    }

    /// At `-----BEGIN … PRIVATE KEY-----` (PEM, OpenSSH, PGP) or `---- BEGIN … PRIVATE KEY ----`
    /// (SSH2, RFC 4716): the marker is kept and the body masked.
    fn private_key(&mut self, i: usize) -> Option<usize> {
        // The sixth byte first: dashes are common in code, `-----B` and `---- B` are not.
        if self.bytes.get(i + 5) != Some(&b'B') {
            return None;
        }
        let marker_end = begin_marker(&self.bytes[i..]).filter(|&(_, private)| private)?.0;
        Some(self.key_body(i + marker_end))
    }

    /// Masks a private-key body from `from` to its END marker, or to the end of the text when
    /// there is none (fail closed); returns where the walk resumes.
    fn key_body(&mut self, from: usize) -> usize {
        let bytes = self.bytes;
        let (body_end, resume) = find_private_key_end(bytes, from).unwrap_or((bytes.len(), bytes.len()));
        self.key_block_open = body_end == bytes.len();
        // The line breaks around the body and the indentation of its lines and of the END line
        // stay, so BEGIN and END keep their own lines and a YAML block keeps its shape.
        let mut start = from;
        if bytes[start..body_end].starts_with(b"\r\n") {
            start += 2;
        } else if bytes[start..body_end].starts_with(b"\n") {
            start += 1;
        }
        start = run_end(bytes, start, BLANK, body_end - start);
        let mut end = body_end;
        while end > start && has(bytes[end - 1], BLANK) {
            end -= 1;
        }
        if bytes[start..end].ends_with(b"\r\n") {
            end -= 2;
        } else if bytes[start..end].ends_with(b"\n") {
            end -= 1;
        }
        if start < end {
            self.push(start, end, self.key_block_open && self.cut);
        }
        resume
    }
}

/// The first position at or after a query's start where a test holds (or the text's end),
/// remembered: the URL matcher queries from starts that only move forward, so a query whose
/// start is not past the last answer costs nothing and the scans of the others never overlap.
/// Each byte is tested once over the whole text, however many `://` it holds.
#[derive(Default)]
struct NextMatch {
    /// The last query's start and answer: nothing in `[from, found)` matches.
    last: Option<(usize, usize)>,
    /// Positions tested, for the tests' linearity check.
    tested: usize,
}

impl NextMatch {
    fn find(&mut self, bytes: &[u8], at: usize, test: fn(&[u8], usize) -> bool) -> usize {
        if let Some((from, found)) = self.last
            && from <= at
            && at <= found
        {
            return found;
        }
        let found = (at..bytes.len()).find(|&p| test(bytes, p)).unwrap_or(bytes.len());
        self.tested += found.saturating_sub(at) + 1;
        self.last = Some((at, found));
        found
    }
}

/// The occurrences of `"kty` (a JWK's key type member) around a position, found by one forward
/// scan extended on demand: queries come at positions that only move forward.
#[derive(Default)]
struct Occurrences {
    /// Everything before this has been scanned.
    scanned: usize,
    /// The last occurrence found before the last query, and the first at or after it.
    before: Option<usize>,
    next: Option<usize>,
    /// Bytes looked at, for the tests' linearity check.
    tested: usize,
}

impl Occurrences {
    const NEEDLE: &'static [u8] = b"\"kty";

    fn around(&mut self, bytes: &[u8], at: usize) -> (Option<usize>, Option<usize>) {
        loop {
            match self.next {
                Some(next) if next >= at => break,
                Some(next) => {
                    self.before = Some(next);
                    self.next = None;
                }
                None if self.scanned < bytes.len() => {
                    let found = bytes[self.scanned..].windows(Self::NEEDLE.len()).position(|w| w == Self::NEEDLE);
                    let end = found.map_or(bytes.len(), |k| self.scanned + k + 1);
                    self.tested += end - self.scanned;
                    self.next = found.map(|k| self.scanned + k);
                    self.scanned = end;
                    if self.next.is_none() {
                        break;
                    }
                }
                None => break,
            }
        }
        (self.before, self.next)
    }
}

/// Every `@` followed by a host name, found by one forward scan extended on demand; the URL
/// matcher asks for the last or first of them inside a window.
#[derive(Default)]
struct HostAts {
    /// Everything before this has been scanned.
    scanned: usize,
    ats: Vec<usize>,
    /// Bytes looked at, host names included, for the tests' linearity check.
    tested: usize,
}

impl HostAts {
    fn scan_to(&mut self, bytes: &[u8], end: usize) {
        while self.scanned < end {
            if bytes[self.scanned] == b'@' {
                let host_end = host_end(bytes, self.scanned + 1);
                self.tested += host_end - self.scanned;
                if host_follows(bytes, self.scanned + 1, host_end) {
                    self.ats.push(self.scanned);
                }
            }
            self.tested += 1;
            self.scanned += 1;
        }
    }

    /// The last host `@` in `[from, to)`.
    fn last_in(&mut self, bytes: &[u8], from: usize, to: usize) -> Option<usize> {
        self.scan_to(bytes, to);
        let before = self.ats.partition_point(|&at| at < to);
        self.ats[..before].last().copied().filter(|&at| at >= from)
    }

    /// The first host `@` in `[from, to)`.
    fn first_in(&mut self, bytes: &[u8], from: usize, to: usize) -> Option<usize> {
        self.scan_to(bytes, to);
        let first = self.ats.partition_point(|&at| at < from);
        self.ats.get(first).copied().filter(|&at| at < to)
    }
}

/// Whether a quote comes right before the scheme of the `://` at `colon`.
fn opening_quote(bytes: &[u8], colon: usize) -> bool {
    let scheme = bytes[..colon]
        .iter()
        .rev()
        .take(MAX_FLAG)
        .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'))
        .count();
    colon.checked_sub(scheme + 1).is_some_and(|before| is_quote(bytes[before]))
}

/// `://` at `p`.
fn is_scheme_separator(bytes: &[u8], p: usize) -> bool {
    bytes[p] == b':' && bytes[p + 1..].starts_with(b"//")
}

/// End of the host-name run (`[A-Za-z0-9._-]`) starting at `from`. Host runs after two `@`
/// never overlap (`@` ends a run), so scanning one after every `@` stays linear.
fn host_end(bytes: &[u8], from: usize) -> usize {
    let run = bytes[from..].iter().take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'));
    from + run.count()
}

/// Whether the host run `[from, end)` after an `@` is a host: it starts with a letter or digit
/// (or it is an IPv6 literal's `[`) and the authority ends after it. `@ss@host` or `@ss!x@host`
/// is part of a password, not a host.
fn host_follows(bytes: &[u8], from: usize, end: usize) -> bool {
    if end == from {
        return bytes.get(from) == Some(&b'[');
    }
    bytes[from].is_ascii_alphanumeric()
        && bytes.get(end).is_none_or(|&c| {
            has(c, WHITESPACE)
                || matches!(c, b':' | b'/' | b'?' | b'#' | b'"' | b'\'' | b'`' | b')' | b']' | b'>' | b'<')
                || matches!(c, b',' | b';' | b'\\' | b'}' | b'|')
        })
}

/// A URL user that is itself a credential (`https://TOKEN@github.com`): a piece of 16+ letters
/// and digits that switches between the two at least four times, as random tokens do and names
/// (`git`, `jane.doe`, `build-agent-2024`, `user20240101backup`) do not.
fn token_like(user: &[u8]) -> bool {
    user.split(|&c| matches!(c, b'-' | b'_' | b'.' | b'~')).any(|piece| {
        piece.len() >= 16
            && piece.iter().all(u8::is_ascii_alphanumeric)
            && piece.windows(2).filter(|pair| pair[0].is_ascii_digit() != pair[1].is_ascii_digit()).count() >= 4
    })
}

/// The label in front of a separator at `separator`, if its last word names a secret. Reaches
/// over blanks, a closing quote (also `\"`) and a `]`: `"secret_key": `, `config["api_key"] = `.
fn label_before(bytes: &[u8], separator: usize) -> Option<Label> {
    let mut end = separator;
    while end > 0 && has(bytes[end - 1], BLANK) {
        end -= 1;
        if separator - end > MAX_GAP {
            return None;
        }
    }
    if end > 0 && bytes[end - 1] == b']' {
        end -= 1;
    }
    let quoted = end > 0 && is_quote(bytes[end - 1]);
    if quoted {
        end -= 1;
        // `\"`, `\\\"`: a quote escaped once or more (JSON inside a string, inside JSON).
        let mut escapes = 0;
        while end > 0 && bytes[end - 1] == b'\\' && escapes < MAX_ESCAPES {
            end -= 1;
            escapes += 1;
        }
    }
    label_ending_at(bytes, end).or_else(|| if quoted { escaped_label(bytes, end) } else { None })
}

/// A quoted label ending at `end` written with JSON `\u` escapes (`"\u0070assword"`), read
/// as JSON would: the label is decoded back to its opening quote (at most MAX_ESCAPED_LABEL
/// bytes) and judged as written plainly.
fn escaped_label(bytes: &[u8], end: usize) -> Option<Label> {
    let start = end - bytes[..end].iter().rev().take(MAX_ESCAPED_LABEL).take_while(|&&c| !is_quote(c)).count();
    let raw = &bytes[start..end];
    if !raw.windows(2).any(|pair| pair == b"\\u") {
        return None;
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut k = 0;
    while k < raw.len() {
        // Any number of backslashes before `u`: JSON inside JSON escapes the escape.
        let slashes = raw[k..].iter().take_while(|&&c| c == b'\\').count();
        let hex = raw.get(k + slashes + 1..k + slashes + 5);
        if slashes > 0
            && raw.get(k + slashes) == Some(&b'u')
            && let Some(code) =
                hex.and_then(|hex| std::str::from_utf8(hex).ok()).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            decoded.push(code);
            k += slashes + 5;
        } else {
            decoded.push(raw[k]);
            k += 1;
        }
    }
    label_ending_at(&decoded, decoded.len())
}

/// The label of `NAME=` at `eq` when NAME is an upper-case shell variable named for a password
/// or a secret. Its last `_` part decides: `PASS`, `PASSWD`, `PASSWORD`, `PASSPHRASE` (also
/// glued: `PGPASSWORD`), `PWD` after another part (`MYSQL_PWD`; `PWD` alone is the working
/// directory), `SECRET`, `TOKEN`, `APIKEY`, or `KEY` after `API` or `SECRET`. Near misses that
/// are not: `PASS_THRESHOLD`, `BYPASS`, `PASSES`, `MAX_TOKENS`, `TOKEN_TYPE`, `NEXT_PAGE_TOKEN`.
fn shell_label(bytes: &[u8], eq: usize) -> Option<Label> {
    let mut start = eq;
    while start > 0 && eq - start <= MAX_FLAG && matches!(bytes[start - 1], b'A'..=b'Z' | b'0'..=b'9' | b'_') {
        start -= 1;
    }
    // The `n` of an escaped line break (`\nAPI_TOKEN=`, text inside a JSON string) is no part of
    // the name.
    let escaped_break = start >= 2 && bytes[start - 2] == b'\\' && matches!(bytes[start - 1], b'n' | b't' | b'r');
    let glued = start > 0 && (has(bytes[start - 1], WORD) || bytes[start - 1] == b'.') && !escaped_break;
    if start == eq || eq - start > MAX_FLAG || bytes[start].is_ascii_digit() || glued {
        return None;
    }
    let mut parts = bytes[start..eq].rsplit(|&c| c == b'_').filter(|part| !part.is_empty());
    let last = parts.next()?;
    let previous = parts.next();
    if previous.is_some_and(|q| NOT_SECRET_QUALIFIERS.iter().any(|w| q.eq_ignore_ascii_case(w))) {
        return None;
    }
    if upper_password_word(last) || matches!(last, b"PASSPHRASE") || (last == b"PWD" && previous.is_some()) {
        Some(Label::Password)
    } else if matches!(last, b"SECRET" | b"TOKEN" | b"APIKEY")
        || (last == b"KEY" && matches!(previous, Some(b"API" | b"SECRET")))
    {
        Some(Label::Secret)
    } else {
        None
    }
}

/// `PASS`, and upper-case words ending in `PASSWORD` or `PASSWD` (`PGPASSWORD`): password
/// words of environment variables. Lower-case `pass` is not one (`pass: true`, a test result).
fn upper_password_word(word: &[u8]) -> bool {
    word == b"PASS"
        || (word.iter().all(u8::is_ascii_uppercase) && (word.ends_with(b"PASSWORD") || word.ends_with(b"PASSWD")))
}

/// End of the shell word starting at `from`, looking at no more than `max` bytes: up to a blank,
/// an operator, a quote, or a JSON escape (`\n`, `\"`: the text may be a JSON string's).
fn shell_word_end(bytes: &[u8], from: usize, max: usize) -> usize {
    let limit = bytes.len().min(from.saturating_add(max));
    let mut end = from;
    while end < limit {
        match bytes[end] {
            b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' | b'"' | b'\'' | b'`' => break,
            b'\\' if matches!(bytes.get(end + 1), Some(b'n' | b't' | b'r' | b'"')) => break,
            c if has(c, WHITESPACE) => break,
            _ => end += 1,
        }
    }
    end
}

/// The label whose name ends at `end`, if its last word names a secret and no qualifier in
/// front of it says otherwise (`public_key`).
fn label_ending_at(bytes: &[u8], end: usize) -> Option<Label> {
    let word_start = last_word_start(bytes, end)?;
    let word = &bytes[word_start..end];
    let mut qualifier_end = word_start;
    if qualifier_end > 0 && matches!(bytes[qualifier_end - 1], b'_' | b'-' | b'.') {
        qualifier_end -= 1;
    }
    let qualifier = last_word_start(bytes, qualifier_end).map(|start| &bytes[start..qualifier_end]);
    let label = if PASSWORD_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w)) || upper_password_word(word) {
        Label::Password
    } else if word.eq_ignore_ascii_case(b"authorization") {
        Label::Authorization
    } else if SECRET_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
        // kubeconfig's `client-key-data`: a base64 private key (its `client-certificate-data`
        // is public).
        || (word.eq_ignore_ascii_case(b"data") && qualifier.is_some_and(|q| q.eq_ignore_ascii_case(b"key")))
    {
        Label::Secret
    } else {
        return None;
    };
    if qualifier.is_some_and(|q| NOT_SECRET_QUALIFIERS.iter().any(|w| q.eq_ignore_ascii_case(w))) {
        return None;
    }
    Some(label)
}

/// Start of the last word of an identifier ending at `end`: a lowercase run with at most one
/// capital in front (`secretKey` → `Key`) or a run of capitals (`API_KEY` → `KEY`). None when
/// there is none or it is longer than any label word (`monkey` is one word, not `key`).
fn last_word_start(bytes: &[u8], end: usize) -> Option<usize> {
    let last = *bytes.get(end.checked_sub(1)?)?;
    if !last.is_ascii_alphabetic() {
        return None;
    }
    let lowercase = last.is_ascii_lowercase();
    let mut start = end - 1;
    while start > 0 && bytes[start - 1].is_ascii_alphabetic() && bytes[start - 1].is_ascii_lowercase() == lowercase {
        // The `n` of an escaped line break (`\npassword`, text inside a JSON string) is no part
        // of the word.
        if start >= 2 && bytes[start - 2] == b'\\' && matches!(bytes[start - 1], b'n' | b't' | b'r') {
            break;
        }
        start -= 1;
        if end - start > MAX_LABEL_WORD {
            return None;
        }
    }
    if last.is_ascii_lowercase() && start > 0 && bytes[start - 1].is_ascii_uppercase() {
        start -= 1;
    }
    Some(start)
}

/// A labelled value that stands for no secret: a reference (`${VAR}`, `$VAR`), a placeholder
/// (`<your key>`, `{{ vault }}`, `%(pw)s`, `***`, `xxxx`), a non-value word, a path, or, unless a
/// human chose it, a name made of words (`DEFAULT_TOKEN_VALUE`, `CancellationTokenSource`).
fn not_a_secret(value: &[u8], human_chosen: bool) -> bool {
    let Some(&first) = value.first() else { return true };
    matches!(first, b'$' | b'<' | b'{' | b'%')
        || value.iter().all(|&c| c == first || matches!(c, b'x' | b'X' | b'*' | b'-' | b'_' | b'.'))
        || NOT_SECRET_WORDS.iter().any(|word| value.eq_ignore_ascii_case(word))
        || is_path(value)
        || (!human_chosen && is_words(value))
}

/// `/home/me/project`, `./certs/dev`, `~/.config/app`: at least two slashes, nothing base64-ish.
fn is_path(value: &[u8]) -> bool {
    let rooted = value.starts_with(b"/") || value.starts_with(b"./") || value.starts_with(b"~/");
    rooted
        && value.iter().filter(|&&c| c == b'/').count() >= 2
        && value.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-' | b'~'))
}

/// Letters only, shaped like a name: `snake_case`, `SCREAMING_SNAKE`, or CamelCase whose capitals
/// each start a lowercase word of 2+ letters. Random tokens almost never look like this.
fn is_words(value: &[u8]) -> bool {
    if !value.iter().all(|&c| c.is_ascii_alphabetic() || c == b'_') {
        return false;
    }
    let lower = !value.iter().any(u8::is_ascii_uppercase);
    let upper = !value.iter().any(u8::is_ascii_lowercase);
    if value.contains(&b'_') {
        return lower || upper;
    }
    !lower
        && !upper
        && value.iter().enumerate().all(|(k, c)| {
            !c.is_ascii_uppercase()
                || value.get(k + 1..k + 3).is_some_and(|next| next.iter().all(u8::is_ascii_lowercase))
        })
}

/// An unquoted value that is code: a dotted name (`self.settings.token`, `os.environ`,
/// `process.env.TOKEN`), or a name followed by a call, a subscript or a spaced operator
/// (`get_password()`, `_PREFIX + seed(text)`).
fn is_code_reference(value: &[u8], after: &[u8]) -> bool {
    if !value.split(|&c| c == b'.').all(is_identifier) {
        return false;
    }
    if value.contains(&b'.') {
        return true;
    }
    let blanks = after.iter().take(MAX_GAP).take_while(|&&c| has(c, BLANK)).count();
    match after.get(blanks) {
        Some(b'(' | b'[') => true,
        // `--next-flag` on a command line is no operator.
        Some(b'-') if after.get(blanks + 1) == Some(&b'-') => false,
        // Spaced only: `x=abc&page=2` is a query string, `a + b` is code.
        Some(b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&') => blanks > 0,
        _ => false,
    }
}

fn is_identifier(word: &[u8]) -> bool {
    matches!(word.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && word.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

fn is_quote(c: u8) -> bool {
    matches!(c, b'"' | b'\'' | b'`')
}

/// End of a quoted value's content: up to the closing quote (`\` for an escaped `\"`), a blank or
/// line break, or `MAX_QUOTED + 1` bytes.
/// With `blanks`, spaces and tabs are part of the value (a passphrase); a line break never is.
fn run_until_quote(bytes: &[u8], start: usize, quote: u8, escaped: bool, blanks: bool) -> usize {
    let limit = bytes.len().min(start + MAX_QUOTED + 1);
    (start..limit)
        .find(|&p| {
            bytes[p] == quote
                || (escaped && bytes[p] == b'\\')
                || (has(bytes[p], WHITESPACE) && !(blanks && has(bytes[p], BLANK)))
        })
        .unwrap_or(limit)
}

/// An unquoted password shorter than the usual minimum (`password=hunter2`): 6 to 15 characters
/// with a digit or a symbol in them. One made of letters only reads like a name or a type
/// (`password: String`, `password: PasswordHash`) and is left alone.
fn short_password(value: &[u8]) -> bool {
    value.len() >= 6 && value.iter().any(|&c| !c.is_ascii_alphabetic() && c != b'_')
}

/// A URL's userinfo cannot contain these; they end the authority or the URL.
fn ends_userinfo(c: u8) -> bool {
    has(c, WHITESPACE)
        || matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b'{' | b'}' | b'|' | b'^')
        || matches!(c, b'[' | b']')
}

/// A value's end without a full stop or an ellipsis after it, which are no part of a token. At
/// most three dots: a failed attempt must mean a short run (see the module doc), not a long run
/// of dots trimmed short.
fn trim_dots(bytes: &[u8], start: usize, end: usize) -> usize {
    let dots = bytes[start..end].iter().rev().take(3).take_while(|&&c| c == b'.').count();
    end - dots
}

fn starts_with_ignore_case(bytes: &[u8], word: &[u8]) -> bool {
    bytes.len() >= word.len() && bytes[..word.len()].eq_ignore_ascii_case(word)
}

/// After `-----BEGIN ` or `-----END ` (or SSH2's `---- BEGIN `) at `label`: the end of the
/// marker, and whether it is a private key's (`RSA PRIVATE KEY`, `OPENSSH PRIVATE KEY`,
/// `PGP PRIVATE KEY BLOCK`, `SSH2 ENCRYPTED PRIVATE KEY`, …). Certificates and public keys are
/// not secrets.
fn marker_end(bytes: &[u8], label: usize) -> Option<(usize, bool)> {
    let run = bytes[label..]
        .iter()
        .take(MAX_PEM_LABEL)
        .take_while(|&&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ')
        .count();
    let name = bytes[label..label + run].trim_ascii_end();
    let after = &bytes[label + name.len()..];
    if name.is_empty() || !(after.starts_with(b"-----") || after.starts_with(b" ----")) {
        return None;
    }
    let private = name.ends_with(b"PRIVATE KEY") || name.ends_with(b"PRIVATE KEY BLOCK");
    Some((label + name.len() + 5, private))
}

/// `-----BEGIN …-----` or `---- BEGIN … ----` at the start of `bytes`: its end, and whether it
/// opens a private key.
fn begin_marker(bytes: &[u8]) -> Option<(usize, bool)> {
    (bytes.starts_with(b"-----BEGIN ") || bytes.starts_with(b"---- BEGIN ")).then(|| marker_end(bytes, 11))?
}

/// `-----END …-----` or `---- END … ----` at the start of `bytes`: its end, and whether it
/// closes a private key.
fn end_marker(bytes: &[u8]) -> Option<(usize, bool)> {
    (bytes.starts_with(b"-----END ") || bytes.starts_with(b"---- END ")).then(|| marker_end(bytes, 9))?
}

/// The first private-key END marker at or after `from`: (its start, its end).
fn find_private_key_end(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    // `-END ` ends both marker styles' openings (`-----END `, `---- END ` has `- END `).
    let mut at = from;
    while let Some(k) = bytes[at..].windows(4).position(|window| window == b"END ") {
        let word = at + k;
        if word >= 5
            && let Some((end, true)) = end_marker(&bytes[word - 5..])
        {
            return Some((word - 5, word - 5 + end));
        }
        at = word + 4;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Key bodies by shape and neighbours

/// What a line is to the key-body rule (see `key_body_lines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyLine {
    /// Only base64 (`[A-Za-z0-9+/]`, up to two `=` at its end), at `range` of the line;
    /// `full`: a whole line of a key writer's width with mixed characters.
    Base64 {
        start: usize,
        end: usize,
        full: bool,
    },
    /// A private key's BEGIN line, or PuTTY's `Private-Lines:`: base64 lines after it are its body.
    PrivateBegin,
    /// A private key's END line: base64 lines before it are its body.
    PrivateEnd,
    /// A certificate's or public key's BEGIN line, or PuTTY's `Public-Lines:`.
    PublicBegin,
    /// A certificate's or public key's END line.
    PublicEnd,
    Other,
}

/// Widths key writers wrap base64 at: 64 (PEM, PuTTY, PGP armour), 70 (OpenSSH, SSH2's
/// `ssh-keygen -e`) and 72 (RFC 4716's limit).
const KEY_LINE_WIDTHS: [usize; 3] = [64, 70, 72];

/// What a line is: read past its indentation, and past the quotes, commas and brackets of a key
/// held as a string or a list of strings (`"MIIE…",`), and an escaped `\r` at its end.
fn key_line(line: &[u8]) -> KeyLine {
    let mut start = run_end(line, 0, BLANK, line.len());
    if matches!(line.get(start), Some(b'"' | b'\'')) {
        start += 1;
    }
    // Most lines are turned away at their first word: a base64 run followed, past any blanks, by
    // a byte no key line can end with (only quotes, commas and a `\r`, maybe escaped, trail one).
    let rest = &line[start..];
    let run = rest.iter().take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')).count();
    let marker =
        rest.first() == Some(&b'-') || rest.starts_with(b"Private-Lines:") || rest.starts_with(b"Public-Lines:");
    let after = run_end(rest, run, BLANK, OPEN);
    if !marker && after < rest.len() && !matches!(rest[after], b'\r' | b'"' | b'\'' | b',' | b'\\') {
        return KeyLine::Other;
    }
    let mut end = line.len();
    loop {
        let before = end;
        while end > start && (has(line[end - 1], BLANK) || matches!(line[end - 1], b'\r' | b'"' | b'\'' | b',')) {
            end -= 1;
        }
        // `\r` escaped (and `\\r`), then the line's last quote.
        if end > start + 1 && line[end - 1] == b'r' && line[end - 2] == b'\\' {
            end -= 2;
            while end > start && line[end - 1] == b'\\' {
                end -= 1;
            }
        }
        if end == before {
            break;
        }
    }
    let content = &line[start..end];
    let Some(&first) = content.first() else { return KeyLine::Other };
    if first == b'-' {
        return match (begin_marker(content), end_marker(content)) {
            (Some((_, true)), _) => KeyLine::PrivateBegin,
            (Some((_, false)), _) => KeyLine::PublicBegin,
            (_, Some((_, true))) => KeyLine::PrivateEnd,
            (_, Some((_, false))) => KeyLine::PublicEnd,
            _ => KeyLine::Other,
        };
    }
    if content.starts_with(b"Private-Lines:") {
        return KeyLine::PrivateBegin;
    }
    if content.starts_with(b"Public-Lines:") {
        return KeyLine::PublicBegin;
    }
    // The base64 run, up to a quote that closes the string holding it (`…", "next": …`).
    let run = content.iter().take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')).count();
    if run < content.len() && !matches!(content[run], b'"' | b'\'') {
        return KeyLine::Other;
    }
    let content = &content[..run];
    let end = start + run;
    let padding = content.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    let body = &content[..content.len() - padding];
    if body.is_empty() || body.contains(&b'=') {
        return KeyLine::Other;
    }
    // Random base64 of a full line has upper and lower case and a digit or `+ /`; text does not.
    let full = KEY_LINE_WIDTHS.contains(&content.len())
        && body.iter().any(u8::is_ascii_uppercase)
        && body.iter().any(u8::is_ascii_lowercase)
        && body.iter().any(|&c| c.is_ascii_digit() || c == b'+' || c == b'/');
    KeyLine::Base64 { start, end, full }
}

/// The lines of `lines` (`(key, content)`, content without its line break and diff prefix, in
/// order) that are the body of a private key, whatever part of the key they show: pushed to
/// `masked` as `(key, start, end)` of the content to mask. A run of base64-only lines is a key
/// body when a private key's BEGIN (or `Private-Lines:`) comes right before it or its END right
/// after it, or, with no certificate or public-key marker next to it, when it has two or more
/// lines, one of them a full line of a key writer's width (`KEY_LINE_WIDTHS`) with mixed
/// characters: what a hunk of three context lines shows of a key whose BEGIN and END lines are
/// out of view. A single base64 line stays (a hash, a short id); so does base64 inside a longer
/// line (lockfile integrity hashes, data URIs) and MIME's 76-column wrapping.
fn key_body_lines<'l>(lines: impl Iterator<Item = (usize, &'l [u8])>, masked: &mut Vec<(usize, usize, usize)>) {
    let mut run: Vec<(usize, usize, usize)> = Vec::new();
    let mut full = false;
    let mut before = KeyLine::Other;
    let mut flush = |run: &mut Vec<(usize, usize, usize)>, full: bool, before: KeyLine, after: KeyLine| {
        let private = before == KeyLine::PrivateBegin || after == KeyLine::PrivateEnd;
        let public = before == KeyLine::PublicBegin || after == KeyLine::PublicEnd;
        if private || (!public && full && run.len() >= 2) {
            masked.append(run);
        }
        run.clear();
    };
    for (key, line) in lines {
        match key_line(line) {
            KeyLine::Base64 { start, end, full: line_full } => {
                run.push((key, start, end));
                full |= line_full;
            }
            kind => {
                if !run.is_empty() {
                    flush(&mut run, full, before, kind);
                }
                full = false;
                before = kind;
            }
        }
    }
    if !run.is_empty() {
        flush(&mut run, full, before, KeyLine::Other);
    }
}

/// The lines of free text as `(offset, line)`: split at line breaks and, inside a line, at JSON
/// `\n` escapes (also `\\n` of JSON inside JSON), since an answer or a log may carry a file's
/// lines as one JSON string.
fn text_lines(input: &str) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = input.as_bytes();
    // No allocation per line, and without a backslash in the text (most of it) only a search for
    // line breaks (`str::find`, memchr).
    let escapes = bytes.contains(&b'\\');
    let mut at = Some(0);
    std::iter::from_fn(move || {
        let start = at?;
        if !escapes {
            let end = input[start..].find('\n').map(|k| start + k);
            at = end.map(|end| end + 1);
            return Some((start, &bytes[start..end.unwrap_or(bytes.len())]));
        }
        let mut k = start;
        while k < bytes.len() {
            match bytes[k] {
                b'\n' => {
                    at = Some(k + 1);
                    return Some((start, &bytes[start..k]));
                }
                b'\\' => {
                    let slashes = run_end(bytes, k, BACKSLASH, OPEN) - k;
                    if bytes.get(k + slashes) == Some(&b'n') {
                        at = Some(k + slashes + 1);
                        return Some((start, &bytes[start..k]));
                    }
                    k += slashes;
                }
                _ => k += 1,
            }
        }
        at = None;
        Some((start, &bytes[start..]))
    })
}

/// `spans` and `more` (each in order) as one ordered list, overlapping spans merged.
fn merge_spans(spans: &[Span], more: impl Iterator<Item = Span>) -> Vec<Span> {
    let mut all: Vec<Span> = spans.iter().copied().chain(more).collect();
    all.sort_by_key(|span| span.start);
    let mut merged: Vec<Span> = Vec::with_capacity(all.len());
    for span in all {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => {
                last.end = last.end.max(span.end);
                last.partial |= span.partial;
            }
            _ => merged.push(span),
        }
    }
    merged
}

/// Writes `text` with each span replaced by its marker; returns the number of markers.
fn render(out: &mut String, text: &str, spans: &[Span]) -> usize {
    let mut copied = 0;
    for span in spans {
        out.push_str(&text[copied..span.start]);
        out.push_str(if span.partial { PARTIAL_MASK } else { MASK });
        copied = span.end;
    }
    out.push_str(&text[copied..]);
    spans.len()
}

// ---------------------------------------------------------------------------------------------
// Diffs

fn is_section_start(line: &str) -> bool {
    line.starts_with("diff --git ") || line.starts_with("diff --cc ") || line.starts_with("diff --combined ")
}

fn line_break_len(line: &str) -> usize {
    if line.ends_with("\r\n") {
        2
    } else if line.ends_with('\n') {
        1
    } else {
        0
    }
}

fn without_break(line: &str) -> &str {
    &line[..line.len() - line_break_len(line)]
}

/// Redacts one line into `out`, keeping its first `keep` bytes and its line break; returns the
/// masks applied and whether a private-key block is open after it.
fn redact_line(out: &mut String, line: &str, keep: usize, spans: &mut Vec<Span>, in_key_block: bool) -> (usize, bool) {
    let body_end = line.len() - line_break_len(line);
    let content = &line[keep..body_end];
    spans.clear();
    let open = Scanner::new(content.as_bytes(), false, spans).run(in_key_block);
    if spans.is_empty() {
        out.push_str(line);
        return (0, open);
    }
    out.push_str(&line[..keep]);
    let masks = render(out, content, spans);
    out.push_str(&line[body_end..]);
    (masks, open)
}

/// One file of a diff, from its `diff --git` line to the next one.
fn redact_section(lines: &[&str], withheld: Withheld, result: &mut DiffRedaction, spans: &mut Vec<Span>) {
    let paths = SectionPaths::read(lines);
    let header = lines[0];
    let secret = paths.names.iter().any(|path| is_secret_path(path));
    if secret && withheld == Withheld::Dropped {
        result.withheld_paths.push(paths.display);
        return;
    }
    if secret {
        let line_break = &header[without_break(header).len()..];
        result.text.push_str(without_break(header));
        result.text.push_str(if line_break.is_empty() { "\n" } else { line_break });
        result.text.push_str(WITHHELD);
        // The section ends the way its last line did, so the diff's trailing newline is kept.
        let last = lines[lines.len() - 1];
        result.text.push_str(&last[without_break(last).len()..]);
        result.withheld_paths.push(paths.display);
        return;
    }
    result.text.push_str(header);
    let mut masks = 0;
    // None in the extended header (index, mode, ---/+++ lines: left as they are); then the width
    // of a content line's prefix: 1, or the number of parents of a combined diff.
    let mut prefix_width: Option<usize> = None;
    let mut in_key_block = false;
    let key_lines = section_key_lines(&lines[1..]);
    let mut next_key_line = key_lines.iter().peekable();
    for (index, line) in lines[1..].iter().enumerate() {
        if let Some(&(_, start, end)) = next_key_line.next_if(|&&(at, _, _)| at == index) {
            // A key body line: the prefix and indentation stay, the rest is one marker.
            result.text.push_str(&line[..start]);
            result.text.push_str(MASK);
            result.text.push_str(&line[end..]);
            masks += 1;
            continue;
        }
        if line.starts_with("@@") {
            let ats = line.bytes().take_while(|&c| c == b'@').count();
            prefix_width = Some((ats - 1).max(1));
            // The function context after the closing `@@` is text of the file too.
            let body = without_break(line);
            let keep = body[ats..].find(&body[..ats]).map_or(body.len(), |k| ats + k + ats);
            masks += redact_line(&mut result.text, line, keep, spans, false).0;
            continue;
        }
        let Some(width) = prefix_width else {
            result.text.push_str(line);
            continue;
        };
        if line.starts_with('\\') {
            result.text.push_str(line); // `\ No newline at end of file`
            continue;
        }
        let prefixed = line.len() >= width && line.as_bytes()[..width].iter().all(|&c| matches!(c, b'+' | b'-' | b' '));
        // Anything else in a hunk area (`git log -p` commit headers) is scanned whole.
        let keep = if prefixed { width.min(without_break(line).len()) } else { 0 };
        let (line_masks, open) = redact_line(&mut result.text, line, keep, spans, in_key_block);
        masks += line_masks;
        in_key_block = open;
    }
    result.inline_masks += masks;
    if masks > 0 {
        result.masked_paths.push(paths.display);
    }
}

/// The key body lines of a file section's hunks (`lines` after its `diff --git` line), as
/// `(index, start, end)` of the line: context, removed and added lines alike, each read without
/// its prefix, a hunk at a time.
fn section_key_lines(lines: &[&str]) -> Vec<(usize, usize, usize)> {
    // The prefix width of each content line (None outside hunks and for other lines).
    let mut widths = Vec::with_capacity(lines.len());
    let mut prefix_width = None;
    for line in lines {
        let body = without_break(line);
        if line.starts_with("@@") {
            prefix_width = Some((line.bytes().take_while(|&c| c == b'@').count() - 1).max(1));
            widths.push(None);
            continue;
        }
        widths.push(prefix_width.filter(|&width| {
            body.len() >= width && body.as_bytes()[..width].iter().all(|&c| matches!(c, b'+' | b'-' | b' '))
        }));
    }
    let contents = lines.iter().zip(&widths).enumerate().map(|(index, (line, width))| {
        (index, width.map_or(&b""[..], |width| &without_break(line).as_bytes()[width..]))
    });
    let mut masked = Vec::new();
    key_body_lines(contents, &mut masked);
    for (index, start, end) in &mut masked {
        let width = widths[*index].unwrap_or(0);
        *start += width;
        *end += width;
    }
    masked
}

/// The names a file section goes by: every one is checked against `is_secret_path`, and
/// `display` (the new name, unless the file was deleted) is the one reported.
struct SectionPaths {
    names: Vec<String>,
    display: String,
}

impl SectionPaths {
    fn read(lines: &[&str]) -> SectionPaths {
        let header = without_break(lines[0]);
        let (old, new) = header_paths(header);
        let (mut minus, mut plus, mut from, mut to) = (None, None, None, None);
        for line in lines[1..].iter().map(|line| without_break(line)).take_while(|line| !line.starts_with("@@")) {
            if let Some(path) = line.strip_prefix("--- ") {
                minus = patch_path(path);
            } else if let Some(path) = line.strip_prefix("+++ ") {
                plus = patch_path(path);
            } else if let Some(path) = line.strip_prefix("rename from ").or_else(|| line.strip_prefix("copy from ")) {
                from = Some(decode_path(path));
            } else if let Some(path) = line.strip_prefix("rename to ").or_else(|| line.strip_prefix("copy to ")) {
                to = Some(decode_path(path));
            }
        }
        let display = [&plus, &to, &new, &minus, &from, &old]
            .into_iter()
            .find_map(Clone::clone)
            .unwrap_or_else(|| header.to_owned());
        let names = [old, new, minus, plus, from, to].into_iter().flatten().collect();
        SectionPaths { names, display }
    }
}

/// The old and new names of a `diff --git a/x b/x` line (one name for `diff --cc x`).
fn header_paths(header: &str) -> (Option<String>, Option<String>) {
    let Some(rest) = header.strip_prefix("diff --git ") else {
        let rest = header.strip_prefix("diff --cc ").or_else(|| header.strip_prefix("diff --combined "));
        return (None, rest.filter(|rest| !rest.is_empty()).map(decode_path));
    };
    if rest.starts_with('"') {
        let Some((old, used)) = c_unquote(rest) else { return (None, None) };
        let new = rest[used..].strip_prefix(' ').map(|new| strip_side(&decode_path(new)));
        return (Some(strip_side(&old)), new);
    }
    // An unquoted name never contains `"` (git quotes it then), so ` "` starts a quoted new name.
    if let Some(k) = rest.find(" \"") {
        return (Some(strip_side(&rest[..k])), Some(strip_side(&decode_path(&rest[k + 1..]))));
    }
    // The same name on both sides, the usual case and the only sure split of names with spaces.
    let mid = rest.len() / 2;
    if rest.len() % 2 == 1 && rest.as_bytes()[mid] == b' ' {
        let (old, new) = (strip_side(&rest[..mid]), strip_side(&rest[mid + 1..]));
        if old == new {
            return (Some(old), Some(new));
        }
    }
    // A rename: `rename from/to` and `---`/`+++` give the exact names; this is a best guess.
    match rest.find(" b/").or_else(|| rest.find(' ')) {
        Some(k) => (Some(strip_side(&rest[..k])), Some(strip_side(&rest[k + 1..]))),
        None => (Some(strip_side(rest)), None),
    }
}

/// The path of a `--- a/x` / `+++ b/x` line; None for `/dev/null`.
fn patch_path(field: &str) -> Option<String> {
    let path = if field.starts_with('"') {
        c_unquote(field)?.0
    } else {
        // git ends a name containing a space with a tab; other tools put a timestamp after it.
        field.split('\t').next().unwrap_or(field).to_owned()
    };
    (path != "/dev/null").then(|| strip_side(&path))
}

fn decode_path(field: &str) -> String {
    if field.starts_with('"') {
        c_unquote(field).map_or_else(|| field.to_owned(), |(path, _)| path)
    } else {
        field.to_owned()
    }
}

/// Drops git's `a/` or `b/` side prefix.
fn strip_side(path: &str) -> String {
    path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path).to_owned()
}

/// Decodes a C-quoted name as git writes it (`"caf\303\251.txt"`); returns it with the number
/// of bytes read, closing quote included.
fn c_unquote(quoted: &str) -> Option<(String, usize)> {
    let bytes = quoted.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), i + 1)),
            b'\\' => {
                let escaped = *bytes.get(i + 1)?;
                let octal = bytes[i + 1..].iter().take(3).take_while(|c| (b'0'..=b'7').contains(c)).count();
                if octal > 0 {
                    let value = bytes[i + 1..i + 1 + octal].iter().fold(0u32, |v, &d| v * 8 + u32::from(d - b'0'));
                    out.push(value as u8);
                    i += 1 + octal;
                } else {
                    out.push(match escaped {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'v' => 0x0b,
                        other => other,
                    });
                    i += 2;
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    None
}

/// Keeps the first occurrence of each path.
fn dedup(paths: &mut Vec<String>) {
    let mut seen = HashSet::new();
    paths.retain(|path| seen.insert(path.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[M]` / `[P]` in an expected output stand for `MASK` / `PARTIAL_MASK`.
    fn expand(expected: &str) -> String {
        expected.replace("[M]", MASK).replace("[P]", PARTIAL_MASK)
    }

    /// Runs a table and reports every mismatch at once, input / expected / actual each on its own
    /// line, so a failing vector reads without counting brackets.
    fn check_table(name: &str, redact: fn(&str) -> Redacted, vectors: &[(&str, &str)]) {
        let failures: Vec<String> = vectors
            .iter()
            .filter_map(|(input, expected)| {
                let expected = expand(expected);
                let actual = redact(input).text;
                (actual != expected)
                    .then(|| format!("  input:    {input:?}\n  expected: {expected:?}\n  actual:   {actual:?}\n"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{name}: {} of {} vectors failed:\n{}",
            failures.len(),
            vectors.len(),
            failures.join("\n")
        );
    }

    /// Secrets, each with its expected output.
    const SECRETS: &[(&str, &str)] = &[
        // docs/lessons.md §3's known faults, with the fixed behaviour (the false positives are in NOT_SECRETS).
        ("AKIAABCDEFGHIJKLMNOP", "[M]"),
        ("Authorization: Bearer abcdefghijklmnopqrstu", "Authorization: Bearer [M]"),
        (r#"api_key = "abcdefghijklmnop1234""#, r#"api_key = "[M]""#),
        ("password: hunter2hunter2hunter2", "password: [M]"),
        (r#""secret_key": "abcdefghijklmnopqrst""#, r#""secret_key": "[M]""#),
        // BEGIN/END lines are kept now and there is no body to mask.
        ("-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----"),
        ("postgres://user:s3cr3t@db.example.com:5432/app", "postgres://user:[M]@db.example.com:5432/app"),
        // Prefixed tokens.
        ("aws_access_key_id = ASIAABCDEFGHIJKLMNOP", "aws_access_key_id = [M]"),
        ("id=AKIAABCDEFGHIJKLMNOP,", "id=[M],"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123 end", "token [M] end"),
        ("gho_ABCDEFGHIJKLMNOPQRSTUVWX", "[M]"),
        ("export GITHUB_TOKEN=ghs_ABCDEFGHIJKLMNOPQRSTUV123", "export GITHUB_TOKEN=[M]"),
        ("github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJ", "[M]"),
        ("remote: glpat-abcdefghij0123456789", "remote: [M]"),
        ("slack xoxb-1234567890-abcdefghijklmn ok", "slack [M] ok"),
        ("xoxp-0123456789-0123456789-abcdefabcdef", "[M]"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz_-0123", "[M]"),
        ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx", "OPENAI_API_KEY=[M]"),
        ("use sk-abcdefghijklmnopqrstuvwxyz012345 here", "use [M] here"),
        ("sk-abcdefghijklmnopqrst_more-chars.", "[M]."),
        ("(sk-svcacct-abcdefghijklmnopqrstuvwxyz)", "([M])"),
        ("stripe sk_live_abcdefghijklmnop1234 ok", "stripe [M] ok"),
        ("rk_live_0123456789abcdefABCD", "[M]"),
        ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "[M]"),
        ("key=AIzaSyA1234567890abcdefghijklmnopqrstuv", "key=[M]"),
        (
            "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789",
            "//registry.npmjs.org/:_authToken=[M]",
        ),
        ("pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdo", "[M]"),
        // JWTs.
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "[M]"),
        (
            "Cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop; Path=/",
            "Cookie: session=[M]; Path=/",
        ),
        // Authorization schemes.
        ("authorization: bearer ABCDEF0123456789abcdef", "authorization: bearer [M]"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZDEyMzQ='", "curl -H 'Authorization: Basic [M]'"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop", "Authorization: Bearer [M]"),
        (
            r#"headers = {"Authorization": "Bearer 0123456789abcdef0123"}"#,
            r#"headers = {"Authorization": "Bearer [M]"}"#,
        ),
        // Labelled values.
        ("API_KEY=abcdef0123456789abcdef", "API_KEY=[M]"),
        ("secretKey: 'Zm9vYmFyYmF6cXV4MTIzNDU2'", "secretKey: '[M]'"),
        (r#"db_password = "hunter2x""#, r#"db_password = "[M]""#),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY=[M]"),
        ("access-token: 0123456789abcdef0123", "access-token: [M]"),
        (r#"config["api_key"] = "abcdefghijklmnop1234""#, r#"config["api_key"] = "[M]""#),
        (r#"{\"api_key\": \"abcdefghijklmnop1234\"}"#, r#"{\"api_key\": \"[M]\"}"#),
        (r#"token = "s3cr3t-t0k3n-v4lu3-abcd""#, r#"token = "[M]""#),
        ("client_secret := abcdefghijklmnop1234", "client_secret := [M]"),
        ("'auth_token' => 'abcdefghijklmnop1234',", "'auth_token' => '[M]',"),
        ("GET /cb?access_token=abcdefghijklmnop1234&page=2", "GET /cb?access_token=[M]&page=2"),
        (r#"passphrase: "correct-horse""#, r#"passphrase: "[M]""#),
        ("DB_PASSWORD=p@ssw0rd!p@ssw0rd!", "DB_PASSWORD=[M]"),
        ("X-Api-Key: abcdef0123456789abcdef", "X-Api-Key: [M]"),
        ("credentials: abcdefghijklmnop1234.", "credentials: [M]."),
        (r#"passwd="Tr0ub4dor&3""#, r#"passwd="[M]""#),
        (r#"{"password":"CorrectHorseBattery"}"#, r#"{"password":"[M]"}"#),
        ("APIKEY=0123456789abcdef0123456789abcdef", "APIKEY=[M]"),
        (r#"{"token": "abc$def%ghi^jkl@mnop"}"#, r#"{"token": "[M]"}"#),
        // Connection strings.
        ("redis://:hunter2@cache:6379", "redis://:[M]@cache:6379"),
        ("https://ghp_abcdefghijklmnopqrstuvwxyz0123:@github.com/org/repo", "https://[M]:@github.com/org/repo"),
        ("mongodb+srv://admin:Pa55w0rd@cluster0.example.net/db", "mongodb+srv://admin:[M]@cluster0.example.net/db"),
        ("amqp://guest:guest@localhost:5672/", "amqp://guest:[M]@localhost:5672/"),
        (r#"DATABASE_URL="mysql://app:pa;ss,w(rd@db:3306/x""#, r#"DATABASE_URL="mysql://app:[M]@db:3306/x""#),
        // Private keys.
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabcdef\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\n[M]\n-----END RSA PRIVATE KEY-----\n",
        ),
        (
            "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAA\r\nmore\r\n",
            "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\r\n[M]\r\n",
        ),
        (
            r#""private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n""#,
            r#""private_key": "-----BEGIN PRIVATE KEY-----[M]-----END PRIVATE KEY-----\n""#,
        ),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n[M]\n-----END PGP PRIVATE KEY BLOCK-----",
        ),
        // Shapes from the secrets corpus (fixtures/secrets/corpus.tsv).
        (
            "mytool deploy --api-key Fq9FakeCliApiKey0123456789abcd --region eu",
            "mytool deploy --api-key [M] --region eu",
        ),
        ("psql-admin --password FakeCliPw3 --host db", "psql-admin --password [M] --host db"),
        ("      <password>FakeMavenPassw0rd</password>", "      <password>[M]</password>"),
        ("<db.apiKey>FakeXmlApiKey0123456789abcdef</db.apiKey>", "<db.apiKey>[M]</db.apiKey>"),
        (r#"passphrase: "correct horse battery staple""#, r#"passphrase: "[M]""#),
        (r#"password = "Fake My Cnf Pass 4""#, r#"password = "[M]""#),
        ("password=hunter22", "password=[M]"),
        ("db_password: s3cr3t!", "db_password: [M]"),
        ("ENV DB_PASSWORD=FakeDockerPw5", "ENV DB_PASSWORD=[M]"),
        ("?user=app&password=FakeJdbcPw88", "?user=app&password=[M]"),
        ("APP_TOKEN = xapp-1-A0FAKE12345-1234567890123-fakeapptoken", "APP_TOKEN = [M]"),
        ("login(\"hf_FakeHuggingFaceToken0123456789abcdefGH\")", "login(\"[M]\")"),
        (
            "SendGridAPIClient('SG.FakeKeyId0123456789ab.FakeSecretPart0123456789abcdefghijklmnopq')",
            "SendGridAPIClient('[M]')",
        ),
        ("const s = 'whsec_FakeWebhookSigningSecret0123456789ab';", "const s = '[M]';"),
        ("curl https://hooks.slack.com/services/T0FAKE123/B0FAKE456/FakeWebhookSecret0123", "curl https://[M]"),
        // JSON inside a JSON string (a raw answer, a log line): escaped quotes and line breaks.
        (r#"{"body":"{\"password\":\"FakeEscapedPw99\"}"}"#, r#"{"body":"{\"password\":\"[M]\"}"}"#),
        (
            r#"{\"log\": \"{\\\"api_key\\\": \\\"abcdefghijklmnop1234\\\"}\"}"#,
            r#"{\"log\": \"{\\\"api_key\\\": \\\"[M]\\\"}\"}"#,
        ),
        (
            r#"{"summary": "a\npassword = \"FakeTomlPassw0rd\"\ntoken = abcdefghijklmnop1234"}"#,
            r#"{"summary": "a\npassword = \"[M]\"\ntoken = [M]"}"#,
        ),
        // Shell assignments of password and secret variables: any shell word or quoted value.
        ("export PGPASSWORD=Ab!c#d", "export PGPASSWORD=[M]"),
        ("DB_PASS=hunter2 psql -h db", "DB_PASS=[M] psql -h db"),
        ("PASS=letmein", "PASS=[M]"),
        ("export DB_PASS=\"pa ss#1\" && run", "export DB_PASS=\"[M]\" && run"),
        ("SMTP_PASS='it#is:me' ./send", "SMTP_PASS='[M]' ./send"),
        ("MYSQL_PWD=s3cret ./run", "MYSQL_PWD=[M] ./run"),
        ("export API_TOKEN=abc123", "export API_TOKEN=[M]"),
        ("SECRET_KEY=mysecret", "SECRET_KEY=[M]"),
        ("docker run -e MY_APIKEY=k3y/with:odd@chars img", "docker run -e MY_APIKEY=[M] img"),
        (r#"{"cmd": "PGPASSWORD=pw42x psql\nexit"}"#, r#"{"cmd": "PGPASSWORD=[M] psql\nexit"}"#),
        (r#"{"summary": "a\nAPI_TOKEN=tok42x ./deploy"}"#, r#"{"summary": "a\nAPI_TOKEN=[M] ./deploy"}"#),
        ("DB_PASS = \"hunter2x\"", "DB_PASS = \"[M]\""),
        // URL passwords holding `@ # / ?`, blanks and quotes; a token as the URL user.
        ("postgres://admin:Ab!c#d@db/x", "postgres://admin:[M]@db/x"),
        ("postgres://admin:p@ss/w?rd@db:5432/x", "postgres://admin:[M]@db:5432/x"),
        (r#"dsn = "mysql://app:my secret pass@db/x""#, r#"dsn = "mysql://app:[M]@db/x""#),
        (r#"url = "postgres://u:pa"ss'x@db/x""#, r#"url = "postgres://u:[M]@db/x""#),
        ("redis://default:pw@[::1]:6379", "redis://default:[M]@[::1]:6379"),
        ("postgres://u:pw@db/x, mail bob@example.com", "postgres://u:[M]@db/x, mail bob@example.com"),
        (r#"["https://u:p1@a.io","https://v:p2@b.io"]"#, r#"["https://u:[M]@a.io","https://v:[M]@b.io"]"#),
        (
            "git clone https://0123abcd4567ef89ab01cd23ef45ab67cd89ef01@github.com/org/repo",
            "git clone https://[M]@github.com/org/repo",
        ),
        ("https://a1b2c3d4e5f6a7b8c9d0:x-oauth-basic@github.com/o/r", "https://[M]:[M]@github.com/o/r"),
        // Spans of different patterns merge into one marker.
        ("api_key=AKIAABCDEFGHIJKLMNOP", "api_key=[M]"),
        ("token: sk-proj-abcdefghijklmnopqrstuvwx", "token: [M]"),
        ("two AKIAABCDEFGHIJKLMNOP and ghp_abcdefghijklmnopqrstuvwxyz", "two [M] and [M]"),
    ];

    /// Ordinary code and prose that must come out unchanged.
    const NOT_SECRETS: &[&str] = &[
        // docs/lessons.md §3's false positives, fixed.
        "token = _PLACEHOLDER_PREFIX + seed(text)",
        "https://host.example:8443?email=user@example.com",
        // Code references and placeholders after a secret-looking label.
        "password = get_password_from_vault()",
        r#"api_key = os.environ["OPENAI_API_KEY"]"#,
        "token = self.settings.token_value",
        "secret_key: ${SECRET_KEY}",
        "let token_count = tokens.len();",
        "max_tokens: 4096",
        "password_hash = hash_password(pw)",
        "def rotate_api_key(self):",
        "api_key = None",
        "token = process.env.GITHUB_TOKEN",
        "API_KEY=xxxxxxxxxxxxxxxxxxxxxxxx",
        r#"password: "changeme""#,
        r#"api_key: "<your-api-key-here>""#,
        "token: CancellationTokenSource,",
        "auth_token = DEFAULT_AUTH_TOKEN_VALUE",
        "public_key: MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
        "next_page_token: CiAKGjBpNDd2Nmp2Zml2cXRyMzBzZzBxeHMxYRgB",
        "cache_key = user_profile_settings_v2",
        "PWD=/home/someone/projects/codex-in-claude",
        "let secret = SecretString::new(value);",
        "if key == KEY_UP_ARROW_PRESSED_NOW:",
        "case KEY_UP: return;",
        r#"monkey = "abcdefghijklmnopqrst""#,
        "token_type: bearer",
        // URLs, emails, hosts.
        "https://host:8080/path@v2",
        "git@github.com:org/repo.git",
        "contact user@example.com",
        "http://localhost:3000",
        "see https://example.com/a?token_type=bearer&expires_in=3600",
        "Signed-off-by: Jane Doe <jane@example.com>",
        // Hashes, ids, encoded data.
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "id: 123e4567-e89b-12d3-a456-426614174000",
        "uuid = 550e8400-e29b-41d4-a716-446655440000",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        r#"version = "1.2.3-alpha.4+build.5678""#,
        // Prefixes inside words, or too short.
        "pip install scikit-learn sk-learn",
        "task-1234567890abcdefghijklmnop",
        "mask_live_abcdefghijklmnop1234",
        "xAKIAABCDEFGHIJKLMNOP",
        "AKIA is the prefix of AWS access key ids",
        "ghp_ is the prefix of GitHub tokens",
        "eyJ is the base64 of a JSON object's start",
        "tokenizer = AutoTokenizer.from_pretrained(\"bert-base-uncased\")",
        // Prose with scheme words, CSS, public key material.
        "Bearer authentication is described in RFC 6750",
        "Basic Internationalization support",
        ".button { color: #ff0000; background-image: url(/img/a.png); }",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----",
        // Flags, elements and short values that are not secrets.
        "Pass --password-file /run/secrets/db to read it from a file.",
        "mytool deploy --api-key $MYTOOL_API_KEY --region eu-west-1",
        "ls --sort size --color auto",
        "pub struct Login { pub username: String, pub password: String }",
        "    password: PasswordHash,",
        "password_min_length: 12",
        "    <passwordEncoder>bcrypt</passwordEncoder>",
        "    <key>API_TOKEN</key>",
        "<token>short</token>",
        "if (a > b && c >= d) { return x->y; }",
        "Vec<Token>::new()",
        r#"password: "{{ vault_db_password }}""#,
        r#"{"text": "see\nkeyboard = layout"}"#,
        // Shell near misses: other words ending in PASS, counts, references, code, short values.
        "PASS_THRESHOLD=3",
        "BYPASS=1 COMPASS=north PASSES=3",
        "MAX_TOKENS=4096 NEXT_PAGE_TOKEN=CiAKGjBpNDd2Nm TOKEN_TYPE=bearer",
        "OLDPWD=/tmp PWD=/home/me/src",
        "DB_PASS=$DB_PASS_FROM_VAULT",
        r#"export PGPASSWORD="${PGPASSWORD}""#,
        "export GITHUB_TOKEN=$(gh auth token)",
        r#"API_TOKEN=os.environ["API_TOKEN"]"#,
        "PASSWORD=get_password()",
        "SKIP_PASS=true FIRST_PASS=1",
        "pass: 12 of 12",
        "PASS=[redacted: secret value]",
        // URL users and ports that are not credentials.
        "ssh://git@github.com:22/org/repo.git",
        "https://jane.doe@bitbucket.org/team/repo.git",
        "https://build-agent-2024@ci.example.com/x",
        "https://user20240101backup@host/x",
        "http://localhost:3000/api?to=a@b.com",
        "https://host:8443/x?mail=u@example.com and https://a.b/c",
        "see x://u:a b c without an at sign",
        "Open http://host:port in a browser, or write to admin@example.com",
        "'see http://host:port' and 'mail admin@example.com'",
        // Already redacted text stays as it is.
        "api_key = \"[redacted: secret value]\" and postgres://u:[redacted: secret value]@h",
    ];

    #[test]
    fn text_vectors() {
        let unchanged: Vec<(&str, &str)> = NOT_SECRETS.iter().map(|input| (*input, *input)).collect();
        check_table("secrets", text, SECRETS);
        check_table("not secrets", text, &unchanged);
        assert!(SECRETS.len() + NOT_SECRETS.len() >= 70 && NOT_SECRETS.len() >= 25);
    }

    /// Deterministic fake token material: `len` characters of `alphabet` (xorshift from `seed`),
    /// so no real-looking secret is committed as a literal.
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

    const HEX_DIGITS: &str = "0123456789abcdef";
    const ALNUMS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const B64URL_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Each provider's documented format, written out here independently of PREFIX_RULES:
    /// (prefix, body alphabet, body length).
    fn provider_tokens() -> Vec<String> {
        let formats: &[(&str, &str, usize)] = &[
            ("shpat_", HEX_DIGITS, 32),
            ("shpss_", HEX_DIGITS, 32),
            ("shpca_", HEX_DIGITS, 32),
            ("ATATT3xFfGF0", B64URL_CHARS, 180),
            ("dop_v1_", HEX_DIGITS, 64),
            ("doo_v1_", HEX_DIGITS, 64),
            ("glsa_", ALNUMS, 32),
            ("glc_", BASE64, 60),
            ("hvs.", B64URL_CHARS, 91),
            ("hvb.", B64URL_CHARS, 140),
            ("ya29.a0", B64URL_CHARS, 60),
            ("AIza", B64URL_CHARS, 35),
            ("sk_live_", ALNUMS, 24),
            ("rk_live_", ALNUMS, 24),
            ("xoxb-", "0123456789", 12),
            ("SK", HEX_DIGITS, 32),
            ("SG.", ALNUMS, 66),
            ("key-", HEX_DIGITS, 32),
            ("discord.com/api/webhooks/1234567890123456789/", B64URL_CHARS, 68),
            ("HRKU-AA", B64URL_CHARS, 58),
            ("lin_api_", ALNUMS, 40),
            ("dp.pt.", ALNUMS, 43),
            ("dapi", HEX_DIGITS, 32),
            ("pscale_tkn_", B64URL_CHARS, 43),
            ("sbp_", HEX_DIGITS, 40),
            ("PMAK-", HEX_DIGITS, 24),
            ("hf_", "abcdefghijklmnopqrstuvwxyz", 34),
            ("pul-", HEX_DIGITS, 40),
            ("sntryu_", HEX_DIGITS, 64),
            ("npm_", ALNUMS, 36),
            ("pypi-AgEIcHlwaS5vcmc", B64URL_CHARS, 80),
            ("ghp_", ALNUMS, 36),
            ("glpat-", B64URL_CHARS, 20),
            ("glrt-", B64URL_CHARS, 20),
            ("AGE-SECRET-KEY-1", "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
            ("LTAI", ALNUMS, 20),
            ("dckr_pat_", B64URL_CHARS, 27),
            ("gsk_", ALNUMS, 52),
            ("sk-or-v1-", HEX_DIGITS, 64),
            ("rubygems_", HEX_DIGITS, 48),
        ];
        formats
            .iter()
            .enumerate()
            .map(|(k, (prefix, alphabet, len))| {
                let mut token = format!("{prefix}{}", fake(alphabet, *len, k as u64 + 7));
                match *prefix {
                    "glsa_" => token.push_str(&format!("_{}", fake(HEX_DIGITS, 8, 3))),
                    "xoxb-" => token.push_str(&format!("-{}-{}", fake("0123456789", 12, 4), fake(ALNUMS, 24, 5))),
                    "PMAK-" => token.push_str(&format!("-{}", fake(HEX_DIGITS, 34, 6))),
                    _ => {}
                }
                token
            })
            .collect()
    }

    #[test]
    fn provider_tokens_are_masked_in_prose_and_under_neutral_keys() {
        let mut failures = Vec::new();
        for token in provider_tokens() {
            for input in [
                format!("use {token} for the deploy"),
                format!("value: {token}"),
                format!("\"x\": \"{token}\","),
                format!("(`{token}`)"),
            ] {
                let out = text(&input).text;
                if out.contains(&token) || !out.contains(MASK) {
                    failures.push(format!("  {input:?}\n  -> {out:?}"));
                }
            }
        }
        // Telegram's bot token has no prefix: `<bot id>:AA<33>`, in prose and in the Bot API path.
        let telegram = format!("123456789:AA{}", fake(B64URL_CHARS, 33, 9));
        for input in [format!("bot {telegram} here"), format!("https://api.telegram.org/bot{telegram}/getMe")] {
            if text(&input).text.contains(&telegram) {
                failures.push(format!("  {input:?}"));
            }
        }
        assert!(failures.is_empty(), "{} leaked:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn near_misses_of_provider_prefixes_stay() {
        let commit = fake(HEX_DIGITS, 40, 11);
        let unchanged = [
            "shpat_test and shpss_ are Shopify's prefixes".to_string(),
            "Lorem ipsum dolor, dapibus nec, dapi lectus".to_string(),
            "skip SKU SKELETON SK-1234".to_string(),
            "key-value store; key-0123 is short".to_string(),
            "hvs.example and hvb. tokens expire".to_string(),
            "ya29.x is an access token prefix".to_string(),
            "glsa_docs glc_ gsk_short".to_string(),
            "lin_api_docs dp.pt.short pul-request sbp_1234".to_string(),
            "AGE-SECRET-KEY-1 starts an age identity".to_string(),
            format!("commit {commit}"),
            format!("git checkout {}", &commit[..12]),
            "order id 12345678 : AAPL".to_string(),
            "at 10:30:00 the job ran".to_string(),
            "PMAK- and HRKU- prefixes; LTAI short".to_string(),
            format!("dop_v1_{}", fake(HEX_DIGITS, 12, 2)),
            "curl 'https://example.com/api?page_token=abc123def456&sig=&token=${TOKEN}'".to_string(),
            "See https://example.com/a?token_type=bearer&expires_in=3600".to_string(),
            "Authorization: Bearer ${token}".to_string(),
            "Authorization: token".to_string(),
            "Authorization: Digest realm=\"x\"".to_string(),
            r#"{"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWkRXjBZCiFV4n3oknjhMstn64tZ_2W", "use": "sig"}"#.to_string(),
            r#"{"d": "short", "kid": "2011-04-29"}"#.to_string(),
            r#"{"p": "0123456789abcdef0123456789"}"#.to_string(),
            r#"{"q": "how-to-rotate-the-signing-keys-of-a-cluster", "d": "2024-01-01T00:00:00Z"}"#.to_string(),
            format!(r#"{{"d": "{}"}}"#, fake(HEX_DIGITS, 64, 29)),
            "client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=".to_string(),
            r#""\u0074ype": "object""#.to_string(),
        ];
        for input in &unchanged {
            let out = text(input);
            assert_eq!(out.text, *input, "altered");
        }
    }

    #[test]
    fn fields_headers_query_signatures_and_escaped_labels() {
        let hex40 = fake(HEX_DIGITS, 40, 21);
        let b64 = fake(BASE64, 44, 22);
        let sig64 = fake(HEX_DIGITS, 64, 23);
        let key_data = format!("LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ{}", fake(BASE64, 200, 24));
        let jwk_d = fake(B64URL_CHARS, 43, 25);
        let sas = format!("{}%2B{}%3D", fake(ALNUMS, 20, 26), fake(ALNUMS, 20, 27));
        let cases: Vec<(String, String)> = vec![
            (format!("Authorization: token {hex40}"), hex40.clone()),
            (format!("-H 'Authorization: Token {b64}'"), b64.clone()),
            (format!("authorization: Negotiate {b64}"), b64.clone()),
            (
                format!(r#"Authorization: Digest username="Mufasa", realm="x", nonce="{b64}", response="{hex40}""#),
                hex40.clone(),
            ),
            (
                format!(
                    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={sig64}"
                ),
                sig64.clone(),
            ),
            (format!(r#"{{"Authorization": "Digest username=\"u\", response=\"{hex40}\"", "x": 1}}"#), hex40.clone()),
            (format!("https://acct.blob.core.windows.net/c/b?sv=2021-08-06&sr=b&sp=r&sig={sas}"), sas.clone()),
            (
                format!("https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={sig64}"),
                sig64.clone(),
            ),
            (format!("https://storage.googleapis.com/b/o?X-Goog-Signature={sig64}&X-Goog-Date=1"), sig64.clone()),
            (format!("wss://host/socket?token={}&v=2", &hex40[..12]), hex40[..12].to_string()),
            (format!("https://cdn.example.com/v.mp4?Expires=1&Signature={b64}&Key-Pair-Id=K2"), b64.clone()),
            (format!("    client-key-data: {key_data}"), key_data.clone()),
            (format!(r#"  "identitytoken": "{b64}""#), b64.clone()),
            (format!(r#"  "registrytoken": "{b64}""#), b64.clone()),
            (format!(r#""\u0070assword": "{}""#, &b64[..12]), b64[..12].to_string()),
            (format!(r#"{{\"api\u005fkey\": \"{hex40}\"}}"#), hex40.clone()),
            (
                format!(
                    r#"{{"crv": "P-256", "d": "{jwk_d}", "kty": "EC", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"}}"#
                ),
                jwk_d.clone(),
            ),
            (format!(r#"{{"kty":"oct","k":"{jwk_d}"}}"#), jwk_d.clone()),
            (format!(r#"{{\"kty\":\"RSA\",\"qi\":\"{jwk_d}\"}}"#), jwk_d.clone()),
            // A JWK without `"kty"`, or with it out of the window.
            (format!(r#"{{"d":"{jwk_d}","crv":"P-256","x":"{}"}}"#, fake(B64URL_CHARS, 43, 28)), jwk_d.clone()),
            (format!(r#"{{"k": "{jwk_d}"}}"#), jwk_d.clone()),
            (format!(r#"{{"kty": "EC", "n": "{}", "d": "{jwk_d}"}}"#, "A".repeat(JWK_WINDOW)), jwk_d.clone()),
        ];
        let mut failures = Vec::new();
        for (input, secret) in &cases {
            let out = text(input).text;
            if out.contains(secret.as_str()) {
                failures.push(format!("  {input:?}\n  -> {out:?}"));
            }
        }
        assert!(failures.is_empty(), "{} leaked:\n{}", failures.len(), failures.join("\n"));
        // The header's scheme stays readable, and what follows a quoted header is not swallowed.
        let header = text(&format!(r#"{{"Authorization": "Digest response=\"{hex40}\"", "x": 1}}"#)).text;
        assert_eq!(header, format!(r#"{{"Authorization": "Digest {MASK}", "x": 1}}"#));
    }

    /// A PEM body: `lines` full lines of 64 and a short last one.
    fn key_body(lines: usize, width: usize, seed: u64) -> Vec<String> {
        let mut body: Vec<String> = (0..lines).map(|k| fake(BASE64, width, seed + k as u64)).collect();
        body.push(format!("{}==", fake(BASE64, 22, seed + 99)));
        body
    }

    /// A tracked YAML file with an embedded key, and a diff of `edit` as git shows it: three
    /// lines of context either side.
    fn yaml_hunk(body: &[String], edit_after_end: bool) -> String {
        let mut lines: Vec<String> =
            vec!["tls:".into(), "  key: |".into(), "    -----BEGIN RSA PRIVATE KEY-----".into()];
        lines.extend(body.iter().map(|line| format!("    {line}")));
        lines.push("    -----END RSA PRIVATE KEY-----".into());
        lines.push("replicas: 2".into());
        let changed = if edit_after_end { lines.len() - 1 } else { 3 + body.len() / 2 };
        let mut hunk = String::from(
            "diff --git a/deploy.yaml b/deploy.yaml\n--- a/deploy.yaml\n+++ b/deploy.yaml\n@@ -1,7 +1,7 @@\n",
        );
        for line in &lines[changed.saturating_sub(3)..changed] {
            hunk.push_str(&format!(" {line}\n"));
        }
        hunk.push_str(&format!("-{}\n", lines[changed]));
        let new = if edit_after_end { "replicas: 3".to_string() } else { format!("    {}", fake(BASE64, 64, 77)) };
        hunk.push_str(&format!("+{new}\n"));
        for line in lines.iter().skip(changed + 1).take(3) {
            hunk.push_str(&format!(" {line}\n"));
        }
        hunk
    }

    #[test]
    fn key_bodies_in_partial_hunks_are_masked() {
        let body = key_body(8, 64, 31);
        for edit_after_end in [true, false] {
            let hunk = yaml_hunk(&body, edit_after_end);
            let out = diff(&hunk);
            let leaked: Vec<&String> = body.iter().filter(|line| out.text.contains(line.as_str())).collect();
            assert!(leaked.is_empty(), "edit after END {edit_after_end}: {leaked:?}\n{}", out.text);
            assert!(!out.text.contains(&fake(BASE64, 64, 77)), "{}", out.text);
            assert!(out.text.contains(&format!("    {MASK}\n")), "indentation kept: {}", out.text);
            assert_eq!(out.masked_paths, ["deploy.yaml"]);
            // The same lines as free text (a summary quoting them) are masked too.
            let quoted: String = hunk.lines().skip(4).map(|line| format!("{}\n", &line[1..])).collect();
            let free = text(&quoted).text;
            assert!(body.iter().all(|line| !free.contains(line.as_str())), "{free}");
        }
        assert!(yaml_hunk(&body, true).contains("-----END RSA PRIVATE KEY-----"));
    }

    #[test]
    fn non_pem_keys_are_masked() {
        let openssh = key_body(4, 70, 41);
        let ssh2 = key_body(3, 70, 51);
        let putty_private = fake(BASE64, 44, 61);
        let putty_public = fake(BASE64, 64, 62);
        let inputs = [
            (
                format!(
                    "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"rsa-key\"\n{}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n",
                    ssh2.join("\n")
                ),
                ssh2.clone(),
            ),
            (
                format!(
                    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 1\n{putty_public}\nPrivate-Lines: 1\n{putty_private}\nPrivate-MAC: {}\n",
                    fake(HEX_DIGITS, 64, 63)
                ),
                vec![putty_private.clone()],
            ),
            // An OpenSSH key's middle lines, no marker in view.
            (openssh[1..4].join("\n"), openssh[1..4].to_vec()),
        ];
        for (input, secrets) in &inputs {
            let out = text(input).text;
            for secret in secrets {
                assert!(!out.contains(secret.as_str()), "{secret} in {out}");
            }
        }
        // The SSH2 markers and PuTTY's public lines stay.
        let out = text(&inputs[0].0).text;
        assert!(
            out.starts_with("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n")
                && out.ends_with("---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"),
            "{out}"
        );
        assert!(text(&inputs[1].0).text.contains(&putty_public));
    }

    #[test]
    fn ordinary_base64_stays() {
        let cert = key_body(5, 64, 71);
        let unchanged = [
            // A lockfile's integrity hashes and a data URI: base64 inside a longer line.
            format!("      integrity: sha512-{}==", fake(BASE64, 86, 72)),
            format!("  \"integrity\": \"sha512-{}==\",", fake(BASE64, 86, 73)),
            format!("background: url(data:image/png;base64,{});", fake(BASE64, 400, 74)),
            // A certificate's body next to its markers, in a hunk or not.
            format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----", cert.join("\n")),
            format!("{}\n-----END CERTIFICATE-----", cert[2..].join("\n")),
            // One base64 line alone; MIME's 76 columns; words.
            fake(BASE64, 64, 75),
            (0..3).map(|k| fake(BASE64, 76, 80 + k)).collect::<Vec<_>>().join("\n"),
            "return\ndone\nokay".to_string(),
            format!("{}\n{}", "A".repeat(64), "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"),
        ];
        for input in &unchanged {
            assert_eq!(text(input).text, *input);
            let hunk = format!(
                "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,9 +1,9 @@\n{}",
                input.lines().map(|line| format!(" {line}\n")).collect::<String>()
            );
            assert_eq!(diff(&hunk).text, hunk);
        }
    }

    #[test]
    fn a_bounded_diff_keeps_whole_lines_redacts_then_cuts_at_a_line() {
        let capture = "diff --git a/x b/x\n@@ -0,0 +1,2 @@\n+api_key = \"abcdefghijklmnop1234\"\n+tail AKIAABCD";
        let partial = bound_diff(capture, true, 1_000, diff);
        assert!(partial.truncated, "a cut capture is reported");
        assert!(!partial.text().contains("+tail"), "the capture's partial last line is not sent");
        assert!(
            partial.text().contains(MASK) && !partial.text().contains("abcdefghijklmnop1234"),
            "{:?}",
            partial.text()
        );
        let whole = bound_diff(capture, false, 1_000, diff);
        assert!(!whole.truncated && whole.text().contains("+tail"));
        let small = bound_diff(capture, false, 30, diff);
        assert!(small.truncated && small.text() == "diff --git a/x b/x\n", "{:?}", small.text());
    }

    #[test]
    fn merged_spans_count_once() {
        assert_eq!(text("api_key=AKIAABCDEFGHIJKLMNOP").masks, 1);
        assert_eq!(text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop").masks, 1);
        assert_eq!(text("plain text").masks, 0);
    }

    #[test]
    fn cut_text_marks_possibly_partial_secrets() {
        check_table(
            "cut",
            text_cut,
            &[
                ("... token sk-proj-abc", "... token [P]"),
                ("key AKIAABCD", "key [P]"),
                ("api_key = abc", "api_key = [P]"),
                (r#"password: "hun"#, r#"password: "[P]"#),
                ("Authorization: Bearer abc", "Authorization: Bearer [P]"),
                ("eyJhbGciOiJIUzI1NiJ9.eyJzdW", "[P]"),
                ("postgres://user:s3cr", "postgres://user:[P]"),
                ("-----BEGIN PRIVATE KEY-----\nMIIE", "-----BEGIN PRIVATE KEY-----\n[P]"),
                // A complete-looking secret at the cut may still go on.
                ("ghp_abcdefghijklmnopqrstuvwxyz", "[P]"),
                // Ordinary text cut at its end.
                ("the answer is forty-two and then some wor", "the answer is forty-two and then some wor"),
                ("served on http://localhost:30", "served on http://localhost:30"),
                ("api_key = os.env", "api_key = os.env"),
                ("ask", "ask"),
            ],
        );
        // Without the cut, a short tail is nothing.
        assert_eq!(text("... token sk-proj-abc").masks, 0);
    }

    #[test]
    fn json_masks_string_values_only() {
        let mut value = serde_json::json!({
            "summary": "uses api_key=abcdef0123456789abcdef",
            "findings": [{"detail": "ghp_abcdefghijklmnopqrstuvwxyz0123", "line": 3}, "AKIAABCDEFGHIJKLMNOP"],
            "ghp_abcdefghijklmnopqrstuvwxyz0123": null,
            "ok": true
        });
        assert_eq!(json(&mut value), 3);
        assert_eq!(
            value,
            serde_json::json!({
                "summary": format!("uses api_key={MASK}"),
                "findings": [{"detail": MASK, "line": 3}, MASK],
                "ghp_abcdefghijklmnopqrstuvwxyz0123": null,
                "ok": true
            })
        );
    }

    #[test]
    fn secret_paths() {
        for path in [
            ".env",
            "app/.env.local",
            ".env.example",
            "config/prod.env",
            ".envrc",
            "home/.netrc",
            ".pypirc",
            ".npmrc",
            ".pgpass",
            ".git-credentials",
            "certs/server.PEM",
            "tls/server.key",
            "a.p12",
            "b.pfx",
            "release.jks",
            "android.keystore",
            ".ssh/id_rsa",
            "id_ed25519.pub",
            "id_ecdsa",
            "id_dsa",
            ".aws/credentials",
            "home/me/.aws/credentials",
            "gcp/credentials.json",
            "config/secrets.yml",
            "secrets.yaml",
            "infra/terraform.tfstate",
            "kubeconfig",
            "clusters/prod.kubeconfig",
            "ops/kubeconfig.yaml",
            ".kube/config",
            "home/me/.kube/config",
            "keys/deploy.ppk",
            "infra/terraform.tfvars",
            "infra/prod.auto.tfvars",
            "infra/prod.auto.tfvars.json",
            ".docker/config.json",
            "home/me/.docker/config.json",
            ".dockercfg",
            "home/.config/gh/hosts.yml",
            "svc.keytab",
            ".vault-token",
            "credentials.tfrc.json",
            "application_default_credentials.json",
        ] {
            assert!(is_secret_path(path), "{path} should be secret");
        }
        for path in [
            "src/keyboard.rs",
            "docs/env.md",
            "environment.ts",
            "monkey.py",
            "src/tokens.rs",
            "key_test.go",
            "src/redact.rs",
            "aws/credentials.md",
            "envoy.yaml",
            "docs/kubeconfig.md",
            "infra/variables.tf",
            "infra/prod.tfvars.example.md",
            "docker/config.json",
            "src/.kube/config.rs",
            "mykube/config",
            "putty.ppk.md",
        ] {
            assert!(!is_secret_path(path), "{path} should not be secret");
        }
    }

    const APP_PY: &str = "diff --git a/app.py b/app.py\nindex 1111111..2222222 100644\n--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,3 @@\n import os\n-API_KEY=abcdef0123456789abcdef\n+API_KEY = os.environ[\"API_KEY\"]\n+token = \"ghp_abcdefghijklmnopqrstuvwxyz0123\"\n";

    #[test]
    fn diff_withholds_secret_files_and_keeps_others() {
        let env = "diff --git a/.env b/.env\nnew file mode 100644\nindex 0000000..3333333\n--- /dev/null\n+++ b/.env\n@@ -0,0 +1 @@\n+HELLO=world\n";
        let out = diff(&format!("{env}{APP_PY}"));
        let app = APP_PY
            .replace("-API_KEY=abcdef0123456789abcdef", &format!("-API_KEY={MASK}"))
            .replace("ghp_abcdefghijklmnopqrstuvwxyz0123", MASK);
        assert_eq!(out.text, format!("diff --git a/.env b/.env\n{WITHHELD}\n{app}"));
        assert_eq!(out.withheld_paths, [".env"]);
        assert_eq!(out.masked_paths, ["app.py"]);
        assert_eq!(out.inline_masks, 2);
        assert_eq!(out.redacted_paths(), [".env", "app.py"]);
    }

    #[test]
    fn patch_drops_withheld_sections_whole() {
        let env = "diff --git a/.env.example b/.env.example\nnew file mode 100644\nindex 0000000..3333333\n--- /dev/null\n+++ b/.env.example\n@@ -0,0 +1 @@\n+HELLO=world\n";
        let plain = "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n";
        let out = patch(&format!("{plain}{env}{plain}"));
        assert_eq!(out.text, format!("{plain}{plain}"));
        assert_eq!(out.withheld_paths, [".env.example"]);
        assert_eq!(patch(env).text, "");
    }

    #[test]
    fn diff_reads_quoted_spaced_renamed_and_deleted_paths() {
        let quoted = "diff --git \"a/caf\\303\\251.env\" \"b/caf\\303\\251.env\"\nindex 1..2 100644\n--- \"a/caf\\303\\251.env\"\n+++ \"b/caf\\303\\251.env\"\n@@ -1 +1 @@\n-A=1\n+A=2\n";
        let spaced_secret = "diff --git a/dir with space/.env b/dir with space/.env\nindex 1..2 100644\nBinary files a/dir with space/.env and b/dir with space/.env differ\n";
        let spaced = "diff --git a/my notes.txt b/my notes.txt\nindex 1..2 100644\n--- a/my notes.txt\t\n+++ b/my notes.txt\t\n@@ -1 +1 @@\n-old\n+password: hunter2hunter2hunter2\n";
        let renamed = "diff --git a/config.txt b/.env.local\nsimilarity index 90%\nrename from config.txt\nrename to .env.local\n";
        let deleted = "diff --git a/certs/dev.pem b/certs/dev.pem\ndeleted file mode 100644\nindex 1..0000000\n--- a/certs/dev.pem\n+++ /dev/null\n@@ -1 +0,0 @@\n-data\n";
        let out = diff(&format!("{quoted}{spaced_secret}{spaced}{renamed}{deleted}"));
        assert_eq!(out.withheld_paths, ["café.env", "dir with space/.env", ".env.local", "certs/dev.pem"]);
        assert_eq!(out.masked_paths, ["my notes.txt"]);
        assert!(out.text.contains("+password: [redacted: secret value]\n"));
        assert!(!out.text.contains("A=2") && !out.text.contains("Binary files") && !out.text.contains("data"));
        assert_eq!(out.text.matches(WITHHELD).count(), 4);
    }

    #[test]
    fn diff_keeps_prefixes_structure_and_trailing_newline() {
        let input = "diff --git a/x.rs b/x.rs\nindex 1..2 100644\n--- a/x.rs\n+++ b/x.rs\n@@ -1,3 +1,3 @@ fn connect(password: &str) { let token = \"0123456789abcdef0123\";\n context AKIAABCDEFGHIJKLMNOP\n-old AKIAABCDEFGHIJKLMNOP\n+new AKIAABCDEFGHIJKLMNOP\n\\ No newline at end of file\ndiff --git a/img.png b/img.png\nindex 1..2 100644\nBinary files a/img.png and b/img.png differ\n";
        let expected = input.replace("AKIAABCDEFGHIJKLMNOP", MASK).replace("0123456789abcdef0123", MASK);
        let out = diff(input);
        assert_eq!(out.text, expected);
        assert_eq!(out.inline_masks, 4);
        // The same diff without its final newline stays without one, withheld or not.
        assert_eq!(diff(input.trim_end_matches('\n')).text, expected.trim_end_matches('\n'));
        let secret = "diff --git a/.npmrc b/.npmrc\n--- a/.npmrc\n+++ b/.npmrc\n@@ -1 +1 @@\n-a\n+b";
        assert_eq!(diff(secret).text, format!("diff --git a/.npmrc b/.npmrc\n{WITHHELD}"));
        assert_eq!(diff(&format!("{secret}\n")).text, format!("diff --git a/.npmrc b/.npmrc\n{WITHHELD}\n"));
        assert_eq!(diff("").text, "");
    }

    #[test]
    fn diff_masks_private_key_bodies_across_lines() {
        let input = "diff --git a/deploy.yml b/deploy.yml\n--- a/deploy.yml\n+++ b/deploy.yml\n@@ -1,2 +1,6 @@\n key: |\n+  -----BEGIN RSA PRIVATE KEY-----\n+  MIIEpAIBAAKCAQEA\n-  old body line\n+  -----END RSA PRIVATE KEY-----\n tail\n";
        let out = diff(input);
        let expected = input.replace("MIIEpAIBAAKCAQEA", MASK).replace("old body line", MASK);
        assert_eq!(out.text, expected);
        assert_eq!(out.masked_paths, ["deploy.yml"]);
        assert_eq!(out.inline_masks, 2, "one marker per body line");

        // Unterminated: every content line to the end of that file is masked, the next file is not.
        let open = "diff --git a/k.txt b/k.txt\n--- a/k.txt\n+++ b/k.txt\n@@ -0,0 +1,3 @@\n+-----BEGIN OPENSSH PRIVATE KEY-----\n+b3BlbnNzaC1rZXk\n+more\n";
        let out = diff(&format!("{open}{APP_PY}"));
        assert!(out.text.starts_with(&format!(
            "diff --git a/k.txt b/k.txt\n--- a/k.txt\n+++ b/k.txt\n@@ -0,0 +1,3 @@\n+-----BEGIN OPENSSH PRIVATE KEY-----\n+{MASK}\n+{MASK}\ndiff --git a/app.py"
        )));
        assert_eq!(out.masked_paths, ["k.txt", "app.py"]);
    }

    #[test]
    fn diff_scans_commit_message_and_dedups_paths() {
        let commit = "commit 3f786850e387550fdab836ed7e6dc881de23001b\nAuthor: A <a@example.com>\n\n    rotate token=0123456789abcdef0123\n\n";
        let out = diff(&format!("{commit}{APP_PY}{commit}{APP_PY}"));
        assert!(out.text.starts_with(&format!(
            "commit 3f786850e387550fdab836ed7e6dc881de23001b\nAuthor: A <a@example.com>\n\n    rotate token={MASK}\n"
        )));
        assert_eq!(out.masked_paths, ["app.py"]);
        assert_eq!(out.redacted_paths(), ["app.py"]);
        assert_eq!(out.inline_masks, 6);
    }

    #[test]
    fn redacted_paths_lists_withheld_then_masked_once() {
        let redaction = DiffRedaction {
            withheld_paths: vec![".env".into(), "b.pem".into()],
            masked_paths: vec!["x.rs".into(), ".env".into(), "y.rs".into()],
            ..Default::default()
        };
        assert_eq!(redaction.redacted_paths(), [".env", "b.pem", "x.rs", "y.rs"]);
    }

    /// Inputs built to trip backtracking or rescanning. There is no timing assertion (speed is
    /// measured by the benchmark): every matcher is linear by construction (see the module doc),
    /// and these check that the results are right on inputs of several megabytes.
    #[test]
    fn adversarial_inputs_complete_correctly() {
        const N: usize = 5 << 20;
        let unchanged = [
            "eyJ".repeat(N / 3),
            "eyJ-".repeat(N / 4),
            "a".repeat(N),
            "a://".repeat(N / 4),
            "://".repeat(N / 3),
            "sk-".repeat(N / 3),
            "AKIA".repeat(N / 4),
            "Bearer ".repeat(N / 7),
            "key: key ".repeat(N / 9),
            "-----BEGIN CERTIFICATE-----\n".repeat(N / 28),
            "x = a.b(c) + d[e]; // https://h:1/p?q=u@v\n".repeat(N / 42),
            "--api-key ".repeat(N / 10),
            "<password>".repeat(N / 10),
            format!("password: {}\"", "\\".repeat(MAX_ESCAPES + 1)).repeat(N / 20),
            "\\npassword".repeat(N / 11),
            "Authorization: Digest a=b ".repeat(N / 26),
            "Authorization: token ".repeat(N / 21),
            "?sig=".repeat(N / 5),
            "&X-Amz-Signature=a&".repeat(N / 19),
            format!("{{\"kty\": 1, {}", "\"d\": \"ab\", ".repeat(N / 12)),
            "\"d\": \"".repeat(N / 6),
            "---- BEGIN SSH2 PUBLIC KEY ----\n".repeat(N / 32),
            "\"\\u0061\": 1, ".repeat(N / 14),
            "123456789:".repeat(N / 10),
            "Private-Lines: 1\n".repeat(N / 17),
            "-----END RSA PRIVATE KEY-----\n".repeat(N / 30),
        ];
        for input in &unchanged {
            let out = text(input);
            assert_eq!(out.masks, 0, "{}", &input[..40]);
            assert!(out.text == *input);
        }
        let one_line = "password=".repeat(N / 9);
        assert_eq!(text(&one_line).text, format!("password={MASK}"));
        let labels_then_dots = format!("{}a{}", "token=".repeat(N / 12), ".".repeat(N / 2));
        assert_eq!(text(&labels_then_dots).text, format!("token={MASK}..."));
        let keys = "-----BEGIN RSA PRIVATE KEY-----\n".repeat(N / 32);
        assert_eq!(text(&keys).text, format!("-----BEGIN RSA PRIVATE KEY-----\n{MASK}\n"));
        let jwts = "eyJaaaaaaaa.".repeat(N / 12);
        assert_eq!(text(&jwts).masks, N / 12 / 3);
        let long_value = format!("token = {}(", "a".repeat(N));
        assert_eq!(text(&long_value).text, format!("token = {MASK}("));
        let ends = format!("-----BEGIN RSA PRIVATE KEY-----\n{}", "END ".repeat(N / 4));
        assert_eq!(text(&ends).text, format!("-----BEGIN RSA PRIVATE KEY-----\n{MASK} "));
        let body_lines = format!("{}\n", fake(BASE64, 64, 1)).repeat(N / 65);
        assert_eq!(text(&body_lines).masks, N / 65, "every line of a long key body is masked");
        let diff_body =
            format!("diff --git a/x b/x\n@@ -1 +1 @@\n{}", format!("+{}\n", fake(BASE64, 64, 2)).repeat(N / 66));
        assert_eq!(diff(&diff_body).inline_masks, N / 66);
        let diff_input = format!("diff --git a/x b/x\n@@ -1 +1 @@\n+{}\n", "eyJ".repeat(N / 3));
        assert_eq!(diff(&diff_input).text, diff_input);
    }

    /// The URL and shell matchers on inputs built to make every `://` or `NAME=` look far
    /// ahead: the results are right, and the URL matcher's look-ahead (its memos) examines each
    /// byte a bounded number of times in all, counted rather than timed.
    #[test]
    fn url_and_shell_matchers_stay_linear() {
        const N: usize = 2 << 20;
        let unchanged = [
            "x://u:".repeat(N / 6),
            "x://u:@/".repeat(N / 8),
            "a://b:c d".repeat(N / 9),
            "a://b:c d\n".repeat(N / 10),
            format!("{}@e", "'a://b:c d' ".repeat(N / 12)),
            format!("https://u:{}", "p@".repeat(N / 2)),
            format!("https://{}", "a@".repeat(N / 2)),
            ":@".repeat(N / 2),
            "PASS=$x ".repeat(N / 8),
            "A_TOKEN='$x ".repeat(N / 12),
            "API_KEY=os.environ[\"API_KEY\"] ".repeat(N / 30),
            "\"kty\":\"d\":".repeat(N / 11),
            format!("\"kty\"{}", " \"qi\": \"x".repeat(N / 11)),
        ];
        for input in &unchanged {
            let mut spans = Vec::new();
            let mut scanner = Scanner::new(input.as_bytes(), false, &mut spans);
            scanner.run(false);
            let memos = [&scanner.blanks, &scanner.line_breaks, &scanner.quotes, &scanner.urls];
            let looked =
                memos.iter().map(|memo| memo.tested).sum::<usize>() + scanner.hosts.tested + scanner.ktys.tested;
            assert!(looked <= 10 * input.len(), "{}: {looked} steps for {} bytes", &input[..20], input.len());
            assert!(spans.is_empty(), "{}: {spans:?}", &input[..20]);
        }
        assert_eq!(text(&"PASS=".repeat(N / 5)).text, format!("PASS={MASK}"));
        assert_eq!(text(&"PASS=$".repeat(N / 6)).text, format!("PASS={MASK}"), "too long to judge");
        let many = "postgres://u:p#w@db/x ".repeat(N / 22);
        assert_eq!(text(&many).masks, N / 22);
    }
}
