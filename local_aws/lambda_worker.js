// The program inside every local Lambda execution environment of a Node.js function.
//
// The Node.js twin of lambda_worker.py, speaking the same frames with local_aws over its
// stdin/stdout (see lambda_worker.py for the protocol):
//
//     body length (4 bytes, big-endian) | kind (1 byte) | body
//
//     local_aws -> worker   "I" invoke  {"id", "timeout_ms", "event"}
//     worker -> local_aws   "R" ready   (empty)          once, after init
//                           "L" log     text the function printed or logged
//                           "T" truncated (empty)        output past the limit was dropped
//                           "D" done    {"id", "duration_ms", "max_memory_mb",
//                                        "payload" or "error", "exiting"?}
//
// ("exiting": true says the worker ends after this invocation, after an uncaught error.)
//
// local_aws starts it as `node --max-old-space-size=<MemorySize> lambda_worker.js <function
// arn> <local_aws pid> <SDK node_modules>`, with the function's environment and cwd = the
// unpacked package. The last argument is the AWS SDK for JavaScript v3 that AWS's runtimes
// carry in /var/runtime/node_modules (local_aws/node-sdk, installed by `make`):
//
// 1. init: load the handler module once (CommonJS `exports.handler` or an ES module's
//    `export const handler`); its top-level code runs here;
// 2. then, one invocation at a time: call handler(event, context[, callback]), send the
//    result (a returned promise, or the callback's) or the error as AWS reports it.
//
// The function's console and process.stdout / process.stderr write log frames, never raw
// bytes into the frames' pipe. console.* lines are prefixed as AWS's Node.js runtime does:
// "<ISO time>\t<request id>\t<LEVEL>\t<message>". At most OUTPUT_LIMIT_BYTES of log frames
// go out per invocation (and per init); the rest is dropped here and a "T" frame says so.
// It needs nothing but Node.js itself (and the SDK for functions that use it).
"use strict";

const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const util = require("node:util");
const { pathToFileURL } = require("node:url");

const OUTPUT_LIMIT_BYTES = 256 * 1024; // as lambda_worker_process.OUTPUT_LIMIT_BYTES
const HEADER_BYTES = 5;
const WATCHDOG_MS = 200;
const MODULE_EXTENSIONS = [".js", ".mjs", ".cjs"]; // the order AWS's runtime tries them in

// The runtime being emulated ("nodejs22.x"), not the Node.js that runs this file.
const NODE_MAJOR = Number(/nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || "")?.[1] || 0);
const CALLBACK_REMOVED =
  "ERROR: AWS Lambda has removed support for callback-based function handlers starting " +
  "with Node.js 24. You need to modify this function to use a supported handler signature " +
  "to use Node.js 24 or later. For more information see " +
  "https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.";

const SDK_MODULES = process.argv[4] || "";

// require() finds the SDK through NODE_PATH, which local_aws sets as AWS does. import ignores
// NODE_PATH, so this hook resolves a bare specifier that the function's own files cannot
// (its own node_modules always win) from the SDK's directory instead, for both.
function resolveFromSdk() {
  if (!SDK_MODULES || typeof Module.registerHooks !== "function") return;
  const sdkParent = pathToFileURL(path.join(SDK_MODULES, "..", "package.json")).href;
  const notBare = /^(?:\.{1,2}(?:\/|$)|\/|[A-Za-z][A-Za-z\d+.-]*:)/;
  Module.registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const code = error && error.code;
        if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw error;
        if (notBare.test(specifier) || context.parentURL === sdkParent) throw error;
        try {
          return nextResolve(specifier, { ...context, parentURL: sdkParent });
        } catch {
          throw error; // the function's own error, naming its own file
        }
      }
    },
  });
}
resolveFromSdk();

// AWS's host names (aws and aws-cn partitions), and the `{apiId}.execute-api.localhost` names
// local_aws puts in events, resolve to local_aws in this worker only, before the function
// loads (the twin of lambda_worker.py's redirect_aws_names; tests/unit/test_aws_hosts.py
// checks the three agree). Every TCP connection of Node.js (http, https, tls, net, fetch)
// starts with net.Socket.prototype.connect: there a connection to such a name goes to
// 127.0.0.1 instead, port 443 to local_aws's TLS listener and 80 to its plain port, while
// TLS keeps the AWS name as server name (SNI) and for the certificate check, and HTTP as
// Host, so SigV4 signatures still verify. Other ports of AWS names fail at once.
const REDIRECTED_NAME =
  /^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+amazonaws\.com(?:\.cn)?|[a-z0-9]+\.execute-api\.localhost)\.?$/i;

function localPort(host, port, httpPort, httpsPort) {
  if (typeof host !== "string" || !REDIRECTED_NAME.test(host)) return null;
  const number = port === undefined || port === null || port === "" ? 443 : Number(port);
  if (number === 443) return httpsPort;
  if (number === 80) return httpPort;
  const local = /\.localhost\.?$/i.test(host);
  return local && Number.isInteger(number) && number > 0 && number < 65536 ? number : 0;
}

function redirectAwsNames() {
  const httpsPort = Number(process.env.LOCAL_AWS_HTTPS_PORT);
  if (!httpsPort) return;
  const httpPort = Number(process.env.LOCAL_AWS_HTTP_PORT || 80);
  const net = require("node:net");
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function redirectedConnect(...args) {
    // connect(options[, cb]), connect(port[, host][, cb]), or net.connect's normalized
    // [options, cb] array (a fresh one per call, so it may be changed in place).
    const normalized = Array.isArray(args[0]) ? args[0] : null;
    let options = normalized ? normalized[0] : args[0];
    if (typeof options !== "object" || options === null) {
      if (typeof args[1] !== "string") return connect.apply(this, args);
      options = { port: args[0], host: args[1] };
      args = [options, ...args.slice(2)];
    }
    if (options.path) return connect.apply(this, args);
    const port = localPort(options.host, options.port, httpPort, httpsPort);
    if (port === null) return connect.apply(this, args);
    if (port === 0) {
      const error = new Error(
        `local_aws: ${options.host} port ${options.port} is not served locally: a Lambda ` +
          "function's connections to AWS host names go to local_aws on ports 443 and 80 only",
      );
      error.code = "ENOTFOUND";
      process.nextTick(() => this.destroy(error));
      return this;
    }
    // A copy: tls.connect still reads the AWS name from its own options object.
    const redirected = { ...options, host: "127.0.0.1", port };
    if (normalized) normalized[0] = redirected;
    else args[0] = redirected;
    return connect.apply(this, args);
  };
}
redirectAwsNames();

const frameOut = process.stdout.write.bind(process.stdout);
let outputRoom = OUTPUT_LIMIT_BYTES;
let truncated = false;
let requestId = undefined; // printed as "undefined" during init, as on AWS

function sendFrame(kind, body) {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  header.write(kind, 4, "latin1");
  frameOut(Buffer.concat([header, body]));
}

function sendLog(text) {
  let data = Buffer.from(text, "utf8");
  const size = data.length;
  if (size > outputRoom) {
    data = data.subarray(0, outputRoom); // a printing loop must not flood the pipe
  }
  if (data.length > 0) {
    outputRoom -= data.length;
    sendFrame("L", data);
  }
  if (size > data.length && !truncated) {
    truncated = true;
    sendFrame("T", Buffer.alloc(0)); // local_aws adds a line saying so
  }
}

// Raw writes (process.stdout.write, process.stderr.write, warnings) become log frames too.
function logStreamWrite(chunk, encoding, callback) {
  const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  sendLog(text);
  const done = typeof encoding === "function" ? encoding : callback;
  if (typeof done === "function") process.nextTick(done);
  return true;
}
process.stdout.write = logStreamWrite;
process.stderr.write = logStreamWrite;

function logLine(level, args) {
  const time = new Date().toISOString();
  sendLog(`${time}\t${requestId}\t${level}\t${util.format(...args)}\n`);
}

for (const [method, level] of [
  ["log", "INFO"],
  ["info", "INFO"],
  ["warn", "WARN"],
  ["error", "ERROR"],
  ["debug", "DEBUG"],
  ["trace", "TRACE"],
  ["fatal", "FATAL"],
]) {
  console[method] = (...args) => logLine(level, args);
}

// AWS's error shape: {errorType, errorMessage, trace}; anything thrown that is not an Error
// is reported by its type, as AWS's runtime does.
function errorShape(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || error.constructor?.name || "Error",
      errorMessage: String(error.message),
      // Without this file's frames: they are local_aws's, not the function's.
      trace: String(error.stack || "")
        .split("\n")
        .filter((line) => !line.includes(__filename)),
    };
  }
  let message;
  try {
    message = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { errorType: typeof error, errorMessage: message, trace: [] };
}

function logError(label, error) {
  const { errorType, errorMessage, trace } = error;
  const shape = { errorType, errorMessage, stack: trace };
  logLine("ERROR", [`${label} \t${JSON.stringify(shape)}`]);
}

class Fault extends Error {
  // An error of the runtime itself (bad handler, missing module...), not of the function.
  // As AWS's runtime reports it: the trace starts "<errorType>: <message>", then the stack
  // frames of the original error, without this file's.
  constructor(errorType, message, stack) {
    super(message);
    let trace = [];
    if (stack) {
      const frames = String(stack)
        .split("\n")
        .filter((line) => /^\s+at /.test(line) && !line.includes(__filename));
      trace = [...`${errorType}: ${message}`.split("\n"), ...frames];
    }
    this.error = { errorType, errorMessage: message, trace };
  }
}

// An @aws-sdk/* package that is not found: AWS's Node.js runtimes have every one of them, so
// say why local_aws has not (SDK not installed, or a client it does not carry) and what to
// do. The SDK v2 ("aws-sdk") is in no runtime since nodejs18.x: its error stays AWS's own.
function missingSdk(error) {
  const code = error && error.code;
  if (code !== "MODULE_NOT_FOUND" && code !== "ERR_MODULE_NOT_FOUND") return null;
  const found = /Cannot find (?:module|package) '(@aws-sdk\/[^/']+)/.exec(String(error.message));
  if (!found) return null;
  const name = found[1];
  if (!SDK_MODULES || !fs.existsSync(path.join(SDK_MODULES, ".package-lock.json"))) {
    return (
      `Cannot find module '${name}': AWS Lambda's Node.js runtimes include the AWS SDK for ` +
      `JavaScript v3, and so does local_aws once it is installed, but it is not: run \`make\` ` +
      `in the local_aws checkout (or \`python -m local_aws.lambda_node_sdk\` for an installed ` +
      `local_aws: npm ci of local_aws/node-sdk), then restart local_aws.`
    );
  }
  let carried = [];
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(SDK_MODULES, "..", "package.json")));
    carried = Object.keys(manifest.dependencies || {});
  } catch {
    // the list is only for the message
  }
  return (
    `Cannot find module '${name}': AWS Lambda's Node.js runtimes include every package of ` +
    `the AWS SDK for JavaScript v3, local_aws only ${carried.join(", ")}. Add it to the ` +
    `deployment package (npm install ${name} next to the handler, then zip node_modules ` +
    `with the code).`
  );
}

async function loadModule(root, moduleName) {
  const base = path.resolve(root, moduleName);
  const file = MODULE_EXTENSIONS.map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (file === undefined) {
    throw new Fault("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
  }
  if (file.endsWith(".mjs")) return import(pathToFileURL(file).href);
  try {
    return require(file);
  } catch (error) {
    // A .js file of a "type": "module" package, or an ES module with top-level await.
    if (error && (error.code === "ERR_REQUIRE_ESM" || error.code === "ERR_REQUIRE_ASYNC_MODULE")) {
      return import(pathToFileURL(file).href);
    }
    throw error;
  }
}

// "dir/file.handler" (or "file.nested.handler"): the module up to the first dot after the
// last slash, then the path to the function inside it, as AWS's runtime splits it.
async function loadHandler(root, handlerName) {
  const slash = handlerName.lastIndexOf("/");
  const moduleRoot = handlerName.slice(0, slash + 1);
  const rest = handlerName.slice(slash + 1);
  const dot = rest.indexOf(".");
  if (dot <= 0 || dot === rest.length - 1) {
    throw new Fault("Runtime.MalformedHandlerName", "Bad handler");
  }
  const moduleName = moduleRoot + rest.slice(0, dot);
  let module;
  try {
    module = await loadModule(root, moduleName);
  } catch (error) {
    if (error instanceof Fault) throw error;
    const sdk = missingSdk(error);
    if (sdk !== null) throw new Fault("Runtime.ImportModuleError", `Error: ${sdk}`, error.stack);
    if (error instanceof SyntaxError) {
      throw new Fault("Runtime.UserCodeSyntaxError", `SyntaxError: ${error.message}`, error.stack);
    }
    if (error && (error.code === "MODULE_NOT_FOUND" || error.code === "ERR_MODULE_NOT_FOUND")) {
      throw new Fault("Runtime.ImportModuleError", `Error: ${error.message}`, error.stack);
    }
    throw error; // the module's own error at load: reported with its own type
  }
  let handler = module;
  for (const part of rest.slice(dot + 1).split(".")) {
    handler = handler == null ? undefined : handler[part];
  }
  if (typeof handler !== "function") {
    throw new Fault("Runtime.HandlerNotFound", `${handlerName} is undefined or not exported`);
  }
  if (NODE_MAJOR >= 24 && handler.length >= 3) {
    // AWS's Node.js 24 runtime refuses callback-style handlers at init.
    throw new Fault("Runtime.CallbackHandlerDeprecated", CALLBACK_REMOVED);
  }
  return handler;
}

function makeContext(id, timeoutMs, settle) {
  const deadline = Date.now() + timeoutMs;
  const env = process.env;
  const context = {
    awsRequestId: id,
    invokedFunctionArn: process.argv[2] || "",
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, // a string on AWS too
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  if (NODE_MAJOR < 24) {
    // The legacy completion methods, which AWS removed from the Node.js 24 runtime.
    context.done = (error, result) => settle(error, result);
    context.succeed = (result) => settle(null, result);
    context.fail = (error) => settle(error ?? "handled", undefined);
  } else {
    delete context.callbackWaitsForEmptyEventLoop;
  }
  return context;
}

// ru_maxrss would include the RSS of the local_aws process this one was forked from, so the
// peak is sampled at the end of each invocation instead.
let peakRss = 0;
function maxMemoryMb() {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  return Math.floor(peakRss / (1 << 20));
}

// Run one invocation: the handler's promise, its callback or context.done, whichever first.
// A handler that returns neither a promise nor calls back answers null, as on AWS.
function runHandler(handler, request) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (error, result) => {
      if (settled) return;
      settled = true;
      resolve(error === null || error === undefined ? { result } : { error });
    };
    current = settle;
    const context = makeContext(request.id, request.timeout_ms, settle);
    try {
      const returned = handler(request.event, context, settle);
      if (returned && typeof returned.then === "function") {
        returned.then(
          (result) => settle(null, result),
          (error) => settle(error ?? new Error("the handler's promise was rejected"), undefined),
        );
      } else if (handler.length < 3) {
        settle(null, returned === undefined ? null : returned);
      }
    } catch (error) {
      settle(error ?? new Error("the handler threw"), undefined);
    }
  });
}

let current = null; // settles the invocation in flight, for errors outside the handler

function doneBody(id, started, outcome) {
  const done = { id, duration_ms: performance.now() - started, max_memory_mb: maxMemoryMb() };
  if (exiting) done.exiting = true;
  let error = null;
  if ("error" in outcome) {
    const thrown = outcome.error;
    error = thrown instanceof Fault ? thrown.error : errorShape(thrown);
    if (!(thrown instanceof Fault)) {
      const sdk = missingSdk(thrown);
      if (sdk !== null) {
        error = { ...error, errorType: "Runtime.ImportModuleError", errorMessage: sdk };
      }
    }
  } else {
    try {
      const result = outcome.result === undefined ? null : outcome.result;
      return Buffer.from(JSON.stringify({ ...done, payload: result }), "utf8");
    } catch (marshal) {
      error = {
        errorType: "Runtime.MarshalError",
        errorMessage: `Unable to stringify response body: ${marshal.message}`,
        trace: [],
      };
    }
  }
  logError("Invoke Error", error);
  return Buffer.from(JSON.stringify({ ...done, error }), "utf8");
}

// Errors thrown outside the handler's own call (a timer, an unawaited promise) end the
// execution environment on AWS: the invocation in flight fails, and the worker exits.
function fatal(label, errorType, thrown) {
  const error = { ...errorShape(thrown), errorType };
  logError(label, error);
  if (current !== null) {
    const settle = current;
    current = null;
    exiting = true;
    settle(new Fault(errorType, error.errorMessage, error.trace.join("\n")));
  } else {
    process.exit(129);
  }
}
process.on("uncaughtException", (error) =>
  fatal("Uncaught Exception", errorShape(error).errorType, error),
);
process.on("unhandledRejection", (reason) =>
  fatal("Unhandled Promise Rejection", "Runtime.UnhandledPromiseRejection", reason),
);

function killGroup() {
  try {
    process.kill(-process.pid, "SIGKILL"); // the worker leads its own process group
  } catch {
    process.exit(1);
  }
}

// Dies with local_aws: its stdin closes then; this watchdog covers a busy event loop.
function watchParent(parentPid) {
  const timer = setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      killGroup();
    }
  }, WATCHDOG_MS);
  timer.unref();
}

async function main() {
  if (process.argv[3]) watchParent(Number(process.argv[3]));
  let handler;
  try {
    const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
    handler = await loadHandler(root, process.env._HANDLER || "");
  } catch (thrown) {
    const fault = thrown instanceof Fault ? thrown : null;
    const error = fault ? fault.error : errorShape(thrown);
    logError("Init Error", error);
    // As on AWS, every invocation reports the init error.
    const always = new Fault(error.errorType, error.errorMessage, error.trace.join("\n"));
    handler = () => {
      throw always;
    };
  }
  sendFrame("R", Buffer.alloc(0));

  // Requests, one at a time; their frames may arrive in pieces.
  let buffer = Buffer.alloc(0);
  let busy = Promise.resolve();
  process.stdin.on("data", (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    while (buffer.length >= HEADER_BYTES) {
      const size = buffer.readUInt32BE(0);
      if (buffer.length < HEADER_BYTES + size) break;
      const body = buffer.subarray(HEADER_BYTES, HEADER_BYTES + size);
      const request = JSON.parse(body.toString("utf8"));
      buffer = buffer.subarray(HEADER_BYTES + size);
      busy = busy.then(() => invoke(handler, request));
    }
  });
  // Stopped by local_aws (or local_aws is gone): the function's processes go with it.
  process.stdin.on("end", () => busy.then(killGroup));
}

async function invoke(handler, request) {
  requestId = request.id;
  outputRoom = OUTPUT_LIMIT_BYTES;
  truncated = false;
  const started = performance.now();
  const outcome = await runHandler(handler, request);
  current = null;
  sendFrame("D", doneBody(request.id, started, outcome));
  if (exiting) process.exit(128); // after the frame: pipe writes are synchronous
}

let exiting = false; // an error outside the handler: this environment ends

main();
