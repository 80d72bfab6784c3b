"""Reference token counts from OpenAI's own tokenizer (Python `tiktoken`).

tokentally counts tokens with a Rust tokenizer; this script makes the independent
reference it is tested against. It writes a corpus of texts chosen to stress BPE
pre-tokenization (CJK, Arabic, Hindi, Cyrillic, source code, emoji with ZWJ
sequences and skin tones, long whitespace and digit runs, long pieces without
spaces, special-token strings as plain text, seeded random strings) together with
tiktoken's count of each text in o200k_base and cl100k_base, as JSON. The Rust
test `crates/tokentally-parse/tests/token_counts.rs` reads that file, so tests need
no Python.

tiktoken downloads its rank files on first use, which this machine cannot do. The
same files ship gzipped inside the `bpe-openai` crate, so they are read from there
and checked against the SHA-256 tiktoken itself expects: the ranks are OpenAI's,
byte for byte. The regex and special tokens come from tiktoken's own
`tiktoken_ext.openai_public`, not from tokentally.

usage: python3 tests/python/token_counts.py [OUT_JSON]
       (default: crates/tokentally-parse/tests/fixtures/token_counts.json)
needs: pip install tiktoken; cargo (to find the bpe-openai crate's data)
"""

import base64
import gzip
import hashlib
import os
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "crates/tokentally-parse/tests/fixtures/token_counts.json"
ENCODINGS = ["o200k_base", "cl100k_base"]


def bpe_openai_data_dir():
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    for package in json.loads(meta.stdout)["packages"]:
        if package["name"] == "bpe-openai":
            return Path(package["manifest_path"]).parent / "data"
    sys.exit("token_counts: bpe-openai is not in the cargo metadata")


def encoding(name, data_dir, scratch):
    """tiktoken's own constructor for `name`, reading the ranks from `data_dir`."""
    real_load = tiktoken.load.load_tiktoken_bpe

    def load_local(url, expected_hash=None):
        ranks = gzip.decompress((data_dir / (Path(url).name + ".gz")).read_bytes())
        if hashlib.sha256(ranks).hexdigest() != expected_hash:
            sys.exit(f"token_counts: {url}: the bpe-openai copy is not the file tiktoken expects")
        path = Path(scratch) / Path(url).name
        path.write_bytes(ranks)
        return real_load(str(path), expected_hash=expected_hash)

    openai_public.load_tiktoken_bpe = load_local
    try:
        return tiktoken.Encoding(**getattr(openai_public, name)())
    finally:
        openai_public.load_tiktoken_bpe = real_load


FIXED = {
    "english prose": "The quick brown fox jumps over the lazy dog. It's 5 o'clock; we'll see—won't we?",
    "contractions": "I'm, you're, they'll, it's, DON'T, We'VE, she'd, O'Neill's",
    "chinese": "人工智能正在改变我们的工作方式。每个应用程序的令牌使用量都需要准确计费。",
    "japanese": "東京の天気は晴れです。カタカナとひらがなを混ぜたテキスト、そして漢字。",
    "korean": "안녕하세요! 토큰 사용량을 애플리케이션별로 청구합니다.",
    "arabic": "مرحبا بالعالم! نحن نحسب الرموز لكل تطبيق، بدقة تامة.",
    "hindi": "नमस्ते दुनिया! हम प्रत्येक एप्लिकेशन के लिए टोकन गिनते हैं। क्षत्रिय ज्ञान",
    "cyrillic": "Привет, мир! Съешь же ещё этих мягких французских булок. Ґанок і їжак.",
    "greek and accents": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Ça déjà-vu, naïve façade, Zürich.",
    "rust code": 'fn main() {\n    let total: i64 = rows.iter().map(|r| r.tokens).sum();\n    println!("{total:>8}");\n}\n',
    "python code": "def count(xs):\n\treturn sum(1 for x in xs if x % 2 == 0)  # evens\n\n\nclass A(B):\n    pass\n",
    "json": '{"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}',
    "sql": "SELECT app_id, SUM(total_tokens) AS t\n  FROM usage\n WHERE date >= '2026-10-01'\n GROUP BY 1 ORDER BY t DESC;",
    "camel and acronyms": "HTTPServerError XMLHttpRequest camelCaseName snake_case_name SCREAMING_CASE iPhone15Pro",
    "emoji zwj": "👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 ❤️‍🔥 🧑🏿‍🤝‍🧑🏻 🇸🇪🇺🇸🇯🇵 👍🏼👍👍🏿",
    "emoji run": "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗",
    "special token strings": "<|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|endofprompt|> <|im_start|>",
    "unicode whitespace": "a\u00a0b\u2003c\u3000d\u200be\u2028f\u00a0\u00a0\u00a0g",
    "mixed line ends": "line one\r\nline two\rline three\n\n\n  \n\t\r\n   end",
    "spaces 1000": " " * 1000,
    "spaces then word": " " * 300 + "word" + " " * 7 + "x",
    "tabs and newlines": "\t" * 200 + "x" + "\n" * 300 + "y\n \n \n",
    "digits 1000": "1234567890" * 100,
    "digits with separators": "3.14159265358979 1,000,000 2026-10-14T09:21:07.412Z 0x7fffffff 1e-9",
    "no spaces letters": "a" * 5000,
    "no spaces mixed": ("Lorem" + "ipsum" + "dolor") * 400,
    "long url": "https://example.com/" + "/".join("seg%d?q=%d&x=y" % (i, i * 7) for i in range(200)),
    "base64 blob": None,  # filled from a seeded RNG below
}

# Alphabet for random strings: every class the pre-tokenizers treat differently.
ALPHABET = (
    list("abcXYZ'sdtmlrve019 \t\n\r.,;:!?-_/\\\"(){}[]<>|#@$%^&*+=~`")
    + list("éÀßøñçŁ")  # Latin with accents, Ll and Lu
    + list("人工智能東京ひらがなカタカナ한국어")  # Lo
    + list("привЕТмир")
    + list("مرحبا")
    + list("नमस्तेक्ष")  # Devanagari with combining marks (Mn, Mc)
    + ["\u0301", "\u200d", "\u00a0", "\u3000", "\u2028", "\ufe0f"]  # combining, ZWJ, spaces, VS16
    + list("😀👍🏼🇸🇪❤🔥")
    + ["ǅ", "ʰ", "Ⅻ", "²", "٣"]  # Lt, Lm, Nl, No, Arabic-Indic digit
)


def corpus():
    rng = random.Random(20261014)
    texts = []
    for name, text in FIXED.items():
        if text is None:
            text = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(3000))).decode()
        texts.append((name, text))
    for i in range(60):
        length = rng.choice([1, 2, 3, 5, 8, 13, 40, 120, 400])
        texts.append((f"random {i}", "".join(rng.choice(ALPHABET) for _ in range(length))))
    return texts


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    data_dir = bpe_openai_data_dir()
    with tempfile.TemporaryDirectory() as scratch:
        # tiktoken's cache of "downloads" stays in the scratch directory.
        os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(scratch) / "cache")
        encodings = {name: encoding(name, data_dir, scratch) for name in ENCODINGS}
    cases = []
    for name, text in corpus():
        case = {"name": name, "text": text}
        for enc_name, enc in encodings.items():
            case[enc_name] = len(enc.encode_ordinary(text))
        cases.append(case)
    document = {
        "generator": "tests/python/token_counts.py",
        "tiktoken": tiktoken.__version__,
        "cases": cases,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, ensure_ascii=True) + "\n")
    print(f"token_counts: {len(cases)} texts written to {out}")


if __name__ == "__main__":
    main()
