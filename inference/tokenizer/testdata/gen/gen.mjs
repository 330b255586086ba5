// Generates the tokenizer golden files in ../golden from llama.cpp itself,
// as shipped by node-llama-cpp in .ci/tools. Run by hand from anywhere:
//
//	node inference/tokenizer/testdata/gen/gen.mjs [--only NAME-SUBSTRING]
//
// The Go tests read the committed JSON, so they need neither node nor this
// script. For every model it records, for each prompt and for
// parse_special false and true: llama_tokenize(add_special=false) ids, and
// llama_detokenize of those ids (remove_special=false, with unparse_special
// false and true); also the end-of-generation set, the attributes of every
// token that is not a plain normal token, and single-token detokenizations.
//
// Some prompts make llama.cpp abort (SentencePiece byte fallback on a
// vocabulary without byte tokens throws an uncaught exception). Each model
// therefore runs in a child process; when a child dies, the case it was on
// is recorded with "aborts": true and a new child resumes after it.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

function repoRoot() {
    for (let d = here; ; d = path.dirname(d)) {
        if (fs.existsSync(path.join(d, "go.mod"))) return d;
        if (path.dirname(d) === d) throw new Error("go.mod not found above " + here);
    }
}

const root = repoRoot();
const modelsDir = process.env.HEARTH_MODELS_DIR ?? path.join(path.dirname(root), "shared", "models");
const nlcDir = path.join(root, ".ci", "tools", "node_modules", "node-llama-cpp");
const outDir = path.join(here, "..", "golden");

const models = [
    "stories260K.gguf",
    "TinyStories-656K-Q8_0.gguf",
    "vocab/ggml-vocab-llama-spm.gguf",
    "vocab/ggml-vocab-phi-3.gguf",
    "vocab/ggml-vocab-gpt-2.gguf",
];

// Variants: a base vocabulary with some metadata replaced (written by
// ./variant), to reach pre-tokenizers and flags no shared model uses. Their
// goldens hold the cases and special ids only.
const variants = [
    ...["default", "llama-bpe", "dbrx", "qwen2", "smollm", "tekken"].map((pre) => ({
        name: `ggml-vocab-gpt-2@${pre}`,
        base: "vocab/ggml-vocab-gpt-2.gguf",
        set: { "tokenizer.ggml.pre": pre },
    })),
    {
        name: "ggml-vocab-llama-spm@no-space-prefix",
        base: "vocab/ggml-vocab-llama-spm.gguf",
        set: { "tokenizer.ggml.add_space_prefix": false },
    },
];

// Prompts chosen to reach the corners of both tokenizers.
const tricky = [
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
    "One day, she saw a big, red ball.\n\"Can I play?\" asked Tom.",
    "",
    " ",
    "    ",
    "   leading and trailing   ",
    "a  b   c    d     e",
    "\n",
    "line one\nline two\n\nline four\n",
    "\t\ttabs\tand\r\nCRLF\r\n",
    "mixed \u000b vertical \u000c feed \u0085 nel",
    "Hello, world! How's it going? I'm fine; you'll see\u2014they've said 'ok' & \"done\".",
    "It's John's dog. DON'T SHOUT, I'LL WAIT. We'd've gone.",
    "12345 67 8.90 1,000,000 3333333 0x1F 3.14159",
    "phone: +1 (555) 123-4567, date 2024-11-22T10:00:00Z",
    "na\u00efve caf\u00e9 r\u00e9sum\u00e9 \u00dcn\u00efc\u00f6d\u00e9 fa\u00e7ade",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5. \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd. \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u4e2d\u6587\u5b57\u7b26\u548c\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22 \u0939\u093f\u0928\u094d\u0926\u0940 \u09ac\u09be\u0982\u09b2\u09be",
    "emoji: \u{1F600}\u{1F44D}\u{1F3FD}\u{1F999}\u{1F680} \u2764\ufe0f \u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466} \u{1F1E9}\u{1F1EA}",
    "e\u0301 combining and \ufb01 ligature and \uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48",
    "\u00a0nbsp and\u3000ideographic\u2003em space",
    "zero width\u200bspace\u200djoiner and bidi \u202eoverride\u202c",
    "math \u2211 \u222b \u221a \u2248 \u2260 \u221e and symbols \u00a9 \u00ae \u2122 \u20ac \u00a3 \u00a5 \u00a7 \u00b6 \u00b0",
    "code: func main() { fmt.Println(\"hi\") }  // ok\n\tif x != nil {\n\t\treturn err\n\t}",
    "<s>Hello</s> <unk> <|start_story|>Once<|end_story|>",
    "<|endoftext|>Hi<|endoftext|>",
    "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n4<|end|>\n",
    "<|user|>  spaced <|end|>   \n x",
    "<|im_start|>user\nhi<|im_end|>",
    "\u2581 already escaped \u2581\u2581 spaces",
    "<0x41> <0xFF> byte token text",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "!!!!!!???...,,,;;;:::",
    "nul\u0000char and \u0001 control \u007f del",
    "HelloWorld camelCase snake_case kebab-case SCREAMING_CASE",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX.",
    "  \n  \n\n   x",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
    "a'b c' 'd e '",
    "x ? y ! z . w , v",
    "x ' ' y ' ' ' z ' a",
    "it 's , he 'll . they 're ? I 'm ! you 've we 'd don 't",
    "<|endoftext|>   after<|endoftext|>",
    "\u2581leading block and a\u2581b",
];

// llama.cpp's own test strings, split the way tests/test-tokenizer-0.cpp does.
function vocabTestStrings() {
    const raw = fs.readFileSync(path.join(modelsDir, "vocab", "ggml-vocab-gpt-2.gguf.inp"), "utf8");
    const sep = "\n__ggml_vocab_test__\n";
    const out = [];
    for (let pos = 0; pos < raw.length;) {
        const next = raw.indexOf(sep, pos);
        if (next < 0) {
            out.push(raw.slice(pos));
            break;
        }
        out.push(raw.slice(pos, next));
        pos = next + sep.length;
    }
    return out;
}

function allCases() {
    const seen = new Set();
    const cases = [];
    for (const text of [...tricky, ...vocabTestStrings()]) {
        if (seen.has(text)) continue;
        seen.add(text);
        cases.push({ text, special: false }, { text, special: true });
    }
    return cases;
}

async function openModel(model) {
    const { getLlama, LlamaLogLevel } = await import(path.join(nlcDir, "dist", "index.js"));
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    return llama.loadModel({ modelPath: path.resolve(modelsDir, model), vocabOnly: true });
}

function emit(obj) {
    fs.writeSync(1, JSON.stringify(obj) + "\n"); // synchronous: survives an abort
}

// Child: tokenize cases [start, end) of one model, one JSON line each.
async function childCases(model, start) {
    const m = await openModel(model);
    const cases = allCases();
    for (let i = start; i < cases.length; i++) {
        const c = cases[i];
        const ids = Array.from(m._model.tokenize(c.text, c.special));
        emit({
            index: i,
            text: c.text,
            special: c.special,
            ids,
            decoded: m.detokenize(ids, false),
            decodedSpecial: m.detokenize(ids, true),
        });
    }
}

// Child: vocabulary-wide facts of one model.
async function childMeta(model) {
    const m = await openModel(model);
    const n = m.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const attrs = {};
    const eog = [];
    for (let id = 0; id < n; id++) {
        const a = m._model.getTokenAttributes(id);
        if (a !== 4) attrs[id] = a; // 4 = LLAMA_TOKEN_ATTR_NORMAL
        if (m._model.isEogToken(id)) eog.push(id);
    }
    // Single-token detokenization: every id of a small vocabulary, a sample of a big one.
    const ids = [];
    for (let id = 0; id < n; id++) {
        if (n <= 4096 || id < 300 || id % 97 === 0 || attrs[id] !== undefined) ids.push(id);
    }
    const single = ids.map((id) => ({ id, text: m.detokenize([id], false), special: m.detokenize([id], true) }));
    emit({
        meta: true,
        vocabSize: n,
        bos: m.tokens.bos,
        eos: m.tokens.eos,
        eot: m.tokens.eot,
        nl: m.tokens.nl,
        eog,
        attrs,
        single,
    });
}

function runChild(args) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], {
        encoding: "utf8",
        maxBuffer: 1 << 30,
    });
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    return { ok: r.status === 0, lines, stderr: r.stderr };
}

// format writes one top-level field per line and one case or token per line:
// compact, yet diffs stay readable.
function format(golden) {
    const field = ([k, v]) => {
        const body = Array.isArray(v) && (k === "cases" || k === "single")
            ? "[\n" + v.map((x) => JSON.stringify(x)).join(",\n") + "\n]"
            : JSON.stringify(v);
        return JSON.stringify(k) + ": " + body;
    };
    return "{\n" + Object.entries(golden).map(field).join(",\n") + "\n}\n";
}

// generate writes the golden file of one model (a path below modelsDir, or
// an absolute path for a variant); extra fields go in first.
function generate(model, name, extra, withMeta) {
    const cases = allCases();
    const meta = runChild(["--meta", model]);
    if (!meta.ok || meta.lines.length !== 1) throw new Error(`meta of ${model} failed:\n${meta.stderr}`);
    const results = [];
    for (let start = 0; start < cases.length;) {
        const r = runChild(["--cases", model, String(start)]);
        results.push(...r.lines);
        const next = r.lines.length ? r.lines[r.lines.length - 1].index + 1 : start;
        if (r.ok) break;
        results.push({ index: next, ...cases[next], aborts: true });
        console.error(`${name}: llama.cpp aborted on case ${next} ${JSON.stringify(cases[next].text)}`);
        start = next + 1;
    }
    const { meta: _, attrs, single, ...ids } = meta.lines[0];
    const golden = { ...extra, ...ids, ...(withMeta ? { attrs, single } : {}) };
    golden.cases = results.map(({ index, ...rest }) => rest);
    fs.writeFileSync(path.join(outDir, name + ".json"), format(golden));
    console.error(`${name}.json: ${results.length} cases`);
}

function parent(only) {
    const nlcVersion = JSON.parse(fs.readFileSync(path.join(nlcDir, "package.json"), "utf8")).version;
    const generator = `node-llama-cpp ${nlcVersion} (llama.cpp), inference/tokenizer/testdata/gen/gen.mjs`;
    fs.mkdirSync(outDir, { recursive: true });
    for (const model of models) {
        const name = path.basename(model, ".gguf");
        if (only && !name.includes(only)) continue;
        generate(model, name, { model, generator }, true);
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-variants-"));
    try {
        for (const v of variants) {
            if (only && !v.name.includes(only)) continue;
            const file = path.join(tmp, v.name + ".gguf");
            const r = spawnSync("go", ["run", "./inference/tokenizer/testdata/gen/variant",
                "-in", path.join(modelsDir, v.base), "-out", file, "-set", JSON.stringify(v.set)],
            { cwd: root, encoding: "utf8" });
            if (r.status !== 0) throw new Error(`variant ${v.name}: ${r.stderr}`);
            generate(file, v.name, { model: v.base, set: v.set, generator }, false);
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

const [mode, model, start] = process.argv.slice(2);
if (mode === "--cases") await childCases(model, Number(start));
else if (mode === "--meta") await childMeta(model);
else parent(mode === "--only" ? model : undefined);
