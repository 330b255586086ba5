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
import { LiteSVM } from "litesvm";
import {
  AccountRole,
  address,
  appendTransactionMessageInstruction,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase58Decoder,
  getBase58Encoder,
  getBase64Decoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  getTransactionEncoder,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/kit";

const SYSTEM_PROGRAM = "11111111111111111111111111111111";
const TOKEN_PROGRAMS = [
  "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
  "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
];
const MEMO_PROGRAMS = ["MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"];
const MAX_PROCESSING_AGE = 150n; // blocks a blockhash stays valid
const U64_MAX = 18446744073709551615n;
const FAUCET_LAMPORTS = 100_000_000_000_000n; // 100k SOL per faucet key (LiteSVM holds 1M)
const VERSION = { "solana-core": "2.2.0-litesvm-1.5.0", "feature-set": 0 };

// LiteSVM reports transaction errors as enum numbers; these are their names in
// Solana's JSON (same order as litesvm's TransactionErrorFieldless and
// InstructionErrorFieldless in dist/internal.d.ts).
const TX_ERRORS = [
  "AccountInUse", "AccountLoadedTwice", "AccountNotFound", "ProgramAccountNotFound",
  "InsufficientFundsForFee", "InvalidAccountForFee", "AlreadyProcessed", "BlockhashNotFound",
  "CallChainTooDeep", "MissingSignatureForFee", "InvalidAccountIndex", "SignatureFailure",
  "InvalidProgramForExecution", "SanitizeFailure", "ClusterMaintenance", "AccountBorrowOutstanding",
  "WouldExceedMaxBlockCostLimit", "UnsupportedVersion", "InvalidWritableAccount",
  "WouldExceedMaxAccountCostLimit", "WouldExceedAccountDataBlockLimit", "TooManyAccountLocks",
  "AddressLookupTableNotFound", "InvalidAddressLookupTableOwner", "InvalidAddressLookupTableData",
  "InvalidAddressLookupTableIndex", "InvalidRentPayingAccount", "WouldExceedMaxVoteCostLimit",
  "WouldExceedAccountDataTotalLimit", "MaxLoadedAccountsDataSizeExceeded", "ResanitizationNeeded",
  "InvalidLoadedAccountsDataSizeLimit", "UnbalancedTransaction", "ProgramCacheHitMaxLimit",
  "CommitCancelled",
];
const IX_ERRORS = [
  "GenericError", "InvalidArgument", "InvalidInstructionData", "InvalidAccountData",
  "AccountDataTooSmall", "InsufficientFunds", "IncorrectProgramId", "MissingRequiredSignature",
  "AccountAlreadyInitialized", "UninitializedAccount", "UnbalancedInstruction", "ModifiedProgramId",
  "ExternalAccountLamportSpend", "ExternalAccountDataModified", "ReadonlyLamportChange",
  "ReadonlyDataModified", "DuplicateAccountIndex", "ExecutableModified", "RentEpochModified",
  "NotEnoughAccountKeys", "AccountDataSizeChanged", "AccountNotExecutable", "AccountBorrowFailed",
  "AccountBorrowOutstanding", "DuplicateAccountOutOfSync", "InvalidError", "ExecutableDataModified",
  "ExecutableLamportChange", "ExecutableAccountNotRentExempt", "UnsupportedProgramId", "CallDepth",
  "MissingAccount", "ReentrancyNotAllowed", "MaxSeedLengthExceeded", "InvalidSeeds", "InvalidRealloc",
  "ComputationalBudgetExceeded", "PrivilegeEscalation", "ProgramEnvironmentSetupFailure",
  "ProgramFailedToComplete", "ProgramFailedToCompile", "Immutable", "IncorrectAuthority",
  "AccountNotRentExempt", "InvalidAccountOwner", "ArithmeticOverflow", "UnsupportedSysvar",
  "IllegalOwner", "MaxAccountsDataAllocationsExceeded", "MaxAccountsExceeded",
  "MaxInstructionTraceLengthExceeded", "BuiltinProgramsMustConsumeComputeUnits", "BorshIoError",
];
// Human messages, as the validator's Display impls print them.
const TX_ERROR_TEXT = {
  AccountNotFound: "Attempt to debit an account but found no record of a prior credit.",
  InsufficientFundsForFee: "Insufficient funds for fee",
  AlreadyProcessed: "This transaction has already been processed",
  BlockhashNotFound: "Blockhash not found",
  SignatureFailure: "Transaction did not pass signature verification",
  InvalidAccountForFee: "This account may not be used to pay transaction fees",
  ProgramAccountNotFound: "Attempt to load a program that does not exist",
};
const IX_ERROR_TEXT = {
  InsufficientFunds: "insufficient funds for instruction",
  InvalidAccountData: "invalid account data for instruction",
  InvalidInstructionData: "invalid instruction data",
  MissingRequiredSignature: "missing required signature for instruction",
  AccountAlreadyInitialized: "instruction requires an uninitialized account",
  UninitializedAccount: "instruction requires an initialized account",
  IllegalOwner: "Provided owner is not allowed",
};
// Execution failures a leader commits (fee charged, status recorded); other
// errors make it drop the transaction.
const COMMITTED_ERRORS = new Set(["InstructionError", "InsufficientFundsForRent", "DuplicateInstruction", "ProgramExecutionTemporarilyRestricted"]);

class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}
const invalidParams = (msg) => new RpcError(-32602, `Invalid params: ${msg}`);

const b58enc = getBase58Encoder(); // string -> bytes
const b58dec = getBase58Decoder(); // bytes -> string
const b64enc = getBase64Encoder();
const b64dec = getBase64Decoder();
const txDecoder = getTransactionDecoder();
const txEncoder = getTransactionEncoder();
const msgDecoder = getCompiledTransactionMessageDecoder();

// errorJSON turns LiteSVM's error object into Solana's JSON form.
function errorJSON(e) {
  if (typeof e === "number") return TX_ERRORS[e] ?? `UnknownError${e}`;
  const kind = e.constructor?.name ?? "";
  if (kind === "TransactionErrorInstructionError") {
    const ie = e.err();
    let inner;
    if (typeof ie === "number") inner = IX_ERRORS[ie] ?? `UnknownError${ie}`;
    else if (ie.constructor?.name === "InstructionErrorCustom") inner = { Custom: ie.code };
    else if (ie.constructor?.name?.startsWith("InstructionErrorBorsh")) inner = { BorshIoError: ie.msg };
    else inner = String(ie);
    return { InstructionError: [e.index, inner] };
  }
  if (kind === "TransactionErrorInsufficientFundsForRent") return { InsufficientFundsForRent: { account_index: e.accountIndex } };
  if (kind === "TransactionErrorDuplicateInstruction") return { DuplicateInstruction: e.index };
  if (kind === "TransactionErrorProgramExecutionTemporarilyRestricted") {
    return { ProgramExecutionTemporarilyRestricted: { account_index: e.accountIndex } };
  }
  return String(e);
}

function errorText(err) {
  if (typeof err === "string") return TX_ERROR_TEXT[err] ?? err;
  if (err.InstructionError) {
    const [i, inner] = err.InstructionError;
    let what;
    if (typeof inner === "string") what = IX_ERROR_TEXT[inner] ?? inner;
    else if ("Custom" in inner) what = `custom program error: 0x${inner.Custom.toString(16)}`;
    else what = JSON.stringify(inner);
    return `Error processing Instruction ${i}: ${what}`;
  }
  if (err.InsufficientFundsForRent) {
    return `Transaction results in an account (${err.InsufficientFundsForRent.account_index}) with insufficient funds for rent`;
  }
  return JSON.stringify(err);
}

function errorKind(err) {
  return typeof err === "string" ? err : Object.keys(err)[0];
}

class Chain {
  constructor() {
    this.svm = new LiteSVM();
    this.slot = this.svm.getClock().slot;
    this.hashIssued = this.slot; // block height at which the current blockhash was issued
    this.txs = new Map(); // signature -> landed transaction record
    this.byAddress = new Map(); // address -> [signature] oldest first
    this.faucets = [];
    this.drop = 0;
  }

  get lastValidBlockHeight() {
    return this.hashIssued + MAX_PROCESSING_AGE;
  }

  context() {
    return { slot: this.slot, apiVersion: VERSION["solana-core"] };
  }

  // advance produces n blocks, rolling the blockhash as it ages out.
  advance(n) {
    for (let i = 0n; i < n; i++) {
      this.slot += 1n;
      if (this.slot > this.lastValidBlockHeight) this.expireBlockhash();
    }
    this.svm.warpToSlot(this.slot);
  }

  expireBlockhash() {
    this.svm.expireBlockhash();
    this.hashIssued = this.slot;
  }

  decode(raw) {
    let tx, msg;
    try {
      tx = txDecoder.decode(raw);
      msg = msgDecoder.decode(tx.messageBytes);
    } catch (e) {
      throw invalidParams(`failed to deserialize transaction: ${e.message}`);
    }
    const sigBytes = Object.values(tx.signatures)[0];
    if (!sigBytes) throw new RpcError(-32003, "Transaction signature verification failure");
    return { tx, msg, signature: b58dec.decode(sigBytes) };
  }

  balances(keys) {
    return keys.map((k) => this.svm.getBalance(address(k)) ?? 0n);
  }

  tokenBalances(keys) {
    const out = [];
    keys.forEach((k, accountIndex) => {
      const acc = this.svm.getAccount(address(k));
      if (!acc.exists || !TOKEN_PROGRAMS.includes(acc.programAddress) || acc.data.length < 165) return;
      const d = acc.data;
      if (d[108] === 0) return; // uninitialized
      const mint = b58dec.decode(d.slice(0, 32));
      const owner = b58dec.decode(d.slice(32, 64));
      const amount = new DataView(d.buffer, d.byteOffset + 64, 8).getBigUint64(0, true);
      const mintAcc = this.svm.getAccount(address(mint));
      const decimals = mintAcc.exists && mintAcc.data.length >= 45 ? mintAcc.data[44] : 0;
      const ui = Number(amount) / 10 ** decimals;
      out.push({
        accountIndex,
        mint,
        owner,
        programId: acc.programAddress,
        uiTokenAmount: { amount: amount.toString(), decimals, uiAmount: ui, uiAmountString: uiString(amount, decimals) },
      });
    });
    return out;
  }

  simulate(tx) {
    const r = this.svm.simulateTransaction(tx);
    if (typeof r.err === "function") {
      const meta = r.meta();
      return { err: errorJSON(r.err()), logs: meta.logs(), unitsConsumed: meta.computeUnitsConsumed() };
    }
    const meta = r.meta();
    return { err: null, logs: meta.logs(), unitsConsumed: meta.computeUnitsConsumed() };
  }

  // execute runs a decoded transaction on the runtime and, if a leader would
  // have committed it, records it in a new block. Returns the error JSON or null.
  execute({ tx, msg, signature }) {
    if (this.txs.has(signature)) return "AlreadyProcessed";
    const keys = msg.staticAccounts.map(String);
    const preBalances = this.balances(keys);
    const preTokenBalances = this.tokenBalances(keys);
    const r = this.svm.sendTransaction(tx);
    const failed = typeof r.err === "function";
    const err = failed ? errorJSON(r.err()) : null;
    if (failed && !COMMITTED_ERRORS.has(errorKind(err))) return err;
    const meta = failed ? r.meta() : r;
    this.advance(1n);
    const postBalances = this.balances(keys);
    const fee = preBalances.reduce((a, b) => a + b, 0n) - postBalances.reduce((a, b) => a + b, 0n);
    const rec = {
      signature,
      slot: this.slot,
      blockTime: Math.floor(Date.now() / 1000),
      raw: txEncoder.encode(tx),
      msg,
      keys,
      err,
      meta: {
        err,
        status: err === null ? { Ok: null } : { Err: err },
        fee,
        preBalances,
        postBalances,
        innerInstructions: innerInstructions(meta),
        logMessages: meta.logs(),
        preTokenBalances,
        postTokenBalances: this.tokenBalances(keys),
        rewards: [],
        loadedAddresses: { writable: [], readonly: [] },
        computeUnitsConsumed: meta.computeUnitsConsumed(),
      },
      memo: memoOf(msg, keys),
    };
    this.txs.set(signature, rec);
    for (const k of new Set(keys)) {
      if (!this.byAddress.has(k)) this.byAddress.set(k, []);
      this.byAddress.get(k).push(signature);
    }
    return err;
  }

  // airdrop sends a real System transfer from a faucet key, so the airdrop
  // shows up in history like a devnet faucet's.
  async airdrop(to, amount) {
    for (let i = 0; i < 64; i++) {
      if (i === this.faucets.length) {
        const signer = await generateKeyPairSigner();
        const funded = this.svm.airdrop(signer.address, lamports(FAUCET_LAMPORTS));
        if (!funded || typeof funded.err === "function") throw new RpcError(-32603, "airdrop: faucet is dry");
        this.faucets.push(signer);
      }
      const faucet = this.faucets[i];
      const data = new Uint8Array(12);
      const view = new DataView(data.buffer);
      view.setUint32(0, 2, true); // SystemInstruction::Transfer
      view.setBigUint64(4, amount, true);
      const message = pipe(
        createTransactionMessage({ version: "legacy" }),
        (m) => setTransactionMessageFeePayerSigner(faucet, m),
        (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: this.svm.latestBlockhash(), lastValidBlockHeight: this.lastValidBlockHeight }, m),
        (m) => appendTransactionMessageInstruction({
          programAddress: address(SYSTEM_PROGRAM),
          accounts: [
            { address: faucet.address, role: AccountRole.WRITABLE_SIGNER, signer: faucet },
            { address: to, role: AccountRole.WRITABLE },
          ],
          data,
        }, m),
      );
      const tx = await signTransactionMessageWithSigners(message);
      const decoded = this.decode(txEncoder.encode(tx));
      if (this.txs.has(decoded.signature)) continue; // same transfer already in this blockhash: use another faucet
      const err = this.execute(decoded);
      if (err !== null) throw new RpcError(-32602, `airdrop failed: ${errorText(err)}`);
      return decoded.signature;
    }
    throw new RpcError(-32603, "airdrop: too many identical requests in one blockhash");
  }
}

function uiString(amount, decimals) {
  if (decimals === 0) return amount.toString();
  const s = amount.toString().padStart(decimals + 1, "0");
  const whole = s.slice(0, -decimals);
  const frac = s.slice(-decimals).replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole;
}

function innerInstructions(meta) {
  const out = [];
  meta.innerInstructions().forEach((list, index) => {
    if (list.length === 0) return;
    out.push({
      index,
      instructions: list.map((ii) => {
        const ci = ii.instruction();
        return {
          programIdIndex: ci.programIdIndex,
          accounts: Array.from(ci.accounts),
          data: b58dec.decode(ci.data),
          stackHeight: ii.stackHeight(),
        };
      }),
    });
  });
  return out;
}

// memoOf formats memos like the validator's getSignaturesForAddress: "[len] text" joined by "; ".
function memoOf(msg, keys) {
  const memos = [];
  for (const ix of msg.instructions) {
    if (MEMO_PROGRAMS.includes(keys[ix.programAddressIndex])) {
      const text = new TextDecoder().decode(ix.data ?? new Uint8Array());
      memos.push(`[${text.length}] ${text}`);
    }
  }
  return memos.length ? memos.join("; ") : null;
}

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
