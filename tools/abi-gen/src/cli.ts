#!/usr/bin/env node
/**
 * `gspkit-abi-gen`: regenerate the firmware ABI packages' generated files from the published headers.
 * Run with `npx tsx tools/abi-gen/src/cli.ts --all`; `--help` lists the options.
 *
 * @module
 */

import { main } from './program.ts';

process.exitCode = await main(process.argv.slice(2));
