"""Static checks of the APIM policies shipped in pipelines/apim/ (no APIM instance needed).

For every *.xml file there:
  * it is well-formed XML whose root is <policies> (a policy document) or <fragment> (a policy
    fragment); fragments hold no section (<inbound> ...) and no <base />, and stay under APIM's
    32 KB fragment limit;
  * every <include-fragment fragment-id="tokentally-NAME"/> names a fragment file NAME.xml here;
  * every policy expression (an attribute value or element text starting with @( or @{) is one
    expression with balanced brackets outside string literals and comments, a multi-statement
    one returns something, and one in an attribute has no // comment (XML turns the attribute's
    line breaks into spaces, so the comment would swallow the rest);
  * every named value {{name}} it uses is listed in pipelines/apim/README.md, and every named
    value the README lists is used; the README names every XML file;
  * what goes to Event Hubs or to the capture proxy never touches the token, its signature, the
    Authorization or api-key header or subscription keys;
  * the gateway record the log fragment builds has only the top-level fields of docs/formats.md
    (plus "dropped"), and all of the required ones;
  * the streaming refusal is a 400 whose body is an OpenAI-shaped error;
  * every .NET type an expression names is one APIM allows in policy expressions (ALLOWED_TYPES);
  * the route-to-proxy fragment signs x-tokentally-context the way the proxy checks it: HMAC-SHA256
    keyed with {{tokentally-context-secret}} over the lines the proxy's context.rs signs (its
    SIGNATURE_LABEL, the time, the method, the path, the header's value), sent as
    x-tokentally-signature "t=<time>,v1=<base64>", and removes both headers on the other path.
Exit status 0 when all hold; prints every problem otherwise.

usage: check_apim_policies.py [REPO_ROOT]
"""

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SECTIONS = {"inbound", "backend", "outbound", "on-error"}
FRAGMENT_LIMIT = 32 * 1024
NAMED_VALUE = re.compile(r"\{\{([A-Za-z0-9._-]+)\}\}")
# Never in anything logged or sent to the proxy.
SECRETS = ["Authorization", "api-key", "AsJwt", "tokentally-jwt", ".Key", "PrimaryKey", "SecondaryKey"]
FRAGMENT_PREFIX = "tokentally-"
# .NET types the policies may name: a subset of "NET Framework types allowed in policy
# expressions" (learn.microsoft.com/azure/api-management/api-management-policy-expressions).
# Add a type here only after finding it in that table.
ALLOWED_TYPES = {
    "Newtonsoft.Json.Formatting", "Newtonsoft.Json.Linq.JArray", "Newtonsoft.Json.Linq.JObject",
    "Newtonsoft.Json.Linq.JProperty", "Newtonsoft.Json.Linq.JToken", "Newtonsoft.Json.Linq.JTokenType",
    "Newtonsoft.Json.Linq.JValue", "System.Convert", "System.DateTimeOffset", "System.StringComparison",
    "System.Security.Cryptography.HMACSHA256", "System.Text.Encoding",
    "System.Text.RegularExpressions.Regex",
}
ALLOWED_SHORT = {name.rsplit(".", 1)[1] for name in ALLOWED_TYPES}
# A dotted chain of capitalised names that starts an expression term: a type, or a namespace and type.
TYPE_CHAIN = re.compile(r"(?<![\w.])((?:[A-Z]\w*\.)*[A-Z]\w*)(?=\s*[.(])")
STRING_LITERAL = re.compile(r'@"(?:[^"]|"")*"|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\]|\\.)\'')
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
PROXY_CONTEXT_RS = Path("crates") / "tokentally-proxy" / "src" / "context.rs"

problems = []


def problem(path, msg):
    problems.append(f"{path.name}: {msg}")


def scan_expression(expr):
    """Checks one C# policy expression; returns a problem or None.

    Walks the text skipping string, verbatim-string and char literals and comments, and
    requires the bracket opened by @( or @{ to close at the very end."""
    opening = expr[1]
    closing = {"(": ")", "{": "}"}[opening]
    pairs = {"(": ")", "{": "}", "[": "]"}
    stack = []
    i = 1
    n = len(expr)
    while i < n:
        c = expr[i]
        nxt = expr[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "*":
            end = expr.find("*/", i + 2)
            if end < 0:
                return "unterminated /* comment"
            i = end + 2
            continue
        if c == "/" and nxt == "/":
            end = expr.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c == "@" and nxt == '"':
            i += 2
            while i < n:
                if expr[i] == '"':
                    if i + 1 < n and expr[i + 1] == '"':
                        i += 2
                        continue
                    break
                i += 1
            else:
                return "unterminated verbatim string"
            i += 1
            continue
        if c in "\"'":
            quote = c
            i += 1
            while i < n and expr[i] != quote:
                if expr[i] == "\\":
                    i += 1
                elif expr[i] == "\n":
                    return f"line break inside a {quote}-quoted literal"
                i += 1
            if i >= n:
                return f"unterminated {quote}-quoted literal"
            i += 1
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                return f"unbalanced {c!r} at offset {i}"
            if not stack and expr[i + 1:].strip():
                return f"text after the expression closes at offset {i}"
        i += 1
    if stack:
        return f"{len(stack)} bracket(s) never closed"
    if expr.rstrip()[-1] != closing:
        return "does not end with its closing bracket"
    return None


def expressions(root):
    """(where, text, in_attribute) for every policy expression in the tree."""
    for el in root.iter():
        for name, value in el.attrib.items():
            if value.lstrip().startswith(("@(", "@{")):
                yield f"<{el.tag} {name}>", value.strip(), True
        text = (el.text or "").strip()
        if text.startswith(("@(", "@{")):
            yield f"<{el.tag}>", text, False


def documented_record_fields(repo):
    """Top-level member names of the gateway record, from the field table of docs/formats.md."""
    doc = (repo / "docs" / "formats.md").read_text(encoding="utf-8")
    section = doc.split("## Gateway record", 1)[1].split("\n## ", 1)[0]
    fields, required = set(), set()
    for line in section.splitlines():
        m = re.match(r"\|\s*(`[^|]+`)\s*\|[^|]*\|\s*(yes|no)\s*\|", line)
        if not m:
            continue
        for name in re.findall(r"`([a-z_.]+)`", m.group(1)):
            top = name.split(".")[0]
            fields.add(top)
            if m.group(2) == "yes":
                required.add(top)
    return fields, required


def check_log_record(path, root, repo):
    logs = [el for el in root.iter("log-to-eventhub")]
    if len(logs) != 1:
        problem(path, f"expected one <log-to-eventhub>, found {len(logs)}")
        return
    expr = (logs[0].text or "").strip()
    fields, required = documented_record_fields(repo)
    if not fields:
        problem(path, "found no field table in docs/formats.md")
        return
    # The record is the JObject built right after `var record = new JObject(`.
    m = re.search(r"var record = new JObject\((.*?)\);\n", expr, re.S)
    if not m:
        problem(path, "no `var record = new JObject(...)` in the log expression")
        return
    top = set(re.findall(r'new JProperty\("([a-z_]+)"', m.group(1)))
    top |= set(re.findall(r'record\["([a-z_]+)"\]\s*=', expr))
    for name in sorted(top - fields - {"dropped"}):
        problem(path, f"the record has a member {name!r} that docs/formats.md does not describe")
    for name in sorted(required - top):
        problem(path, f"the record lacks the required member {name!r}")
    if '"schema", 1' not in m.group(1):
        problem(path, "the record is not schema 1")


def check_types(path, where, expr):
    """Every type an expression names must be in ALLOWED_TYPES (by full or short name)."""
    code = COMMENT.sub(" ", STRING_LITERAL.sub('""', expr))
    names = set(TYPE_CHAIN.findall(code)) | set(re.findall(r"\bnew\s+([A-Z][\w.]*)", code))
    for chain in sorted(names):
        parts = chain.split(".")
        prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        if parts[0] not in ALLOWED_SHORT and not prefixes & ALLOWED_TYPES:
            problem(path, f"{where}: {chain!r} is not a type APIM allows in policy expressions (ALLOWED_TYPES)")


def signature_label(repo):
    """The SIGNATURE_LABEL constant of the proxy's context.rs."""
    text = (repo / PROXY_CONTEXT_RS).read_text(encoding="utf-8")
    m = re.search(r'pub const SIGNATURE_LABEL: &str = "([^"]+)";', text)
    return m.group(1) if m else None


def check_signature(path, root, repo):
    """The context header is signed as the proxy checks it, and both headers go on the other path."""
    headers = {el.get("name", "").lower(): el for el in root.iter("set-header")
               if el.get("exists-action") == "override"}
    signature = headers.get("x-tokentally-signature")
    context_header = headers.get("x-tokentally-context")
    if signature is None or context_header is None:
        problem(path, "does not set both x-tokentally-context and x-tokentally-signature")
        return
    expr = "".join(signature.itertext())
    context_expr = "".join(context_header.itertext())
    variable = re.search(r'GetValueOrDefault<string>\("([\w-]+)"', context_expr)
    if not variable:
        problem(path, "x-tokentally-context is not taken from a variable the signature can sign too")
        return
    label = signature_label(repo)
    m = re.search(r'string\.Join\("\\n", new string\[\] \{ (.*?) \}\)', expr)
    if not m:
        problem(path, 'the signature does not build its text with string.Join("\\n", new string[] { ... })')
        return
    lines = [item.strip() for item in m.group(1).split(",")]
    signed_var = re.search(r'var (\w+) = context\.Variables\.GetValueOrDefault<string>\("' + variable.group(1), expr)
    expected = [f'"{label}"', "timestamp", "context.Request.Method.ToUpperInvariant()", "path",
                signed_var.group(1) if signed_var else "<the context variable>"]
    if lines != expected:
        problem(path, f"the signed lines are {lines}, the proxy checks {expected}")
    for needed in ["new System.Security.Cryptography.HMACSHA256(Encoding.UTF8.GetBytes(\"{{tokentally-context-secret}}\"))",
                   "DateTimeOffset.UtcNow.ToUnixTimeSeconds()", "context.Request.Url.Path",
                   '"t=" + timestamp + ",v1=" + Convert.ToBase64String(']:
        if needed not in expr:
            problem(path, f"the signature expression lacks {needed}")
    deleted = {el.get("name", "").lower() for el in root.iter("set-header") if el.get("exists-action") == "delete"}
    for name in ["x-tokentally-context", "x-tokentally-signature"]:
        if name not in deleted:
            problem(path, f"a caller's {name} is not removed on the non-streamed path")


def check_reject(path, root):
    status = root.find(".//return-response/set-status")
    if status is None or status.get("code") != "400":
        problem(path, "the refusal is not a 400")
    body = root.find(".//return-response/set-body")
    try:
        error = json.loads(body.text)["error"]
    except (AttributeError, TypeError, ValueError, KeyError) as e:
        problem(path, f"the refusal body is not an OpenAI-shaped error: {e}")
        return
    if error.get("code") != "streaming_not_allowed" or error.get("type") != "invalid_request_error":
        problem(path, f"unexpected error code/type: {error}")
    if '"stream": false' not in error.get("message", ""):
        problem(path, "the message does not tell the caller to retry with \"stream\": false")


def main(repo):
    apim = repo / "pipelines" / "apim"
    readme_path = apim / "README.md"
    readme = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
    if not readme:
        problems.append("pipelines/apim/README.md is missing or empty")
    files = sorted(apim.glob("*.xml"))
    if not files:
        problems.append("no XML files in pipelines/apim/")
    fragments = {}
    used_values = set()
    documents = []
    for path in files:
        raw = path.read_text(encoding="utf-8")
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as e:
            problem(path, f"not well-formed XML: {e}")
            continue
        if path.name not in readme:
            problem(path, "not named in README.md")
        used_values |= set(NAMED_VALUE.findall(raw))
        if root.tag == "fragment":
            fragments[FRAGMENT_PREFIX + path.stem] = path
            if len(raw.encode("utf-8")) > FRAGMENT_LIMIT:
                problem(path, f"a fragment over {FRAGMENT_LIMIT} bytes")
            for el in root.iter():
                if el.tag in SECTIONS or el.tag == "base":
                    problem(path, f"a fragment may not hold <{el.tag}>")
                if el.tag == "include-fragment":
                    problem(path, "a fragment may not include another fragment")
        elif root.tag == "policies":
            documents.append((path, root))
            for section in root:
                if section.tag not in SECTIONS:
                    problem(path, f"<{section.tag}> is not a policy section")
        else:
            problem(path, f"root element <{root.tag}>, expected <policies> or <fragment>")
            continue
        for where, expr, in_attribute in expressions(root):
            error = scan_expression(expr)
            if error:
                problem(path, f"{where}: {error}")
            if expr.startswith("@{") and "return" not in expr:
                problem(path, f"{where}: a multi-statement expression without return")
            if in_attribute and re.search(r"(?<!:)//", expr):
                problem(path, f"{where}: a // comment in an attribute expression")
            check_types(path, where, expr)
        for el in root.iter():
            sent = el.tag == "log-to-eventhub" or (
                el.tag == "set-header" and el.get("name", "").lower().startswith("x-tokentally"))
            if sent:
                text = "".join(el.itertext())
                for secret in SECRETS:
                    if secret in text:
                        problem(path, f"<{el.tag}> refers to {secret!r}: tokens and keys are never passed on")
        if path.stem == "log-gateway-record":
            check_log_record(path, root, repo)
        if path.stem == "reject-streaming":
            check_reject(path, root)
        if path.stem == "route-streaming-to-proxy":
            check_signature(path, root, repo)
    for path, root in documents:
        for el in root.iter("include-fragment"):
            if el.get("fragment-id") not in fragments:
                problem(path, f"includes fragment {el.get('fragment-id')!r}, which no file here defines")
    listed = set(NAMED_VALUE.findall(readme))
    for name in sorted(used_values - listed):
        problems.append(f"named value {{{{{name}}}}} is used but not listed in README.md")
    for name in sorted(listed - used_values):
        problems.append(f"README.md lists named value {{{{{name}}}}}, which no policy uses")
    for required in ["log-gateway-record", "validate-jwt", "route-streaming-to-proxy", "reject-streaming"]:
        if FRAGMENT_PREFIX + required not in fragments:
            problems.append(f"missing fragment {required}.xml")
    if problems:
        for p in problems:
            print(f"check_apim_policies: {p}", file=sys.stderr)
        sys.exit(1)
    print(f"check_apim_policies: {len(files)} policy files OK")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
