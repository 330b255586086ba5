// Shared parts of llamaref: argument helpers, llama.cpp's log capture, and
// the Session that loads llama.cpp and models (see llamaref.mjs).

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

export class UsageError extends Error {}

export function intArg(values, name, def, min) {
    const raw = values[name];
    if (raw === undefined) return def;
    if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${name}: not an integer: ${JSON.stringify(raw)}`);
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name}: must be an integer >= ${min}, got ${raw}`);
    return n;
}

export function idList(name, raw) {
    const s = raw.trim();
    if (s === "") return [];
    return s.split(/[\s,]+/).map((part) => {
        if (!/^\d+$/.test(part)) throw new UsageError(`--${name}: not a token id: ${JSON.stringify(part)}`);
        return Number(part);
    });
}

export function jsonArg(values, name, check) {
    let v;
    try {
        v = JSON.parse(values[name]);
    } catch (err) {
        throw new UsageError(`--${name}: ${err.message}`);
    }
    if (!check(v)) throw new UsageError(`--${name}: wrong shape`);
    return v;
}

export const isTokenId = (x) => Number.isSafeInteger(x) && x >= 0;

// Captures llama.cpp's log lines: the perf counters and the loaded CPU backend
// are read from them; with --verbose they are also passed to stderr.
export class LogSink {
    constructor(verbose) {
        this.verbose = verbose;
        this.lines = [];
        this.cpuBackend = null;
        // llama.cpp's error lines, shown only when llamaref fails: loading a
        // vocab-only file logs harmless errors from node-llama-cpp's size probe.
        this.errors = [];
    }
    // beginRequest forgets the previous request's lines.
    beginRequest(verbose) {
        this.verbose = verbose;
        this.lines = [];
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

export function kvTypeArg(values, def) {
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

export function buildInfo(llama, sink) {
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

// Session holds llama.cpp and the loaded models of this process. In --serve
// mode it outlives requests, so each model loads once (a changed file loads
// again; the least recently used models are dropped past maxModels).
const maxModels = 4;

export class Session {
    constructor(nlc, sink) {
        this.nlc = nlc;
        this.sink = sink;
        this.llamaPromise = null;
        this.models = new Map(); // key -> Promise<LlamaModel>, oldest first
    }

    llama() {
        this.llamaPromise ??= this.nlc.getLlama({
            gpu: false,
            build: "never",
            skipDownload: true,
            progressLogs: false,
            maxThreads: 0, // the context's thread count is then used exactly
            logLevel: "debug", // the CPU backend is named at debug level
            logger: (level, message) => this.sink.log(level, message),
        });
        return this.llamaPromise;
    }

    async model(modelPath, vocabOnly) {
        let st;
        try {
            st = fs.statSync(modelPath);
        } catch {
            throw new Error(`model file not found: ${modelPath}`);
        }
        const key = JSON.stringify([path.resolve(modelPath), vocabOnly, st.size, st.mtimeMs, st.ino]);
        let entry = this.models.get(key);
        if (entry) {
            this.models.delete(key); // most recently used goes last
        } else {
            const llama = await this.llama();
            entry = llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true, vocabOnly });
            entry.catch(() => this.models.delete(key));
        }
        this.models.set(key, entry);
        while (this.models.size > maxModels) {
            const [oldKey, old] = this.models.entries().next().value;
            this.models.delete(oldKey);
            old.then((m) => m.dispose(), () => {});
        }
        return entry;
    }
}

export async function createContext(model, { ctx, batch, threads, kvType, perf }) {
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

// checkThreads fails when node-llama-cpp ran with another thread count than asked.
export function checkThreads(context, threads) {
    if (context.currentThreads !== threads) {
        throw new Error(`llama.cpp used ${context.currentThreads} threads, asked for ${threads}`);
    }
}

