#!/usr/bin/env node
import { processIo } from './io.js';
import { runSignerd } from './signerd/main.js';

process.exitCode = await runSignerd(process.argv.slice(2), processIo());
