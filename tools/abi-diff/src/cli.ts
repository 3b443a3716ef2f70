#!/usr/bin/env node
/**
 * `abi-diff` entry point: runs {@link main} on the process arguments and exits with its code.
 *
 * @module
 */

import { main } from './index.ts';

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
