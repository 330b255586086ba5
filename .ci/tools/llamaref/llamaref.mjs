#!/usr/bin/env node
// llamaref: llama.cpp (through node-llama-cpp's prebuilt CPU build) as a
// reference for Hearth's engine. It prints ONE JSON object on stdout; errors go
// to stderr with exit status 1 (2 for bad usage). With --serve it instead
// answers requests, one JSON line each, on stdin/stdout, keeping llama.cpp and
// the models loaded between them. See README.md next to it.
//
// Modes:
//   eval (default)  prompt ids, the full step-0 logits, top-K, greedy ids
//   tokenize        {"ids": [...]}           (vocab-only load)
//   detokenize      {"text": "..."}          (vocab-only load)
//   bench           prefill/decode tokens per second and time to first token

import { parseArgs } from "node:util";
import fs from "node:fs";
import process from "node:process";
import readline from "node:readline";
import { UsageError, LogSink, Session } from "./common.mjs";
import { modes } from "./modes.mjs";

const usage = `usage: node llamaref.mjs --model FILE [options]
       node llamaref.mjs --serve    (requests {"args": [...]} on stdin, one per line;
                                     replies {"result": {...}} or {"error": "..."})

common:
  --mode eval|tokenize|detokenize|bench   (default eval)
  --threads N        CPU threads (default 1; bench: llama's math cores)
  --verbose          pass llama.cpp's log lines to stderr

eval:
  --prompt TEXT | --prompt-ids 1,2,3      (default: empty prompt, BOS only)
  --no-bos           do not prepend BOS even if the model asks for it
                     (--prompt-ids that already start with BOS get no second one)
  --special          parse special-token text in --prompt (e.g. "<s>")
  --steps N          greedy steps (default 16)
  --top K            size of step0_top (default 10)
  --step-logits      also print the full logits before each generated token
  --prompt-logits    also print the full logits at every prompt position
  --ctx N            context size (default 512; grown to fit prompt+steps)
  --batch N          batch size (default: ctx; always >= the prompt length)
  --sequential       evaluate the prompt one token at a time (as decoding does)
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

// errorText is err's message, after llama.cpp's error lines of the request
// (unless they were already shown with --verbose).
function errorText(err, sink) {
    const lines = sink && !sink.verbose ? sink.errors.map((l) => `[llama.cpp error] ${l}`) : [];
    return [...lines, `llamaref: ${err?.message ?? err}`].join("\n");
}

function fail(err, sink) {
    const code = err instanceof UsageError ? 2 : 1;
    process.stderr.write(errorText(err, sink) + "\n");
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
                sequential: { type: "boolean" },
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
                serve: { type: "boolean", default: false },
            },
        });
    } catch (err) {
        throw new UsageError(err.message);
    }
    return parsed.values;
}

// runValues answers one parsed command line.
async function runValues(values, session) {
    if (values.help) return { usage };
    if (values.serve) throw new UsageError("--serve is not a request");
    if (!values.model) throw new UsageError("--model is required");
    const run = modes[values.mode];
    if (!run) throw new UsageError(`unknown --mode ${JSON.stringify(values.mode)}`);
    session.sink.beginRequest(values.verbose);
    return run(values, session);
}

function writeLine(text) {
    return new Promise((resolve, reject) => process.stdout.write(text + "\n", (err) => (err ? reject(err) : resolve())));
}

// serve answers {"args": [...]} lines until stdin ends.
async function serve(session) {
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
        if (line.trim() === "") continue;
        let reply;
        try {
            let req;
            try {
                req = JSON.parse(line);
            } catch (err) {
                throw new UsageError(`request: ${err.message}`);
            }
            if (!Array.isArray(req?.args) || !req.args.every((a) => typeof a === "string")) {
                throw new UsageError('request: want {"args": ["--flag", ...]}');
            }
            reply = { result: await runValues(parseCLI(req.args), session) };
        } catch (err) {
            reply = { error: errorText(err, session.sink), usage: err instanceof UsageError };
        }
        await writeLine(JSON.stringify(reply));
    }
}

async function main() {
    const sink = new LogSink(false);
    let values;
    try {
        values = parseCLI(process.argv.slice(2));
        if (values.help) {
            process.stdout.write(usage);
            process.exit(0);
        }
        if (!values.serve && values.model && !fs.existsSync(values.model)) {
            throw new Error(`model file not found: ${values.model}`);
        }
        const session = new Session(await import("node-llama-cpp"), sink);
        if (values.serve) {
            await serve(session);
        } else {
            // node-llama-cpp keeps handles open for a few seconds after use;
            // exit as soon as the output is written instead of waiting.
            await writeLine(JSON.stringify(await runValues(values, session)));
        }
    } catch (err) {
        fail(err, sink);
    }
    process.exit(0);
}

await main();
