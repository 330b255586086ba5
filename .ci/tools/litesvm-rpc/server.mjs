// A Solana JSON-RPC 2.0 front for LiteSVM, for Hearth's wallet tests.
//
// LiteSVM runs the real Solana runtime (System, SPL Token, Associated Token
// Account and Memo programs) in process but has no RPC server. This serves the
// subset of the JSON-RPC API that Hearth's Go wallet uses, in the response
// shapes a validator's RPC returns, so solana-go's rpc client parses them
// unchanged. Listens on 127.0.0.1 only.
//
//   node server.mjs [--port N] [--verbose] [--exit-on-stdin-close]
//
// The first stdout line is "listening http://127.0.0.1:PORT". The process
// exits on SIGTERM or SIGINT and, with --exit-on-stdin-close, when its stdin
// closes (so a test process that dies never leaves it behind).
//
// Chain model: every processed transaction lands in its own block (slot + 1,
// block height = slot). A blockhash stays valid for 150 blocks after it was
// issued, as on a real cluster; then the next one is issued. Preflight
// (default) simulates first and refuses failing transactions with the
// validator's -32002 error; with skipPreflight a failing transaction is
// executed and charged its fee when the runtime would have, as a leader does.
//
// Test-only methods (not in Solana's API):
//   litesvm_advanceSlots [n]       produce n empty blocks (expires blockhashes)
//   litesvm_expireBlockhash []     issue a new blockhash now; older ones expire
//   litesvm_dropTransactions [n]   accept the next n sendTransaction calls
//                                  (after preflight) but never forward them,
//                                  like packets lost on the way to the leader

import http from "node:http";
import { Chain, RpcError, TOKEN_PROGRAMS, U64_MAX, VERSION, b58dec, b58enc, b64dec, b64enc, errorText, invalidParams, txDecoder } from "./chain.mjs";
import { address } from "@solana/kit";

function txJSON(rec) {
  const { msg, keys } = rec;
  const sigs = Object.values(txDecoder.decode(rec.raw).signatures).map((s) => b58dec.decode(s));
  return {
    signatures: sigs,
    message: {
      accountKeys: keys,
      header: {
        numRequiredSignatures: msg.header.numSignerAccounts,
        numReadonlySignedAccounts: msg.header.numReadonlySignerAccounts,
        numReadonlyUnsignedAccounts: msg.header.numReadonlyNonSignerAccounts,
      },
      recentBlockhash: msg.lifetimeToken,
      instructions: msg.instructions.map((ix) => ({
        programIdIndex: ix.programAddressIndex,
        accounts: ix.accountIndices ?? [],
        data: b58dec.decode(ix.data ?? new Uint8Array()),
        stackHeight: null,
      })),
    },
  };
}

function accountJSON(acc, encoding) {
  let data;
  if (encoding === "base58") data = [b58dec.decode(acc.data), "base58"];
  else data = [b64dec.decode(acc.data), "base64"];
  return {
    data,
    executable: acc.executable,
    lamports: acc.lamports,
    owner: acc.programAddress,
    rentEpoch: U64_MAX,
    space: BigInt(acc.data.length),
  };
}

function checkEncoding(cfg, allowed) {
  const enc = cfg?.encoding ?? allowed[0];
  if (!allowed.includes(enc)) throw invalidParams(`unsupported encoding ${enc} (this server serves ${allowed.join(", ")})`);
  return enc;
}

function parseAddress(s) {
  try {
    return address(String(s));
  } catch {
    throw invalidParams("Invalid param: WrongSize");
  }
}

function u64Param(v, what) {
  if (typeof v !== "number" && typeof v !== "bigint") throw invalidParams(`${what} must be a number`);
  const n = BigInt(v);
  if (n < 0n || n > U64_MAX) throw invalidParams(`${what} out of range`);
  return n;
}

function sendTransaction(chain, [encoded, cfg = {}]) {
  const enc = checkEncoding(cfg, ["base58", "base64"]);
  if (typeof encoded !== "string") throw invalidParams("transaction must be a string");
  const raw = enc === "base64" ? b64enc.encode(encoded) : b58enc.encode(encoded);
  const decoded = chain.decode(raw);
  if (!cfg.skipPreflight) {
    const already = chain.txs.has(decoded.signature);
    const sim = already ? { err: "AlreadyProcessed", logs: [], unitsConsumed: 0n } : chain.simulate(decoded.tx);
    if (sim.err !== null) {
      if (sim.err === "SignatureFailure") throw new RpcError(-32003, "Transaction signature verification failure");
      throw new RpcError(-32002, `Transaction simulation failed: ${errorText(sim.err)}`, {
        accounts: null,
        err: sim.err,
        innerInstructions: null,
        loadedAccountsDataSize: 0,
        logs: sim.logs,
        replacementBlockhash: null,
        returnData: null,
        unitsConsumed: sim.unitsConsumed,
      });
    }
  }
  if (chain.drop > 0) {
    chain.drop -= 1;
    return decoded.signature;
  }
  chain.execute(decoded);
  return decoded.signature;
}

function simulateTransaction(chain, [encoded, cfg = {}]) {
  const enc = checkEncoding(cfg, ["base58", "base64"]);
  if (cfg.replaceRecentBlockhash) throw invalidParams("replaceRecentBlockhash is not supported by this server");
  const raw = enc === "base64" ? b64enc.encode(encoded) : b58enc.encode(encoded);
  const decoded = chain.decode(raw);
  const sigverify = cfg.sigVerify === true;
  chain.svm.withSigverify(sigverify);
  let sim;
  try {
    sim = chain.txs.has(decoded.signature) ? { err: "AlreadyProcessed", logs: [], unitsConsumed: 0n } : chain.simulate(decoded.tx);
  } finally {
    chain.svm.withSigverify(true);
  }
  return {
    context: chain.context(),
    value: {
      accounts: null,
      err: sim.err,
      innerInstructions: null,
      loadedAccountsDataSize: 0,
      logs: sim.logs,
      replacementBlockhash: null,
      returnData: null,
      unitsConsumed: sim.unitsConsumed,
    },
  };
}

function getTransaction(chain, [sig, cfg = {}]) {
  const rec = chain.txs.get(String(sig));
  const enc = typeof cfg === "string" ? cfg : checkEncoding(cfg, ["json", "base64", "base58"]);
  if (!rec) return null;
  const version = rec.msg.version === "legacy" ? "legacy" : rec.msg.version;
  if (version !== "legacy" && (cfg.maxSupportedTransactionVersion ?? -1) < version) {
    throw new RpcError(-32015, `Transaction version (${version}) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": ${version}`);
  }
  let transaction;
  if (enc === "base64") transaction = [b64dec.decode(rec.raw), "base64"];
  else if (enc === "base58") transaction = [b58dec.decode(rec.raw), "base58"];
  else transaction = txJSON(rec);
  return { slot: rec.slot, blockTime: rec.blockTime, transaction, meta: rec.meta, version };
}

function getSignaturesForAddress(chain, [addr, cfg = {}]) {
  const a = String(parseAddress(addr));
  const limit = cfg.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidParams("Invalid limit; max 1000");
  const sigs = [...(chain.byAddress.get(a) ?? [])].reverse(); // newest first
  let start = 0;
  if (cfg.before) {
    const i = sigs.indexOf(String(cfg.before));
    start = i < 0 ? sigs.length : i + 1;
  }
  const out = [];
  for (let i = start; i < sigs.length && out.length < limit; i++) {
    if (cfg.until && sigs[i] === String(cfg.until)) break;
    const rec = chain.txs.get(sigs[i]);
    out.push({ signature: rec.signature, slot: rec.slot, err: rec.err, memo: rec.memo, blockTime: rec.blockTime, confirmationStatus: "finalized" });
  }
  return out;
}

function getTokenAccountsByOwner(chain, [owner, filter, cfg = {}]) {
  const o = String(parseAddress(owner));
  const enc = checkEncoding(cfg, ["base64", "base58"]);
  if (!filter || (filter.mint === undefined) === (filter.programId === undefined)) {
    throw invalidParams("Invalid params: expected exactly one of mint or programId");
  }
  let programs = TOKEN_PROGRAMS;
  if (filter.programId !== undefined) {
    if (!TOKEN_PROGRAMS.includes(String(filter.programId))) throw invalidParams("Invalid param: unrecognized Token program id");
    programs = [String(filter.programId)];
  }
  const mint = filter.mint !== undefined ? String(parseAddress(filter.mint)) : null;
  const value = [];
  for (const p of programs) {
    for (const acc of chain.svm.getProgramAccounts(address(p))) {
      if (acc.data.length < 165) continue;
      if (b58dec.decode(acc.data.slice(32, 64)) !== o) continue;
      if (mint !== null && b58dec.decode(acc.data.slice(0, 32)) !== mint) continue;
      value.push({ pubkey: acc.address, account: accountJSON(acc, enc) });
    }
  }
  return { context: chain.context(), value };
}

function getSignatureStatuses(chain, [sigs, _cfg]) {
  if (!Array.isArray(sigs) || sigs.length > 256) throw invalidParams("expected up to 256 signatures");
  return {
    context: chain.context(),
    value: sigs.map((s) => {
      const rec = chain.txs.get(String(s));
      if (!rec) return null;
      return { slot: rec.slot, confirmations: null, err: rec.err, status: rec.meta.status, confirmationStatus: "finalized" };
    }),
  };
}

const methods = {
  getHealth: () => "ok",
  getVersion: () => VERSION,
  getSlot: (chain) => chain.slot,
  getBlockHeight: (chain) => chain.slot,
  getLatestBlockhash: (chain) => ({
    context: chain.context(),
    value: { blockhash: chain.svm.latestBlockhash(), lastValidBlockHeight: chain.lastValidBlockHeight },
  }),
  getBalance: (chain, [addr]) => ({ context: chain.context(), value: chain.svm.getBalance(parseAddress(addr)) ?? 0n }),
  getAccountInfo: (chain, [addr, cfg = {}]) => {
    const enc = checkEncoding(cfg, ["base64", "base58"]);
    const acc = chain.svm.getAccount(parseAddress(addr));
    return { context: chain.context(), value: acc.exists ? accountJSON(acc, enc) : null };
  },
  getMinimumBalanceForRentExemption: (chain, [n]) => chain.svm.minimumBalanceForRentExemption(u64Param(n, "data length")),
  getTokenAccountsByOwner,
  getSignatureStatuses,
  getSignaturesForAddress,
  getTransaction,
  sendTransaction,
  simulateTransaction,
  requestAirdrop: (chain, [addr, amount]) => chain.airdrop(parseAddress(addr), u64Param(amount, "lamports")),
  litesvm_advanceSlots: (chain, [n]) => {
    chain.advance(u64Param(n, "slots"));
    return chain.slot;
  },
  litesvm_expireBlockhash: (chain) => {
    chain.expireBlockhash();
    return chain.svm.latestBlockhash();
  },
  litesvm_dropTransactions: (chain, [n]) => {
    chain.drop = Number(u64Param(n, "count"));
    return chain.drop;
  },
};

// stringify writes BigInts as plain JSON numbers (u64 values exceed 2^53).
function stringify(v) {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `\u0000big${x}` : x)).replace(/"\\u0000big(-?\d+)"/g, "$1");
}

async function handle(chain, req, verbose) {
  const id = req?.id ?? null;
  if (typeof req !== "object" || req === null || req.jsonrpc !== "2.0" || typeof req.method !== "string") {
    return { jsonrpc: "2.0", error: { code: -32600, message: "Invalid request" }, id };
  }
  const fn = methods[req.method];
  if (!fn) return { jsonrpc: "2.0", error: { code: -32601, message: "Method not found" }, id };
  let params = req.params ?? [];
  if (!Array.isArray(params)) params = [params];
  try {
    const result = await fn(chain, params);
    if (verbose) console.error(req.method, "ok");
    return { jsonrpc: "2.0", result, id };
  } catch (e) {
    if (verbose) console.error(req.method, e.message);
    if (e instanceof RpcError) {
      const error = { code: e.code, message: e.message };
      if (e.data !== undefined) error.data = e.data;
      return { jsonrpc: "2.0", error, id };
    }
    return { jsonrpc: "2.0", error: { code: -32603, message: `Internal error: ${e.message}` }, id };
  }
}

function main() {
  const args = process.argv.slice(2);
  const verbose = args.includes("--verbose");
  const pi = args.indexOf("--port");
  const port = pi >= 0 ? Number(args[pi + 1]) : 0;
  const chain = new Chain();
  // One request at a time: the runtime is a single ledger.
  let queue = Promise.resolve();
  const server = http.createServer((req, res) => {
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      queue = queue.then(async () => {
        let body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          body = undefined;
        }
        let out;
        if (body === undefined) out = { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null };
        else if (Array.isArray(body)) out = await Promise.all(body.map((r) => handle(chain, r, verbose)));
        else out = await handle(chain, body, verbose);
        res.writeHead(200, { "Content-Type": "application/json" }).end(stringify(out));
      });
    });
  });
  server.listen(port, "127.0.0.1", () => {
    process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`);
  });
  const exit = () => process.exit(0);
  process.on("SIGTERM", exit);
  process.on("SIGINT", exit);
  if (args.includes("--exit-on-stdin-close")) {
    process.stdin.on("end", exit);
    process.stdin.on("close", exit);
    process.stdin.resume();
  }
}

main();
