// The chain model behind the LiteSVM JSON-RPC server: a LiteSVM instance,
// blocks and blockhash lifetimes, the landed-transaction store that
// getTransaction, getSignatureStatuses and getSignaturesForAddress read, and
// the mapping of LiteSVM errors to Solana's JSON error forms.

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
export const TOKEN_PROGRAMS = [
  "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
  "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
];
const MEMO_PROGRAMS = ["MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"];
const MAX_PROCESSING_AGE = 150n; // blocks a blockhash stays valid
export const U64_MAX = 18446744073709551615n;
const FAUCET_LAMPORTS = 100_000_000_000_000n; // 100k SOL per faucet key (LiteSVM holds 1M)
export const VERSION = { "solana-core": "2.2.0-litesvm-1.5.0", "feature-set": 0 };

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

export class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}
export const invalidParams = (msg) => new RpcError(-32602, `Invalid params: ${msg}`);

export const b58enc = getBase58Encoder(); // string -> bytes
export const b58dec = getBase58Decoder(); // bytes -> string
export const b64enc = getBase64Encoder();
export const b64dec = getBase64Decoder();
export const txDecoder = getTransactionDecoder();
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

export function errorText(err) {
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

export class Chain {
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
