// llamaref's modes: eval, tokenize, detokenize and bench (see llamaref.mjs).

import { UsageError, intArg, idList, jsonArg, isTokenId, kvTypeArg, buildInfo, createContext, checkThreads } from "./common.mjs";

// Numbers in the output are JS doubles holding float32 values exactly: any
// JSON reader (float64, or float32 with correct rounding) gets the same float32.
function checkFinite(arr, what) {
    for (let i = 0; i < arr.length; i++) {
        if (!Number.isFinite(arr[i])) throw new Error(`${what}: logit of token ${i} is ${arr[i]}`);
    }
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

async function runEval(values, session) {
    const steps = intArg(values, "steps", 16, 0);
    const top = intArg(values, "top", 10, 0);
    const threads = intArg(values, "threads", 1, 1);
    const seed = intArg(values, "seed", 1, 0);
    const kvType = kvTypeArg(values, "f32");
    const llama = await session.llama();
    const model = await session.model(values.model, false);
    const { ids: promptIds, addBos } = resolvePrompt(model, values);
    const ctxSize = Math.max(intArg(values, "ctx", 512, 1), promptIds.length + steps + 1);
    const batch = Math.max(intArg(values, "batch", ctxSize, 1), promptIds.length);
    const context = await createContext(model, { ctx: ctxSize, batch, threads, kvType, perf: false });
    try {
        return await evalInContext(values, { llama, model, context, promptIds, addBos, steps, top, threads, seed, kvType, ctxSize, batch, sink: session.sink });
    } finally {
        await context.dispose();
    }
}

async function evalInContext(values, { llama, model, context, promptIds, addBos, steps, top, threads, seed, kvType, ctxSize, batch, sink }) {
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
    // --sequential feeds the prompt one token per evaluation, as decoding
    // does; llama.cpp's batched kernels for some formats round differently
    // from its single-token ones.
    let res;
    if (values.sequential) {
        res = [];
        for (const item of input) res.push((await seq.controlledEvaluate([item]))[0]);
    } else {
        res = await seq.controlledEvaluate(input);
    }
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
    checkThreads(context, threads);

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

async function runTokenize(values, session) {
    if ((values.text === undefined) === (values["texts-json"] === undefined)) {
        throw new UsageError("--mode tokenize needs one of --text or --texts-json");
    }
    const texts = values.text !== undefined
        ? null
        : jsonArg(values, "texts-json", (v) => Array.isArray(v) && v.every((t) => typeof t === "string"));
    const model = await session.model(values.model, true);
    const tokenize = (text) => Array.from(model.tokenize(text, values.special));
    if (texts === null) return { ids: tokenize(values.text) };
    return { ids_list: texts.map(tokenize) };
}

async function runDetokenize(values, session) {
    if ((values.ids === undefined) === (values["ids-json"] === undefined)) {
        throw new UsageError("--mode detokenize needs one of --ids or --ids-json");
    }
    const lists = values.ids !== undefined
        ? null
        : jsonArg(values, "ids-json", (v) => Array.isArray(v) && v.every((l) => Array.isArray(l) && l.every(isTokenId)));
    const model = await session.model(values.model, true);
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

async function benchRuns(context, sink, prompt, genTokens, reps) {
    const seq = context.getSequence();
    // Warm-up (as llama-bench does): touches the mapped weights and buffers.
    await benchOnce(seq, context, sink, prompt.slice(0, Math.min(prompt.length, 8)), Math.min(genTokens, 1));
    const runs = [];
    for (let r = 0; r < reps; r++) runs.push(await benchOnce(seq, context, sink, prompt, genTokens));
    return runs;
}

async function runBench(values, session) {
    const promptTokens = intArg(values, "prompt-tokens", 128, 2);
    const genTokens = intArg(values, "gen-tokens", 64, 0);
    const reps = intArg(values, "reps", 1, 1);
    const seed = intArg(values, "seed", 1, 0);
    const kvType = kvTypeArg(values, "f16");
    const llama = await session.llama();
    const threads = intArg(values, "threads", Math.max(1, llama.cpuMathCores), 1);
    const model = await session.model(values.model, false);
    const ctxSize = Math.max(intArg(values, "ctx", 512, 1), promptTokens + genTokens + 1);
    const batch = Math.max(intArg(values, "batch", ctxSize, 1), promptTokens);
    const prompt = randomPrompt(model, promptTokens, seed);
    const context = await createContext(model, { ctx: ctxSize, batch, threads, kvType, perf: true });
    let runs;
    try {
        runs = await benchRuns(context, session.sink, prompt, genTokens, reps);
        checkThreads(context, threads);
    } finally {
        await context.dispose();
    }

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
        ...buildInfo(llama, session.sink),
    };
}

export const modes = { eval: runEval, tokenize: runTokenize, detokenize: runDetokenize, bench: runBench };
