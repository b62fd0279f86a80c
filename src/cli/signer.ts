#!/usr/bin/env node
/** `signer`: the client CLI. All of it lives in runSigner; this only binds it to the process. */

import { runSigner } from './signer/run.js';

process.exitCode = await runSigner(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdin: process.stdin,
});
