#!/usr/bin/env node
// llamaref: llama.cpp (through node-llama-cpp's prebuilt CPU build) as a
// reference for Hearth's engine. It prints ONE JSON object on stdout; errors go
// to stderr with exit status 1 (2 for bad usage). See README.md next to it.
//
// Modes:
//   eval (default)  prompt ids, the full step-0 logits, top-K, greedy ids
//   tokenize        {"ids": [...]}           (vocab-only load)
//   detokenize      {"text": "..."}          (vocab-only load)
//   bench           prefill/decode tokens per second and time to first token

import { parseArgs } from "node:util";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";

const usage = `usage: node llamaref.mjs --model FILE [options]

common:
  --mode eval|tokenize|detokenize|bench   (default eval)
  --threads N        CPU threads (default 1; bench: llama's math cores)
  --verbose          pass llama.cpp's log lines to stderr

eval:
  --prompt TEXT | --prompt-ids 1,2,3      (default: empty prompt, BOS only)
  --no-bos           do not prepend BOS even if the model asks for it
  --special          parse special-token text in --prompt (e.g. "<s>")
  --steps N          greedy steps (default 16)
  --top K            size of step0_top (default 10)
  --step-logits      also print the full logits before each generated token
  --prompt-logits    also print the full logits at every prompt position
  --ctx N            context size (default 512; grown to fit prompt+steps)
  --batch N          batch size (default: ctx; always >= the prompt length)
  --kv-type T        KV cache type: f32|f16|q8_0|... (default f32)
  --seed N           sampler seed (default 1; greedy does not use it)

tokenize:   --text T [--special]                  -> {"ids": [...]}
            --texts-json '["a","b"]' [--special]  -> {"ids_list": [[...], [...]]}
detokenize: --ids 1,2,3 [--special]               -> {"text": "..."}
            --ids-json '[[1,2],[3]]' [--special]  -> {"texts": ["...", "..."]}

bench:
  --prompt-tokens N  prompt length, evaluated as one batch (default 128)
  --gen-tokens N     greedy decode steps, one token each (default 64)
  --reps N           repetitions; the median of each number is reported (default 1)
  --kv-type T        (default f16, llama.cpp's default)
  --ctx N, --batch N, --seed N (seed picks the random prompt ids)
`;

class UsageError extends Error {}

let activeSink = null;

function fail(err) {
    const code = err instanceof UsageError ? 2 : 1;
    if (activeSink && !activeSink.verbose) {
        for (const line of activeSink.errors) process.stderr.write(`[llama.cpp error] ${line}\n`);
    }
    process.stderr.write(`llamaref: ${err?.message ?? err}\n`);
    if (code === 2) process.stderr.write(usage);
    process.exit(code);
}

function parseCLI(argv) {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            strict: true,
            allowPositionals: false,
            options: {
                model: { type: "string" },
                mode: { type: "string", default: "eval" },
                prompt: { type: "string" },
                "prompt-ids": { type: "string" },
                "no-bos": { type: "boolean", default: false },
                special: { type: "boolean", default: false },
                steps: { type: "string" },
                top: { type: "string" },
                threads: { type: "string" },
                ctx: { type: "string" },
                batch: { type: "string" },
                "kv-type": { type: "string" },
                seed: { type: "string" },
                "step-logits": { type: "boolean", default: false },
                "prompt-logits": { type: "boolean", default: false },
                text: { type: "string" },
                ids: { type: "string" },
                "texts-json": { type: "string" },
                "ids-json": { type: "string" },
                "prompt-tokens": { type: "string" },
                "gen-tokens": { type: "string" },
                reps: { type: "string" },
                verbose: { type: "boolean", default: false },
                help: { type: "boolean", short: "h", default: false },
            },
        });
    } catch (err) {
        throw new UsageError(err.message);
    }
    return parsed.values;
}

function intArg(values, name, def, min) {
    const raw = values[name];
    if (raw === undefined) return def;
    if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${name}: not an integer: ${JSON.stringify(raw)}`);
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name}: must be an integer >= ${min}, got ${raw}`);
    return n;
}

function idList(name, raw) {
    const s = raw.trim();
    if (s === "") return [];
    return s.split(/[\s,]+/).map((part) => {
        if (!/^\d+$/.test(part)) throw new UsageError(`--${name}: not a token id: ${JSON.stringify(part)}`);
        return Number(part);
    });
}

// Numbers in the output are JS doubles holding float32 values exactly: any
// JSON reader (float64, or float32 with correct rounding) gets the same float32.
function checkFinite(arr, what) {
    for (let i = 0; i < arr.length; i++) {
        if (!Number.isFinite(arr[i])) throw new Error(`${what}: logit of token ${i} is ${arr[i]}`);
    }
}

// Captures llama.cpp's log lines: the perf counters and the loaded CPU backend
// are read from them; with --verbose they are also passed to stderr.
class LogSink {
    constructor(verbose) {
        this.verbose = verbose;
        this.lines = [];
        this.cpuBackend = null;
        // llama.cpp's error lines, shown only when llamaref fails: loading a
        // vocab-only file logs harmless errors from node-llama-cpp's size probe.
        this.errors = [];
    }
    log(level, message) {
        const m = /load_backend: loaded CPU backend from (\S+)/.exec(message);
        if (m) this.cpuBackend = m[1].split("/").pop();
        if (message.startsWith("llama_perf_context_print:")) this.lines.push(message);
        if (level === "error" || level === "fatal") this.errors.push(message);
        if (this.verbose) process.stderr.write(`[llama.cpp ${level}] ${message}\n`);
    }
    // takePerf returns llama.cpp's own timings since the last reset (ms).
    takePerf() {
        let promptMs = null, promptTokens = null, evalMs = null, evalRuns = null;
        for (const line of this.lines) {
            let m = /prompt eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/.exec(line);
            if (m) { promptMs = Number(m[1]); promptTokens = Number(m[2]); }
            m = /:\s+eval time =\s*([\d.]+) ms \/\s*(\d+) runs/.exec(line);
            if (m) { evalMs = Number(m[1]); evalRuns = Number(m[2]); }
        }
        this.lines = [];
        return { promptMs, promptTokens, evalMs, evalRuns };
    }
}

const kvTypes = { f32: "F32", f16: "F16", bf16: "BF16", q8_0: "Q8_0", q4_0: "Q4_0", q4_1: "Q4_1", q5_0: "Q5_0", q5_1: "Q5_1" };

function kvTypeArg(values, def) {
    const raw = (values["kv-type"] ?? def).toLowerCase();
    if (!(raw in kvTypes)) throw new UsageError(`--kv-type: unknown type ${JSON.stringify(raw)} (want one of ${Object.keys(kvTypes).join(", ")})`);
    return raw;
}

function packageVersion(name) {
    try {
        // The package's exports hide package.json: find it from the entry point.
        const require = createRequire(import.meta.url);
        let dir = path.dirname(require.resolve(name));
        for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
            const pkgPath = path.join(dir, "package.json");
            if (!fs.existsSync(pkgPath)) continue;
            const pkg = JSON.parse(fs.readFileSync(pkgPath, "utf8"));
            if (pkg.name === name) return pkg.version ?? null;
        }
        return null;
    } catch {
        return null;
    }
}

function buildInfo(llama, sink) {
    const rel = llama.llamaCppRelease ?? {};
    return {
        llama_cpp_version: rel.release ?? null,
        llama_cpp_repo: rel.repo ?? null,
        node_llama_cpp_version: packageVersion("node-llama-cpp"),
        build_type: llama.buildType,
        gpu: llama.gpu,
        cpu_backend: sink.cpuBackend,
        system_info: llama.systemInfo.trim(),
    };
}

async function loadLlama(nlc, sink) {
    return nlc.getLlama({
        gpu: false,
        build: "never",
        skipDownload: true,
        progressLogs: false,
        maxThreads: 0, // the context's thread count is then used exactly
        logLevel: "debug", // the CPU backend is named at debug level
        logger: (level, message) => sink.log(level, message),
    });
}

async function loadModel(llama, modelPath, vocabOnly) {
    if (!fs.existsSync(modelPath)) throw new Error(`model file not found: ${modelPath}`);
    return llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true, vocabOnly });
}

async function createContext(model, { ctx, batch, threads, kvType, perf }) {
    const type = kvTypes[kvType];
    return model.createContext({
        sequences: 1,
        contextSize: ctx,
        batchSize: batch,
        threads,
        flashAttention: false,
        performanceTracking: perf,
        experimentalKvCacheKeyType: type,
        experimentalKvCacheValueType: type,
        // Dispatch a batch at once instead of on the next event-loop turn.
        batching: { dispatchSchedule: (dispatch) => dispatch() },
    });
}

// denseLogits turns node-llama-cpp's sorted Map<token, logit> into a vector
// indexed by token id.
function denseLogits(map, what) {
    if (!(map instanceof Map) || map.size === 0) throw new Error(`${what}: llama.cpp returned no logits`);
    const out = new Array(map.size);
    for (const [id, logit] of map) {
        if (id < 0 || id >= map.size) throw new Error(`${what}: token id ${id} outside the vocabulary of ${map.size}`);
        out[id] = logit;
    }
    for (let i = 0; i < out.length; i++) if (out[i] === undefined) throw new Error(`${what}: no logit for token ${i}`);
    checkFinite(out, what);
    return out;
}

// argmax returns the first index of the largest value, like llama.cpp's greedy sampler.
function argmax(v) {
    let best = 0;
    for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
    return best;
}

function topK(v, k) {
    const idx = Array.from(v.keys());
    idx.sort((a, b) => (v[b] - v[a]) || (a - b));
    return idx.slice(0, Math.min(k, v.length)).map((i) => [i, v[i]]);
}

function resolvePrompt(model, values) {
    if (values.prompt !== undefined && values["prompt-ids"] !== undefined) {
        throw new UsageError("give --prompt or --prompt-ids, not both");
    }
    let ids = values["prompt-ids"] !== undefined
        ? idList("prompt-ids", values["prompt-ids"])
        : Array.from(model.tokenize(values.prompt ?? "", values.special));
    const bos = model.tokens.bos;
    const addBos = !values["no-bos"] && bos != null && model.tokens.shouldPrependBosToken;
    if (addBos && !(values["prompt-ids"] !== undefined && ids[0] === bos)) ids = [bos, ...ids];
    if (ids.length === 0) throw new UsageError("empty prompt: give --prompt/--prompt-ids or allow BOS");
    return { ids, addBos };
}

async function runEval(nlc, values, sink) {
    const steps = intArg(values, "steps", 16, 0);
    const top = intArg(values, "top", 10, 0);
    const threads = intArg(values, "threads", 1, 1);
    const seed = intArg(values, "seed", 1, 0);
    const kvType = kvTypeArg(values, "f32");
    const llama = await loadLlama(nlc, sink);
    const model = await loadModel(llama, values.model, false);
    const { ids: promptIds, addBos } = resolvePrompt(model, values);
    const ctxSize = Math.max(intArg(values, "ctx", 512, 1), promptIds.length + steps + 1);
    const batch = Math.max(intArg(values, "batch", ctxSize, 1), promptIds.length);
    const context = await createContext(model, { ctx: ctxSize, batch, threads, kvType, perf: false });
    const seq = context.getSequence();
    const sample = { temperature: 0, seed }; // greedy: argmax, no penalties, no bias
    const wantPromptLogits = values["prompt-logits"];
    const wantStepLogits = values["step-logits"];

    const t0 = performance.now();
    const input = promptIds.map((id, i) => {
        const last = i === promptIds.length - 1;
        if (!last && !wantPromptLogits) return id;
        return [id, { generateNext: { logits: true, token: last, options: sample } }];
    });
    const res = await seq.controlledEvaluate(input);
    const promptLogits = wantPromptLogits
        ? promptIds.map((_, i) => denseLogits(res[i]?.next?.logits, `prompt position ${i}`))
        : null;
    const lastOut = res[promptIds.length - 1]?.next;
    const step0 = promptLogits ? promptLogits[promptLogits.length - 1] : denseLogits(lastOut?.logits, "step 0");

    const ids = [];
    const stepLogits = wantStepLogits ? [] : null;
    let logits = step0;
    let next = lastOut?.token;
    for (let step = 0; step < steps; step++) {
        if (next == null) throw new Error(`step ${step}: llama.cpp sampled no token`);
        if (logits && next !== argmax(logits)) {
            throw new Error(`step ${step}: llama.cpp's greedy token ${next} is not the argmax ${argmax(logits)}`);
        }
        if (stepLogits) stepLogits.push(logits);
        ids.push(next);
        if (step === steps - 1) break;
        const out = await seq.controlledEvaluate([[next, { generateNext: { token: true, logits: wantStepLogits, options: sample } }]]);
        next = out[0]?.next?.token;
        logits = wantStepLogits ? denseLogits(out[0]?.next?.logits, `step ${step + 1}`) : null;
    }
    const elapsedMs = performance.now() - t0;

    const result = {
        mode: "eval",
        model: values.model,
        n_vocab: step0.length,
        bos: model.tokens.bos,
        add_bos: addBos,
        prompt_ids: promptIds,
        step0_top: topK(step0, top),
        ids,
        text: model.detokenize(ids, false, promptIds),
        config: { threads, ctx: ctxSize, batch, kv_type: kvType, flash_attention: false, seed, gpu: false, mmap: true },
        ...buildInfo(llama, sink),
        eval_ms: elapsedMs,
        step0_logits: step0,
    };
    if (promptLogits) result.prompt_logits = promptLogits;
    if (stepLogits) result.step_logits = stepLogits;
    return result;
}

function jsonArg(values, name, check) {
    let v;
    try {
        v = JSON.parse(values[name]);
    } catch (err) {
        throw new UsageError(`--${name}: ${err.message}`);
    }
    if (!check(v)) throw new UsageError(`--${name}: wrong shape`);
    return v;
}

const isTokenId = (x) => Number.isSafeInteger(x) && x >= 0;

async function runTokenize(nlc, values, sink) {
    if ((values.text === undefined) === (values["texts-json"] === undefined)) {
        throw new UsageError("--mode tokenize needs one of --text or --texts-json");
    }
    const texts = values.text !== undefined
        ? null
        : jsonArg(values, "texts-json", (v) => Array.isArray(v) && v.every((t) => typeof t === "string"));
    const llama = await loadLlama(nlc, sink);
    const model = await loadModel(llama, values.model, true);
    const tokenize = (text) => Array.from(model.tokenize(text, values.special));
    if (texts === null) return { ids: tokenize(values.text) };
    return { ids_list: texts.map(tokenize) };
}

async function runDetokenize(nlc, values, sink) {
    if ((values.ids === undefined) === (values["ids-json"] === undefined)) {
        throw new UsageError("--mode detokenize needs one of --ids or --ids-json");
    }
    const lists = values.ids !== undefined
        ? null
        : jsonArg(values, "ids-json", (v) => Array.isArray(v) && v.every((l) => Array.isArray(l) && l.every(isTokenId)));
    const llama = await loadLlama(nlc, sink);
    const model = await loadModel(llama, values.model, true);
    const detokenize = (ids) => model.detokenize(ids, values.special);
    if (lists === null) return { text: detokenize(idList("ids", values.ids)) };
    return { texts: lists.map(detokenize) };
}

// mulberry32: a small seeded PRNG, so a bench prompt is the same on every run.
function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function randomPrompt(model, n, seed) {
    const normal = [];
    for (const id of model.iterateAllTokens()) if (!model.isSpecialToken(id) && !model.isEogToken(id)) normal.push(id);
    if (normal.length === 0) throw new Error("bench: the model has no normal (non-special) tokens");
    const rand = mulberry32(seed);
    return Array.from({ length: n }, () => normal[Math.floor(rand() * normal.length)]);
}

function median(xs) {
    const s = xs.filter((x) => x != null).sort((a, b) => a - b);
    if (s.length === 0) return null;
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function benchOnce(seq, context, sink, prompt, gen) {
    await seq.clearHistory();
    sink.takePerf(); // drop earlier perf lines
    const t0 = performance.now();
    const input = prompt.map((id, i) => (i === prompt.length - 1 ? [id, { generateNext: { token: true } }] : id));
    const res = await seq.controlledEvaluate(input);
    const t1 = performance.now();
    let next = res[prompt.length - 1]?.next?.token;
    for (let i = 0; i < gen; i++) {
        if (next == null) throw new Error(`bench: no token sampled at step ${i}`);
        const out = await seq.controlledEvaluate([[next, { generateNext: { token: true } }]]);
        next = out[0]?.next?.token;
    }
    const t2 = performance.now();
    await context.printTimings(); // logs llama.cpp's counters and resets them
    const perf = sink.takePerf();
    if (perf.promptTokens !== prompt.length || (gen > 0 && perf.evalRuns !== gen)) {
        throw new Error(`bench: llama.cpp counted ${perf.promptTokens} prompt tokens and ${perf.evalRuns} decode runs, want ${prompt.length} and ${gen}`);
    }
    return {
        ttftMs: t1 - t0,
        wallPrefill: prompt.length / ((t1 - t0) / 1000),
        wallDecode: gen > 0 ? gen / ((t2 - t1) / 1000) : null,
        prefill: perf.promptMs > 0 ? prompt.length / (perf.promptMs / 1000) : null,
        decode: gen > 0 && perf.evalMs > 0 ? gen / (perf.evalMs / 1000) : null,
    };
}

async function runBench(nlc, values, sink) {
    const promptTokens = intArg(values, "prompt-tokens", 128, 2);
    const genTokens = intArg(values, "gen-tokens", 64, 0);
    const reps = intArg(values, "reps", 1, 1);
    const seed = intArg(values, "seed", 1, 0);
    const kvType = kvTypeArg(values, "f16");
    const llama = await loadLlama(nlc, sink);
    const threads = intArg(values, "threads", Math.max(1, llama.cpuMathCores), 1);
    const model = await loadModel(llama, values.model, false);
    const ctxSize = Math.max(intArg(values, "ctx", 512, 1), promptTokens + genTokens + 1);
    const batch = Math.max(intArg(values, "batch", ctxSize, 1), promptTokens);
    const context = await createContext(model, { ctx: ctxSize, batch, threads, kvType, perf: true });
    const seq = context.getSequence();
    const prompt = randomPrompt(model, promptTokens, seed);

    // Warm-up (as llama-bench does): touches the mapped weights and buffers.
    await benchOnce(seq, context, sink, prompt.slice(0, Math.min(promptTokens, 8)), Math.min(genTokens, 1));
    const runs = [];
    for (let r = 0; r < reps; r++) runs.push(await benchOnce(seq, context, sink, prompt, genTokens));

    return {
        mode: "bench",
        model: values.model,
        prompt_tokens: promptTokens,
        gen_tokens: genTokens,
        reps,
        prefill_tok_s: median(runs.map((r) => r.prefill)),
        decode_tok_s: median(runs.map((r) => r.decode)),
        ttft_ms: median(runs.map((r) => r.ttftMs)),
        wall_prefill_tok_s: median(runs.map((r) => r.wallPrefill)),
        wall_decode_tok_s: median(runs.map((r) => r.wallDecode)),
        config: { threads, ctx: ctxSize, batch, kv_type: kvType, flash_attention: false, seed, gpu: false, mmap: true },
        ...buildInfo(llama, sink),
    };
}

async function main() {
    const values = parseCLI(process.argv.slice(2));
    if (values.help) {
        process.stdout.write(usage);
        return null;
    }
    if (!values.model) throw new UsageError("--model is required");
    const modes = { eval: runEval, tokenize: runTokenize, detokenize: runDetokenize, bench: runBench };
    const run = modes[values.mode];
    if (!run) throw new UsageError(`unknown --mode ${JSON.stringify(values.mode)}`);
    const sink = new LogSink(values.verbose);
    activeSink = sink;
    const nlc = await import("node-llama-cpp");
    return run(nlc, values, sink);
}

main().then((result) => {
    if (result == null) process.exit(0);
    // node-llama-cpp keeps handles open for a few seconds after use; exit as
    // soon as the output is written instead of waiting for them.
    process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
}, fail);
